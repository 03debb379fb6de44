package container

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container/hive"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// env is a source and destination storage in temp dirs.
type env struct {
	src, dst *dirStorage
}

func newEnv(t *testing.T) *env {
	return &env{src: &dirStorage{root: t.TempDir()}, dst: &dirStorage{root: t.TempDir()}}
}

func (e *env) convert(t *testing.T, spec *jobs.Spec, gzData []byte, mod func(*Options)) (*Manifest, error) {
	t.Helper()
	e.src.put("in/part-0001.csv.gz", gzData)
	opts := Options{Spec: spec, Part: "part-0001", Logger: zerolog.New(zerolog.NewTestWriter(t))}
	if mod != nil {
		mod(&opts)
	}
	return Convert(context.Background(), opts, e.src, "in/part-0001.csv.gz", e.dst, "data", "meta")
}

var fileRE = regexp.MustCompile(`^data/(\d{6})_0_part-0001\.snappy\.parquet$`)

func openDuck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConvertReadBackDuckDB converts a sample covering every type and
// reads it back with DuckDB, independently of the writer.
func TestConvertReadBackDuckDB(t *testing.T) {
	t.Run("one row group per file", func(t *testing.T) { readBack(t, 0, 0) })
	// A tiny budget and row-group target: rows spilled in many runs,
	// several row groups per file, each file sorted as a whole.
	t.Run("spilled runs", func(t *testing.T) { readBack(t, 400<<10, 32<<10) })
}

func readBack(t *testing.T, memory, rowGroup int64) {
	csvData, want := genCSV(1, 3000, false)
	e := newEnv(t)
	spec := testSpec()
	spec.Convert.MemoryBytes = memory
	spec.Output.RowGroupBytes = rowGroup
	var progressCalls int
	var last, lastTotal int64
	m, err := e.convert(t, spec, gz(csvData, 1), func(o *Options) {
		o.chunkSize = 16 << 10
		o.compress = 1
		o.Progress = func(done, total int64) {
			progressCalls++
			if done <= 0 || done > total || done < last {
				t.Errorf("progress %d of %d after %d", done, total, last)
			}
			last, lastTotal = done, total
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if progressCalls < 3 || last != lastTotal {
		t.Errorf("Progress called %d times, last %d of %d: want several, ending at the total", progressCalls, last, lastTotal)
	}
	if m.RowsRead != 3000 || m.RowsWritten != 3000 || m.RowsRejected != 0 {
		t.Fatalf("manifest rows read %d written %d rejected %d", m.RowsRead, m.RowsWritten, m.RowsRejected)
	}
	keys := e.dst.keys("data/")
	if len(keys) != len(m.Files) || len(keys) == 0 {
		t.Fatalf("files %v, manifest %d", keys, len(m.Files))
	}
	db := openDuck(t)
	cols := testSchema().Names()
	got := map[int64][]any{}
	multiGroup := false
	for _, f := range m.Files {
		mm := fileRE.FindStringSubmatch(f.Key)
		if mm == nil {
			t.Fatalf("bad file name %q", f.Key)
		}
		bucket, _ := strconv.Atoi(mm[1])
		if bucket != f.Bucket {
			t.Fatalf("file %s in manifest as bucket %d", f.Key, f.Bucket)
		}
		p := filepath.Join(e.dst.root, f.Key)
		checkSchemaDuck(t, db, p)
		if memory > 0 && rowGroups(t, db, p) > 1 {
			multiGroup = true
		}
		if n := readBackFile(t, db, p, f, cols, got); n != f.Rows {
			t.Fatalf("file %s has %d rows, manifest says %d", f.Key, n, f.Rows)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read back %d distinct rows, want %d", len(got), len(want))
	}
	if memory > 0 && (!multiGroup || m.SpilledRuns == 0) {
		t.Fatalf("tiny budget: several row groups in some file %v, %d runs spilled; want both", multiGroup, m.SpilledRuns)
	}
	for i, w := range want {
		g, ok := got[w.vals[0].(int64)]
		if !ok {
			t.Fatalf("row %d missing", i)
		}
		for c := range cols {
			if !sameValue(g[c], w.vals[c]) {
				t.Fatalf("row %d column %s: DuckDB read %#v, CSV had %#v", i, cols[c], g[c], w.vals[c])
			}
		}
	}
	checkStoredManifest(t, e, spec, m)
}

// rowGroups is the number of row groups of the Parquet file at path.
func rowGroups(t *testing.T, db *sql.DB, path string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(fmt.Sprintf("SELECT count(DISTINCT row_group_id) FROM parquet_metadata('%s')", path)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readBackFile reads the converted file f at path with DuckDB into got
// (by ID), checking that every row belongs to the file's bucket and that
// the rows are sorted by state, stably, across row groups; it returns the
// rows read.
func readBackFile(t *testing.T, db *sql.DB, path string, f FileEntry, cols []string, got map[int64][]any) int64 {
	t.Helper()
	rows, err := db.Query(fmt.Sprintf("SELECT %s, file_row_number FROM read_parquet('%s', file_row_number = true) ORDER BY file_row_number", strings.Join(cols, ","), path))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := int64(0)
	prevState := ""
	prevID := int64(math.MinInt64)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols)+1)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var rowNum int64
		ptrs[len(cols)] = &rowNum
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		st := vals[1].(string)
		id := vals[0].(int64)
		if b := hive.Bucket(hive.StringV1([]byte(st)), 60); b != f.Bucket {
			t.Fatalf("file %s holds state %q of bucket %d", f.Key, st, b)
		}
		if st < prevState {
			t.Fatalf("file %s not sorted by state: %q after %q (row %d)", f.Key, st, prevState, n)
		}
		if st == prevState && id < prevID {
			t.Fatalf("file %s: sort not stable: id %d after %d", f.Key, id, prevID)
		}
		prevState, prevID = st, id
		got[vals[0].(int64)] = vals
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkStoredManifest checks the manifest Convert wrote against the one it
// returned, m.
func checkStoredManifest(t *testing.T, e *env, spec *jobs.Spec, m *Manifest) {
	t.Helper()
	var onDisk Manifest
	b, err := os.ReadFile(filepath.Join(e.dst.root, "meta/part-0001.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.RowsWritten != 3000 || onDisk.InputSHA256 != m.InputSHA256 || len(onDisk.Files) != len(m.Files) {
		t.Fatalf("manifest on storage differs: %+v", onDisk)
	}
	if m.InputBytes == 0 || len(m.InputSHA256) != 64 || m.SchemaHash != spec.Schema.Hash() {
		t.Fatalf("manifest input figures: %d %q %q", m.InputBytes, m.InputSHA256, m.SchemaHash)
	}
	var sum int64
	for _, r := range m.RowsPerBucket {
		sum += r
	}
	if sum != 3000 {
		t.Fatalf("rows per bucket sum %d", sum)
	}
	// Each file's size and digest as the manifest says (the local store
	// hashes what it writes; the converter takes its digest).
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(e.dst.root, f.Key))
		if err != nil {
			t.Fatal(err)
		}
		if d := sha256.Sum256(b); f.SHA256 != hex.EncodeToString(d[:]) || f.Bytes != int64(len(b)) {
			t.Fatalf("%s: manifest says %d bytes, SHA-256 %s; the file has %d, %x", f.Key, f.Bytes, f.SHA256, len(b), d)
		}
	}
}

// TestHashWriter checks the digest a Parquet file's writer reports, from
// a storage writer that hashes (storage.Hasher) and from one that does not.
func TestHashWriter(t *testing.T) {
	data := bytes.Repeat([]byte("tierflow,"), 100000)
	want := sha256.Sum256(data)
	dir := t.TempDir()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, hide := range []bool{false, true} {
		sw, err := st.Create(context.Background(), fmt.Sprintf("f%v", hide), storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var w storage.Writer = sw
		if hide {
			w = struct{ storage.Writer }{sw} // not a storage.Hasher
		}
		hw := newHashWriter(w)
		if (hw.h == nil) == hide {
			t.Fatalf("hidden %v: own hash %v", hide, hw.h != nil)
		}
		for rest := data; len(rest) > 0; rest = rest[min(len(rest), 4099):] {
			if _, err := hw.Write(rest[:min(len(rest), 4099)]); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := hw.sum(); !bytes.Equal(got, want[:]) || hw.n != int64(len(data)) {
			t.Fatalf("hidden %v: %x, %d bytes; want %x, %d", hide, got, hw.n, want, len(data))
		}
	}
}

// sameValue compares a value scanned from DuckDB with the expected one.
func sameValue(got, want any) bool {
	if want == nil || got == nil {
		return want == nil && got == nil
	}
	switch w := want.(type) {
	case *big.Int:
		d, ok := got.(duckdb.Decimal)
		return ok && d.Value.Cmp(w) == 0
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	}
	return reflect.DeepEqual(got, want)
}

// checkSchemaDuck checks the declared Parquet types and SNAPPY with
// DuckDB's parquet_schema / parquet_metadata.
func checkSchemaDuck(t *testing.T, db *sql.DB, file string) {
	t.Helper()
	want := map[string]string{
		"id":     "INT64||OPTIONAL",
		"state":  "BYTE_ARRAY|UTF8|OPTIONAL",
		"name":   "BYTE_ARRAY|UTF8|OPTIONAL",
		"age":    "INT32||OPTIONAL",
		"score":  "DOUBLE||OPTIONAL",
		"active": "BOOLEAN||OPTIONAL",
		"born":   "INT32|DATE|OPTIONAL",
		"seen":   "INT64|TIMESTAMP_MILLIS|OPTIONAL",
		"amount": "INT32|DECIMAL|OPTIONAL",
		"big":    "INT64|DECIMAL|OPTIONAL",
		"huge":   "FIXED_LEN_BYTE_ARRAY|DECIMAL|OPTIONAL",
		"note":   "BYTE_ARRAY|UTF8|OPTIONAL",
	}
	rows, err := db.Query(fmt.Sprintf(`SELECT name, coalesce(type,''), coalesce(converted_type,''), coalesce(repetition_type,''), coalesce(logical_type::VARCHAR,'') FROM parquet_schema('%s') WHERE num_children IS NULL`, file))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var name, typ, conv, rep, logical string
		if err := rows.Scan(&name, &typ, &conv, &rep, &logical); err != nil {
			t.Fatal(err)
		}
		if got := typ + "|" + conv + "|" + rep; got != want[name] {
			t.Errorf("%s: column %s is %s, want %s", path.Base(file), name, got, want[name])
		}
		if name == "seen" && !strings.Contains(strings.ToLower(logical), "isadjustedtoutc=1") && !strings.Contains(strings.ToLower(logical), "isadjustedtoutc=true") {
			t.Errorf("seen logical type %q: want UTC-adjusted millis", logical)
		}
		seen++
	}
	if seen != len(want) {
		t.Fatalf("parquet_schema listed %d leaf columns, want %d", seen, len(want))
	}
	var bad int
	if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM parquet_metadata('%s') WHERE compression <> 'SNAPPY'`, file)).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d column chunks not SNAPPY", bad)
	}
	var noStats int
	if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM parquet_metadata('%s') WHERE (path_in_schema IN ('id','age') AND (stats_min_value IS NULL OR stats_max_value IS NULL)) OR (path_in_schema = 'state' AND (stats_min_value IS NULL OR stats_max_value IS NULL))`, file)).Scan(&noStats); err != nil {
		t.Fatal(err)
	}
	if noStats != 0 {
		t.Fatalf("%d chunks lack min_value/max_value statistics", noStats)
	}
}

// filesOf returns the bytes of every data file, by key.
func filesOf(t *testing.T, d *dirStorage) map[string][]byte {
	out := map[string][]byte{}
	for _, k := range d.keys("data/") {
		b, err := os.ReadFile(d.path(k))
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

// TestDeterministicAcrossWorkers converts the same input with 1 to 4
// workers, tiny chunks and a tiny memory budget (many spilled runs), and
// once with a budget that spills nothing: the files must be
// byte-identical.
func TestDeterministicAcrossWorkers(t *testing.T) {
	csvData, _ := genCSV(2, 4000, true)
	in := gz(csvData, 3)
	var results []map[string][]byte
	var manifests []*Manifest
	for i, workers := range []int{1, 3, 2, 4, 2, 3, 2} {
		e := newEnv(t)
		spec := testSpec()
		spec.Convert.Workers = workers
		spec.Convert.MemoryBytes = 600 << 10
		inMemory := i == 6
		if inMemory {
			spec.Convert.MemoryBytes = 1 << 30
		}
		spec.Output.RowGroupBytes = 64 << 10
		compress := []int{1, -1}[i%2] // spilled runs S2-compressed or not
		fanIn := []int{0, 2, 3}[i%3]  // runs merged in rounds before the last merge
		m, err := e.convert(t, spec, in, func(o *Options) { o.chunkSize = 8 << 10; o.compress = compress; o.fanIn = fanIn })
		if err != nil {
			t.Fatal(err)
		}
		if !inMemory && (fanIn > 0) != (m.SpillMerges > 0) {
			t.Fatalf("run %d: fan-in %d, %d intermediate merges", i, fanIn, m.SpillMerges)
		}
		if !inMemory && m.SpillCompressed != (compress > 0) {
			t.Fatalf("run %d: spill compressed %v, want %v", i, m.SpillCompressed, compress > 0)
		}
		if m.RowGroups <= len(m.Files) {
			t.Fatalf("expected the row-group target to make several row groups per file: %d groups, %d files", m.RowGroups, len(m.Files))
		}
		if inMemory != (m.SpilledRuns == 0) {
			t.Fatalf("run %d (budget %d): %d runs spilled", i, spec.Convert.MemoryBytes, m.SpilledRuns)
		}
		results = append(results, filesOf(t, e.dst))
		manifests = append(manifests, m)
	}
	for i := 1; i < len(results); i++ {
		if len(results[i]) != len(results[0]) {
			t.Fatalf("run %d wrote %d files, run 0 %d", i, len(results[i]), len(results[0]))
		}
		for k, b := range results[0] {
			if !bytes.Equal(results[i][k], b) {
				t.Fatalf("file %s differs between worker counts", k)
			}
		}
		for j := range manifests[0].Files {
			if manifests[i].Files[j].SHA256 != manifests[0].Files[j].SHA256 {
				t.Fatalf("manifest sha256 differs for %s", manifests[0].Files[j].Key)
			}
		}
	}
}
