package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/lineage"
)

// demoMarker marks a directory as made by `tierflow demo`, the only kind it
// will delete to start fresh.
const demoMarker = ".tierflow-demo"

// DemoJob is the shipped job the demo runs.
const DemoJob = "consumer-header"

// DemoOptions are the demo command's.
type DemoOptions struct {
	Dir     string
	Rows    int64
	Parts   int
	Month   string
	Log     zerolog.Logger
	Stdout  io.Writer
	Console *Console // shows the progress when a terminal
}

// Demo generates a sample month into a fresh local lake, runs the whole job
// on it and prints a summary.
func Demo(ctx context.Context, o DemoOptions) error {
	dir, err := freshDemoDir(o.Dir)
	if err != nil {
		return err
	}
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		return err
	}
	lake := "file://" + dir
	env, err := OpenEnv(ctx, spec, lake, o.Log)
	if err != nil {
		return err
	}
	defer env.Close()

	// The area shows from the start: generating takes seconds too.
	area := startProgress(o.Console, "month "+o.Month)
	defer area.close()
	opts := Options{Month: o.Month}
	if area != nil {
		area.Stage("gen")
		opts.Watch = area
	}
	t0 := time.Now()
	objs, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: o.Rows, Parts: o.Parts, Seed: 1, Month: o.Month})
	if err != nil {
		return fmt.Errorf("demo: generate: %w", err)
	}
	gen := lineage.Stage{Name: "gen (synthetic intake)", Wall: time.Since(t0), RowsOut: o.Rows, Files: len(objs)}
	for _, ob := range objs {
		gen.BytesOut += ob.Size
	}
	o.Log.Info().Int64("rows", o.Rows).Int("parts", len(objs)).Msg("sample month generated")

	res, err := Run(ctx, env, spec, opts)
	area.close()
	if res == nil {
		return err
	}
	res.Run.Stages = append([]lineage.Stage{gen}, res.Run.Stages...)
	PrintSummary(o.Stdout, env, spec, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, `
Where to look next:
  lake                 %s
  tier 2 (Parquet)     %s
  tier 3 (derived)     %s
  manifests, rejects   %s
  runs                 go run . runs --job %s --lake %s
  lineage              go run . lineage --job %s --lake %s %s/month=%s
  query                go run . query --job %s --lake %s "SELECT state, count(*) AS n FROM %s WHERE month = '%s' GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
`, dir, filepath.Join(dir, "tier2", spec.Output.Table), filepath.Join(dir, "tier3"), res.RunMeta,
		DemoJob, lake, DemoJob, lake, firstDerived(spec), o.Month, DemoJob, lake, spec.Output.Table, o.Month)
	return nil
}

func firstDerived(spec *jobs.Spec) string {
	if len(spec.Derived) > 0 {
		return spec.Derived[0].Table
	}
	return spec.Output.Table
}

// freshDemoDir empties an earlier demo's directory, or creates dir; it
// refuses to touch a non-empty directory it did not make.
func freshDemoDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("demo dir %s: %w", abs, err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(abs, demoMarker)); err != nil {
			return "", fmt.Errorf("demo dir %s exists, is not empty and was not made by tierflow demo; choose another --dir", abs)
		}
		if err := os.RemoveAll(abs); err != nil {
			return "", fmt.Errorf("demo dir %s: removing the earlier demo: %w", abs, err)
		}
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", err
	}
	return abs, os.WriteFile(filepath.Join(abs, demoMarker), []byte("made by tierflow demo; safe to delete\n"), 0o644)
}

// PrintSummary prints a run's stages as a table.
func PrintSummary(w io.Writer, env *Env, spec *jobs.Spec, res *Result) {
	r := res.Run
	if res.Skipped {
		fmt.Fprintf(w, "month %s of %s is already published by run %s from identical inputs; nothing to do (use --force to rerun)\n", r.Month, spec.Name, r.ID)
		return
	}
	fmt.Fprintf(w, "\njob %s  month %s  run %s  status %s\n\n", spec.Name, r.Month, r.ID, r.Status)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STAGE\tWALL\tROWS IN\tROWS OUT\tREJECTED\tBYTES IN\tBYTES OUT\tFILES\t")
	var total time.Duration
	for _, s := range r.Stages {
		total += s.Wall
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%d\t\n", s.Name, s.Wall.Round(time.Millisecond), s.RowsIn, s.RowsOut, s.RowsRejected, humanBytes(s.BytesIn), humanBytes(s.BytesOut), s.Files)
	}
	fmt.Fprintf(tw, "total\t%s\t\t\t\t\t\t\t\n", total.Round(time.Millisecond))
	tw.Flush()
	// The error is not repeated here: the command ends saying it.
	if r.RowsRejected > 0 {
		fmt.Fprintf(w, "\n%d rows rejected: see the rejects files under %s\n", r.RowsRejected, res.RunMeta)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
