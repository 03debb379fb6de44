// Package bench measures tierflow against its baselines: the converter
// against gzip decompression alone (the floor) and against DuckDB's own
// CSV → Parquet COPY, on a deterministic synthetic part.
package bench

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
	"github.com/klauspost/pgzip"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/container/gunzip"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// ConvertOptions configure ConvertReport.
type ConvertOptions struct {
	Spec    *jobs.Spec // job whose schema and output settings are used
	Rows    int64      // rows of the synthetic part (e.g. 200_000; 1_000_000 for the headline figure)
	Seed    int64
	Dir     string // work directory (the part and outputs go here); "" = a temp dir, removed afterwards
	Runs    int    // runs per measurement; the median is reported (default 3)
	Workers []int  // converter worker counts to measure (default 1 and NumCPU)
	DuckDB  bool   // also time DuckDB's COPY to Parquet
	Logger  zerolog.Logger
	Out     io.Writer // where the table is printed (nil: not printed)
}

// Stat is one measured configuration.
type Stat struct {
	Name        string
	Wall        time.Duration // median
	Walls       []time.Duration
	PeakRSS     int64 // bytes, max over runs (VmHWM after a reset); 0 = not measured
	OutputBytes int64
}

// Report is the result of ConvertReport.
type Report struct {
	Rows         int64
	CSVBytes     int64 // decompressed
	GzipBytes    int64
	Decompress   Stat
	Converter    []Stat
	DuckDB       *Stat
	RSSNote      string
	GeneratedIn  time.Duration
	GOMAXPROCS   int
	ManifestLast *container.Manifest
}

// WritePart writes a synthetic gzip part of rows rows to path (pgzip,
// default level), deterministically from seed, and returns its sizes.
func WritePart(ctx context.Context, spec *jobs.Spec, rows, seed int64, path string) (csvBytes, gzBytes int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	zw := pgzip.NewWriter(f)
	cw := &countWriter{w: zw}
	if _, err := synth.WritePart(ctx, cw, spec, synth.Options{Rows: rows, Parts: 1, Seed: seed, Month: "2024-01"}, 0); err != nil {
		return 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return cw.n, st.Size(), f.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Decompress streams the gzip file through a reader, "pgzip" (klauspost)
// or "gunzip" (the converter's), to io.Discard and returns the
// decompressed size: the floor of any converter.
func Decompress(path, reader string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var zr io.ReadCloser
	if reader == "gunzip" {
		zr, err = gunzip.NewReader(f)
	} else {
		zr, err = pgzip.NewReader(f)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	defer zr.Close()
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		return n, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// processCPU returns the user+system CPU seconds used by this process
// (0 where getrusage is unavailable): on a shared machine, CPU time is a
// steadier figure than wall time.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux
// clear_refs "5"); it returns false where that is not supported.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS reads VmHWM (bytes) of this process.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// ConvertOnce converts the part at dir/in/part.csv.gz with the given
// worker count into dir/out and returns the manifest.
func ConvertOnce(ctx context.Context, spec *jobs.Spec, dir string, workers int, log zerolog.Logger) (*container.Manifest, error) {
	s := *spec
	s.Convert.Workers = workers
	src, err := file.New(filepath.Join(dir, "in"))
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "out")
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	dst, err := file.New(out)
	if err != nil {
		return nil, err
	}
	return container.Convert(ctx, container.Options{Spec: &s, Part: "part-0001", Logger: log}, src, "part.csv.gz", dst, "data", "meta")
}

// DuckDBCopy runs DuckDB's CSV → Snappy Parquet COPY of the part (with the
// schema's types, so the work is comparable) and returns the output size.
func DuckDBCopy(ctx context.Context, spec *jobs.Spec, in, out string) (int64, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", runtime.GOMAXPROCS(0))); err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, duckCopySQL(spec, in, out, "")); err != nil {
		return 0, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// duckType is the DuckDB type of a schema type.
func duckType(t jobs.Type) string {
	switch t.Kind {
	case jobs.Int:
		return "INTEGER"
	case jobs.Bigint:
		return "BIGINT"
	case jobs.Double:
		return "DOUBLE"
	case jobs.Boolean:
		return "BOOLEAN"
	case jobs.Date:
		return "DATE"
	case jobs.Timestamp:
		return "TIMESTAMP"
	case jobs.Decimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	}
	return "VARCHAR"
}

// ConvertReport generates a part, then measures decompression alone, the
// converter at each worker count and (optionally) DuckDB, Runs times each,
// and prints a table with medians and ratios. Peak RSS is the process's
// VmHWM, reset before each converter run; DuckDB runs last so its memory
// cannot pollute the converter's figures.
func ConvertReport(ctx context.Context, opts ConvertOptions) (*Report, error) {
	if opts.Spec == nil {
		return nil, errors.New("bench: no spec")
	}
	if opts.Rows <= 0 {
		opts.Rows = 200_000
	}
	if opts.Runs <= 0 {
		opts.Runs = 3
	}
	if len(opts.Workers) == 0 {
		opts.Workers = []int{1, runtime.NumCPU()}
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "tierflow-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
		return nil, err
	}
	part := filepath.Join(dir, "in", "part.csv.gz")
	rep := &Report{Rows: opts.Rows, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	t0 := time.Now()
	csvBytes, gzBytes, err := WritePart(ctx, opts.Spec, opts.Rows, opts.Seed, part)
	if err != nil {
		return nil, fmt.Errorf("bench: generate: %w", err)
	}
	rep.GeneratedIn = time.Since(t0)
	rep.CSVBytes, rep.GzipBytes = csvBytes, gzBytes

	rep.Decompress.Name = "decompress only (pgzip → discard)"
	for i := 0; i < opts.Runs; i++ {
		t := time.Now()
		if _, err := Decompress(part, "pgzip"); err != nil {
			return nil, err
		}
		rep.Decompress.Walls = append(rep.Decompress.Walls, time.Since(t))
	}
	rep.Decompress.Wall = median(rep.Decompress.Walls)

	canRSS := true
	for _, w := range opts.Workers {
		st := Stat{Name: fmt.Sprintf("tierflow converter, %d worker(s)", w)}
		for i := 0; i < opts.Runs; i++ {
			canRSS = resetPeakRSS() && canRSS
			t := time.Now()
			m, err := ConvertOnce(ctx, opts.Spec, dir, w, opts.Logger)
			if err != nil {
				return nil, fmt.Errorf("bench: convert: %w", err)
			}
			st.Walls = append(st.Walls, time.Since(t))
			st.PeakRSS = max(st.PeakRSS, peakRSS())
			st.OutputBytes = 0
			for _, f := range m.Files {
				st.OutputBytes += f.Bytes
			}
			rep.ManifestLast = m
		}
		st.Wall = median(st.Walls)
		rep.Converter = append(rep.Converter, st)
	}
	rep.RSSNote = "peak RSS = VmHWM of the benchmark process, reset before each run (includes the Go runtime, not the generator)"
	if !canRSS {
		rep.RSSNote = "peak RSS = VmHWM of the benchmark process (could not reset: includes earlier phases)"
	}

	if opts.DuckDB {
		st := Stat{Name: "DuckDB COPY read_csv → parquet (snappy)"}
		for i := 0; i < opts.Runs; i++ {
			out := filepath.Join(dir, "duck.parquet")
			_ = os.Remove(out)
			t := time.Now()
			n, err := DuckDBCopy(ctx, opts.Spec, part, out)
			if err != nil {
				return nil, fmt.Errorf("bench: duckdb: %w", err)
			}
			st.Walls = append(st.Walls, time.Since(t))
			st.OutputBytes = n
		}
		st.Wall = median(st.Walls)
		rep.DuckDB = &st
	}
	if opts.Out != nil {
		rep.Print(opts.Out)
	}
	return rep, nil
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "rows %d, CSV %.1f MB, gzip %.1f MB, GOMAXPROCS %d\n", r.Rows, float64(r.CSVBytes)/1e6, float64(r.GzipBytes)/1e6, r.GOMAXPROCS)
	fmt.Fprintln(tw, "what\twall (median)\tCSV MB/s\trows/s\tpeak RSS\t× decompress\tvs DuckDB\toutput MB")
	line := func(s Stat) {
		secs := s.Wall.Seconds()
		rss := "-"
		if s.PeakRSS > 0 {
			rss = fmt.Sprintf("%d MiB", s.PeakRSS>>20)
		}
		vsDuck := "-"
		if r.DuckDB != nil {
			vsDuck = fmt.Sprintf("%.2f×", secs/r.DuckDB.Wall.Seconds())
		}
		out := "-"
		if s.OutputBytes > 0 {
			out = fmt.Sprintf("%.1f", float64(s.OutputBytes)/1e6)
		}
		fmt.Fprintf(tw, "%s\t%.2f s\t%.0f\t%.0f\t%s\t%.2f×\t%s\t%s\n", s.Name, secs, float64(r.CSVBytes)/1e6/secs, float64(r.Rows)/secs, rss, secs/r.Decompress.Wall.Seconds(), vsDuck, out)
	}
	line(r.Decompress)
	for _, s := range r.Converter {
		line(s)
	}
	if r.DuckDB != nil {
		line(*r.DuckDB)
	}
	tw.Flush()
	fmt.Fprintf(&b, "%s\n", r.RSSNote)
	_, _ = w.Write(b.Bytes())
}
