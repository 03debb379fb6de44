package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
)

// Benchmarks: go test ./bench -run '^$' -bench Convert -benchtime 1x
// TIERFLOW_BENCH_ROWS sets the part size (default 200000; the headline
// figure uses 1000000).

func loadSpec(tb testing.TB) *jobs.Spec {
	tb.Helper()
	spec, err := jobs.Load("../jobs/consumer-header.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return spec
}

var (
	partOnce sync.Once
	partDir  string
	partErr  error
	partCSV  int64
)

// benchPart generates the benchmark part once per process.
func benchPart(b *testing.B, spec *jobs.Spec) (string, int64) {
	b.Helper()
	partOnce.Do(func() {
		rows := int64(200_000)
		if s := os.Getenv("TIERFLOW_BENCH_ROWS"); s != "" {
			rows, partErr = strconv.ParseInt(s, 10, 64)
			if partErr != nil {
				return
			}
		}
		partDir, partErr = os.MkdirTemp("", "tierflow-bench-")
		if partErr != nil {
			return
		}
		if partErr = os.MkdirAll(filepath.Join(partDir, "in"), 0o755); partErr != nil {
			return
		}
		partCSV, _, partErr = WritePart(context.Background(), spec, rows, 1, filepath.Join(partDir, "in", "part.csv.gz"))
	})
	if partErr != nil {
		b.Fatal(partErr)
	}
	return partDir, partCSV
}

func TestMain(m *testing.M) {
	// The benchmarks re-execute this test binary for each engine.
	if task, ok := os.LookupEnv(ChildEnv); ok {
		os.Exit(ChildMain(task, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if partDir != "" {
		os.RemoveAll(partDir)
	}
	os.Exit(code)
}

func BenchmarkDecompress(b *testing.B) {
	dir, csvBytes := benchPart(b, loadSpec(b))
	for _, reader := range []string{"pgzip", "gunzip"} {
		b.Run(reader, func(b *testing.B) {
			b.SetBytes(csvBytes)
			for i := 0; i < b.N; i++ {
				if _, err := Decompress(filepath.Join(dir, "in", "part.csv.gz"), reader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchConvert(b *testing.B, workers int) {
	spec := loadSpec(b)
	dir, csvBytes := benchPart(b, spec)
	b.SetBytes(csvBytes)
	b.ResetTimer()
	var peak int64
	var rows int64
	var last *container.Manifest
	var cpu float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		resetPeakRSS()
		b.StartTimer()
		c0 := processCPU()
		m, err := ConvertOnce(context.Background(), spec, dir, workers, zerolog.Nop())
		if err != nil {
			b.Fatal(err)
		}
		cpu = processCPU() - c0
		peak = max(peak, peakRSS())
		rows = m.RowsWritten
		last = m
	}
	b.ReportMetric(cpu, "cpu-s")
	b.ReportMetric(last.Timings.ParseSeconds, "parse-s")
	b.ReportMetric(last.Timings.EncodeSeconds, "encode-s")
	b.ReportMetric(last.Timings.WaitSeconds, "acc-wait-s")
	b.ReportMetric(float64(last.RowGroups), "rowgroups")
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(float64(peak)/(1<<20), "peakRSS-MiB")
}

func BenchmarkConvert1Worker(b *testing.B)  { benchConvert(b, 1) }
func BenchmarkConvert2Workers(b *testing.B) { benchConvert(b, 2) }
func BenchmarkConvertNumCPU(b *testing.B)   { benchConvert(b, runtime.NumCPU()) }

// TestConvertReportSmall runs the whole report on a small part, DuckDB
// included, and checks the table and the figures are coherent.
func TestConvertReportSmall(t *testing.T) {
	spec := loadSpec(t)
	var out bytes.Buffer
	rep, err := ConvertReport(context.Background(), ConvertOptions{Spec: spec, Rows: 3000, Seed: 7, Runs: 1, Workers: []int{1, 2}, DuckDB: true, Out: &out, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ManifestLast == nil || rep.ManifestLast.RowsRead != 3000 || rep.ManifestLast.RowsWritten+rep.ManifestLast.RowsRejected != 3000 {
		t.Fatalf("manifest %+v", rep.ManifestLast)
	}
	if len(rep.Converter) != 2 || rep.DuckDB == nil || rep.Decompress.Wall <= 0 || rep.CSVBytes <= rep.GzipBytes {
		t.Fatalf("report %+v", rep)
	}
	for _, s := range rep.Converter {
		if s.Wall <= 0 || s.OutputBytes <= 0 {
			t.Fatalf("stat %+v", s)
		}
	}
	t.Log("\n" + out.String())
	for _, want := range []string{"decompress only", "converter, 1 worker", "DuckDB COPY", "× decompress"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// BenchmarkConvertReport prints ConvertReport's table (decompress only,
// converter with 1 and NumCPU workers, DuckDB), 3 runs each, on a part of
// TIERFLOW_BENCH_ROWS rows (default 200000):
// go test ./bench -run '^$' -bench ConvertReport -benchtime 1x
func BenchmarkConvertReport(b *testing.B) {
	rows := int64(200_000)
	if s := os.Getenv("TIERFLOW_BENCH_ROWS"); s != "" {
		var err error
		if rows, err = strconv.ParseInt(s, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	spec := loadSpec(b)
	for i := 0; i < b.N; i++ {
		var out bytes.Buffer
		if _, err := ConvertReport(context.Background(), ConvertOptions{Spec: spec, Rows: rows, Seed: 1, Runs: 3, DuckDB: true, Out: &out, Logger: zerolog.Nop()}); err != nil {
			b.Fatal(err)
		}
		b.Log("\n" + out.String())
	}
}
