package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// ConvertResults is the conversion section: one gzip CSV part converted by
// each engine in its own child process.
type ConvertResults struct {
	Part            string   `json:"part"`
	Rows            int64    `json:"rows"`
	Columns         int      `json:"columns"`
	GzipBytes       int64    `json:"gzip_bytes"`
	CSVBytes        int64    `json:"csv_bytes"` // decompressed
	Engines         []Engine `json:"engines"`
	DuckDBThreads   int      `json:"duckdb_threads,omitempty"`
	DuckDBMemLimit  string   `json:"duckdb_memory_limit,omitempty"`
	GeneratedInSecs float64  `json:"generated_in_seconds"`
	Note            string   `json:"note"`
}

// Engine is one engine's figures: medians over the runs, peak RSS the
// largest of the runs.
type Engine struct {
	Key         string      `json:"key"`
	Name        string      `json:"name"`
	Command     string      `json:"command"`
	WallSeconds float64     `json:"wall_seconds"`
	UserSeconds float64     `json:"user_seconds"`
	SysSeconds  float64     `json:"sys_seconds"`
	CPUSeconds  float64     `json:"cpu_seconds"` // median of user+sys
	PeakRSS     int64       `json:"peak_rss_bytes"`
	OutputBytes int64       `json:"output_bytes"`
	Files       int         `json:"files"`
	Rows        int64       `json:"rows,omitempty"`
	GzipMBps    float64     `json:"gzip_mb_per_s"` // compressed input MB (10^6) per wall second
	CSVMBps     float64     `json:"csv_mb_per_s"`  // decompressed MB per wall second
	VsDuckDB    float64     `json:"wall_vs_duckdb,omitempty"`
	VsGzip      float64     `json:"wall_vs_gzip,omitempty"`
	VsPgzip     float64     `json:"wall_vs_pgzip,omitempty"` // the "decompress-only" floor
	Samples     []RunSample `json:"samples"`
	// CPU ratios, medians of user+sys: steadier than wall time on a
	// shared machine.
	CPUVsDuckDB float64 `json:"cpu_vs_duckdb,omitempty"`
	CPUVsPgzip  float64 `json:"cpu_vs_pgzip,omitempty"`
	// RusageMaxRSS is the largest ru_maxrss of the runs (PeakRSS is the
	// child's VmHWM; see measureCmd).
	RusageMaxRSS int64 `json:"rusage_max_rss_bytes,omitempty"`
	// Tierflow marks the converter's rows run through the library in a
	// child; CLI the row of the `tierflow convert` command, run as a user
	// runs it. Workers is the converter's parse workers.
	Tierflow bool `json:"tierflow,omitempty"`
	CLI      bool `json:"cli,omitempty"`
	Workers  int  `json:"workers,omitempty"`
	// The converter's two passes, medians of its manifests' timings: pass 1
	// (read, decompress, route, spill) and pass 2 (merge, convert, encode,
	// per bucket), wall seconds each.
	Pass1Seconds float64 `json:"pass1_seconds,omitempty"`
	Pass2Seconds float64 `json:"pass2_seconds,omitempty"`
	// Pass1BusySeconds is pass 1's serial accumulator's busy time: pass 1's
	// wall minus the time the accumulator waited for parsed chunks.
	Pass1BusySeconds float64 `json:"pass1_accumulator_busy_seconds,omitempty"`
	// Pass1CPUSeconds is the CPU (user+sys) the converter's process used
	// during pass 1; 0 = not measured.
	Pass1CPUSeconds float64 `json:"pass1_cpu_seconds,omitempty"`
}

// RunSample is one run of one engine.
type RunSample struct {
	WallSeconds float64 `json:"wall_seconds"`
	UserSeconds float64 `json:"user_seconds"`
	SysSeconds  float64 `json:"sys_seconds"`
	PeakRSS     int64   `json:"peak_rss_bytes"`
}

// engineSpec is how to run one engine once.
type engineSpec struct {
	key, name, command string
	tierflow, cli      bool
	workers            int
	run                func(ctx context.Context) (sample, error)
}

const duckKey, duckPartKey, gzipKey, pgzipKey, gunzipKey, cliKey = "duckdb", "duckdb-partitioned", "gzip-dc", "pgzip", "gunzip", "tierflow-cli"

func tierflowKey(w int) string { return fmt.Sprintf("tierflow-w%d", w) }

// convertSection measures every engine on the single-part month. Runs are
// interleaved (run 1 of every engine, then run 2, ...) so that a change in
// the machine's load hits all engines alike.
func (b *bencher) convertSection(ctx context.Context) error {
	in, err := b.ensureIntake(ctx, 1)
	if err != nil {
		return err
	}
	b.single = in
	part := in.Files[0].Path
	outRoot := filepath.Join(b.opts.Dir, "convert")
	specs := b.engineSpecs(part, outRoot, true)
	cr := &ConvertResults{Part: part, Rows: in.Rows, Columns: len(b.spec.Schema.Columns), GzipBytes: in.GzBytes, GeneratedInSecs: in.GenSecs,
		Note: "each engine runs in its own child process; wall = start to exit, CPU = user+sys from the child's rusage, peak RSS = the child's VmHWM; medians over runs, peak RSS the maximum; Go children re-run this binary, whose baseline RSS (DuckDB linked) is ≈55 MiB"}
	samples, err := b.measure(ctx, specs)
	if err != nil {
		return err
	}
	b.fillConvert(cr, specs, samples)
	b.res.Convert = cr
	// The last run's output of the busiest converter is the queries
	// section's bucketed layout when both use the same month.
	b.bucketedDir = filepath.Join(outRoot, tierflowKey(slicesMax(b.opts.Workers)), "data")
	printConvert(b.w, cr)
	return nil
}

// engineSpecs lists the engines of the conversion section. all=false keeps
// only what the Fargate projection needs (the converter's decompressor and
// the converter at the largest worker count).
func (b *bencher) engineSpecs(part, outRoot string, all bool) []engineSpec {
	var specs []engineSpec
	if gz, err := exec.LookPath("gzip"); err == nil && all {
		specs = append(specs, engineSpec{key: gzipKey, name: "gzip -dc > /dev/null", command: "gzip -dc " + part + " > /dev/null",
			run: func(ctx context.Context) (sample, error) {
				null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
				if err != nil {
					return sample{}, err
				}
				defer null.Close()
				cmd := exec.CommandContext(ctx, gz, "-dc", part)
				cmd.Stdout = null
				return measureCmd(cmd)
			}})
	} else if all {
		b.warn("no gzip binary on PATH: the gzip -dc floor is not measured")
	}
	if all {
		specs = append(specs, engineSpec{key: pgzipKey, name: "pgzip → discard (klauspost: issue 15's floor)", command: "klauspost/pgzip reader → io.Discard",
			run: func(ctx context.Context) (sample, error) {
				return measureChild(ctx, b.exe, childTask{Kind: "pgzip", In: part})
			}})
	}
	specs = append(specs, engineSpec{key: gunzipKey, name: "gunzip → discard (the converter's decompressor)", command: "container/gunzip reader → io.Discard",
		run: func(ctx context.Context) (sample, error) {
			return measureChild(ctx, b.exe, childTask{Kind: "gunzip", In: part})
		}})
	workers := b.opts.Workers
	if !all {
		workers = []int{slicesMax(workers)}
	}
	for _, w := range workers {
		out := filepath.Join(outRoot, tierflowKey(w))
		specs = append(specs, engineSpec{key: tierflowKey(w), name: fmt.Sprintf("tierflow, %d worker(s), %d buckets", w, b.spec.Output.BucketCount),
			command:  fmt.Sprintf("container.Convert(workers=%d, bucket_count=%d, sorted_by=state)", w, b.spec.Output.BucketCount),
			tierflow: true, workers: w,
			run: func(ctx context.Context) (sample, error) {
				if err := os.RemoveAll(out); err != nil {
					return sample{}, err
				}
				return measureChild(ctx, b.exe, childTask{Kind: "convert", Job: b.opts.Job, In: part, Out: out, Workers: w, Part: "part-0001"})
			}})
	}
	if !all {
		return specs
	}
	if cli := b.opts.CLI; cli != "" {
		out := filepath.Join(outRoot, cliKey)
		specs = append(specs, engineSpec{key: cliKey, name: fmt.Sprintf("tierflow convert (CLI), %d buckets", b.spec.Output.BucketCount),
			command: fmt.Sprintf("%s convert --job %s --part file://%s --out file://%s", cli, b.opts.Job, part, out), cli: true,
			run: func(ctx context.Context) (sample, error) {
				if err := os.RemoveAll(out); err != nil {
					return sample{}, err
				}
				if err := os.MkdirAll(out, 0o755); err != nil {
					return sample{}, err
				}
				return measureCLI(ctx, cli, b.opts.Job, part, out)
			}})
	} else {
		b.warn("no tierflow binary given (Options.CLI): the convert command itself is not measured")
	}
	for _, d := range []struct{ key, name, by string }{
		{duckKey, "DuckDB COPY → Parquet", ""},
		{duckPartKey, "DuckDB COPY → Parquet PARTITION_BY (state)", "state"},
	} {
		out := filepath.Join(outRoot, d.key)
		specs = append(specs, engineSpec{key: d.key, name: d.name, command: duckCopySQL(b.spec, part, filepath.Join(out, "data.parquet"), d.by),
			run: func(ctx context.Context) (sample, error) {
				if err := os.RemoveAll(out); err != nil {
					return sample{}, err
				}
				return measureChild(ctx, b.exe, childTask{Kind: "duckdb-copy", Job: b.spec.Name, In: part, Out: out, PartitionBy: d.by, Threads: runtime.NumCPU()})
			}})
	}
	return specs
}

func slicesMax(xs []int) int {
	m := xs[0]
	for _, x := range xs[1:] {
		m = max(m, x)
	}
	return m
}

// settleDelay is the pause before each measured run, after the page cache's
// dirty pages are written back: the previous engine's output (or a 10 GiB
// process's exit) must not be cleaned up on the next engine's time. On a
// 2-core machine any such work comes straight out of a two-worker run.
const settleDelay = time.Second

func settle() {
	flushDirty()
	time.Sleep(settleDelay)
}

// measure runs every engine opts.Runs times, interleaved, each after
// settle.
func (b *bencher) measure(ctx context.Context, specs []engineSpec) ([][]sample, error) {
	out := make([][]sample, len(specs))
	for r := 0; r < b.opts.Runs; r++ {
		for i, s := range specs {
			settle()
			b.log.Info().Str("engine", s.key).Int("run", r+1).Msg("measuring")
			sm, err := s.run(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s (run %d): %w", s.name, r+1, err)
			}
			b.log.Info().Str("engine", s.key).Int("run", r+1).Float64("wall_s", sm.Wall.Seconds()).Float64("cpu_s", (sm.User+sm.Sys).Seconds()).Int64("peak_rss", sm.MaxRSS).Msg("measured")
			out[i] = append(out[i], sm)
		}
	}
	return out, nil
}

// fillConvert turns samples into Engine rows with throughputs and ratios.
func (b *bencher) fillConvert(cr *ConvertResults, specs []engineSpec, samples [][]sample) {
	for i, s := range specs {
		e := Engine{Key: s.key, Name: s.name, Command: s.command, Tierflow: s.tierflow, CLI: s.cli, Workers: s.workers}
		var walls, users, syss, cpus, pass1, pass2, busy, cpu1 []time.Duration
		for _, sm := range samples[i] {
			if r := sm.Result; r.ConvertPass1 > 0 && r.ConvertPass2 > 0 {
				pass1 = append(pass1, seconds(r.ConvertPass1))
				pass2 = append(pass2, seconds(r.ConvertPass2))
				busy = append(busy, seconds(max(r.ConvertPass1-r.ConvertWait, 0)))
				if r.ConvertPass1CPU > 0 {
					cpu1 = append(cpu1, seconds(r.ConvertPass1CPU))
				}
			}
			walls = append(walls, sm.Wall)
			users = append(users, sm.User)
			syss = append(syss, sm.Sys)
			cpus = append(cpus, sm.User+sm.Sys)
			e.PeakRSS = max(e.PeakRSS, sm.MaxRSS)
			e.RusageMaxRSS = max(e.RusageMaxRSS, sm.RusageMaxRSS)
			e.Samples = append(e.Samples, RunSample{WallSeconds: secs(sm.Wall), UserSeconds: secs(sm.User), SysSeconds: secs(sm.Sys), PeakRSS: sm.MaxRSS})
		}
		e.WallSeconds, e.UserSeconds, e.SysSeconds, e.CPUSeconds = secs(medianDur(walls)), secs(medianDur(users)), secs(medianDur(syss)), secs(medianDur(cpus))
		e.Pass1Seconds, e.Pass2Seconds = secs(medianDur(pass1)), secs(medianDur(pass2))
		e.Pass1BusySeconds, e.Pass1CPUSeconds = secs(medianDur(busy)), secs(medianDur(cpu1))
		last := samples[i][len(samples[i])-1].Result
		e.OutputBytes, e.Files, e.Rows = last.Bytes, last.Files, last.Rows
		if e.CLI {
			e.Workers = last.Workers
		}
		if last.DecompressedBytes > 0 && cr.CSVBytes == 0 {
			cr.CSVBytes = last.DecompressedBytes
		}
		if last.DuckDBThreads > 0 {
			cr.DuckDBThreads, cr.DuckDBMemLimit = last.DuckDBThreads, last.DuckDBMemoryLimit
			e.Command = last.SQL
		}
		cr.Engines = append(cr.Engines, e)
	}
	for i := range cr.Engines {
		e := &cr.Engines[i]
		if e.WallSeconds > 0 {
			e.GzipMBps = float64(cr.GzipBytes) / 1e6 / e.WallSeconds
			e.CSVMBps = float64(cr.CSVBytes) / 1e6 / e.WallSeconds
		}
		if d := cr.engine(duckKey); d != nil && d.WallSeconds > 0 {
			e.VsDuckDB = e.WallSeconds / d.WallSeconds
			if d.CPUSeconds > 0 {
				e.CPUVsDuckDB = e.CPUSeconds / d.CPUSeconds
			}
		}
		if g := cr.engine(gzipKey); g != nil && g.WallSeconds > 0 {
			e.VsGzip = e.WallSeconds / g.WallSeconds
		}
		if g := cr.engine(pgzipKey); g != nil && g.WallSeconds > 0 {
			e.VsPgzip = e.WallSeconds / g.WallSeconds
			if g.CPUSeconds > 0 {
				e.CPUVsPgzip = e.CPUSeconds / g.CPUSeconds
			}
		}
	}
}

// seconds is the duration of s seconds.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (cr *ConvertResults) engine(key string) *Engine {
	for i := range cr.Engines {
		if cr.Engines[i].Key == key {
			return &cr.Engines[i]
		}
	}
	return nil
}
