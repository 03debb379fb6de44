package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// DemoOptions are the demo's.
type DemoOptions struct {
	Dir     string
	Rows    int64
	Parts   int
	Month   string
	Log     zerolog.Logger
	Console *Console // shows the progress when a terminal
}

// DemoResult is where the demo ran and what its run did.
type DemoResult struct {
	Dir, Lake string // the lake's directory and URI
	Spec      *jobs.Spec
	// Result is the run's, its first stage the generation of the sample
	// month.
	Result *Result
}

// Demo generates a sample month into a fresh local lake and runs the whole
// job on it. The result is nil when the run did not start; else it is
// valid even when err is not nil.
func Demo(ctx context.Context, o DemoOptions) (*DemoResult, error) {
	dir, err := freshDemoDir(o.Dir)
	if err != nil {
		return nil, err
	}
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		return nil, err
	}
	lake := "file://" + dir
	env, err := OpenEnv(ctx, spec, lake, o.Log)
	if err != nil {
		return nil, err
	}
	defer env.Close()

	// The area shows from the start: generating takes seconds too.
	area := startProgress(o.Console, o.Month)
	defer area.close()
	opts := Options{Month: o.Month}
	if area != nil {
		area.Stage("gen")
		opts.Watch = area
	}
	t0 := time.Now()
	objs, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: o.Rows, Parts: o.Parts, Seed: 1, Month: o.Month})
	if err != nil {
		return nil, fmt.Errorf("demo: generate: %w", err)
	}
	gen := lineage.Stage{Name: "gen (synthetic intake)", Wall: time.Since(t0), RowsOut: o.Rows, Files: len(objs)}
	for _, ob := range objs {
		gen.BytesOut += ob.Size
	}
	o.Log.Info().Int64("rows", o.Rows).Int("parts", len(objs)).Msg("sample month generated")

	res, err := Run(ctx, env, spec, opts)
	area.close()
	if res == nil {
		return nil, err
	}
	res.Run.Stages = append([]lineage.Stage{gen}, res.Run.Stages...)
	return &DemoResult{Dir: dir, Lake: lake, Spec: spec, Result: res}, err
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
