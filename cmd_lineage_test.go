package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/runner"
)

// The lineage tree shows four parallel files and folds the rest into one
// line, yet still reaches the tier-1 objects behind the folded ones.
func TestPrintLineageFolds(t *testing.T) {
	const table = "catalog://db.t"
	g := &runner.LineageGraph{Dataset: table, Up: map[string][]lineage.Edge{}, Down: map[string][]lineage.Edge{},
		Info: map[string]lineage.Dataset{table: {URI: table, Tier: 2, Rows: 10}}}
	for i := 1; i <= 6; i++ {
		file, obj := fmt.Sprintf("file:///t2/f%d.parquet", i), fmt.Sprintf("file:///t1/o%d.csv.gz", i)
		g.Up[table] = append(g.Up[table], lineage.Edge{From: file, To: table, Transform: "stage", RunID: "r1"})
		g.Up[file] = []lineage.Edge{{From: obj, To: file, Transform: "convert", RunID: "r1"}}
	}
	var out bytes.Buffer
	printLineage(&out, g)
	want := []string{
		"catalog://db.t  (tier 2, 10 rows)",
		"",
		"upstream:",
		"  ← file:///t2/f1.parquet  [stage, run r1]",
		"    ← file:///t1/o1.csv.gz  [convert, run r1]",
		"  ← file:///t2/f2.parquet  [stage, run r1]",
		"    ← file:///t1/o2.csv.gz  [convert, run r1]",
		"  ← file:///t2/f3.parquet  [stage, run r1]",
		"    ← file:///t1/o3.csv.gz  [convert, run r1]",
		"  ← file:///t2/f4.parquet  [stage, run r1]",
		"    ← file:///t1/o4.csv.gz  [convert, run r1]",
		"  … and 2 more via stage (run r1)",
		"    ← file:///t1/o5.csv.gz  [convert, run r1]",
		"    ← file:///t1/o6.csv.gz  [convert, run r1]",
		"",
		"downstream:",
	}
	if got := strings.TrimSuffix(out.String(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("lineage tree:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
