package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// ChildEnv carries a childTask (JSON) to a re-executed copy of the running
// binary, started with the argument ChildArg. Measuring every engine in its
// own process is the only way to get per-engine CPU time and peak RSS from
// the kernel (rusage of a waited-for child), untouched by the parent's heap
// or by DuckDB's allocator. The binary's entry point hands such a run to
// ChildMain: tierflow's hidden `bench-child` command, or the bench test
// binary's TestMain.
const (
	ChildEnv = "TIERFLOW_BENCH_CHILD"
	ChildArg = "bench-child"
)

// childTask is one engine run in a child process.
type childTask struct {
	Kind string `json:"kind"` // convert | duckdb-copy | pgzip | gunzip

	In  string `json:"in"`  // gzip CSV part
	Out string `json:"out"` // output directory (convert, duckdb-copy)

	// convert
	Job         string `json:"job,omitempty"` // shipped job name
	Workers     int    `json:"workers,omitempty"`
	BucketCount int    `json:"bucket_count,omitempty"` // 0 = the job's
	Part        string `json:"part,omitempty"`

	// duckdb-copy
	PartitionBy string `json:"partition_by,omitempty"`
	Threads     int    `json:"threads,omitempty"`
}

// childResult is what a child reports on stdout.
type childResult struct {
	Rows              int64 `json:"rows"`
	DecompressedBytes int64 `json:"decompressed_bytes,omitempty"`
	Files             int   `json:"files"`
	Bytes             int64 `json:"bytes"`
	// The converter's own timings (manifest): its wall time, its two
	// passes' wall times and the time pass 1's accumulator waited for
	// parsed chunks.
	ConvertWall  float64 `json:"convert_wall_seconds,omitempty"`
	ConvertWait  float64 `json:"convert_wait_seconds,omitempty"`
	ConvertPass1 float64 `json:"convert_pass1_seconds,omitempty"`
	ConvertPass2 float64 `json:"convert_pass2_seconds,omitempty"`
	// ConvertPass1CPU is the process's CPU seconds (user+sys) during pass
	// 1, read off a trace of getrusage samples; 0 = unknown.
	ConvertPass1CPU float64 `json:"convert_pass1_cpu_seconds,omitempty"`

	// PeakRSS is the child's own VmHWM at exit (see measureCmd).
	PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
	// Workers is the converter's parse workers (its manifest's).
	Workers int `json:"workers,omitempty"`

	DuckDBThreads     int    `json:"duckdb_threads,omitempty"`
	DuckDBMemoryLimit string `json:"duckdb_memory_limit,omitempty"`
	SQL               string `json:"sql,omitempty"`
}

// ChildMain runs the benchmark child task spec (the JSON in ChildEnv) and
// reports it on stdout; it returns the process's exit code.
func ChildMain(spec string, stdout, stderr io.Writer) int {
	var t childTask
	if err := json.Unmarshal([]byte(spec), &t); err != nil {
		fmt.Fprintf(stderr, "bench child: bad task %s: %v\n", ChildEnv, err)
		return 2
	}
	res, err := runChildTask(context.Background(), t)
	if err != nil {
		fmt.Fprintf(stderr, "bench child %s: %v\n", t.Kind, err)
		return 1
	}
	res.PeakRSS = vmHWM("self")
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(stderr, "bench child: %v\n", err)
		return 1
	}
	return 0
}

func runChildTask(ctx context.Context, t childTask) (childResult, error) {
	switch t.Kind {
	case "convert":
		return childConvert(ctx, t)
	case "duckdb-copy":
		return childDuckDBCopy(ctx, t)
	case "pgzip", "gunzip":
		n, err := Decompress(t.In, t.Kind)
		return childResult{DecompressedBytes: n}, err
	}
	return childResult{}, fmt.Errorf("unknown task kind %q", t.Kind)
}

// childConvert runs the converter on one part into t.Out/data (the
// manifest and rejects go to t.Out/meta).
func childConvert(ctx context.Context, t childTask) (childResult, error) {
	spec, err := jobs.Shipped(t.Job)
	if err != nil {
		return childResult{}, err
	}
	s := *spec
	s.Convert.Workers = t.Workers
	if t.BucketCount > 0 {
		s.Output.BucketCount = t.BucketCount
	}
	src, err := file.New(filepath.Dir(t.In))
	if err != nil {
		return childResult{}, err
	}
	defer src.Close()
	dst, err := file.New(t.Out)
	if err != nil {
		return childResult{}, err
	}
	defer dst.Close()
	trace := startCPUTrace(cpuTraceEvery, processCPU)
	m, err := container.Convert(ctx, container.Options{Spec: &s, Part: t.Part, Logger: zerolog.Nop()}, src, filepath.Base(t.In), dst, "data", "meta")
	trace.stop()
	if err != nil {
		return childResult{}, err
	}
	r := manifestResult(m)
	if m.Timings.Pass1Seconds > 0 {
		end := m.Started.Add(time.Duration(m.Timings.Pass1Seconds * float64(time.Second)))
		c0, ok0 := trace.at(m.Started)
		c1, ok1 := trace.at(end)
		if ok0 && ok1 && c1 > c0 {
			r.ConvertPass1CPU = c1 - c0
		}
	}
	return r, nil
}

// manifestResult is what a converter's manifest says of its run.
func manifestResult(m *container.Manifest) childResult {
	r := childResult{Rows: m.RowsWritten, DecompressedBytes: m.DecompressedByte, Files: len(m.Files),
		ConvertWall: m.Timings.WallSeconds, ConvertWait: m.Timings.WaitSeconds,
		ConvertPass1: m.Timings.Pass1Seconds, ConvertPass2: m.Timings.Pass2Seconds, Workers: m.Workers}
	for _, f := range m.Files {
		r.Bytes += f.Bytes
	}
	return r
}

// measureCLI runs `cli convert` on the part in, as a user runs it, into
// out, and measures it like any child: the command prints the part's
// manifest, which gives the rows, files and pass timings.
func measureCLI(ctx context.Context, cli, job, in, out string) (sample, error) {
	cmd := exec.CommandContext(ctx, cli, "--log-level", "warn", "convert", "--job", job, "--part", "file://"+in, "--out", "file://"+out)
	// Run outside any tierflow project, so a tierflow.yaml above the
	// working directory cannot change the job or the lake.
	cmd.Dir = filepath.Dir(out)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	s, err := measureCmd(cmd)
	if err != nil {
		return s, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	var m container.Manifest
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		return s, fmt.Errorf("%s: its output is not a manifest: %w", strings.Join(cmd.Args, " "), err)
	}
	s.Result = manifestResult(&m)
	return s, nil
}

// cpuTraceEvery is how often a convert child samples its CPU time: the
// pass-1 CPU it reads off is off by at most one interval's CPU (2 cores ×
// 20 ms here), small next to a pass of seconds.
const cpuTraceEvery = 20 * time.Millisecond

// cpuTrace samples a process's CPU time at intervals. The converter reports
// when pass 1 ended only once it has finished (the manifest), and the
// kernel reports CPU time only as a running total: the trace joins the two.
type cpuTrace struct {
	mu      sync.Mutex
	samples []cpuSample
	quit    chan struct{}
	done    chan struct{}
}

type cpuSample struct {
	at  time.Time
	cpu float64 // seconds
}

// startCPUTrace samples read() now and every interval until stop.
func startCPUTrace(every time.Duration, read func() float64) *cpuTrace {
	c := &cpuTrace{quit: make(chan struct{}), done: make(chan struct{})}
	c.add(read())
	go func() {
		defer close(c.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-c.quit:
				c.add(read())
				return
			case <-tick.C:
				c.add(read())
			}
		}
	}()
	return c
}

func (c *cpuTrace) add(cpu float64) {
	c.mu.Lock()
	c.samples = append(c.samples, cpuSample{time.Now(), cpu})
	c.mu.Unlock()
}

// stop takes a last sample and ends the trace.
func (c *cpuTrace) stop() {
	close(c.quit)
	<-c.done
}

// at is the CPU time at t, interpolated linearly between the samples
// around it; false if t is outside the trace.
func (c *cpuTrace) at(t time.Time) (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 1; i < len(c.samples); i++ {
		a, b := c.samples[i-1], c.samples[i]
		if t.Before(a.at) {
			return 0, false
		}
		if t.After(b.at) {
			continue
		}
		span := b.at.Sub(a.at)
		if span <= 0 {
			return b.cpu, true
		}
		return a.cpu + (b.cpu-a.cpu)*float64(t.Sub(a.at))/float64(span), true
	}
	return 0, false
}

// duckCopySQL is the DuckDB statement of the conversion comparison. It
// declares the schema's types, as tierflow does: DuckDB does the same work
// (typed Parquet) and no sniffing pass. (Sniffing the whole file with
// sample_size=-1 took DuckDB 2.5 times as long; its default sample guesses
// int where the data later holds bigint.)
func duckCopySQL(spec *jobs.Spec, in, out, partitionBy string) string {
	opts := "FORMAT parquet, COMPRESSION snappy"
	if partitionBy != "" {
		opts += ", PARTITION_BY (" + partitionBy + ")"
	}
	cols := make([]string, len(spec.Schema.Columns))
	for i, c := range spec.Schema.Columns {
		cols[i] = fmt.Sprintf("%s: %s", sqlString(c.Source), sqlString(duckType(c.Type)))
	}
	return fmt.Sprintf(`COPY (SELECT * FROM read_csv(%s, header = true, columns = {%s}, nullstr = ['', '\N'], quote = '"', escape = '"')) TO %s (%s)`,
		sqlString(in), strings.Join(cols, ", "), sqlString(out), opts)
}

func childDuckDBCopy(ctx context.Context, t childTask) (childResult, error) {
	db, err := duckdb.OpenMemory()
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	// One connection: SET applies to the session that runs the COPY.
	db.SetMaxOpenConns(1)
	threads := t.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads)); err != nil {
		return childResult{}, err
	}
	r := childResult{DuckDBThreads: threads}
	if err := db.QueryRowContext(ctx, "SELECT current_setting('memory_limit')").Scan(&r.DuckDBMemoryLimit); err != nil {
		return childResult{}, err
	}
	out := t.Out
	if t.PartitionBy == "" {
		if err := os.MkdirAll(t.Out, 0o755); err != nil {
			return childResult{}, err
		}
		out = filepath.Join(t.Out, "data.parquet")
	}
	spec, err := jobs.Shipped(t.Job)
	if err != nil {
		return childResult{}, err
	}
	r.SQL = duckCopySQL(spec, t.In, out, t.PartitionBy)
	res, err := db.ExecContext(ctx, r.SQL)
	if err != nil {
		return childResult{}, err
	}
	r.Rows, _ = res.RowsAffected()
	r.Files, r.Bytes, err = treeSize(t.Out, ".parquet")
	return r, err
}

// treeSize counts the files under dir whose names end in suffix and their
// bytes.
func treeSize(dir, suffix string) (files int, size int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), suffix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		size += info.Size()
		return nil
	})
	return files, size, err
}

// sqlString quotes a DuckDB string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sample is one measured child process.
type sample struct {
	Wall   time.Duration
	User   time.Duration
	Sys    time.Duration
	MaxRSS int64 // bytes
	// RusageMaxRSS is the child's ru_maxrss (bytes): at least its peak,
	// but never less than the benchmark's own RSS when it was started
	// (see measureCmd), so MaxRSS is what is reported.
	RusageMaxRSS int64
	Result       childResult
}

// measureChild runs task in a re-executed copy of exe and measures it.
func measureChild(ctx context.Context, exe string, task childTask) (sample, error) {
	b, err := json.Marshal(task)
	if err != nil {
		return sample{}, err
	}
	cmd := exec.CommandContext(ctx, exe, ChildArg)
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(b))
	var out bytes.Buffer
	cmd.Stdout = &out
	s, err := measureCmd(cmd)
	if err != nil {
		return s, fmt.Errorf("%s child on %s: %w", task.Kind, task.In, err)
	}
	if err := json.Unmarshal(out.Bytes(), &s.Result); err != nil {
		return s, fmt.Errorf("%s child on %s: bad report %q: %w", task.Kind, task.In, out.String(), err)
	}
	s.MaxRSS = max(s.MaxRSS, s.Result.PeakRSS)
	return s, nil
}

// measureCmd runs cmd to completion and returns its wall time (start to
// wait), CPU times (the child's rusage) and peak RSS.
//
// Peak RSS is the child's VmHWM, polled from /proc while it runs, not
// ru_maxrss: Go starts children with vfork semantics (CLONE_VM), and Linux
// carries the parent's RSS at exec into the child's ru_maxrss, so a 2 MB
// gzip would report the benchmark process's 60 MB or more. ru_maxrss is
// used only where /proc gives nothing (other systems, a child that exits
// before the first poll), and is then an upper bound.
func measureCmd(cmd *exec.Cmd) (sample, error) {
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var hwm int64
		pid := fmt.Sprint(cmd.Process.Pid)
		// VmHWM only grows: polling finds the peak of any child that
		// lives a few ticks (Go children also report their own at exit),
		// and a slower poll takes less CPU from the child measured.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			hwm = max(hwm, vmHWM(pid))
			select {
			case <-done:
				peak <- hwm
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	s := sample{Wall: time.Since(t0)}
	close(done)
	s.MaxRSS = <-peak
	if cmd.ProcessState != nil {
		s.User = cmd.ProcessState.UserTime()
		s.Sys = cmd.ProcessState.SystemTime()
		s.RusageMaxRSS = maxRSS(cmd.ProcessState)
		if s.MaxRSS == 0 {
			s.MaxRSS = s.RusageMaxRSS
		}
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return s, fmt.Errorf("%w: %s", err, msg)
		}
		return s, err
	}
	return s, nil
}

// vmHWM reads the peak RSS (VmHWM, bytes) of /proc/<pid>; 0 if unknown.
func vmHWM(pid string) int64 {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
