package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

const testMonth = "2020-03"

// openTestEnv opens a fresh local lake holding a generated month.
func openTestEnv(t *testing.T, spec *jobs.Spec, rows int64, parts int, bad float64) (*Env, string) {
	t.Helper()
	dir := t.TempDir()
	env, err := OpenEnv(context.Background(), spec, "file://"+dir, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	if _, err := synth.Generate(context.Background(), env.Storage, spec, synth.Options{Rows: rows, Parts: parts, Seed: 7, Month: testMonth, BadRowFraction: bad}); err != nil {
		t.Fatal(err)
	}
	return env, dir
}

// csvStateCounts reads every intake part with encoding/csv (independently
// of the converter) and counts rows per state.
func csvStateCounts(t *testing.T, st storage.Storage, spec *jobs.Spec) (map[string]int64, int64) {
	t.Helper()
	ctx := context.Background()
	counts := map[string]int64{}
	var total int64
	err := st.List(ctx, spec.IntakePrefix(testMonth), func(o storage.Object) error {
		rc, err := st.Open(ctx, o.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		zr, err := gzip.NewReader(rc)
		if err != nil {
			return err
		}
		r := csv.NewReader(zr)
		r.FieldsPerRecord = -1
		header, err := r.Read()
		if err != nil {
			return err
		}
		idx := -1
		for i, h := range header {
			if strings.EqualFold(h, "state") {
				idx = i
			}
		}
		if idx < 0 {
			return fmt.Errorf("%s: no State column", o.Key)
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if len(rec) != len(header) {
				continue // counted as rejected by the converter
			}
			counts[rec[idx]]++
			total++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts, total
}

func duck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestEndToEndLocal(t *testing.T) {
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		t.Fatal(err)
	}
	const rows = 6000
	env, dir := openTestEnv(t, spec, rows, 3, 0)
	ctx := context.Background()

	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Run.Status != lineage.StatusComplete || !res.Run.Published {
		t.Fatalf("run status %s published %v", res.Run.Status, res.Run.Published)
	}
	if c := res.Run.Cost; c.VCPUSeconds <= 0 || c.GBSeconds <= 0 || c.USD <= 0 || c.S3Requests != 0 {
		t.Errorf("cost ledger of a local run: %+v (want compute priced, no S3 requests)", c)
	}

	// Tier 2, read back by DuckDB: row count and per-state counts equal the CSV's.
	wantStates, csvRows := csvStateCounts(t, env.Storage, spec)
	if res.Run.RowsOut != rows-res.Run.RowsRejected {
		t.Errorf("rows out %d, want %d generated - %d rejected", res.Run.RowsOut, rows, res.Run.RowsRejected)
	}
	part, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{testMonth})
	if err != nil {
		t.Fatal(err)
	}
	loc := strings.TrimPrefix(part.StorageDescriptor.Location, "file://")
	db := duck(t)
	got := map[string]int64{}
	q := fmt.Sprintf("SELECT state, count(*) FROM read_parquet('%s*.parquet') GROUP BY state", loc)
	rs, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var dbRows int64
	for rs.Next() {
		var s sql.NullString
		var n int64
		if err := rs.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		got[s.String] += n
		dbRows += n
	}
	rs.Close()
	if dbRows != csvRows || dbRows != res.Run.RowsOut {
		t.Errorf("DuckDB reads %d rows; CSV has %d; run says %d", dbRows, csvRows, res.Run.RowsOut)
	}
	if fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(wantStates)) {
		t.Errorf("per-state counts differ:\nparquet %v\ncsv     %v", sortedCounts(got), sortedCounts(wantStates))
	}

	// The catalog partition points at exactly the published files.
	var published []string
	for _, m := range res.Manifests {
		for _, f := range m.Files {
			published = append(published, filepath.Join(dir, f.Key))
		}
	}
	onDisk, _ := filepath.Glob(loc + "*")
	sort.Strings(published)
	sort.Strings(onDisk)
	if len(published) == 0 || strings.Join(published, "\n") != strings.Join(onDisk, "\n") {
		t.Errorf("partition location %s holds\n%v\nmanifests list\n%v", loc, onDisk, published)
	}
	if part.StorageDescriptor.NumberOfBuckets != spec.Output.BucketCount || fmt.Sprint(part.StorageDescriptor.BucketColumns) != fmt.Sprint(spec.Output.BucketedBy) {
		t.Errorf("partition bucketing %d %v, want %d %v", part.StorageDescriptor.NumberOfBuckets, part.StorageDescriptor.BucketColumns, spec.Output.BucketCount, spec.Output.BucketedBy)
	}

	// Tier 1 is byte-identical to intake.
	for _, in := range res.Parts {
		a := readAll(t, env.Storage, in.Key)
		matches, _ := filepath.Glob(filepath.Join(dir, "tier1", spec.Name, "month="+testMonth, "*", filepath.Base(in.Key)))
		if len(matches) != 1 {
			t.Fatalf("tier-1 copies of %s: %v", in.Key, matches)
		}
		b, err := os.ReadFile(matches[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("tier-1 copy of %s differs from intake", in.Key)
		}
	}

	// Tier 3: the derived table, by DuckDB, equals the CA rows of tier 2.
	if len(spec.Derived) > 0 {
		d := spec.Derived[0]
		dp, err := env.Catalog.GetPartition(ctx, spec.Database, d.Table, []string{testMonth})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		dloc := strings.TrimPrefix(dp.StorageDescriptor.Location, "file://")
		if err := db.QueryRow(fmt.Sprintf("SELECT count(*) FROM read_parquet('%s**/*.parquet')", dloc)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != wantStates["CA"] {
			t.Errorf("derived %s has %d rows, CSV has %d CA rows", d.Table, n, wantStates["CA"])
		}

		// Lineage links the tier-3 table to tier-2 files and to tier-1 objects.
		g, err := loadGraph(ctx, env, spec, TableURI(spec.Database, d.Table))
		if err != nil {
			t.Fatal(err)
		}
		reach := upstreamSet(g, TableURI(spec.Database, d.Table))
		var t2files, t1objs int
		for u := range reach {
			if strings.Contains(u, "/tier2/") && strings.HasSuffix(u, ".parquet") {
				t2files++
			}
			if strings.Contains(u, "/tier1/") {
				t1objs++
			}
		}
		if t2files == 0 || t1objs != len(res.Parts) {
			t.Errorf("lineage upstream of %s reaches %d tier-2 files and %d tier-1 objects (want >0 and %d)", d.Table, t2files, t1objs, len(res.Parts))
		}
	}

	// A rerun on the same inputs is a no-op that says so.
	again, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil || !again.Skipped || again.Run.ID != res.Run.ID {
		t.Errorf("rerun: skipped=%v run=%v err=%v", again != nil && again.Skipped, again, err)
	}
}

func upstreamSet(g *LineageGraph, start string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(u string) {
		for _, e := range g.Up[u] {
			if !seen[e.From] {
				seen[e.From] = true
				walk(e.From)
			}
		}
	}
	walk(start)
	return seen
}

func sortedCounts(m map[string]int64) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}

func readAll(t *testing.T, st storage.Storage, key string) []byte {
	t.Helper()
	rc, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
