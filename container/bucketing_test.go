package container

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/container/hive"
)

// TestBucketingVariants checks, with DuckDB reading the files, that every
// row lands in the bucket named by its file for two-column v1 bucketing
// (r = r*31 + h_i, NULL → 0) and for v2 (Murmur3).
func TestBucketingVariants(t *testing.T) {
	for _, c := range []struct {
		name    string
		version int
		cols    []string
		hash    func(state string, age *int32) int32
	}{
		{"v1 state+age", 1, []string{"state", "age"}, func(s string, age *int32) int32 {
			var h int32
			if age != nil {
				h = hive.IntV1(*age)
			}
			return hive.Combine(hive.Combine(0, hive.StringV1([]byte(s))), h)
		}},
		{"v2 state", 2, []string{"state"}, func(s string, _ *int32) int32 {
			return hive.Combine(0, hive.StringV2([]byte(s)))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			csvData, _ := genCSV(11, 2000, false)
			e := newEnv(t)
			spec := testSpec()
			spec.Output.BucketedBy = c.cols
			spec.Output.BucketingVersion = c.version
			spec.Output.BucketCount = 7
			m, err := e.convert(t, spec, gz(csvData, 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.BucketingVersion != c.version || len(m.Files) < 2 {
				t.Fatalf("manifest version %d, %d files", m.BucketingVersion, len(m.Files))
			}
			db := openDuck(t)
			var n int64
			for _, f := range m.Files {
				bucket, _ := strconv.Atoi(filepath.Base(f.Key)[:6])
				rows, err := db.Query(fmt.Sprintf("SELECT state, age FROM read_parquet('%s')", e.dst.path(f.Key)))
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var st string
					var age *int32
					if err := rows.Scan(&st, &age); err != nil {
						t.Fatal(err)
					}
					if b := hive.Bucket(c.hash(st, age), 7); b != bucket {
						t.Fatalf("file %s has row (%q, %v) of bucket %d", f.Key, st, age, b)
					}
					n++
				}
				rows.Close()
			}
			if n != 2000 {
				t.Fatalf("read %d rows", n)
			}
		})
	}
}

// TestLongStrings: values of 65535 bytes and more take the Lens/Long path,
// also when a rejected row in the same chunk forces compaction.
func TestLongStrings(t *testing.T) {
	long1 := strings.Repeat("x", 70000)
	long2 := strings.Repeat("é", 40000) // 80000 bytes
	lines := hdr +
		strings.Replace(goodLine(1), ",ok\n", ","+long1+"\n", 1) +
		strings.Replace(goodLine(2), "30", "bad", 1) + // rejected: compaction
		strings.Replace(goodLine(3), ",ok\n", ",\""+long2+"\"\n", 1) +
		goodLine(4)
	e := newEnv(t)
	spec := testSpec()
	spec.Rejects.MaxFraction = 0.5
	m, err := e.convert(t, spec, gz([]byte(lines), 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.RowsWritten != 3 || m.RowsRejected != 1 {
		t.Fatalf("written %d rejected %d", m.RowsWritten, m.RowsRejected)
	}
	db := openDuck(t)
	got := map[int64]string{}
	for _, f := range m.Files {
		rows, err := db.Query(fmt.Sprintf("SELECT id, note FROM read_parquet('%s')", e.dst.path(f.Key)))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var note string
			if err := rows.Scan(&id, &note); err != nil {
				t.Fatal(err)
			}
			got[id] = note
		}
		rows.Close()
	}
	if got[1] != long1 || got[3] != long2 || got[4] != "ok" || len(got) != 3 {
		t.Fatalf("long values not read back intact (%d rows; lengths %d %d)", len(got), len(got[1]), len(got[3]))
	}
}
