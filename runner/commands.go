package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/lineage"
)

// openJob loads the job and opens its lake, creating what a first run
// needs.
func openJob(ctx context.Context, job, lake string, log zerolog.Logger) (*jobs.Spec, *Env, error) {
	return openJobWith(ctx, job, lake, log, OpenEnv)
}

// openJobReadOnly loads the job and opens its lake, which must exist.
func openJobReadOnly(ctx context.Context, job, lake string, log zerolog.Logger) (*jobs.Spec, *Env, error) {
	return openJobWith(ctx, job, lake, log, OpenExistingEnv)
}

func openJobWith(ctx context.Context, job, lake string, log zerolog.Logger,
	open func(context.Context, *jobs.Spec, string, zerolog.Logger) (*Env, error)) (*jobs.Spec, *Env, error) {
	spec, err := jobs.Open(job)
	if err != nil {
		return nil, nil, invalidInput{err}
	}
	uri, err := LakeURI(spec, lake)
	if err != nil {
		return nil, nil, invalidInput{err}
	}
	env, err := open(ctx, spec, uri, log)
	if err != nil {
		return nil, nil, err
	}
	return spec, env, nil
}

// GenOptions are the gen command's.
type GenOptions struct {
	Job, Lake, Month string
	Rows             int64
	Parts            int
	Seed             int64
	Log              zerolog.Logger
	Stdout           io.Writer
}

// Gen writes a synthetic month into the job's intake location.
func Gen(ctx context.Context, o GenOptions) error {
	if _, err := jobs.ParseMonth(o.Month); err != nil {
		return err
	}
	spec, env, err := openJob(ctx, o.Job, o.Lake, o.Log)
	if err != nil {
		return err
	}
	defer env.Close()
	t0 := time.Now()
	objs, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: o.Rows, Parts: o.Parts, Seed: o.Seed, Month: o.Month})
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	var size int64
	for _, ob := range objs {
		size += ob.Size
		fmt.Fprintln(o.Stdout, env.Storage.ObjectURI(ob.Key))
	}
	o.Log.Info().Int64("rows", o.Rows).Int("parts", len(objs)).Int64("bytes", size).Float64("wall_s", time.Since(t0).Seconds()).Msg("synthetic month written")
	return nil
}

// RunMonthsOptions are a local run's: one month, or a backfill.
type RunMonthsOptions struct {
	Job, Lake, Month string
	From, To         string // a backfill: every month from..to, in order
	Force            bool
	// KeepGoing runs the other months of a backfill after one fails;
	// the run still fails, naming every month that did.
	KeepGoing bool
	Log       zerolog.Logger
	// Console, when a terminal, shows each month's progress above the
	// log lines it carries.
	Console *Console
	// Done, when set, is told of each month as it ends: its result (also
	// a failed run's, which was recorded; nil when the month failed
	// before a run began) and its error.
	Done func(spec *jobs.Spec, month string, res *Result, err error)
}

// BackfillError is a backfill that ran on past failed months (KeepGoing).
type BackfillError struct {
	Months int      // months in the backfill
	Failed []string // the months that failed
	Errs   []error  // why, one per failed month
}

func (e *BackfillError) Error() string {
	return fmt.Sprintf("backfill: %d of %d months failed: %v", len(e.Failed), e.Months, errors.Join(e.Errs...))
}

func (e *BackfillError) Unwrap() []error { return e.Errs }

// RunMonths runs a month, or the months of a backfill one after the
// other, in this process.
func RunMonths(ctx context.Context, o RunMonthsOptions) error {
	spec, env, err := openJob(ctx, o.Job, o.Lake, o.Log)
	if err != nil {
		return err
	}
	defer env.Close()
	months := []string{o.Month}
	switch {
	case o.Month != "" && (o.From != "" || o.To != ""):
		return errors.New("run: give --month, or --from and --to, not both")
	case o.From != "" || o.To != "":
		if months, err = Months(o.From, o.To); err != nil {
			return err
		}
	case o.Month == "":
		return errors.New("run: give --month M, or --from M1 --to M2")
	}
	// Locally the months of a backfill run one after the other: each run
	// already uses every core for its parts.
	bf := &BackfillError{Months: len(months)}
	for _, m := range months {
		res, err := runWithProgress(ctx, env, spec, Options{Month: m, Force: o.Force}, o.Console)
		if o.Done != nil {
			o.Done(spec, m, res, err)
		}
		if err == nil {
			continue
		}
		err = fmt.Errorf("month %s: %w", m, err)
		if !o.KeepGoing || len(months) == 1 || ctx.Err() != nil {
			return err
		}
		bf.Failed = append(bf.Failed, m)
		bf.Errs = append(bf.Errs, err)
	}
	if len(bf.Failed) > 0 {
		return bf
	}
	return nil
}

// runWithProgress runs and, when con is a terminal, shows the run's
// progress on it until the run ends (the area is gone before the summary).
func runWithProgress(ctx context.Context, env *Env, spec *jobs.Spec, opts Options, con *Console) (*Result, error) {
	if a := startProgress(con, "month "+opts.Month); a != nil {
		defer a.close()
		opts.Watch = a
	}
	return Run(ctx, env, spec, opts)
}

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

// Lineage loads the lineage around dataset (a table, table/month=M, or a
// URI) as the published runs recorded it.
func Lineage(ctx context.Context, job, lake, dataset string, log zerolog.Logger) (*LineageGraph, error) {
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	uri := datasetURI(spec, dataset)
	g, err := loadGraph(ctx, env, spec, uri)
	if err != nil {
		return nil, err
	}
	if len(g.Up[uri]) == 0 && len(g.Down[uri]) == 0 {
		return nil, fmt.Errorf("lineage: nothing recorded for %s (try a table such as %s, a partition such as %s/month=YYYY-MM, or an object URI)", uri, spec.Output.Table, spec.Output.Table)
	}
	return g, nil
}

// View is the graph's edges, as --output json prints them.
func (g *LineageGraph) View() LineageView {
	v := LineageView{Dataset: g.Dataset, Upstream: []lineage.Edge{}, Downstream: []lineage.Edge{}}
	for _, es := range g.Up {
		v.Upstream = append(v.Upstream, es...)
	}
	for _, es := range g.Down {
		v.Downstream = append(v.Downstream, es...)
	}
	for _, l := range [][]lineage.Edge{v.Upstream, v.Downstream} {
		sort.Slice(l, func(i, j int) bool { return l[i].From+"\x00"+l[i].To < l[j].From+"\x00"+l[j].To })
	}
	return v
}

// datasetURI turns a user's DATASET argument into a lineage URI.
func datasetURI(spec *jobs.Spec, s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	table, part, _ := strings.Cut(s, "/")
	if !strings.Contains(table, ".") {
		table = spec.Database + "." + table
	}
	if part != "" {
		return "catalog://" + table + "/" + part
	}
	return "catalog://" + table
}

// LineageGraph is the lineage around one dataset, restricted to the runs
// that are published.
type LineageGraph struct {
	Dataset string // the lineage URI the walk started from
	// Up and Down are the edges into and out of each dataset on the walk,
	// sorted.
	Up, Down map[string][]lineage.Edge
	// Info is what the published runs recorded of each dataset.
	Info map[string]lineage.Dataset
}

func loadGraph(ctx context.Context, env *Env, spec *jobs.Spec, start string) (*LineageGraph, error) {
	g := &LineageGraph{Dataset: start, Up: map[string][]lineage.Edge{}, Down: map[string][]lineage.Edge{}, Info: map[string]lineage.Dataset{}}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, "")
	if err != nil {
		return nil, err
	}
	published := map[string]bool{}
	for _, r := range runs {
		if id, err := env.Lineage.Published(ctx, spec.Name, r.Month); err == nil && id == r.ID {
			published[r.ID] = true
			for _, d := range append(append([]lineage.Dataset{}, r.Inputs...), r.Outputs...) {
				g.Info[d.URI] = d
			}
		}
	}
	keep := func(es []lineage.Edge) []lineage.Edge {
		var out []lineage.Edge
		for _, e := range es {
			if published[e.RunID] {
				out = append(out, e)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].From+out[i].To < out[j].From+out[j].To })
		return out
	}
	var walk func(uri string, up bool) error
	seen := map[string]bool{}
	walk = func(uri string, up bool) error {
		key := fmt.Sprint(up, uri)
		if seen[key] {
			return nil
		}
		seen[key] = true
		var es []lineage.Edge
		var err error
		if up {
			es, err = env.Lineage.Upstream(ctx, uri)
		} else {
			es, err = env.Lineage.Downstream(ctx, uri)
		}
		if err != nil {
			return err
		}
		es = keep(es)
		for _, e := range es {
			next := e.From
			if up {
				g.Up[uri] = append(g.Up[uri], e)
			} else {
				g.Down[uri] = append(g.Down[uri], e)
				next = e.To
			}
			if err := walk(next, up); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(start, true); err != nil {
		return nil, fmt.Errorf("upstream of %s: %w", start, err)
	}
	if err := walk(start, false); err != nil {
		return nil, fmt.Errorf("downstream of %s: %w", start, err)
	}
	return g, nil
}

// RollbackCommand switches a month back to an earlier run.
func RollbackCommand(ctx context.Context, job, lake, month, to string, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	from, target, err := Rollback(ctx, env, spec, month, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "month %s of %s: published run %s → %s\n", month, spec.Name, from, target)
	return nil
}

// RepairCommand repairs one month ("" = every month with runs) and says
// what it did.
func RepairCommand(ctx context.Context, job, lake, month string, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	var reps []RepairReport
	if month != "" {
		if _, err := jobs.ParseMonth(month); err != nil {
			return err
		}
		rep, err := Repair(ctx, env, spec, month)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
	} else if reps, err = RepairAll(ctx, env, spec); err != nil {
		return err
	}
	fixed := 0
	for _, r := range reps {
		switch {
		case r.Run == "":
			fmt.Fprintf(w, "month %s: nothing published\n", r.Month)
		case r.Switched > 0 || r.Finished:
			fixed++
			fmt.Fprintf(w, "month %s: published run %s; switched %d partitions, completed its record: %v\n", r.Month, r.Run, r.Switched, r.Finished)
		default:
			fmt.Fprintf(w, "month %s: published run %s; nothing to repair\n", r.Month, r.Run)
		}
	}
	fmt.Fprintf(w, "repair: %d months checked, %d repaired\n", len(reps), fixed)
	return nil
}

// UnlockCommand releases a month whose holder is dead.
func UnlockCommand(ctx context.Context, job, lake, month string, log zerolog.Logger, w io.Writer) error {
	if _, err := jobs.ParseMonth(month); err != nil {
		return err
	}
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	h, err := Unlock(ctx, env, spec.Name, month, 2*time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "month %s of %s: released the claim of run %s (pid %d on %s); the next command takes the month\n", month, spec.Name, runOfOwner(h.Owner), h.PID, h.Host)
	return nil
}

// GCCommand prunes old run prefixes and abandoned uploads.
func GCCommand(ctx context.Context, job, lake string, o GCOptions, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	rep, err := GC(ctx, env, spec, o)
	if rep != nil {
		verb := "removed"
		if o.DryRun {
			verb = "would remove"
		}
		for _, p := range rep.Prefixes {
			fmt.Fprintf(w, "%s %s\n", verb, env.Storage.ObjectURI(p))
		}
		fmt.Fprintf(w, "gc %s %d run prefixes (%d objects) and %d abandoned temporary files or uploads\n", verb, len(rep.Prefixes), rep.Objects, rep.Temp)
	}
	return err
}

// InitCommand creates what a job needs before its first run: on AWS the
// DynamoDB lineage table (on-demand) and the Glue database, after checking
// that the lake's bucket is reachable; locally the lake folders.
func InitCommand(ctx context.Context, job, lake string, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintf(w, "lake %s: reachable\n", env.Storage.URI())
	if t, ok := env.Lineage.(interface{ CreateTable(context.Context) error }); ok {
		if err := t.CreateTable(ctx); err != nil {
			return fmt.Errorf("init: lineage table %s: %w", spec.AWS.LineageTable, err)
		}
		fmt.Fprintf(w, "lineage table %s: ready\n", spec.AWS.LineageTable)
	}
	if err := env.Catalog.EnsureDatabase(ctx, spec.Database); err != nil {
		return fmt.Errorf("init: catalog database %s: %w", spec.Database, err)
	}
	fmt.Fprintf(w, "catalog database %s: ready\n", spec.Database)
	return nil
}
