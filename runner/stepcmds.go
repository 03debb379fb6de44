package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/athena"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/runner/emf"
)

// The step commands run one step of an execution each, as the tasks of a
// Step Functions state machine do (docs/aws.md). They share state through
// the lake: see Exec and ExecPrefix.

// StepOptions are what every step command takes.
type StepOptions struct {
	Job, Lake, Execution string
	Log                  zerolog.Logger
	Stdout               io.Writer
}

// deriveItem is one element of derive.json, the derive Map's items.
type deriveItem struct {
	Table    string          `json:"table"`
	Query    string          `json:"query"`
	Location string          `json:"location"`
	Prepared athena.Prepared `json:"prepared"`
}

// preparer is an engine that can hand its statement to another runner.
type preparer interface {
	Prepare(ctx context.Context, c engine.CTAS) (athena.Prepared, error)
	Collect(ctx context.Context, p athena.Prepared, res engine.Result) (engine.Result, error)
	Discard(ctx context.Context, p athena.Prepared) error
}

// PreviousMonth is the month before t (UTC): what a monthly schedule runs.
func PreviousMonth(t time.Time) string {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")
}

// PlanCommand is the first task: plan the month ("" = the previous month)
// and claim it for the job's timeout.
func PlanCommand(ctx context.Context, o StepOptions, month string, force bool) error {
	spec, env, err := OpenJob(ctx, o.Job, o.Lake, o.Log)
	if err != nil {
		return err
	}
	defer env.Close()
	if month == "" {
		month = PreviousMonth(time.Now())
	}
	if o.Execution == "" {
		return errors.New("plan: --execution is required (the Step Functions execution name)")
	}
	lease := spec.Timeout
	if lease <= 0 {
		lease = 6 * time.Hour
	}
	ex, err := PlanStep(ctx, env, spec, month, o.Execution, force, lease)
	if err != nil {
		return err
	}
	recordRequests(ctx, env, spec.Name, o.Execution, "plan", o.Log)
	if ex.Skipped {
		fmt.Fprintln(o.Stdout, ex.Reason)
		return nil
	}
	fmt.Fprintf(o.Stdout, "run %s: %d parts of %s\n", ex.RunID, len(ex.Plan.Parts), month)
	var bytes int64
	for _, p := range ex.Plan.Parts {
		bytes += p.Size
	}
	writeEMF(o.Stdout, o.Log, spec.Name, month, map[string]string{"Task": "plan", "Run": ex.RunID, "Execution": ex.Name},
		[]metric{{Name: emf.PlannedParts, Unit: "Count", Value: float64(len(ex.Plan.Parts))}, {Name: emf.PlannedBytes, Unit: "Bytes", Value: float64(bytes)}})
	return nil
}

// withStep opens the job's lake, resumes the execution and runs fn on it.
// The S3 requests the step sent are recorded for publish to add up.
func withStep(ctx context.Context, o StepOptions, name string, fn func(*job) error) error {
	spec, env, err := OpenJob(ctx, o.Job, o.Lake, o.Log)
	if err != nil {
		return err
	}
	defer env.Close()
	err = step(ctx, env, spec, o.Execution, fn)
	recordRequests(ctx, env, spec.Name, o.Execution, name, o.Log)
	return err
}

// recordRequests writes how many S3 requests this task sent, as
// requests/<task>.json beside the execution's state.
func recordRequests(ctx context.Context, env *Env, job, execution, task string, log zerolog.Logger) {
	n := env.Requests()
	if n == 0 || task == "" {
		return
	}
	// Writing the figure is itself a request: count it.
	if err := putJSON(context.WithoutCancel(ctx), env.Storage, ExecPrefix(job, execution)+"requests/"+task+".json", n+1); err != nil {
		log.Warn().Err(err).Msg("recording the step's S3 requests")
	}
}

// stepRequests adds up the S3 requests the execution's tasks recorded.
func (j *job) stepRequests(ctx context.Context) (int64, error) {
	var total int64
	prefix := ExecPrefix(j.spec.Name, j.ex.Name) + "requests/"
	err := j.env.Storage.List(ctx, prefix, func(o storage.Object) error {
		var n int64
		if err := getJSON(ctx, j.env.Storage, o.Key, &n); err != nil {
			return err
		}
		total += n
		return nil
	})
	return total, err
}

// step resumes an execution in env and runs fn on it.
func step(ctx context.Context, env *Env, spec *jobs.Spec, execution string, fn func(*job) error) error {
	ex, err := LoadExec(ctx, env.Storage, spec.Name, execution)
	if err != nil {
		return err
	}
	j, err := resumeJob(ctx, env, spec, ex)
	if err != nil {
		return err
	}
	return fn(j)
}

// PartCommand is a convert Map item: the pristine copy of one intake part,
// then its conversion into the run's tier-2 prefix.
func PartCommand(ctx context.Context, o StepOptions, key string) error {
	return withStep(ctx, o, "convert-"+jobs.PartName(key), func(j *job) error {
		n, from := SizeWorkers(ctx, j.spec, os.Getenv, nil, o.Log)
		j.spec.Convert.Workers = n
		j.log.Info().Int("workers", n).Str("sized_from", from).Msg("converter workers")
		return j.partStep(ctx, key, o.Stdout)
	})
}

func (j *job) partStep(ctx context.Context, key string, w io.Writer) error {
	for _, p := range j.plan.Parts {
		if p.Key != key {
			continue
		}
		obj, err := j.pristineOne(ctx, p)
		if err != nil {
			return err
		}
		m, err := j.convertOne(ctx, obj, nil)
		if m != nil {
			// A part that failed on its rejects still counts them.
			writeEMF(w, j.log, j.spec.Name, j.ex.Month, map[string]string{"Task": "convert", "Run": j.run.ID, "Part": m.Part}, partMetrics(m))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "part %s: %d rows read, %d written, %d rejected, %d files\n", m.Part, m.RowsRead, m.RowsWritten, m.RowsRejected, len(m.Files))
		return nil
	}
	return fmt.Errorf("part %s is not in the plan of execution %s", key, j.ex.Name)
}

// StageCommand checks every part, stages tier 2 and prepares each derived
// table's CTAS for Athena, writing derive.json for the derive Map.
func StageCommand(ctx context.Context, o StepOptions) error {
	return withStep(ctx, o, "stage", func(j *job) error { return j.stageStep(ctx, o.Stdout) })
}

func (j *job) stageStep(ctx context.Context, w io.Writer) error {
	t0 := time.Now()
	if err := j.env.Catalog.EnsureDatabase(ctx, j.spec.Database); err != nil {
		return fmt.Errorf("database %s: %w", j.spec.Database, err)
	}
	if _, err := j.stage(ctx); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	items := []deriveItem{}
	if len(j.spec.Derived) > 0 {
		eng, err := j.preparer(ctx)
		if err != nil {
			return err
		}
		for _, d := range j.spec.Derived {
			c, err := j.derivedCTAS(d)
			if err != nil {
				return err
			}
			p, err := eng.Prepare(ctx, c)
			if err != nil {
				return fmt.Errorf("derived table %s: %w", d.Table, err)
			}
			items = append(items, deriveItem{Table: d.Table, Query: p.Query, Location: c.Location, Prepared: p})
		}
	}
	if err := putJSON(ctx, j.env.Storage, ExecPrefix(j.spec.Name, j.ex.Name)+"derive.json", items); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	fmt.Fprintf(w, "run %s staged: %d rows; %d derived tables prepared\n", j.run.ID, j.run.RowsOut, len(items))
	writeEMF(w, j.log, j.spec.Name, j.ex.Month, map[string]string{"Task": "stage", "Run": j.run.ID},
		[]metric{{Name: emf.StageWallTime, Unit: "Seconds", Value: time.Since(t0).Seconds()}})
	return nil
}

func (j *job) preparer(ctx context.Context) (preparer, error) {
	eng, err := j.env.Engine(ctx)
	if err != nil {
		return nil, fmt.Errorf("open query engine: %w", err)
	}
	p, ok := eng.(preparer)
	if !ok {
		return nil, fmt.Errorf("the %T engine runs its statements itself; use `tierflow run` for this lake", eng)
	}
	return p, nil
}

// PublishCommand collects the derived tables Athena built, then switches
// every partition to the run's prefixes and finishes the run.
func PublishCommand(ctx context.Context, o StepOptions) error {
	return withStep(ctx, o, "", func(j *job) error {
		run, err := j.finish(ctx, j.publishStep(ctx))
		if err != nil {
			// Finish, next, records the failure and says so.
			return err
		}
		j.finished(ctx, "publish", run, o.Stdout)
		fmt.Fprintf(o.Stdout, "run %s published: %d rows out, %d rejected\n", run.ID, run.RowsOut, run.RowsRejected)
		return nil
	})
}

func (j *job) publishStep(ctx context.Context) error {
	var items []deriveItem
	if err := getJSON(ctx, j.env.Storage, ExecPrefix(j.spec.Name, j.ex.Name)+"derive.json", &items); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	collect := func(ctx context.Context) (lineage.Stage, error) {
		st := lineage.Stage{}
		if len(items) == 0 {
			return st, nil
		}
		eng, err := j.preparer(ctx)
		if err != nil {
			return st, err
		}
		for _, it := range items {
			d, ok := derivedByName(j.spec, it.Table)
			if !ok {
				return st, fmt.Errorf("derive.json names %s, which the job does not derive", it.Table)
			}
			r, err := eng.Collect(ctx, it.Prepared, engine.Result{})
			// Athena ran it in the state machine: it started about its
			// engine time before now.
			started := time.Now().Add(-time.Duration(r.EngineMillis) * time.Millisecond)
			if err != nil {
				j.olEmitDerived(ctx, d, started, nil, nil, err)
				return st, fmt.Errorf("derived table %s: %w", it.Table, err)
			}
			if r.Rows, err = parquetRows(ctx, j.env.Storage, r.Files); err != nil {
				return st, fmt.Errorf("derived table %s: %w", it.Table, err)
			}
			c := engine.CTAS{Location: it.Location}
			if err := j.stageDerived(ctx, d, c, r, started, &st); err != nil {
				return st, err
			}
		}
		return st, nil
	}
	fargate := func(ctx context.Context) (lineage.Stage, error) {
		j.addCompute(j.fargateCost())
		n, err := j.stepRequests(ctx)
		j.run.Cost.S3Requests = n + j.env.Requests()
		return lineage.Stage{}, err
	}
	return j.stages(ctx, []stageFunc{{"stage", j.stage}, {"derive", collect}, {"cost", fargate}, {"publish", j.publish}})
}

// fargateCost prices the run's convert tasks from their manifests: each
// part's wall time on a task of the job's size (the short plan, stage and
// publish tasks are left out).
func (j *job) fargateCost() lineage.Cost {
	var wall float64
	for _, m := range j.res.Manifests {
		wall += m.Timings.WallSeconds
	}
	c := lineage.Cost{
		VCPUSeconds: wall * float64(j.spec.AWS.TaskCPU) / 1024,
		GBSeconds:   wall * float64(j.spec.AWS.TaskMemoryMiB) / 1024,
	}
	c.USD = FargateUSD(c.VCPUSeconds, c.GBSeconds)
	return c
}

func derivedByName(spec *jobs.Spec, table string) (jobs.Derived, bool) {
	for _, d := range spec.Derived {
		if d.Table == table {
			return d, true
		}
	}
	return jobs.Derived{}, false
}

// FinishCommand is the state machine's Catch: it records the run as failed
// with cause, removes what it wrote, drops scratch tables and releases the
// month.
func FinishCommand(ctx context.Context, o StepOptions, cause string) error {
	return withStep(ctx, o, "", func(j *job) error { return j.finishStep(ctx, cause, o.Stdout) })
}

func (j *job) finishStep(ctx context.Context, cause string, w io.Writer) error {
	var items []deriveItem
	if err := getJSON(ctx, j.env.Storage, ExecPrefix(j.spec.Name, j.ex.Name)+"derive.json", &items); err == nil && len(items) > 0 {
		if eng, err := j.preparer(ctx); err == nil {
			for _, it := range items {
				if err := eng.Discard(ctx, it.Prepared); err != nil {
					j.log.Warn().Err(err).Str("table", it.Table).Msg("dropping scratch tables")
				}
			}
		}
	}
	if cause == "" {
		cause = "the execution failed (no cause given)"
	}
	run, err := j.finish(ctx, errors.New(cause))
	j.finished(ctx, "finish", run, w)
	if run.Status == lineage.StatusFailed {
		fmt.Fprintf(w, "run %s recorded as failed: %s\n", run.ID, Clip(cause, 200))
	}
	if err != nil && !strings.Contains(err.Error(), cause) {
		return err
	}
	return nil
}

// parquetRows sums the row counts in the footers of Parquet objects.
func parquetRows(ctx context.Context, st storage.Storage, uris []string) (int64, error) {
	var n int64
	for _, u := range uris {
		key := strings.TrimPrefix(strings.TrimPrefix(u, st.URI()), "/")
		o, err := st.Stat(ctx, key)
		if err != nil {
			return 0, err
		}
		f, err := parquet.OpenFile(storage.ReaderAt(ctx, st, key), o.Size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", u, err)
		}
		n += f.NumRows()
	}
	return n, nil
}

// finished reports a run that publish or finish ended: its metrics on w
// (the task's stdout, EMF) and the notification the state machine sends.
func (j *job) finished(ctx context.Context, task string, run lineage.Run, w io.Writer) {
	writeEMF(w, j.log, j.spec.Name, j.ex.Month, map[string]string{"Task": task, "Run": run.ID, "Execution": j.ex.Name, "Status": run.Status}, runMetrics(run))
	j.saveNotification(ctx, run)
}

// Clip cuts s to n characters, the last one "…" when cut.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
