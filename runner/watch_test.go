//go:build cgo && !noduckdb

package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/lineage"
)

// runsOf counts the month's runs.
func runsOf(t *testing.T, env *Env, spec *jobs.Spec, month string) []lineage.Run {
	t.Helper()
	runs, err := env.Lineage.ListRuns(context.Background(), spec.Name, month)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// watchOnce is one pass of watch; what it says and each run's month and
// status (one line "ran 2020-03 COMPLETE") go to out.
func watchOnce(ctx context.Context, env *Env, spec *jobs.Spec, out io.Writer) error {
	return Watch(ctx, env, spec, WatchOptions{Once: true, Stdout: out, Log: env.Log, Done: doneTo(out)})
}

// doneTo writes "ran MONTH STATUS" for each run to out.
func doneTo(out io.Writer) func(*jobs.Spec, *Result) {
	return func(_ *jobs.Spec, res *Result) { fmt.Fprintf(out, "ran %s %s\n", res.Run.Month, res.Run.Status) }
}

// watch runs each complete month once: a waiting month is reported once,
// a published one is left alone, a failed one is not retried on the same
// inputs, and a month whose marker lands later runs on a later pass.
func TestWatch(t *testing.T) {
	spec := specWhen(t, jobs.CompleteWhen{Marker: "_SUCCESS"})
	env, _ := openTestEnv(t, spec, 600, 2, 0) // 2020-03
	ctx := context.Background()
	if _, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: 400, Parts: 2, Seed: 3, Month: "2020-04"}); err != nil {
		t.Fatal(err)
	}
	putObject(t, env.Storage, spec.IntakePrefix("2020-03")+"_SUCCESS", nil)
	// 2020-05 is complete and broken: its part is not gzip.
	putObject(t, env.Storage, spec.IntakePrefix("2020-05")+"part-0001.csv.gz", []byte("not gzip"))
	putObject(t, env.Storage, spec.IntakePrefix("2020-05")+"_SUCCESS", nil)
	// Not a month: ignored.
	putObject(t, env.Storage, "intake/consumer/README.txt", []byte("drop parts in YYYY-MM/"))

	var out bytes.Buffer
	err := watchOnce(ctx, env, spec, &out)
	if err == nil || !strings.Contains(err.Error(), "month 2020-05") || strings.Contains(err.Error(), "2020-03") {
		t.Fatalf("watch --once: %v; want it to fail naming 2020-05 only", err)
	}
	text := out.String()
	for _, want := range []string{
		"ran 2020-03 COMPLETE\n",
		"delivery for 2020-04 not complete: no _SUCCESS marker yet (2 parts so far); waiting\n",
		"ran 2020-05 FAIL\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("watch --once printed no %q:\n%s", want, text)
		}
	}
	if i, j := strings.Index(text, "ran 2020-03"), strings.Index(text, "ran 2020-05"); i > j {
		t.Errorf("months ran out of order:\n%s", text)
	}
	pub, err := env.Lineage.Published(ctx, spec.Name, "2020-03")
	if err != nil {
		t.Fatalf("2020-03 not published: %v", err)
	}

	// A second pass has nothing to do but the failed month, which a new
	// watch tries once more.
	out.Reset()
	if err := watchOnce(ctx, env, spec, &out); err == nil {
		t.Error("the second pass did not retry 2020-05")
	}
	if n := len(runsOf(t, env, spec, "2020-03")); n != 1 {
		t.Errorf("2020-03 has %d runs after two passes, want 1", n)
	}
	if err := env.Storage.Delete(ctx, spec.IntakePrefix("2020-05")+"_SUCCESS"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := watchOnce(ctx, env, spec, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "not complete") || !strings.HasSuffix(got, "nothing to run: 3 months in the intake, none ready\n") {
		t.Errorf("a pass with nothing to run printed:\n%s", got)
	}
	putObject(t, env.Storage, spec.IntakePrefix("2020-05")+"_SUCCESS", nil)

	// Watching: 2020-04's marker lands; 2020-05 fails once more and then
	// is left alone on the same inputs.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logs := &syncBuffer{}
	out.Reset()
	done := make(chan error, 1)
	go func() {
		done <- Watch(wctx, env, spec, WatchOptions{Interval: 20 * time.Millisecond, Stdout: &out, Done: doneTo(&out),
			Log: zerolog.New(logs).Level(zerolog.DebugLevel)})
	}()
	putObject(t, env.Storage, spec.IntakePrefix("2020-04")+"_SUCCESS", nil)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := env.Lineage.Published(ctx, spec.Name, "2020-04"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2020-04 not published by the watch; its log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	passes := strings.Count(logs.String(), "watch pass done")
	for strings.Count(logs.String(), "watch pass done") < passes+5 {
		if time.Now().After(deadline) {
			t.Fatalf("no more passes; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("stopping a watch between passes: %v, want nil", err)
	}
	if !strings.Contains(logs.String(), "watch stopped") {
		t.Error("the watch did not say it stopped")
	}
	if n := len(runsOf(t, env, spec, "2020-05")); n != 3 {
		t.Errorf("2020-05 has %d runs, want 3: one per watch, none more on the same inputs", n)
	}
	if n := strings.Count(out.String(), "month 2020-05: its run on these inputs failed; not retried"); n != 1 {
		t.Errorf("the failed month was reported %d times, want once:\n%s", n, out.String())
	}
	if p, _ := env.Lineage.Published(ctx, spec.Name, "2020-03"); p != pub || len(runsOf(t, env, spec, "2020-03")) != 1 {
		t.Errorf("2020-03 ran again: published %s, was %s", p, pub)
	}
}

// A month rolled back from its inputs is not published again by watch.
func TestWatchKeepsRollback(t *testing.T) {
	spec := specWhen(t, jobs.CompleteWhen{Parts: 2})
	env, _ := openTestEnv(t, spec, 600, 2, 0)
	ctx := context.Background()
	var out bytes.Buffer
	if err := watchOnce(ctx, env, spec, &out); err != nil {
		t.Fatal(err)
	}
	first, err := env.Lineage.Published(ctx, spec.Name, testMonth)
	if err != nil {
		t.Fatal(err)
	}
	// A new delivery replaces both parts; watch publishes it.
	if _, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: 500, Parts: 2, Seed: 9, Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	if err := watchOnce(ctx, env, spec, &out); err != nil {
		t.Fatal(err)
	}
	second, _ := env.Lineage.Published(ctx, spec.Name, testMonth)
	if second == first {
		t.Fatal("the new delivery was not published")
	}
	if _, _, err := Rollback(ctx, env, spec, testMonth, first); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := watchOnce(ctx, env, spec, &out); err != nil {
		t.Fatal(err)
	}
	if p, _ := env.Lineage.Published(ctx, spec.Name, testMonth); p != first || !strings.Contains(out.String(), "nothing to run") {
		t.Errorf("after a rollback to %s, watch published %s:\n%s", first, p, out.String())
	}
}

// Ctrl-C while watch runs a month interrupts that run: watch returns its
// error (the CLI says "interrupted" and exits 130) and nothing is
// published.
func TestWatchInterruptedRun(t *testing.T) {
	spec := specWhen(t, jobs.CompleteWhen{Parts: 2})
	env, _ := openTestEnv(t, spec, 60000, 2, 0)
	logs := &syncBuffer{}
	env.Log = zerolog.New(logs).Level(zerolog.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, env, spec, WatchOptions{Interval: time.Hour, Stdout: io.Discard, Log: env.Log})
	}()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(logs.String(), "run started") {
		if time.Now().After(deadline) {
			t.Fatalf("no run started:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "month 2020-03") {
		t.Errorf("watch interrupted during a run returned %v, want the run's cancellation", err)
	}
	if p, err := env.Lineage.Published(context.Background(), spec.Name, testMonth); err == nil {
		t.Errorf("the interrupted run published %s", p)
	}
}
