//go:build cgo && !noduckdb

package duckdb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/local"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/engine/enginetest"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

func TestConformance(t *testing.T) {
	enginetest.Run(t, enginetest.Harness{
		New: func(t *testing.T) (engine.Engine, catalog.Catalog, storage.Storage) {
			e, cat, st := newEngine(t, duckdb.Options{Threads: 2, MemoryLimit: "1GB"})
			return e, cat, st
		},
	})
}

// newEngine returns an engine over a fresh file lake and local catalog;
// the engine is closed at cleanup (Close is idempotent).
func newEngine(t *testing.T, opts duckdb.Options) (*duckdb.Engine, *local.Catalog, *file.Store) {
	t.Helper()
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat := newCatalog(t)
	e, err := duckdb.New(context.Background(), cat, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, cat, st
}

func newCatalog(tb testing.TB) *local.Catalog {
	tb.Helper()
	cat, err := local.Open(filepath.Join(tb.TempDir(), "catalog.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}

func TestS3LakeRefused(t *testing.T) {
	_, err := duckdb.New(context.Background(), newCatalog(t), s3Lake{}, duckdb.Options{})
	if !errors.Is(err, engine.ErrUnsupported) {
		t.Fatalf("New over s3:// = %v, want engine.ErrUnsupported", err)
	}
}

// s3Lake is a storage whose only used method is URI.
type s3Lake struct{ storage.Storage }

func (s3Lake) URI() string { return "s3://bucket/lake" }

func TestOptionsApplied(t *testing.T) {
	tmp := t.TempDir()
	e, _, _ := newEngine(t, duckdb.Options{Threads: 1, MemoryLimit: "1GiB", TempDir: tmp})
	got := queryStrings(t, e, "SELECT current_setting('threads'), current_setting('memory_limit'), current_setting('temp_directory'), current_setting('TimeZone')")
	want := []string{"1", "1.0 GiB", tmp, "UTC"}
	if !slices.Equal(got, want) {
		t.Errorf("settings = %q, want %q", got, want)
	}
}

func TestDefaultsAndTempDirRemoved(t *testing.T) {
	e, _, _ := newEngine(t, duckdb.Options{})
	got := queryStrings(t, e, "SELECT current_setting('memory_limit'), current_setting('temp_directory')")
	if got[0] != "1.8 GiB" { // DefaultMemoryLimit 2GB = 2e9 bytes
		t.Errorf("default memory_limit = %q, want 2GB (1.8 GiB)", got[0])
	}
	if _, err := os.Stat(got[1]); err != nil {
		t.Fatalf("temp dir %s: %v", got[1], err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(got[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s after Close: %v, want it removed", got[1], err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func queryStrings(t *testing.T, e *duckdb.Engine, q string) []string {
	t.Helper()
	rows, err := e.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := make([]string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range out {
		ptrs[i] = &out[i]
	}
	if !rows.Next() {
		t.Fatalf("%s: no row (%v)", q, rows.Err())
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// row is the source table of the engine-specific tests.
type row struct {
	K     int64  `parquet:"k"`
	Name  string `parquet:"name"`
	Extra string `parquet:"extra"` // not in the catalog: must stay invisible
}

// addTable writes rows as one Parquet file and registers an unpartitioned
// table with the given catalog columns.
func addTable(t *testing.T, cat catalog.Catalog, st storage.Storage, db, name string, cols []catalog.Column, rows []row) {
	t.Helper()
	ctx := context.Background()
	key := "tier2/" + name + "/data.parquet"
	writeRows(t, st, key, rows)
	if err := cat.EnsureDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	err := cat.PutTable(ctx, catalog.Table{
		Database: db, Name: name, TableType: "EXTERNAL_TABLE", PartitionKeys: []catalog.Column{},
		StorageDescriptor: catalog.StorageDescriptor{Columns: cols, Location: st.ObjectURI("tier2/"+name) + "/"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func threeRows() []row {
	return []row{{1, "a", "x"}, {2, "b", "y"}, {3, "c", "z"}}
}

func ctas(st storage.Storage, sql, out string, sources ...string) engine.CTAS {
	return engine.CTAS{Database: "db", Table: out, SQL: sql, Location: st.ObjectURI("tier3/"+out) + "/", Sources: sources}
}

// TestCatalogSchemaWins: the view has the catalog's columns: a file column
// the catalog lacks is invisible, a catalog column the files lack is NULL.
func TestCatalogSchemaWins(t *testing.T) {
	e, cat, st := newEngine(t, duckdb.Options{Threads: 1})
	cols := []catalog.Column{{Name: "k", Type: "bigint"}, {Name: "name", Type: "string"}, {Name: "added", Type: "decimal(5,1)"}}
	addTable(t, cat, st, "db", "t", cols, threeRows())
	ctx := context.Background()
	if err := e.DefineViews(ctx, "db", []string{"t"}); err != nil {
		t.Fatal(err)
	}
	got := queryStrings(t, e, `SELECT string_agg(column_name || ' ' || data_type, ', ') FROM information_schema.columns WHERE table_schema = 'db' AND table_name = 't'`)
	if want := "k BIGINT, name VARCHAR, added DECIMAL(5,1)"; got[0] != want {
		t.Errorf("view columns %q, want %q", got[0], want)
	}
	got = queryStrings(t, e, `SELECT count(*)::VARCHAR, count(added)::VARCHAR, string_agg(name, '' ORDER BY k) FROM db.t`)
	if want := []string{"3", "0", "abc"}; !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	_, err := e.CreateTableAs(ctx, ctas(st, "SELECT extra FROM t", "o", "t"))
	// Text: DuckDB's binder error names the column.
	if err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("selecting a column missing from the catalog: %v, want an error naming it", err)
	}
}

func TestRefusals(t *testing.T) {
	e, cat, st := newEngine(t, duckdb.Options{Threads: 1})
	addTable(t, cat, st, "db", "t", []catalog.Column{{Name: "k", Type: "bigint"}, {Name: "name", Type: "string"}}, threeRows())
	// A refusal is an error of a kind (is), or one whose advice is what
	// the user reads (says: no error type carries it).
	cases := []struct {
		name string
		c    engine.CTAS
		is   error
		says string
	}{
		{"bucketed", func() engine.CTAS {
			c := ctas(st, "SELECT k, name FROM t", "b", "t")
			c.BucketedBy, c.BucketCount = []string{"name"}, 4
			return c
		}(), engine.ErrUnsupported, ""},
		{"unaliased", ctas(st, "SELECT name, count(*) FROM t GROUP BY name", "u", "t"), nil, "give it an alias"},
		{"duplicate name", ctas(st, "SELECT k, name AS K FROM t", "d", "t"), nil, `"k" is used by columns 1 and 2`},
		{"timestamp with zone", ctas(st, "SELECT k, now() AS ts FROM t", "z", "t"), nil, "no Hive equivalent"},
		{"outside lake", func() engine.CTAS {
			c := ctas(st, "SELECT k FROM t", "o", "t")
			c.Location = "file:///somewhere/else/"
			return c
		}(), engine.ErrOutsideLake, ""},
		{"lake root", func() engine.CTAS {
			c := ctas(st, "SELECT k FROM t", "r", "t")
			c.Location = st.URI() + "/"
			return c
		}(), engine.ErrOutsideLake, ""},
		{"format", func() engine.CTAS {
			c := ctas(st, "SELECT k FROM t", "f", "t")
			c.Format = "orc"
			return c
		}(), engine.ErrUnsupported, ""},
		{"not in sources", ctas(st, "SELECT k FROM t", "n"), nil, "CTAS sources"},
		{"missing source", ctas(st, "SELECT 1 AS one", "m", "nope"), catalog.ErrNotFound, ""},
		{"partition key only", func() engine.CTAS {
			c := ctas(st, "SELECT name FROM t", "p", "t")
			c.PartitionedBy = []string{"name"}
			return c
		}(), nil, "at least one column besides"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.CreateTableAs(context.Background(), tc.c)
			if err == nil {
				t.Fatal("succeeded, want an error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) || tc.says != "" && !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q, want %v %q", err, tc.is, tc.says)
			}
			// Text: the message a user reads names the table.
			if !strings.Contains(err.Error(), "duckdb: CTAS db."+tc.c.Table) {
				t.Errorf("error %q does not name the table", err)
			}
		})
	}
}

// TestOneStatement: a second statement cannot ride along in the SQL.
func TestOneStatement(t *testing.T) {
	e, cat, st := newEngine(t, duckdb.Options{Threads: 1})
	addTable(t, cat, st, "db", "t", []catalog.Column{{Name: "k", Type: "bigint"}}, threeRows())
	_, err := e.CreateTableAs(context.Background(), ctas(st, "SELECT k FROM t; DROP VIEW db.t", "two", "t"))
	if err == nil {
		t.Fatal("two statements succeeded")
	}
	if got := queryStrings(t, e, "SELECT count(*)::VARCHAR FROM db.t"); got[0] != "3" {
		t.Errorf("db.t has %s rows after the attempt, want 3", got[0])
	}
}

// TestResultTypes: DuckDB types without a Hive twin are cast to what Athena
// writes for the same SQL.
func TestResultTypes(t *testing.T) {
	e, cat, st := newEngine(t, duckdb.Options{Threads: 1})
	addTable(t, cat, st, "db", "t", []catalog.Column{{Name: "k", Type: "int"}, {Name: "name", Type: "varchar(10)"}}, threeRows())
	res, err := e.CreateTableAs(context.Background(), ctas(st,
		"SELECT sum(k) AS s, avg(k) AS a, max(name) AS m, CAST(1 AS UINTEGER) AS u, CAST('2020-01-02 03:04:05' AS TIMESTAMP_NS) AS ts FROM t;", "types", "t"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range res.Columns {
		got = append(got, c.Name+" "+c.Type)
	}
	if want := []string{"s bigint", "a double", "m string", "u bigint", "ts timestamp"}; !slices.Equal(got, want) {
		t.Errorf("columns %v, want %v", got, want)
	}
	db, err := duckdb.OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var types string
	if len(res.Files) != 1 {
		t.Fatalf("files %v, want one", res.Files)
	}
	path := strings.TrimPrefix(res.Files[0], "file://")
	err = db.QueryRow(`SELECT string_agg(name || ':' || type, ',' ORDER BY column_id) FROM parquet_schema(?) WHERE type IS NOT NULL`, path).Scan(&types)
	if err != nil {
		t.Fatal(err)
	}
	if want := "s:INT64,a:DOUBLE,m:BYTE_ARRAY,u:INT64,ts:INT64"; types != want {
		t.Errorf("parquet physical types %s, want %s", types, want)
	}
}

// TestConcurrentCTAS: calls are serialised, both succeed.
func TestConcurrentCTAS(t *testing.T) {
	e, cat, st := newEngine(t, duckdb.Options{Threads: 2})
	addTable(t, cat, st, "db", "t", []catalog.Column{{Name: "k", Type: "bigint"}, {Name: "name", Type: "string"}}, threeRows())
	var wg sync.WaitGroup
	errs := make([]error, 4)
	rows := make([]int64, 4)
	for i := range errs {
		wg.Go(func() {
			res, err := e.CreateTableAs(context.Background(), ctas(st, fmt.Sprintf("SELECT k FROM t WHERE k > %d", i), fmt.Sprintf("c%d", i), "t"))
			errs[i], rows[i] = err, res.Rows
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("CTAS %d: %v", i, err)
		} else if want := int64(max(0, 3-i)); rows[i] != want {
			t.Errorf("CTAS %d wrote %d rows, want %d", i, rows[i], want)
		}
	}
}

func TestCancelled(t *testing.T) {
	e, cat, st := newEngine(t, duckdb.Options{Threads: 1})
	addTable(t, cat, st, "db", "t", []catalog.Column{{Name: "k", Type: "bigint"}}, threeRows())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := ctas(st, "SELECT k FROM t", "x", "t")
	if _, err := e.CreateTableAs(ctx, c); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled CTAS: %v, want context.Canceled", err)
	}
}

// TestNoDuckDBBuild builds the package as the container image does and runs
// its stub test there.
func TestNoDuckDBBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package twice more")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	for _, env := range [][]string{{"CGO_ENABLED=0"}, {"CGO_ENABLED=1", "GOFLAGS=-tags=noduckdb"}} {
		cmd := exec.Command(goBin, "test", "-count=1", "-run", "^TestWithoutDuckDB$", ".")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%v go test: %v\n%s", env, err, out)
		}
		if !strings.Contains(string(out), "ok") {
			t.Errorf("%v go test output:\n%s", env, out)
		}
	}
}

// BenchmarkCTASFilter runs the seed's query shape (8 columns, WHERE
// state = 'CA') over one month of synthetic rows in 8 files, and the
// complement (nine tenths of the rows), reporting the peak RSS of the
// process (DuckDB's memory included) while the CTAS runs.
func BenchmarkCTASFilter(b *testing.B) {
	const rows = 2_000_000
	ctx := context.Background()
	st, err := file.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := duckdb.OpenMemory()
	if err != nil {
		b.Fatal(err)
	}
	dir := strings.TrimPrefix(st.ObjectURI("tier2/ch/month=2020-03/run=r1"), "file://")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf(`COPY (SELECT i AS id, 'first' || (i %% 5000) AS firstname, 'last' || (i %% 7919) AS lastname,
		CAST(i %% 9999 AS VARCHAR) AS housenumber, ['N','S','E','W',''][i %% 5 + 1] AS predirection, 'street' || (i %% 3001) AS streetname,
		['ST','AVE','RD'][i %% 3 + 1] AS streetsuffix, ['CA','NY','TX','WA','FL','OR','NV','AZ','IL','OH'][i %% 10 + 1] AS state,
		CAST(10000 + i %% 89999 AS VARCHAR) AS zipcode, i * 1.5 AS score
		FROM range(%d) t(i)) TO '%s' (FORMAT parquet, COMPRESSION snappy, FILE_SIZE_BYTES '8MB', FILENAME_PATTERN 'part-{i}')`, rows, dir))
	db.Close()
	if err != nil {
		b.Fatal(err)
	}
	cat := newCatalog(b)
	if err := cat.EnsureDatabase(ctx, "consumer"); err != nil {
		b.Fatal(err)
	}
	var cols []catalog.Column
	for _, n := range []string{"id bigint", "firstname string", "lastname string", "housenumber string", "predirection string", "streetname string", "streetsuffix string", "state string", "zipcode string", "score double"} {
		name, typ, _ := strings.Cut(n, " ")
		cols = append(cols, catalog.Column{Name: name, Type: typ})
	}
	if err := cat.PutTable(ctx, catalog.Table{Database: "consumer", Name: "consumer_header",
		PartitionKeys:     []catalog.Column{{Name: "month", Type: "string"}},
		StorageDescriptor: catalog.StorageDescriptor{Columns: cols, Location: st.ObjectURI("tier2/ch")}}); err != nil {
		b.Fatal(err)
	}
	if err := cat.PutPartition(ctx, catalog.Partition{Database: "consumer", Table: "consumer_header", Values: []string{"2020-03"},
		StorageDescriptor: catalog.StorageDescriptor{Location: st.ObjectURI("tier2/ch/month=2020-03/run=r1") + "/"}}); err != nil {
		b.Fatal(err)
	}
	e, err := duckdb.New(ctx, cat, st, duckdb.Options{Threads: 2, MemoryLimit: "1GB"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	runs := 0 // a new location per CTAS, across the benchmark's rounds
	for _, bc := range []struct {
		name, where string
		rows        int64
	}{
		{"CA", "state = 'CA'", rows / 10},         // the seed's query: a tenth of the rows
		{"notCA", "state <> 'CA'", rows * 9 / 10}, // a large result: the sort's cost shows
	} {
		b.Run(bc.name, func(b *testing.B) {
			resetPeakRSS()
			for range b.N {
				runs++
				res, err := e.CreateTableAs(ctx, engine.CTAS{Database: "consumer", Table: "consumer_ca",
					SQL: `WITH consumer_header AS (SELECT * FROM "consumer"."consumer_header" WHERE "month" = '2020-03')
SELECT firstname, lastname, housenumber, predirection, streetname, streetsuffix, state, zipcode FROM consumer_header WHERE ` + bc.where,
					Location: st.ObjectURI(fmt.Sprintf("tier3/consumer_%s/run=%d", bc.name, runs)) + "/", Sources: []string{"consumer_header"}})
				if err != nil {
					b.Fatal(err)
				}
				if res.Rows != bc.rows {
					b.Fatalf("rows %d, want %d", res.Rows, bc.rows)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "input_rows/s")
			if mib, ok := peakRSSMiB(); ok {
				b.ReportMetric(mib, "peak_RSS_MiB")
			}
		})
	}
}

// resetPeakRSS resets the process's peak resident set (Linux; elsewhere it
// does nothing and peakRSSMiB reports nothing).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMiB is the process's peak resident set since resetPeakRSS (VmHWM).
func peakRSSMiB() (float64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}

// TestInputsShadowCatalog: an Input (a run's staged partition, not in the
// catalog) replaces the catalog's table of the same name, so a derived
// table is built from exactly the staged data.
func TestInputsShadowCatalog(t *testing.T) {
	e, cat, st := newEngine(t, duckdb.Options{Threads: 1})
	ctx := context.Background()
	cols := []catalog.Column{{Name: "k", Type: "bigint"}, {Name: "name", Type: "string"}}
	addTable(t, cat, st, "db", "t", cols, threeRows()) // the "published" data: 3 rows
	staged := addTable2(t, st, "tier2/t/month=2020-03/run=r2", []row{{7, "x", ""}, {8, "y", ""}})
	tbl, err := cat.GetTable(ctx, "db", "t")
	if err != nil {
		t.Fatal(err)
	}
	tbl.PartitionKeys = []catalog.Column{{Name: "month", Type: "string"}}
	in := engine.Input{Table: tbl, Partitions: []catalog.Partition{{
		Database: "db", Table: "t", Values: []string{"2020-03"},
		StorageDescriptor: catalog.StorageDescriptor{Columns: cols, Location: staged},
	}}}
	c := ctas(st, "SELECT k, name, month FROM t", "o", "t")
	c.Inputs = []engine.Input{in}
	res, err := e.CreateTableAs(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2 {
		t.Fatalf("CTAS over the staged input wrote %d rows, want the 2 staged ones (not the catalog's 3)", res.Rows)
	}
	got := queryStrings(t, e, "SELECT string_agg(k::VARCHAR || month, ',' ORDER BY k) FROM read_parquet('"+strings.TrimPrefix(res.Files[0], "file://")+"')")
	if got[0] != "72020-03,82020-03" {
		t.Errorf("rows %q, want the staged rows with their partition value", got[0])
	}
}

// addTable2 writes rows as one Parquet file under prefix and returns the
// prefix's URI (a location), registering nothing.
func addTable2(t *testing.T, st storage.Storage, prefix string, rows []row) string {
	t.Helper()
	writeRows(t, st, prefix+"/data.parquet", rows)
	return st.ObjectURI(prefix) + "/"
}

// writeRows writes rows as one Parquet object at key.
func writeRows(t *testing.T, st storage.Storage, key string, rows []row) {
	t.Helper()
	w, err := st.Create(context.Background(), key, storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pw := parquet.NewGenericWriter[row](w)
	if _, err := pw.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}
