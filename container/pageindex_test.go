package container

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/container/pqwrite"
)

// TestConvertSkipMetadataDuckDB converts with bloom filters on two
// columns and checks with DuckDB what readers skip with: created_by,
// exact statistics, and bloom filters that exclude absent values and never
// present ones.
func TestConvertSkipMetadataDuckDB(t *testing.T) {
	csvData, want := genCSV(2, 3000, false)
	e := newEnv(t)
	spec := testSpec()
	spec.Output.BloomFilter = []string{"name", "age"}
	createdBy := pqwrite.CreatedBy("tierflow", "1.2.3", "0123abcd")
	m, err := e.convert(t, spec, gz(csvData, 1), func(o *Options) { o.CreatedBy = createdBy })
	if err != nil {
		t.Fatal(err)
	}
	db := openDuck(t)
	present := map[string]bool{}
	for _, r := range want {
		if v, ok := r.vals[2].(string); ok {
			present[v] = true
		}
	}
	probed := 0
	for _, f := range m.Files {
		p := filepath.Join(e.dst.root, f.Key)
		var got string
		if err := db.QueryRow(`SELECT created_by FROM parquet_file_metadata(?)`, p).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != createdBy {
			t.Errorf("%s: created_by %q, want %q", f.Key, got, createdBy)
		}
		var inexact int
		if err := db.QueryRow(`SELECT count(*) FROM parquet_metadata(?) WHERE stats_min_value IS NOT NULL AND NOT (min_is_exact AND max_is_exact)`, p).Scan(&inexact); err != nil {
			t.Fatal(err)
		}
		if inexact != 0 {
			t.Errorf("%s: %d chunks with inexact statistics (nothing is truncated by default)", f.Key, inexact)
		}
		// Every name of the file passes its row group's filter.
		rows, err := db.Query(fmt.Sprintf(`SELECT DISTINCT name FROM read_parquet('%s') WHERE name IS NOT NULL`, p))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			names = append(names, s)
		}
		rows.Close()
		for _, s := range names {
			var excluded bool
			if err := db.QueryRow(`SELECT bool_or(bloom_filter_excludes) FROM parquet_bloom_probe(?, 'name', ?)`, p, s).Scan(&excluded); err != nil {
				t.Fatal(err)
			}
			if excluded {
				t.Fatalf("%s: bloom filter excludes %q, which the file holds", f.Key, s)
			}
			probed++
		}
		absent, excludedN := 0, 0
		for k := range 200 {
			s := fmt.Sprintf("nobody-%d", k)
			if present[s] {
				continue
			}
			absent++
			var excluded bool
			if err := db.QueryRow(`SELECT bool_and(bloom_filter_excludes) FROM parquet_bloom_probe(?, 'name', ?)`, p, s).Scan(&excluded); err != nil {
				t.Fatal(err)
			}
			if excluded {
				excludedN++
			}
		}
		if excludedN < absent*9/10 {
			t.Errorf("%s: bloom filters exclude %d of %d absent names", f.Key, excludedN, absent)
		}
		var ageFilters int
		if err := db.QueryRow(`SELECT count(*) FROM parquet_metadata(?) WHERE bloom_filter_offset IS NOT NULL AND path_in_schema = 'age'`, p).Scan(&ageFilters); err != nil {
			t.Fatal(err)
		}
		var groups int
		if err := db.QueryRow(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(?)`, p).Scan(&groups); err != nil {
			t.Fatal(err)
		}
		if ageFilters != groups {
			t.Errorf("%s: %d bloom filters on age for %d row groups", f.Key, ageFilters, groups)
		}
	}
	if probed == 0 {
		t.Fatal("no name probed")
	}
}
