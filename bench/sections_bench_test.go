package bench

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
)

// Section benchmarks (the conversion section measures child processes, so
// ns/op is the whole section; the figures that matter are the metrics):
//
//	go test ./bench -run '^$' -bench Section -benchtime 1x
//
// TIERFLOW_BENCH_ROWS sets the rows (default 20000 here).
func sectionBencher(b *testing.B) *bencher {
	b.Helper()
	rows := int64(20_000)
	if s := os.Getenv("TIERFLOW_BENCH_ROWS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	opts := Options{Dir: b.TempDir(), Rows: rows, Runs: 1, Log: zerolog.Nop()}
	if err := opts.defaults(); err != nil {
		b.Fatal(err)
	}
	spec, err := jobs.Shipped(opts.Job)
	if err != nil {
		b.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	bn := &bencher{opts: opts, spec: spec, exe: exe, log: opts.Log, w: io.Discard, res: &Results{}}
	if _, err := bn.ensureIntake(context.Background(), 1); err != nil {
		b.Fatal(err)
	}
	return bn
}

// BenchmarkSectionConvert reports tierflow's throughput and its ratios to
// DuckDB's COPY and to gzip -dc, each engine in its own process.
func BenchmarkSectionConvert(b *testing.B) {
	bn := sectionBencher(b)
	for b.Loop() {
		if err := bn.convertSection(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	cr := bn.res.Convert
	tf := tierflowEngine(cr)
	b.ReportMetric(tf.GzipMBps, "tierflow-gzMB/s")
	b.ReportMetric(tf.CSVMBps, "tierflow-csvMB/s")
	b.ReportMetric(tf.VsDuckDB, "tierflow/duckdb")
	if tf.VsGzip > 0 {
		b.ReportMetric(tf.VsGzip, "tierflow/gzip-dc")
	}
	b.ReportMetric(tf.VsPgzip, "tierflow/pgzip")
	if d := cr.engine(duckKey); d != nil {
		b.ReportMetric(d.CSVMBps, "duckdb-csvMB/s")
	}
	b.ReportMetric(float64(tf.PeakRSS)/(1<<20), "tierflow-peakRSS-MiB")
}

// BenchmarkSectionQueries reports the case study's 8-column query per
// layout: DuckDB wall time and Athena's bytes scanned.
func BenchmarkSectionQueries(b *testing.B) {
	bn := sectionBencher(b)
	for b.Loop() {
		if err := bn.querySection(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range bn.res.Queries.Cells {
		if c.Query != "8cols-ca" {
			continue
		}
		b.ReportMetric(c.WallSeconds*1e3, c.Layout+"-ms")
		b.ReportMetric(float64(c.Scanned), c.Layout+"-scannedB")
		b.ReportMetric(float64(c.ProjectedScanned)/(1<<30), c.Layout+"-projGiB")
	}
}
