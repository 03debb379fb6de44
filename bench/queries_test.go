package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/bench/scan"
	"github.com/tierflow/tierflow/jobs"
)

func TestCheckAgreement(t *testing.T) {
	cells := func(bkResult int64, bkSum string) []Cell {
		var out []Cell
		for _, q := range []string{"count", "8cols-ca"} {
			for _, l := range []string{LayoutCSV, LayoutParquet, LayoutBucketed} {
				c := Cell{Layout: l, Query: q, Result: 100, Checksum: "aa"}
				if l == LayoutBucketed && q == "8cols-ca" {
					c.Result, c.Checksum = bkResult, bkSum
				}
				out = append(out, c)
			}
		}
		return out
	}
	if err := checkAgreement(cells(100, "aa")); err != nil {
		t.Fatalf("equal layouts: %v", err)
	}
	for name, cs := range map[string][]Cell{
		"a row lost":      cells(99, "aa"),
		"a value changed": cells(100, "ab"),
	} {
		err := checkAgreement(cs)
		// Text: the report names the query and layout that disagree.
		if err == nil || !strings.Contains(err.Error(), "8cols-ca") || !strings.Contains(err.Error(), "bucketed: ") || strings.Contains(err.Error(), "query count ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestQueriesFailOnMismatchedLayouts removes the California bucket's file
// from the bucketed layout: the section must refuse to report figures.
func TestQueriesFailOnMismatchedLayouts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the converter and DuckDB")
	}
	ctx := context.Background()
	spec, err := jobs.Shipped(DefaultJob)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Dir: t.TempDir(), Rows: 2000, Runs: 1, Log: zerolog.Nop()}
	if err := opts.defaults(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	b := &bencher{opts: opts, spec: spec, log: opts.Log, w: &out, res: &Results{}}
	month, err := b.ensureIntake(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(opts.Dir, "tampered")
	if err := convertAll(ctx, spec, month, tampered, opts.Log); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tampered, "data")
	ents, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, e := range ents {
		if bk, ok := scan.FileBucket(e.Name()); ok && bk == scan.HiveBucket("CA", spec.Output.BucketCount) {
			if err := os.Remove(filepath.Join(data, e.Name())); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed == 0 {
		t.Fatal("no California bucket file to remove")
	}
	b.bucketedDir = data
	err = b.querySection(ctx)
	// Text: the report names the query the layouts disagree on.
	if err == nil || !strings.Contains(err.Error(), "layouts disagree") || !strings.Contains(err.Error(), "count-ca") {
		t.Fatalf("want the layouts to disagree on count-ca, got %v", err)
	}
	if b.res.Queries != nil {
		t.Error("figures were reported for disagreeing layouts")
	}
}
