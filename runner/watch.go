package runner

// tierflow watch: poll the intake and run every month whose delivery is
// complete and whose inputs were never published, the local counterpart of
// the intake trigger on AWS (docs/aws.md).

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
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// DefaultWatchInterval is the time between two passes of watch.
const DefaultWatchInterval = time.Minute

// WatchOptions are the watch command's.
type WatchOptions struct {
	// Once makes one pass and returns.
	Once bool
	// Interval is the time between passes (default DefaultWatchInterval).
	Interval time.Duration
	Log      zerolog.Logger
	// Stdout receives one line per change in what a month waits for,
	// and, with Once, a line when nothing was ready.
	Stdout io.Writer
	// Done, when set, receives each month's result as its run ends
	// (also a failed one, whose run was recorded).
	Done func(*jobs.Spec, *Result)
}

// Watch polls the job's intake and runs each month that is ready (see
// watcher.pass), until ctx ends, or once. A pass in which a month failed
// is an error with Once; otherwise watching goes on (the failure is
// logged). ctx ending between passes, or while the intake is listed and
// checked, returns nil: stopping a watch is not a failure. Interrupting a
// run returns its error.
func Watch(ctx context.Context, env *Env, spec *jobs.Spec, o WatchOptions) error {
	if o.Interval < 0 {
		return invalidInput{fmt.Errorf("watch: --interval %s must be positive", o.Interval)}
	}
	if o.Interval == 0 {
		o.Interval = DefaultWatchInterval
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if !spec.Source.CompleteWhen.Set() {
		o.Log.Warn().Str("job", spec.Name).Msg("source.complete_when is not set: a month runs as soon as its first part is listed, and again as more arrive")
	}
	w := &watcher{env: env, spec: spec, out: o.Stdout, done: o.Done, log: o.Log, said: map[string]string{}, failed: map[string]string{}}
	w.log.Info().Str("job", spec.Name).Str("intake", env.Storage.ObjectURI(spec.Source.Intake)).
		Str("complete_when", spec.Source.CompleteWhen.String()).Str("interval", o.Interval.String()).Bool("once", o.Once).Msg("watching the intake")
	for {
		months, ran, err := w.pass(ctx)
		switch {
		case w.interrupted:
			return err // a run was interrupted: it says so
		case ctx.Err() != nil:
			// Stopped while listing or checking: nothing was started.
			w.log.Info().Msg("watch stopped")
			return nil
		case o.Once:
			if ran == 0 && err == nil {
				fmt.Fprintf(o.Stdout, "nothing to run: %s in the intake, none ready\n", count(months, "month"))
			}
			return err
		case err != nil:
			w.log.Error().Err(err).Msg("watch pass: some months failed; watching goes on")
		}
		t := time.NewTimer(o.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			w.log.Info().Msg("watch stopped")
			return nil
		case <-t.C:
		}
	}
}

// watcher is one watch's state across passes.
type watcher struct {
	env  *Env
	spec *jobs.Spec
	out  io.Writer
	done func(*jobs.Spec, *Result)
	log  zerolog.Logger
	// said is the last waiting message printed per month, so a month
	// that keeps waiting for the same reason is reported once.
	said map[string]string
	// failed is the fingerprint whose run failed in this process, per
	// month: those inputs are not tried again (new inputs are).
	failed map[string]string
	// interrupted: a run was cancelled (Ctrl-C) and said so.
	interrupted bool
}

// pass finds the months in the intake and runs each, oldest first, that
// is ready: its delivery is complete, its inputs (the plan fingerprint)
// were never published, its last run on them did not fail in this process
// and no run holds it. Publishing the same inputs only once also keeps a
// rollback: a month rolled back from these inputs is left alone.
// It returns how many months it found and how many it ran.
func (w *watcher) pass(ctx context.Context) (found, ran int, err error) {
	months, err := intakeMonths(ctx, w.env.Storage, w.spec)
	if err != nil {
		return 0, 0, err
	}
	var errs []error
	for _, m := range months {
		if ctx.Err() != nil {
			return len(months), ran, errors.Join(errs...)
		}
		ready, err := w.ready(ctx, m)
		if err != nil && ctx.Err() != nil {
			return len(months), ran, errors.Join(errs...)
		}
		if err != nil {
			w.log.Error().Err(err).Str("month", m).Msg("checking the month's delivery")
			errs = append(errs, fmt.Errorf("month %s: %w", m, err))
			continue
		}
		if ready == "" {
			continue
		}
		ran++
		res, err := Run(ctx, w.env, w.spec, Options{Month: m})
		if res != nil && w.done != nil {
			w.done(w.spec, res)
		}
		notifyLocal(ctx, w.spec, m, res, err, w.log)
		if err != nil {
			if ctx.Err() != nil {
				w.interrupted = true
				return len(months), ran, fmt.Errorf("month %s: %w", m, err)
			}
			w.failed[m] = ready
			errs = append(errs, fmt.Errorf("month %s: %w", m, err))
		}
	}
	w.log.Debug().Int("months", len(months)).Int("ran", ran).Msg("watch pass done")
	return len(months), ran, errors.Join(errs...)
}

// ready returns the plan fingerprint of month when it should run now, or
// "" when not (saying why once per reason).
func (w *watcher) ready(ctx context.Context, month string) (string, error) {
	objs, err := listParts(ctx, w.env.Storage, w.spec, month)
	if err != nil {
		return "", err
	}
	if w.spec.Source.CompleteWhen.Set() {
		d, err := checkDelivery(ctx, w.env.Storage, w.spec, month, objs, time.Now())
		if err != nil {
			return "", err
		}
		if d.Waiting != "" {
			w.say(month, fmt.Sprintf("delivery for %s not complete: %s; waiting", month, d.Waiting))
			return "", nil
		}
	}
	if len(objs) == 0 && w.spec.Source.CompleteWhen.Marker == "" {
		return "", nil // other objects, no parts (yet): nothing to run
	}
	plan, err := newPlan(w.env.Storage, w.spec, month, w.env.CodeVersion, objs)
	if err != nil {
		return "", err
	}
	fp := plan.Fingerprint
	if w.failed[month] == fp {
		w.say(month, fmt.Sprintf("month %s: its run on these inputs failed; not retried until they change (or run it: tierflow run --month %s)", month, month))
		return "", nil
	}
	runs, err := w.env.Lineage.ListRuns(ctx, w.spec.Name, month)
	if err != nil {
		return "", fmt.Errorf("list runs of %s: %w", month, err)
	}
	for _, r := range runs {
		switch {
		case r.Fingerprint == fp && r.Status == lineage.StatusComplete:
			w.log.Debug().Str("month", month).Str("run", r.ID).Msg("inputs already published; nothing to do")
			return "", nil
		case r.Status == lineage.StatusRunning:
			w.say(month, fmt.Sprintf("month %s: run %s is in progress", month, r.ID))
			return "", nil
		}
	}
	delete(w.said, month)
	return fp, nil
}

// say prints msg for month unless it was the last thing said about it.
func (w *watcher) say(month, msg string) {
	if w.said[month] == msg {
		return
	}
	w.said[month] = msg
	fmt.Fprintln(w.out, msg)
}

// intakeMonths lists the months that have objects in the intake: every
// key below the intake's text before {month} that continues with a month
// and has that month's intake prefix.
func intakeMonths(ctx context.Context, st storage.Storage, spec *jobs.Spec) ([]string, error) {
	root, _, _ := strings.Cut(spec.Source.Intake, "{month}")
	seen := map[string]bool{}
	err := st.List(ctx, root, func(o storage.Object) error {
		rest := strings.TrimPrefix(o.Key, root)
		if len(rest) < len("YYYY-MM") {
			return nil
		}
		m := rest[:len("YYYY-MM")]
		if seen[m] {
			return nil
		}
		if _, err := jobs.ParseMonth(m); err == nil && strings.HasPrefix(o.Key, spec.IntakePrefix(m)) {
			seen[m] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("watch: listing %s: %w", st.ObjectURI(root), err)
	}
	months := make([]string, 0, len(seen))
	for m := range seen {
		months = append(months, m)
	}
	sort.Strings(months)
	return months, nil
}
