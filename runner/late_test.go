package runner

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tierflow/tierflow/runner/emf"
)

// The late check asks about the month of the last schedule firing whose
// deadline has passed: before the deadline it checks the month before,
// after it the new one, late until it is published.
func TestCheckLate(t *testing.T) {
	open, spec := localCrashLake(t)
	env, _ := open(t, 0)
	spec.Schedule, spec.Monitor.LateAfter = "cron(0 6 2 * ? *)", 30*time.Hour
	ctx := context.Background()
	day := func(s string) time.Time {
		v, _ := time.Parse("2006-01-02 15:04", s)
		return v
	}
	// crashMonth is 2020-03: the schedule fires for it on 2020-04-02 06:00,
	// its deadline is 2020-04-03 12:00.
	for _, c := range []struct {
		now, month string
		late       bool
	}{
		{"2020-04-03 11:59", "2020-02", true}, // the deadline of March has not passed: February's is checked
		{"2020-04-03 12:00", "2020-03", true},
		{"2020-04-20 00:00", "2020-03", true},
	} {
		l, err := CheckLate(ctx, env, spec, day(c.now))
		if err != nil || l.Month != c.month || l.Late != c.late {
			t.Errorf("at %s: %+v %v, want month %s late %v", c.now, l, err, c.month, c.late)
		}
	}
	id := publishDeliveries(t, env, spec, 1)[0]
	l, err := CheckLate(ctx, env, spec, day("2020-04-20 00:00"))
	if err != nil || l.Late || l.RunID != id || !l.Deadline.Equal(day("2020-04-03 12:00")) {
		t.Errorf("after publishing: %+v %v", l, err)
	}

	// The command prints an EMF line with MonthLate, and fails when late.
	var out bytes.Buffer
	spec.Monitor.LateAfter = 0
	if _, err := CheckLate(ctx, env, spec, time.Now()); err == nil {
		t.Error("a job without late_after was checked")
	}
	job := notifyJob(t, "schedule: \"cron(0 6 2 * ? *)\"\nmonitor: {late_after: 1h}\n")
	// Today, the month before last is unpublished in this lake.
	err = LateCommand(ctx, job, env.Storage.URI(), zerolog.Nop(), &out)
	if !errors.Is(err, ErrLate) {
		t.Errorf("late command: %v, want ErrLate", err)
	}
	docs := emfLines(t, out.Bytes())
	if v, n := metricOf(docs, "late", emf.MonthLate); v != 1 || n != 1 {
		t.Errorf("MonthLate = %v in %d lines\n%s", v, n, out.String())
	}
}
