package runner

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
)

// Runs lists the job's runs of month ("" = every month), each marked
// when it is its month's published run. A commit a crash left half done is
// finished first, so the marks are what readers get.
func Runs(ctx context.Context, job, lake, month string, log zerolog.Logger) (*RunsView, error) {
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	reps, err := RepairAll(ctx, env, spec)
	if err != nil {
		return nil, err
	}
	published := map[string]string{} // month → its published run, as repair read it
	for _, r := range reps {
		published[r.Month] = r.Run
	}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, month)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	v := &RunsView{Job: spec.Name, Runs: []RunView{}}
	for _, r := range runs {
		v.Runs = append(v.Runs, runView(r, published[r.Month] == r.ID))
	}
	return v, nil
}
