//go:build cgo && !noduckdb

package duckdb_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/runner/pii"
)

// determinismRows is large enough for several row groups (DuckDB's are
// 122,880 rows) and for every thread to get work.
const determinismRows = 300_000

// TestDeterministicBytes: the same CTAS over the same inputs writes the
// same files, byte for byte and name for name, whatever DuckDB's thread
// count and however often it runs. The source has every row twice, NULLs
// in every column, and rows that differ only in the sign of a zero double
// (they compare equal, so a sort alone does not order them); the sort
// must not change values either (-0.0 stays -0.0).
func TestDeterministicBytes(t *testing.T) {
	ctx := context.Background()
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat := newCatalog(t)
	addDeterminismSource(t, cat, st)
	hmacKey := bytes.Repeat([]byte{7}, pii.MinKeyBytes)

	cases := []struct {
		name string
		sql  string
		part []string
		pii  map[string]pii.Rule // applied to the files after the CTAS
	}{
		{name: "plain", sql: "SELECT id, name, state, score, delta, month FROM people WHERE state IS DISTINCT FROM 'TX'"},
		{name: "aggregate", sql: "SELECT state, name, count(*) AS n, sum(id) AS ids FROM people GROUP BY state, name"},
		{name: "partitioned", sql: "SELECT id, name, score, state FROM people", part: []string{"state"}},
		{name: "pii", sql: "SELECT id, name, state, score FROM people WHERE id % 3 <> 0",
			pii: map[string]pii.Rule{"name": pii.HMAC, "state": pii.Mask}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var first map[string][]byte
			var firstRun string
			for i, threads := range []int{1, 2, 4, 2} {
				run := fmt.Sprintf("threads=%d/%d", threads, i)
				e, err := duckdb.New(ctx, cat, st, duckdb.Options{Threads: threads, MemoryLimit: "1GB"})
				if err != nil {
					t.Fatal(err)
				}
				c := engine.CTAS{Database: "db", Table: "out_" + tc.name, SQL: tc.sql, PartitionedBy: tc.part,
					Location: st.ObjectURI(fmt.Sprintf("tier3/%s/run=%d", tc.name, i)) + "/", Sources: []string{"people"}}
				res, err := e.CreateTableAs(ctx, c)
				if cerr := e.Close(); cerr != nil {
					t.Fatal(cerr)
				}
				if err != nil {
					t.Fatalf("%s: %v", run, err)
				}
				if res.Rows == 0 {
					t.Fatalf("%s: no rows", run)
				}
				if tc.pii != nil {
					if _, err := pii.Apply(ctx, st, res.Files, tc.pii, hmacKey); err != nil {
						t.Fatalf("%s: PII: %v", run, err)
					}
				}
				got := readTree(t, strings.TrimPrefix(c.Location, "file://"))
				if tc.name == "plain" {
					checkNegativeZeros(t, res.Files)
				}
				if first == nil {
					first, firstRun = got, run
					if tc.part != nil && len(got) < 2 {
						t.Fatalf("%s: files %v, want one per partition", run, slices.Sorted(maps.Keys(got)))
					}
					continue
				}
				compareTrees(t, firstRun, first, run, got)
			}
		})
	}
}

// checkNegativeZeros: the sort that orders the rows does not change them;
// the source's -0.0 deltas (it has no 0.0 to share a dictionary entry
// with) are still -0.0.
func checkNegativeZeros(t *testing.T, files []string) {
	t.Helper()
	db, err := duckdb.OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = "'" + strings.TrimPrefix(f, "file://") + "'"
	}
	var neg, zero int64
	err = db.QueryRow("SELECT count(*) FILTER (WHERE signbit(delta)), count(*) FILTER (WHERE delta = 0) FROM read_parquet(["+strings.Join(paths, ", ")+"])").Scan(&neg, &zero)
	if err != nil {
		t.Fatal(err)
	}
	if zero == 0 || neg != zero {
		t.Errorf("%d of %d zero deltas are -0.0, want all (and some)", neg, zero)
	}
}

// addDeterminismSource registers db.people, partitioned by month, one
// partition of several files written by DuckDB.
func addDeterminismSource(t *testing.T, cat catalog.Catalog, st storage.Storage) {
	t.Helper()
	ctx := context.Background()
	loc := "tier2/people/month=2020-03/run=r1"
	dir := strings.TrimPrefix(st.ObjectURI(loc), "file://")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// j = i // 2: every row twice, except that rows with j % 11 = 1 score
	// -0.0 once and 0.0 once.
	_, err = db.ExecContext(ctx, fmt.Sprintf(`COPY (
		SELECT j %% 50000 AS id,
			CASE WHEN j %% 13 = 0 THEN NULL ELSE 'n' || (j %% 977) END AS name,
			['CA', 'NY', 'TX', 'WA', NULL][j %% 5 + 1] AS state,
			CASE WHEN j %% 11 = 0 THEN NULL
				WHEN j %% 11 = 1 THEN CASE WHEN i %% 2 = 0 THEN -0.0::DOUBLE ELSE 0.0::DOUBLE END
				ELSE (j %% 1000) / 7.0 END AS score,
			CASE WHEN j %% 7 = 3 THEN CAST('-0.0' AS DOUBLE) ELSE j %% 7 + 0.5 END AS delta
		FROM (SELECT i, i // 2 AS j FROM range(%d) r(i)) ORDER BY i)
		TO '%s' (FORMAT parquet, FILE_SIZE_BYTES '1MB', ROW_GROUP_SIZE 20000, FILENAME_PATTERN 'part-{i}')`,
		determinismRows, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.EnsureDatabase(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	cols := []catalog.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "string"}, {Name: "state", Type: "string"}, {Name: "score", Type: "double"}, {Name: "delta", Type: "double"}}
	if err := cat.PutTable(ctx, catalog.Table{Database: "db", Name: "people",
		PartitionKeys:     []catalog.Column{{Name: "month", Type: "string"}},
		StorageDescriptor: catalog.StorageDescriptor{Columns: cols, Location: st.ObjectURI("tier2/people")}}); err != nil {
		t.Fatal(err)
	}
	if err := cat.PutPartition(ctx, catalog.Partition{Database: "db", Table: "people", Values: []string{"2020-03"},
		StorageDescriptor: catalog.StorageDescriptor{Location: st.ObjectURI(loc) + "/"}}); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) < 2 {
		t.Fatalf("source has %d files, want several", len(files))
	}
}

// readTree returns every file below dir by its slash path relative to dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareTrees(t *testing.T, aName string, a map[string][]byte, bName string, b map[string][]byte) {
	t.Helper()
	an, bn := slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b))
	if !slices.Equal(an, bn) {
		t.Errorf("%s wrote files %v, %s wrote %v", bName, bn, aName, an)
		return
	}
	for _, n := range an {
		if !bytes.Equal(a[n], b[n]) {
			t.Errorf("%s: %s differs from %s's (%d and %d bytes)", n, bName, aName, len(b[n]), len(a[n]))
		}
	}
}
