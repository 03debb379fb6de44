// Package runner plans and runs a tierflow job for one month: plan, pristine
// copy to tier 1, convert (parts in parallel), derive, publish, lineage.
// Nothing a run writes is visible to readers until publish switches the
// catalog partitions to the run's own prefixes.
package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// Options of one run.
type Options struct {
	Month string
	// Force reruns a month even when its published run came from identical
	// inputs.
	Force bool
	// Watch, when set, is told what the run is doing (a progress area).
	Watch Watcher
	// Lease is how long the month's claim lives without renewal (default 2
	// minutes); the run renews it every Lease/4, so a killed run blocks the
	// month for at most Lease.
	Lease time.Duration
}

// Result is what a run did.
type Result struct {
	Run     lineage.Run
	Skipped bool // inputs unchanged since the published run: nothing done
	// Waiting says why the month's delivery is not complete yet
	// (source.complete_when); nothing was done and Run is empty.
	Waiting   string
	Previous  string // the run that was published before this one
	Parts     []Part
	Manifests []*container.Manifest
	Derived   []engine.Result
	RunMeta   string // URI of the run's manifests and rejects
}

// Run runs spec for one month in env, every step in this process. The
// returned Result is valid (and the run recorded in lineage) even when err
// is not nil.
func Run(ctx context.Context, env *Env, spec *jobs.Spec, opts Options) (*Result, error) {
	lease := opts.Lease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	opts.Watch = opts.watcher()
	opts.Watch.Stage("plan")
	ex, err := PlanStep(ctx, env, spec, opts.Month, "", opts.Force, lease)
	if err != nil {
		return nil, fmt.Errorf("%w; nothing was published", err)
	}
	if ex.Waiting {
		return &Result{Waiting: ex.Reason}, nil
	}
	opts.Watch.Plan(ex.Plan.Parts, len(spec.Derived))
	res := &Result{Previous: ex.Previous, Parts: ex.Plan.Parts}
	if ex.Skipped {
		pr, err := env.Lineage.GetRun(ctx, spec.Name, ex.Previous)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", ex.Previous, err)
		}
		res.Run, res.Skipped = pr, true
		return res, nil
	}
	j, err := resumeJob(ctx, env, spec, ex)
	if err != nil {
		return nil, fmt.Errorf("%w; nothing was published", err)
	}
	j.opts = opts
	res = j.res
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	claim := lineage.Claim{Owner: ex.Claim, Token: ex.Token}
	stopRenew := renewClaim(runCtx, env, spec.Name, ex.Month, claim, lease, j.log, cancel)
	u0, t0, r0 := CurrentUsage(), time.Now(), env.Requests()
	runErr := j.local(runCtx)
	j.addCompute(MeasureCost(u0, CurrentUsage(), time.Since(t0), 0, 0))
	j.run.Cost.S3Requests += env.Requests() - r0
	stopRenew()
	run, err := j.finish(ctx, runErr)
	res.Run = run
	return res, err
}

// watcher is o.Watch, or one that ignores what it is told.
func (o Options) watcher() Watcher {
	if o.Watch == nil {
		return noWatch{}
	}
	return o.Watch
}

// addCompute adds compute figures to the run's cost ledger; Athena's
// per-query cost is added as each derived table is built.
func (j *job) addCompute(c lineage.Cost) {
	j.run.Cost.VCPUSeconds += c.VCPUSeconds
	j.run.Cost.GBSeconds += c.GBSeconds
	j.run.Cost.USD += c.USD
}

// local runs the steps after plan in this process: every part (pristine
// copy, then convert) in parallel, then stage, derive and publish.
func (j *job) local(ctx context.Context) error {
	return j.stages(ctx, []stageFunc{
		{"pristine", j.pristine},
		{"convert", j.convert},
		{"stage", j.stage},
		{"derive", j.derive},
		{"publish", j.publish},
	})
}

// markAbandoned records runs of the month that are still "running" although
// this run now holds the month's claim: their process died (their claim
// expired), so they are failed.
func markAbandoned(ctx context.Context, env *Env, job, month string, log logger) {
	runs, err := env.Lineage.ListRuns(ctx, job, month)
	if err != nil {
		log.Warn().Err(err).Msg("listing earlier runs")
		return
	}
	for _, r := range runs {
		if r.Status != lineage.StatusRunning {
			continue
		}
		markFailed(ctx, env, r, "abandoned: the run stopped renewing its claim on the month (its process died); run gc to remove what it wrote")
		log.Warn().Str("abandoned", r.ID).Msg("an earlier run of this month died; recorded it as failed")
	}
}

// nextRunID is the fingerprint's first 12 hex digits plus an attempt
// number: reruns on identical inputs get their own prefix and record.
func nextRunID(ctx context.Context, env *Env, spec *jobs.Spec, month, fingerprint string) (string, error) {
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, month)
	if err != nil {
		return "", fmt.Errorf("list runs of %s: %w", month, err)
	}
	base := fingerprint[:12]
	n := 1
	for _, r := range runs {
		if strings.HasPrefix(r.ID, base+"-") {
			n++
		}
	}
	return fmt.Sprintf("%s-%d", base, n), nil
}

// job carries one run's state through its stages.
type job struct {
	env    *Env
	spec   *jobs.Spec
	ex     *Exec
	plan   *Plan
	run    *lineage.Run
	layout jobs.Layout
	log    logger
	opts   Options
	res    *Result

	tier1  []pristineObject
	staged []staged // partitions to switch at publish, tier 2 first
	// committed is set once the commit has landed: from then on the run
	// is published and nothing it wrote may be removed.
	committed bool
	// uncertain: the commit's outcome could not be read; nothing is
	// removed, repair settles it.
	uncertain bool
	pending   []error // failures after the commit, finished by repair
}

// staged is one partition ready to publish.
type staged struct {
	table     catalog.Table
	partition catalog.Partition
	prefix    string // the run's data prefix
	rows      int64
}

// stageFunc is one named stage of a run.
type stageFunc struct {
	name string
	fn   func(context.Context) (lineage.Stage, error)
}

// stages runs stages in order, recording each one's figures in the run.
func (j *job) stages(ctx context.Context, list []stageFunc) error {
	// The database is setup, not publication: derive needs it on Athena
	// (scratch tables) before anything is published.
	if err := j.env.Catalog.EnsureDatabase(ctx, j.spec.Database); err != nil {
		return fmt.Errorf("database %s: %w", j.spec.Database, err)
	}
	for _, stage := range list {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", stage.name, context.Cause(ctx))
		}
		j.opts.watcher().Stage(stage.name)
		t0 := time.Now()
		st, err := stage.fn(ctx)
		st.Name, st.Wall = stage.name, time.Since(t0)
		j.run.Stages = append(j.run.Stages, st)
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
				err = fmt.Errorf("%w (%v)", cause, err)
			}
			return fmt.Errorf("%s: %w", stage.name, err)
		}
		j.log.Info().Str("stage", stage.name).Float64("wall_s", st.Wall.Seconds()).Int64("rows_out", st.RowsOut).Int("files", st.Files).Msg("stage done")
	}
	return nil
}

// cleanup removes what a failed run wrote to its data prefixes; its
// manifests and rejects stay for inspection. It is only called when the
// run did not commit.
func (j *job) cleanup(ctx context.Context) {
	for _, t := range tables(j.spec) {
		p := t.prefix(j.plan.Month, j.run.ID)
		if err := storage.DeletePrefix(ctx, j.env.Storage, p); err != nil {
			j.log.Warn().Err(err).Str("prefix", j.env.Storage.ObjectURI(p)).
				Msg("could not remove what the failed run wrote (readers never see it); run `tierflow gc` to remove it later")
		}
	}
}

// parallelism bounds how many parts are converted at once.
func (j *job) parallelism() int {
	n := j.spec.Convert.Parallelism
	if n <= 0 {
		n = runtime.NumCPU()
	}
	return max(1, min(n, len(j.plan.Parts)))
}
