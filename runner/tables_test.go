package runner

import (
	"slices"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// TestTier2TableSortColumns: sorted_by becomes the table's (and so every
// partition's) SortColumns, ascending; none without it.
func TestTier2TableSortColumns(t *testing.T) {
	spec, err := jobs.Shipped("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec.Output.SortedBy = []string{"state", "zipcode"}
	tb := Tier2Table(st, spec)
	want := []catalog.SortColumn{{Column: "state", SortOrder: 1}, {Column: "zipcode", SortOrder: 1}}
	if got := tb.StorageDescriptor.SortColumns; !slices.Equal(got, want) {
		t.Errorf("SortColumns = %v, want %v", got, want)
	}
	if got := MonthPartition(tb, "2024-01", "file:///x", "run").StorageDescriptor.SortColumns; !slices.Equal(got, want) {
		t.Errorf("partition SortColumns = %v, want %v", got, want)
	}
	spec.Output.SortedBy = nil
	if got := Tier2Table(st, spec).StorageDescriptor.SortColumns; got != nil {
		t.Errorf("SortColumns = %v without sorted_by", got)
	}
}
