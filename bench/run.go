package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// Sections of the benchmark, for Options.Only.
const (
	SectionConvert = "convert" // converter vs DuckDB vs gzip -dc, each in a child process
	SectionQueries = "queries" // the case study's query table over three layouts
	SectionAthena  = "athena"  // Athena CTAS vs tierflow (measured with AWS, else projected)
)

// Sections lists every section in the order Run runs them.
var Sections = []string{SectionConvert, SectionQueries, SectionAthena}

// Defaults of Options.
const (
	DefaultRows  = 1_000_000
	DefaultRuns  = 3
	DefaultJob   = "consumer-header"
	DefaultMonth = "2024-01"
)

// Options configure Run. Zero values take the defaults noted.
type Options struct {
	Dir    string // work directory (generated parts, outputs); default $TMPDIR/tierflow-bench
	Rows   int64  // rows of the synthetic month; default 1,000,000
	Runs   int    // runs of every measurement, medians reported; default 3
	Parts  int    // gzip parts the queries section's month is split into; default 1
	Only   []string
	Athena bool   // run section 3 against real Athena (needs AthenaSetup or AWS settings)
	OutDir string // report.json, report.md, convert.png, scanned.png; default Dir/bench-out
	Log    zerolog.Logger

	Job     string // shipped job; default consumer-header
	Seed    int64  // synthetic data seed; default 1
	Month   string // synthetic month; default 2024-01
	Workers []int  // converter worker counts in the conversion section; default 1 and 2
	// CLI is the tierflow binary whose convert command the conversion
	// section runs as a user runs it (`tierflow bench` passes itself);
	// "" leaves that row out, with a warning.
	CLI string
	// Fargate is the task the projection assumes; zero fields come from the
	// job's aws settings (task_cpu, task_memory_mib, max_concurrency).
	Fargate FargateTask
	// AthenaSetup says where the real Athena comparison runs (Athena true).
	AthenaSetup *AthenaSetup
}

// ParseOnly parses a comma-separated list of section names ("" = all).
func ParseOnly(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if !slices.Contains(Sections, f) {
			return nil, fmt.Errorf("unknown benchmark section %q (have %s)", f, strings.Join(Sections, ", "))
		}
		out = append(out, f)
	}
	return out, nil
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		o.Dir = filepath.Join(os.TempDir(), "tierflow-bench")
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = abs
	if o.Rows <= 0 {
		o.Rows = DefaultRows
	}
	if o.Runs <= 0 {
		o.Runs = DefaultRuns
	}
	if o.Parts <= 0 {
		o.Parts = 1
	}
	if int64(o.Parts) > o.Rows {
		return fmt.Errorf("bench: %d parts for %d rows", o.Parts, o.Rows)
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join(o.Dir, "bench-out")
	}
	if o.Job == "" {
		o.Job = DefaultJob
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Month == "" {
		o.Month = DefaultMonth
	}
	if len(o.Workers) == 0 {
		o.Workers = []int{1, 2}
	}
	for _, s := range o.Only {
		if !slices.Contains(Sections, s) {
			return fmt.Errorf("bench: unknown section %q (have %s)", s, strings.Join(Sections, ", "))
		}
	}
	return nil
}

func (o *Options) runs(section string) bool {
	return len(o.Only) == 0 || slices.Contains(o.Only, section)
}

// Results is everything Run measured; report.json is this, marshalled.
type Results struct {
	Started  time.Time       `json:"started"`
	Seconds  float64         `json:"seconds"`
	Host     Host            `json:"host"`
	Job      string          `json:"job"`
	Rows     int64           `json:"rows"`
	Parts    int             `json:"parts"`
	Runs     int             `json:"runs"`
	Seed     int64           `json:"seed"`
	Convert  *ConvertResults `json:"convert,omitempty"`
	Queries  *QueryResults   `json:"queries,omitempty"`
	Athena   *AthenaResults  `json:"athena,omitempty"`
	Outputs  []string        `json:"outputs,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
}

// Host describes the machine the figures come from.
type Host struct {
	OS         string  `json:"os"`
	Arch       string  `json:"arch"`
	CPUs       int     `json:"cpus"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	GoVersion  string  `json:"go_version"`
	CPUModel   string  `json:"cpu_model,omitempty"`
	Load1      float64 `json:"load1_at_start,omitempty"` // other work on the machine skews wall times
}

// Run runs the selected benchmark sections, prints a table per section to
// w as it goes, and writes report.json, report.md and the charts to
// opts.OutDir. A section that fails (rows that differ between layouts
// included) stops the run with an error; the Results so far are returned
// with it.
func Run(ctx context.Context, opts Options, w io.Writer) (*Results, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	spec, err := jobs.Shipped(opts.Job)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: locating this binary to re-run it as a child: %w", err)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	res := &Results{
		Started: time.Now().UTC(), Host: hostInfo(), Job: opts.Job,
		Rows: opts.Rows, Parts: opts.Parts, Runs: opts.Runs, Seed: opts.Seed,
	}
	b := &bencher{opts: opts, spec: spec, exe: exe, log: opts.Log, w: w, res: res}
	fmt.Fprintf(w, "tierflow bench: %d rows × %d columns, %d run(s) each, %d CPUs (load %.2f at start), work dir %s\n",
		opts.Rows, len(spec.Schema.Columns), opts.Runs, res.Host.CPUs, res.Host.Load1, opts.Dir)

	runErr := b.run(ctx)
	res.Seconds = time.Since(res.Started).Seconds()
	if err := b.writeOutputs(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	return res, runErr
}

// bencher carries one Run's state.
type bencher struct {
	opts Options
	spec *jobs.Spec
	exe  string
	log  zerolog.Logger
	w    io.Writer
	res  *Results

	single *intake // one part of all the rows: the conversion section's input
	month  *intake // opts.Parts parts: the queries section's input
	// bucketedDir holds tierflow's 60-bucket output of single from the
	// conversion section, reused as the queries' bucketed layout.
	bucketedDir string
}

func (b *bencher) run(ctx context.Context) error {
	if b.opts.runs(SectionConvert) {
		if err := b.convertSection(ctx); err != nil {
			return fmt.Errorf("bench: conversion: %w", err)
		}
	}
	if b.opts.runs(SectionQueries) {
		if err := b.querySection(ctx); err != nil {
			return fmt.Errorf("bench: queries: %w", err)
		}
	}
	if b.opts.runs(SectionAthena) {
		if err := b.athenaSection(ctx); err != nil {
			return fmt.Errorf("bench: athena: %w", err)
		}
	}
	return nil
}

// intake is a generated synthetic month in a local directory.
type intake struct {
	Rows     int64      `json:"rows"`
	Parts    int        `json:"parts"`
	Seed     int64      `json:"seed"`
	Month    string     `json:"month"`
	Job      string     `json:"job"`
	Files    []partFile `json:"files"`
	GenSecs  float64    `json:"generate_seconds"`
	GzBytes  int64      `json:"gzip_bytes"`
	StampVer int        `json:"stamp_version"`
}

type partFile struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

const stampVersion = 1

// ensureIntake generates (or reuses, when an earlier run left the very same
// month) the synthetic month of rows in parts under Dir.
func (b *bencher) ensureIntake(ctx context.Context, parts int) (*intake, error) {
	dir := filepath.Join(b.opts.Dir, fmt.Sprintf("intake-%dp", parts))
	want := intake{Rows: b.opts.Rows, Parts: parts, Seed: b.opts.Seed, Month: b.opts.Month, Job: b.opts.Job, StampVer: stampVersion}
	stamp := filepath.Join(dir, "stamp.json")
	if old, err := readStamp(stamp); err == nil && old.Rows == want.Rows && old.Parts == want.Parts && old.Seed == want.Seed &&
		old.Month == want.Month && old.Job == want.Job && old.StampVer == want.StampVer && filesIntact(old.Files) {
		b.log.Info().Str("dir", dir).Msg("reusing the synthetic month generated earlier")
		return old, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	st, err := file.New(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	b.log.Info().Int64("rows", want.Rows).Int("parts", parts).Msg("generating the synthetic month")
	t0 := time.Now()
	objs, err := synth.Generate(ctx, st, b.spec, synth.Options{Rows: want.Rows, Parts: parts, Seed: want.Seed, Month: want.Month})
	if err != nil {
		return nil, fmt.Errorf("generate %d rows in %d part(s): %w", want.Rows, parts, err)
	}
	want.GenSecs = time.Since(t0).Seconds()
	for _, o := range objs {
		want.Files = append(want.Files, partFile{Path: filepath.Join(dir, filepath.FromSlash(o.Key)), Bytes: o.Size})
		want.GzBytes += o.Size
	}
	data, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		return nil, err
	}
	return &want, os.WriteFile(stamp, data, 0o644)
}

func readStamp(path string) (*intake, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var in intake
	return &in, json.Unmarshal(data, &in)
}

func filesIntact(files []partFile) bool {
	if len(files) == 0 {
		return false
	}
	for _, f := range files {
		st, err := os.Stat(f.Path)
		if err != nil || st.Size() != f.Bytes {
			return false
		}
	}
	return true
}

func (in *intake) paths() []string {
	out := make([]string, len(in.Files))
	for i, f := range in.Files {
		out[i] = f.Path
	}
	return out
}

func hostInfo() Host {
	h := Host{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscanf(string(data), "%f", &h.Load1)
	}
	return h
}

func (b *bencher) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.Warnings = append(b.res.Warnings, msg)
	b.log.Warn().Msg(msg)
}
