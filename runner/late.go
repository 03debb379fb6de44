package runner

// The late-data check: is the month the schedule last asked for published
// within monitor.late_after of the schedule's firing? On AWS an hourly
// EventBridge Scheduler schedule runs it as a small Fargate task; its EMF
// line (MonthLate 0 or 1) feeds the late-data alarm. A CloudWatch alarm on
// a metric that publish emits cannot do it alone: an alarm looks back at
// most 7 days, a monthly heartbeat is missing most of the month.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/runner/emf"
)

// ErrLate is returned (wrapped) by the late check when the month is late.
var ErrLate = errors.New("runner: month not published in time")

// Lateness is what the late check found.
type Lateness struct {
	Month    string    // the month the schedule last asked for (as of Deadline)
	Fired    time.Time // that firing
	Deadline time.Time // Fired + monitor.late_after
	RunID    string    // its published run, "" if none
	Late     bool
}

// CheckLate finds, as of now, the latest schedule firing whose deadline
// (firing + monitor.late_after) has passed and whether its month — the
// month before the firing's, as plan picks it — is published.
func CheckLate(ctx context.Context, env *Env, spec *jobs.Spec, now time.Time) (Lateness, error) {
	after := spec.Monitor.LateAfter
	if spec.Schedule == "" || after <= 0 {
		return Lateness{}, fmt.Errorf("job %s: the late check needs a schedule and monitor.late_after", spec.Name)
	}
	fired, err := jobs.PrevFire(spec.Schedule, now.Add(-after))
	if err != nil {
		return Lateness{}, fmt.Errorf("schedule: %w", err)
	}
	l := Lateness{Month: PreviousMonth(fired), Fired: fired, Deadline: fired.Add(after)}
	m, err := env.Lineage.Month(ctx, spec.Name, l.Month)
	if err != nil && !errors.Is(err, lineage.ErrNotFound) {
		return l, fmt.Errorf("month %s: %w", l.Month, err)
	}
	l.RunID = m.Published.RunID
	l.Late = l.RunID == ""
	return l, nil
}

// LateCommand runs the late check, prints its finding and its EMF line
// (MonthLate, dimension Job), and fails with ErrLate when the month is late.
func LateCommand(ctx context.Context, job, lake string, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	l, err := CheckLate(ctx, env, spec, time.Now())
	if err != nil {
		return err
	}
	late := 0.0
	if l.Late {
		late = 1
	}
	writeEMF(w, log, spec.Name, "", map[string]string{"Task": "late", "CheckedMonth": l.Month}, []metric{{Name: emf.MonthLate, Unit: "Count", Value: late}})
	if l.Late {
		fmt.Fprintf(w, "month %s of job %s is not published %v after the schedule fired at %s (deadline %s)\n",
			l.Month, spec.Name, spec.Monitor.LateAfter, l.Fired.Format(time.RFC3339), l.Deadline.Format(time.RFC3339))
		return fmt.Errorf("month %s: %w (deadline %s)", l.Month, ErrLate, l.Deadline.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "month %s of job %s is published by run %s (deadline %s)\n", l.Month, spec.Name, l.RunID, l.Deadline.Format(time.RFC3339))
	return nil
}
