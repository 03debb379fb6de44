package local_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/local"
)

// BenchmarkPutPartition measures a partition switch in a catalog holding a
// 400-column table with 120 monthly partitions (ten years of drops): the
// whole document is parsed, rewritten and fsynced each time.
func BenchmarkPutPartition(b *testing.B) {
	c, _ := local.Open(filepath.Join(b.TempDir(), "catalog.json"))
	ctx := b.Context()
	tb := bucketedTable()
	for i := range 398 {
		tb.StorageDescriptor.Columns = append(tb.StorageDescriptor.Columns, catalog.Column{Name: fmt.Sprintf("col_%03d", i), Type: "string"})
	}
	if err := c.EnsureDatabase(ctx, "db"); err != nil {
		b.Fatal(err)
	}
	if err := c.PutTable(ctx, tb); err != nil {
		b.Fatal(err)
	}
	part := func(m int) catalog.Partition {
		return catalog.Partition{Database: "db", Table: "t", Values: []string{fmt.Sprintf("m%03d", m)}, StorageDescriptor: tb.StorageDescriptor}
	}
	for m := range 120 {
		if err := c.PutPartition(ctx, part(m)); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		if err := c.PutPartition(ctx, part(i%120)); err != nil {
			b.Fatal(err)
		}
	}
}
