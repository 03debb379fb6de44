package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
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
		res, err := runWithProgress(ctx, env, spec, Options{Month: m, Force: o.Force}, o.Console)
		if o.Done != nil {
			o.Done(spec, m, res, err)
		}
		notifyLocal(ctx, spec, m, res, err, o.Log)
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
	if a := startProgress(con, opts.Month); a != nil {
		defer a.close()
		opts.Watch = a
	}
	return Run(ctx, env, spec, opts)
}
