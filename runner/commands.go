package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/lineage"
)

// OpenJob loads the job (a spec file or a shipped job's name) and opens
// its lake (default: the job's), creating what a first run needs. The
// caller closes the Env.
func OpenJob(ctx context.Context, job, lake string, log zerolog.Logger) (*jobs.Spec, *Env, error) {
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
	spec, env, err := OpenJob(ctx, o.Job, o.Lake, o.Log)
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
	Progress  bool
	// Done, when set, receives each month's result as the month ends
	// (also a failed one, whose run was recorded).
	Done func(*jobs.Spec, *Result)
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
	spec, env, err := OpenJob(ctx, o.Job, o.Lake, o.Log)
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
		res, err := runWithProgress(ctx, env, spec, Options{Month: m, Force: o.Force}, o.Progress)
		if res != nil && o.Done != nil {
			o.Done(spec, res)
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

// runWithProgress runs and, on a terminal, shows the convert progress.
func runWithProgress(ctx context.Context, env *Env, spec *jobs.Spec, opts Options, show bool) (*Result, error) {
	if show {
		bar := newProgressBar(os.Stderr, "convert")
		defer bar.Finish()
		opts.Progress = bar.Update
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
