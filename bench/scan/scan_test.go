package scan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/tierflow/tierflow/lake/engine/duckdb"
)

type row struct {
	State     string `parquet:"state"`
	AddressID int64  `parquet:"addressid"`
	FirstName string `parquet:"firstname"`
}

// writeFile writes one row group per element of groups (Flush between
// them), with distinct first names so every chunk has a non-trivial size.
func writeFile(t *testing.T, path string, groups ...[]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[row](f, parquet.Compression(&parquet.Snappy))
	id := int64(1)
	for _, states := range groups {
		var rows []row
		for _, s := range states {
			rows = append(rows, row{State: s, AddressID: id * 7919, FirstName: strings.Repeat(s, int(id%5)+1)})
			id++
		}
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// chunkSizes reads every chunk's compressed size with DuckDB, an
// independent Parquet reader: file base name → row group → column → size.
func chunkSizes(t *testing.T, paths []string) map[string]map[int]map[string]int64 {
	t.Helper()
	db, err := duckdb.OpenMemory()
	if errors.Is(err, duckdb.ErrNoDuckDB) {
		t.Skip("needs DuckDB as the independent reader")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[int]map[string]int64{}
	for _, p := range paths {
		rows, err := db.Query(`SELECT row_group_id, path_in_schema, total_compressed_size FROM parquet_metadata(?)`, p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		out[name] = map[int]map[string]int64{}
		for rows.Next() {
			var rg int
			var col string
			var size int64
			if err := rows.Scan(&rg, &col, &size); err != nil {
				t.Fatal(err)
			}
			if out[name][rg] == nil {
				out[name][rg] = map[string]int64{}
			}
			out[name][rg][col] = size
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// TestScannedHandMade builds a two-file bucketed layout whose chunks are
// known and checks exactly which ones each query counts.
func TestScannedHandMade(t *testing.T) {
	const n = 60
	ca := HiveBucket("CA", n)
	other := (ca + 1) % n
	dir := t.TempDir()
	caFile := filepath.Join(dir, bucketName(ca, "p1"))
	otherFile := filepath.Join(dir, bucketName(other, "p1"))
	// caFile: rg0 AK..AL excludes CA; rg1 CA..CO holds it; rg2 AZ..WY
	// might hold it by its min/max (it does not, but statistics cannot tell).
	writeFile(t, caFile, []string{"AK", "AL", "AK"}, []string{"CA", "CO", "CA", "CA"}, []string{"AZ", "WY"})
	// otherFile holds CA rows too: a name-based pruner must skip it anyway.
	writeFile(t, otherFile, []string{"CA", "NY"}, []string{"TX", "TX"})
	paths := []string{caFile, otherFile}
	size := chunkSizes(t, paths)
	files, err := OpenAll(paths)
	if err != nil {
		t.Fatal(err)
	}
	c, o := filepath.Base(caFile), filepath.Base(otherFile)
	sum := func(parts ...struct {
		file string
		rg   int
		col  string
	}) int64 {
		var s int64
		for _, p := range parts {
			v, ok := size[p.file][p.rg][p.col]
			if !ok || v <= 0 {
				t.Fatalf("no chunk %s rg %d %s in DuckDB's metadata", p.file, p.rg, p.col)
			}
			s += v
		}
		return s
	}
	type ch = struct {
		file string
		rg   int
		col  string
	}
	bucketed := Layout{Files: files, Bucketing: &Bucketing{Column: "State", Count: n}}
	plain := Layout{Files: files}
	caQuery := Query{Columns: []string{"AddressID"}, Where: []Eq{{Column: "state", Value: "CA"}}}
	for _, tc := range []struct {
		name        string
		layout      Layout
		q           Query
		want        int64
		pruned      int
		skipped     int
		chunks      int
		rowsRead    int64
		wantBucketV int
	}{
		{"count all, plain: only addressid, every row group", plain, Query{Columns: []string{"addressid"}},
			sum(ch{c, 0, "addressid"}, ch{c, 1, "addressid"}, ch{c, 2, "addressid"}, ch{o, 0, "addressid"}, ch{o, 1, "addressid"}),
			0, 0, 5, 13, -1},
		{"count all, bucketed: no predicate, no pruning", bucketed, Query{Columns: []string{"addressid"}},
			sum(ch{c, 0, "addressid"}, ch{c, 1, "addressid"}, ch{c, 2, "addressid"}, ch{o, 0, "addressid"}, ch{o, 1, "addressid"}),
			0, 0, 5, 13, -1},
		{"CA, plain: min/max skips c/rg0 and o/rg1", plain, caQuery,
			sum(ch{c, 1, "addressid"}, ch{c, 1, "state"}, ch{c, 2, "addressid"}, ch{c, 2, "state"}, ch{o, 0, "addressid"}, ch{o, 0, "state"}),
			0, 2, 6, 8, -1},
		{"CA, bucketed: the other file pruned by name, then min/max", bucketed, caQuery,
			sum(ch{c, 1, "addressid"}, ch{c, 1, "state"}, ch{c, 2, "addressid"}, ch{c, 2, "state"}),
			1, 1, 4, 6, ca},
		{"CA, bucketed, projection of firstname", bucketed, Query{Columns: []string{"firstname", "state"}, Where: []Eq{{"STATE", "CA"}}},
			sum(ch{c, 1, "firstname"}, ch{c, 1, "state"}, ch{c, 2, "firstname"}, ch{c, 2, "state"}),
			1, 1, 4, 6, ca},
		{"a state no row group can hold: nothing read", plain, Query{Columns: []string{"addressid"}, Where: []Eq{{"state", "ZZ"}}},
			0, 0, 5, 0, 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Scanned(tc.layout, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if r.Bytes != tc.want || r.FilesPruned != tc.pruned || r.RowGroupsSkipped != tc.skipped || r.ChunksRead != tc.chunks || r.RowsInRowGroupsRead != tc.rowsRead || r.BucketOfValue != tc.wantBucketV {
				t.Fatalf("got %+v, want bytes %d pruned %d skipped %d chunks %d rows %d bucket %d", r, tc.want, tc.pruned, tc.skipped, tc.chunks, tc.rowsRead, tc.wantBucketV)
			}
			if r.RowsInLayout != 13 || r.Files != 2 {
				t.Fatalf("layout rows %d files %d", r.RowsInLayout, r.Files)
			}
		})
	}
}

func bucketName(b int, part string) string {
	return fmt.Sprintf("%06d_0_%s.snappy.parquet", b, part)
}

func TestScannedErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "000003_0_x.parquet")
	bad := filepath.Join(dir, "part-00003-abc.c000.snappy.parquet")
	writeFile(t, good, []string{"CA"})
	writeFile(t, bad, []string{"CA"})
	files, err := OpenAll([]string{good, bad})
	if err != nil {
		t.Fatal(err)
	}
	// Text: the messages name the column and the file at fault.
	if _, err := Scanned(Layout{Files: files[:1]}, Query{Columns: []string{"nosuchcol"}}); err == nil || !strings.Contains(err.Error(), "nosuchcol") {
		t.Fatalf("missing column: %v", err)
	}
	l := Layout{Files: files, Bucketing: &Bucketing{Column: "state", Count: 60}}
	if _, err := Scanned(l, Query{Columns: []string{"addressid"}, Where: []Eq{{"state", "CA"}}}); err == nil || !strings.Contains(err.Error(), "part-00003") {
		t.Fatalf("unmatched bucket file name: %v", err)
	}
	// Without a predicate on the bucket column names do not matter.
	if r, err := Scanned(l, Query{Columns: []string{"addressid"}}); err != nil || r.ChunksRead != 2 {
		t.Fatalf("no predicate: %+v %v", r, err)
	}
}

// TestFileBucket uses the name → bucket table of research/athena-compat.md §3.1.
func TestFileBucket(t *testing.T) {
	for name, want := range map[string]int{
		"000007_0":                           7,
		"000007_0_copy_1":                    7,
		"000007_0_part-00003.snappy.parquet": 7,
		"000059_0_20240101_000000_00000_abcde.snappy.parquet":     59,
		"20240101_000000_00000_abcde_bucket-00007.snappy.parquet": 7,
		"bucket_00007":                      7,
		"bucket_00007_1":                    7,
		"2020_03_part1.parquet":             2020,
		"000042_0_part-0001.snappy.parquet": 42,
	} {
		if got, ok := FileBucket(name); !ok || got != want {
			t.Errorf("FileBucket(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{
		"3f2a9c0d4e5b6a7c8d9e0f1a2b3c4d5e_bucket-00007.snappy.parquet",
		"part-00007-abc.c000.snappy.parquet",
	} {
		if got, ok := FileBucket(name); ok {
			t.Errorf("FileBucket(%q) = %d, want no match", name, got)
		}
	}
}
