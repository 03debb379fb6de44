//go:build cgo && !noduckdb

package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// Tests of the commit protocol's named cases, each on the local lake and
// on S3 + DynamoDB + Glue/Athena (lakes).

// lakes runs fn on a fresh local lake and a fresh AWS test lake.
func lakes(t *testing.T, fn func(t *testing.T, open lakeOpener, spec *jobs.Spec)) {
	t.Run("local", func(t *testing.T) {
		open, spec := localCrashLake(t)
		fn(t, open, spec)
	})
	t.Run("aws", func(t *testing.T) {
		srv, bucket := awsServers(t)
		open, spec := awsCrashLake(t, srv, bucket)
		fn(t, open, spec)
	})
}

// partitionRuns is the run each table's month partition points at.
func partitionRuns(t *testing.T, env *Env, spec *jobs.Spec) []string {
	t.Helper()
	var ids []string
	for _, tb := range tables(spec) {
		p, err := env.Catalog.GetPartition(context.Background(), spec.Database, tb.name, []string{crashMonth})
		if err != nil {
			t.Fatalf("%s: %v", tb.name, err)
		}
		ids = append(ids, p.Parameters[RunParam])
	}
	return ids
}

func allAre(ids []string, id string) bool {
	for _, v := range ids {
		if v != id {
			return false
		}
	}
	return len(ids) > 0
}

// pausedRun starts a run of the crash month in env that stops (as under
// SIGSTOP, lease renewals included) when it writes its publish plan, just
// before its commit. It returns the faults (to resume) and the result.
func pausedRun(t *testing.T, env *Env, spec *jobs.Spec, lease time.Duration) (*faults, chan crashOutcome) {
	t.Helper()
	f := &faults{}
	f.pauseAt("publish.json")
	f.wrap(env)
	done := make(chan crashOutcome, 1)
	go func() {
		res, err := Run(context.Background(), env, spec, Options{Month: crashMonth, Lease: lease})
		out := crashOutcome{err: err}
		if res != nil {
			out.target = res.Run.ID
		}
		done <- out
	}()
	select {
	case <-f.paused:
	case out := <-done:
		t.Fatalf("the run ended before it paused: %+v", out)
	case <-time.After(time.Minute):
		t.Fatal("the run never reached its publish plan")
	}
	return f, done
}

// Finding 2: a run paused past its lease, then resumed, after another run
// took the month over and published: the paused run is fenced off — it
// changes nothing readers see, fails saying why, and removes its files.
func TestStaleLeaseCannotPublish(t *testing.T) {
	lakes(t, func(t *testing.T, open lakeOpener, spec *jobs.Spec) {
		ctx := context.Background()
		env, _ := open(t, 0)
		putCrashMonth(t, env.Storage, spec, 1)
		if _, err := Run(ctx, env, spec, Options{Month: crashMonth}); err != nil {
			t.Fatal(err)
		}
		putCrashMonth(t, env.Storage, spec, 2)
		stale, staleLogs := open(t, 0)
		f, done := pausedRun(t, stale, spec, 300*time.Millisecond)
		time.Sleep(500 * time.Millisecond) // its lease runs out; it cannot renew

		// Another run takes the month over and is itself paused before its
		// commit: the published run is still the one the stale run expects,
		// so only the fencing token can stop the stale run.
		fresh, _ := open(t, 0)
		g, freshDone := pausedRun(t, fresh, spec, time.Minute)
		close(f.resume)
		out := <-done
		if !errors.Is(out.err, errFenced) {
			t.Fatalf("the resumed stale run: %v, want it fenced off", out.err)
		}
		close(g.resume)
		fo := <-freshDone
		if fo.err != nil {
			t.Fatalf("the run that took the month over: %v", fo.err)
		}
		res := struct{ Run lineage.Run }{Run: lineage.Run{ID: fo.target}}
		if !strings.Contains(staleLogs.last(), "nothing was published") {
			t.Errorf("the stale run's last log line: %s", staleLogs.last())
		}
		if ids := partitionRuns(t, fresh, spec); !allAre(ids, res.Run.ID) {
			t.Errorf("partitions point at %v, want every one at %s", ids, res.Run.ID)
		}
		if pub, _ := fresh.Lineage.Published(ctx, spec.Name, crashMonth); pub != res.Run.ID {
			t.Errorf("published run %s, want %s", pub, res.Run.ID)
		}
		r, err := fresh.Lineage.GetRun(ctx, spec.Name, out.target)
		if err != nil || r.Status != lineage.StatusFailed {
			t.Errorf("the stale run's record: %+v, %v", r, err)
		}
		for _, tb := range tables(spec) {
			if n := countUnder(t, fresh.Storage, tb.prefix(crashMonth, out.target)); n != 0 {
				t.Errorf("the stale run left %d objects in %s", n, tb.name)
			}
		}
		checkLake(t, fresh, spec, "after the stale run", true)
	})
}

// Finding 1: rollback while a run of the month is in flight is refused,
// saying who holds the month; the run then publishes normally.
func TestRollbackRefusedWhileRunHoldsMonth(t *testing.T) {
	lakes(t, func(t *testing.T, open lakeOpener, spec *jobs.Spec) {
		ctx := context.Background()
		env, _ := open(t, 0)
		publishDeliveries(t, env, spec, 2)
		putCrashMonth(t, env.Storage, spec, 3)
		runEnv, _ := open(t, 0)
		f, done := pausedRun(t, runEnv, spec, time.Minute)
		before := partitionRuns(t, env, spec)
		_, _, err := Rollback(ctx, env, spec, crashMonth, "")
		var held *HeldError
		// Text: the refusal tells the user the month was not rolled back.
		if !errors.As(err, &held) || held.Liveness != HolderAlive || !strings.Contains(err.Error(), "not rolled back") {
			t.Fatalf("rollback during a run: %v, want a refusal naming the live holder", err)
		}
		if after := partitionRuns(t, env, spec); strings.Join(after, ",") != strings.Join(before, ",") {
			t.Errorf("the refused rollback moved partitions from %v to %v", before, after)
		}
		close(f.resume)
		out := <-done
		if out.err != nil {
			t.Fatalf("the run after the refused rollback: %v", out.err)
		}
		if ids := partitionRuns(t, env, spec); !allAre(ids, out.target) {
			t.Errorf("partitions point at %v, want %s", ids, out.target)
		}
		checkLake(t, env, spec, "after the run", true)
	})
}

// Finding 1, the other order: a run that lost its lease while paused finds
// the month rolled back when it resumes; it is fenced off and readers keep
// the rollback's run.
func TestRollbackFencesStaleRun(t *testing.T) {
	lakes(t, func(t *testing.T, open lakeOpener, spec *jobs.Spec) {
		ctx := context.Background()
		env, _ := open(t, 0)
		first := publishDeliveries(t, env, spec, 2)[0]
		putCrashMonth(t, env.Storage, spec, 3)
		runEnv, _ := open(t, 0)
		f, done := pausedRun(t, runEnv, spec, 300*time.Millisecond)
		time.Sleep(500 * time.Millisecond)
		if _, to, err := Rollback(ctx, env, spec, crashMonth, ""); err != nil || to != first {
			t.Fatalf("rollback after the run's lease expired: to %s, %v; want %s", to, err, first)
		}
		close(f.resume)
		if out := <-done; !errors.Is(out.err, errFenced) {
			t.Fatalf("the resumed run: %v, want it fenced off", out.err)
		}
		if ids := partitionRuns(t, env, spec); !allAre(ids, first) {
			t.Errorf("partitions point at %v, want the rollback's %s", ids, first)
		}
		checkLake(t, env, spec, "after the fenced run", true)
	})
}

// Finding 4: the lake's disk fills while lineage edges are written, after
// the commit. The run has published: it says so, exits 0 and records
// COMPLETE; the next command adds the edges and switches the partitions,
// and a rerun on the same inputs truthfully has nothing to do.
func TestFailureAfterCommitIsRepaired(t *testing.T) {
	lakes(t, func(t *testing.T, open lakeOpener, spec *jobs.Spec) {
		ctx := context.Background()
		env, logs := open(t, 0)
		putCrashMonth(t, env.Storage, spec, 1)
		f := &faults{}
		f.wrap(env)
		f.failOn = "lineage add edges"
		res, err := Run(ctx, env, spec, Options{Month: crashMonth})
		if err != nil {
			t.Fatalf("a run whose edges failed after the commit: %v, want success", err)
		}
		if f.hit == "" {
			t.Fatal("no edge write was failed")
		}
		if !strings.Contains(logs.last(), "published by run "+res.Run.ID) || !strings.Contains(logs.last(), "follow-up") {
			t.Errorf("last log line: %s", logs.last())
		}
		next, _ := open(t, 0)
		if r, _ := next.Lineage.GetRun(ctx, spec.Name, res.Run.ID); r.Status != lineage.StatusComplete {
			t.Errorf("the committed run is recorded as %s", r.Status)
		}
		if _, err := next.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{crashMonth}); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("partitions switched before the edges were recorded: %v", err)
		}
		rerun, err := Run(ctx, next, spec, Options{Month: crashMonth})
		if err != nil || !rerun.Skipped || rerun.Run.ID != res.Run.ID {
			t.Fatalf("rerun on the same inputs: %+v, %v; want nothing to do", rerun, err)
		}
		if ids := partitionRuns(t, next, spec); !allAre(ids, res.Run.ID) {
			t.Errorf("after the rerun partitions point at %v", ids)
		}
		up, err := next.Lineage.Upstream(ctx, PartitionURI(spec.Database, spec.Output.Table, crashMonth))
		if err != nil || len(up) == 0 {
			t.Errorf("edges of the published partition after repair: %d, %v", len(up), err)
		}
		checkLake(t, next, spec, "after the rerun", true)
	})
}

// Finding 10: the disk is full at the first catalog write. The run did not
// commit: it fails saying nothing was published and removes what it wrote;
// the fixed rerun publishes.
func TestCatalogFullBeforeCommitCleansUp(t *testing.T) {
	open, spec := localCrashLake(t)
	ctx := context.Background()
	env, logs := open(t, 0)
	putCrashMonth(t, env.Storage, spec, 1)
	f := &faults{}
	f.failOn = "catalog "
	f.wrap(env)
	res, err := Run(ctx, env, spec, Options{Month: crashMonth})
	if err == nil || !errors.Is(err, errInjected) {
		t.Fatalf("run with the catalog's disk full: %v", err)
	}
	if !strings.Contains(logs.last(), "nothing was published") {
		t.Errorf("last log line: %s", logs.last())
	}
	for _, tb := range tables(spec) {
		if n := countUnder(t, env.Storage, tb.prefix(crashMonth, res.Run.ID)); n != 0 {
			t.Errorf("the failed run left %d objects in %s", n, tb.name)
		}
	}
	next, _ := open(t, 0)
	if _, err := Run(ctx, next, spec, Options{Month: crashMonth}); err != nil {
		t.Fatalf("rerun once the disk has room: %v", err)
	}
	checkLake(t, next, spec, "after the rerun", true)
}

// Finding 10's message: when a failed run cannot remove what it wrote, the
// log says to run gc.
func TestCleanupFailureSaysGC(t *testing.T) {
	open, spec := localCrashLake(t)
	env, logs := open(t, 0)
	putCrashMonth(t, env.Storage, spec, 1)
	f := &faults{}
	f.failOn = "lineage commit"
	f.failAlso = "storage delete"
	f.wrap(env)
	if _, err := Run(context.Background(), env, spec, Options{Month: crashMonth}); err == nil {
		t.Fatal("run with a failed commit succeeded")
	}
	if !strings.Contains(logs.buf.String(), "run `tierflow gc` to remove it later") {
		t.Errorf("no log line says to run gc:\n%s", logs.buf.String())
	}
}

// Finding 7: gc with its default keep never deletes the run rollback would
// pick, and rollback still works after it.
func TestGCKeepsRollbackTarget(t *testing.T) {
	open, spec := localCrashLake(t)
	ctx := context.Background()
	env, _ := open(t, 0)
	ids := publishDeliveries(t, env, spec, 3)
	rep, err := GC(ctx, env, spec, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Prefixes) != 2 || !strings.Contains(rep.Prefixes[0]+rep.Prefixes[1], ids[0]) {
		t.Errorf("gc removed %v, want only the oldest run's two prefixes", rep.Prefixes)
	}
	if _, to, err := Rollback(ctx, env, spec, crashMonth, ""); err != nil || to != ids[1] {
		t.Fatalf("rollback after gc: to %s, %v; want %s", to, err, ids[1])
	}
	checkLake(t, env, spec, "after rollback", true)
}

// Finding 8: a crashed local run's claim is taken over at once, with a log
// line; unlock refuses a live holder and releases a dead one.
func TestDeadHolderTakenOverAndUnlock(t *testing.T) {
	open, spec := localCrashLake(t)
	ctx := context.Background()
	env, _ := open(t, 0)
	putCrashMonth(t, env.Storage, spec, 1)
	dead, _ := open(t, deadPID(t))
	f := &faults{at: 8, mode: killBefore}
	f.wrap(dead)
	if _, err := Run(ctx, dead, spec, Options{Month: crashMonth}); err == nil {
		t.Fatal("the killed run succeeded")
	}
	next, logs := open(t, 0)
	start := time.Now()
	res, err := Run(ctx, next, spec, Options{Month: crashMonth})
	if err != nil {
		t.Fatalf("run after a crashed holder: %v", err)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Errorf("the run waited %v for the dead holder's lease", waited)
	}
	if !strings.Contains(logs.buf.String(), "took over the month from a holder that died") {
		t.Errorf("no log line says the month was taken over:\n%s", logs.buf.String())
	}
	checkLake(t, next, spec, "after the run", true)

	// Unlock: a live holder is refused, a dead one released.
	live := next.holderClaim("live#x")
	if _, err := next.Lineage.Claim(ctx, spec.Name, "2020-04", live, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Text: Unlock's refusal is a message (no error type carries it).
	if _, err := Unlock(ctx, next, spec.Name, "2020-04", time.Minute); err == nil || !strings.Contains(err.Error(), "refusing to unlock a live holder") {
		t.Fatalf("unlock of a live holder: %v", err)
	}
	gone, _ := open(t, deadPID(t))
	if _, err := gone.Lineage.Claim(ctx, spec.Name, "2020-05", gone.holderClaim("gone#x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if h, err := Unlock(ctx, next, spec.Name, "2020-05", time.Minute); err != nil || h.Owner != "gone#x" {
		t.Fatalf("unlock of a dead holder: %+v, %v", h, err)
	}
	if m, _ := next.Lineage.Month(ctx, spec.Name, "2020-05"); m.Claim.Owner != "" {
		t.Errorf("the month is still held after unlock: %+v", m.Claim)
	}
	_ = res
}

// Finding 9: gc removes a killed run's files, temporary files, empty
// derived-table directories and metadata at once, and never touches a run
// in flight, whatever --temp-age says.
func TestGCCleansDeadRunsNotInFlight(t *testing.T) {
	open, spec := localCrashLake(t)
	ctx := context.Background()
	env, _ := open(t, 0)
	putCrashMonth(t, env.Storage, spec, 1)
	if _, err := Run(ctx, env, spec, Options{Month: crashMonth}); err != nil {
		t.Fatal(err)
	}
	// A killed run: files of its own, a temporary file and an empty
	// tier-3 directory (the engine died before its first file).
	putCrashMonth(t, env.Storage, spec, 2)
	dead, _ := open(t, deadPID(t))
	f := &faults{at: 10, mode: killBefore}
	f.wrap(dead)
	res, _ := Run(ctx, dead, spec, Options{Month: crashMonth})
	killed := res.Run.ID
	root := env.Storage.URI()[len("file://"):]
	l := jobs.Layout{Spec: spec}
	tmp := filepath.Join(root, l.Tier2Prefix(crashMonth, killed), ".tierflow-tmp-dead")
	if err := os.WriteFile(tmp, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyDir := filepath.Join(root, l.Tier3Prefix("crash_ca", crashMonth, killed))
	if err := os.MkdirAll(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A run in flight on another month, with a young temporary file.
	if err := putInFlight(ctx, env, spec, "2020-04", "inflight-1", root); err != nil {
		t.Fatal(err)
	}
	rep, err := GC(ctx, env, spec, GCOptions{TempAge: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tmp, emptyDir, filepath.Join(root, l.RunMetaPrefix(killed)), filepath.Join(root, ExecPrefix(spec.Name, killed))} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("gc left %s of the killed run (%v)", p, err)
		}
	}
	if r, _ := env.Lineage.GetRun(ctx, spec.Name, killed); r.Status != lineage.StatusFailed {
		t.Errorf("the killed run is recorded as %s after gc", r.Status)
	}
	flying := filepath.Join(root, l.Tier2Prefix("2020-04", "inflight-1"), ".tierflow-tmp-young")
	if _, err := os.Stat(flying); err != nil {
		t.Errorf("gc removed the in-flight run's temporary file: %v", err)
	}
	if len(rep.InFlight) != 1 || rep.InFlight[0] != "inflight-1" {
		t.Errorf("gc's in-flight runs: %v", rep.InFlight)
	}
	checkLake(t, env, spec, "after gc", true)
}

// putInFlight records a running run of month holding its claim (this
// process), with a temporary file under its tier-2 prefix.
func putInFlight(ctx context.Context, env *Env, spec *jobs.Spec, month, id, root string) error {
	if _, err := env.Lineage.Claim(ctx, spec.Name, month, env.holderClaim(id+"#x"), time.Hour); err != nil {
		return err
	}
	if err := env.Lineage.StartRun(ctx, lineage.Run{ID: id, Job: spec.Name, Month: month, Status: lineage.StatusRunning, Started: time.Now()}); err != nil {
		return err
	}
	dir := filepath.Join(root, jobs.Layout{Spec: spec}.Tier2Prefix(month, id))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ".tierflow-tmp-young"), []byte("x"), 0o644); err != nil {
		return err
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, ".tierflow-tmp-young"), old, old); err != nil {
		return err
	}
	return storage.Put(ctx, env.Storage, jobs.Layout{Spec: spec}.Tier2Prefix(month, id)+"000000_0_part-0001.snappy.parquet", strings.NewReader("x"), storage.PutOptions{})
}

// On AWS a month held by an execution that has stopped is taken over at
// once; one still RUNNING, or one that cannot be checked, refuses.
func TestStoppedExecutionTakenOver(t *testing.T) {
	o := deployed(t, map[string][]awsfake.ExecStep{
		"holder-running": {{State: "Plan"}},
		"holder-stopped": {{Status: "FAILED", Error: "States.TaskFailed", Cause: "the task was killed"}},
	})
	ctx := context.Background()
	states := sfn.NewFromConfig(o.Cfg)
	arn := map[string]string{}
	for _, name := range []string{"holder-running", "holder-stopped"} {
		out, err := states.StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: aws.String(o.StateMachineARN()), Name: aws.String(name), Input: aws.String("{}")})
		if err != nil {
			t.Fatal(err)
		}
		arn[name] = *out.ExecutionArn
	}
	alive := executionLiveness(states, zerolog.Nop())
	if l := alive(ctx, arn["holder-running"]); l != HolderAlive {
		t.Errorf("a RUNNING execution reads as %v", l)
	}
	if l := alive(ctx, arn["holder-stopped"]); l != HolderDead {
		t.Errorf("a FAILED execution reads as %v", l)
	}
	if l := alive(ctx, arn["holder-stopped"]+"-nope"); l != HolderUnknown {
		t.Errorf("an execution that cannot be described reads as %v", l)
	}

	open, spec := localCrashLake(t)
	env, logs := open(t, 0)
	env.ExecutionAlive = alive
	for i, c := range []struct {
		execution string
		taken     bool
	}{{arn["holder-running"], false}, {arn["holder-stopped"], true}, {strings.Replace(o.StateMachineARN(), ":stateMachine:tierflow-consumer-header", ":execution:gone", 1), false}} {
		month := fmt.Sprintf("2021-%02d", i+1)
		holder := lineage.Claim{Owner: "elsewhere#x", Host: "another-host", PID: 1, Execution: c.execution}
		if _, err := env.Lineage.Claim(ctx, spec.Name, month, holder, time.Hour); err != nil {
			t.Fatal(err)
		}
		_, err := claimMonth(ctx, env, spec.Name, month, "next#y", "run next", time.Hour, env.Log)
		if c.taken != (err == nil) {
			t.Errorf("%s: claim over a holder in execution %s: %v", month, c.execution, err)
		}
	}
	if !strings.Contains(logs.buf.String(), "took over the month") {
		t.Errorf("no log line says the month was taken over:\n%s", logs.buf.String())
	}
}

// query reads what the catalog publishes, by catalog names, never the
// files of a run that did not publish (issue 14, finding 5: a glob over
// tier 2 counted them too).
func TestQueryPublishedOnly(t *testing.T) {
	open, spec := localCrashLake(t)
	ctx := context.Background()
	env, _ := open(t, 0)
	putCrashMonth(t, env.Storage, spec, 1)
	if _, err := Run(ctx, env, spec, Options{Month: crashMonth}); err != nil {
		t.Fatal(err)
	}
	putCrashMonth(t, env.Storage, spec, 2)
	dead, _ := open(t, deadPID(t))
	f := &faults{failOn: "publish.json", mode: killBefore}
	f.wrap(dead)
	res, err := Run(ctx, dead, spec, Options{Month: crashMonth})
	if err == nil || countUnder(t, env.Storage, jobs.Layout{Spec: spec}.Tier2Prefix(crashMonth, res.Run.ID)) == 0 {
		t.Fatalf("the killed run left no tier-2 files to be fooled by (%v)", err)
	}
	lake := env.Storage.URI()
	// The answers the CLI prints (main's TestPrintRows: table, CSV, JSON).
	ans, err := Query(ctx, "testdata/crash/job.yaml", lake, "SELECT count(*) AS n, count(DISTINCT name) AS names FROM crash", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ans.Columns, ans.Rows); got != "[n names] [[60 60]]" {
		t.Errorf("count over the published month: %s, want 60 rows", got)
	}
	if ans, err = Query(ctx, "testdata/crash/job.yaml", lake, "SELECT count(*) AS n FROM crash_ca", zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ans.Columns, ans.Rows); got != "[n] [[20]]" {
		t.Errorf("the derived table: %s", got)
	}
	if ans, err = Query(ctx, "testdata/crash/job.yaml", lake, "SELECT state, count(*) AS n FROM crash GROUP BY 1 ORDER BY 1", zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if len(ans.Rows) != 5 {
		t.Errorf("%d states, want 5: %v", len(ans.Rows), ans.Rows)
	}
	if _, err := Query(ctx, "testdata/crash/job.yaml", lake, "  ", zerolog.Nop()); !IsInvalidInput(err) {
		t.Errorf("no SQL: %v", err)
	}
}

// A derived table whose SQL cannot run is reported, spec:line, before any
// part is converted; so is one that only DuckDB would run (issue 14,
// finding 8).
func TestValidateDerivedBeforeConverting(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"job.yaml", "header.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", "crash", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "job.yaml" {
			b = []byte(strings.Replace(string(b), "sql: SELECT id, name, state FROM crash WHERE state = 'CA'",
				"sql: SELECT id, nmae, state FROM crash WHERE state = 'CA'\n  - table: crash_cast\n    pii: true\n    sql: SELECT id::varchar AS id FROM crash", 1))
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := jobs.Load(filepath.Join(dir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bound, err := ValidateDerived(context.Background(), spec)
	var probs jobs.Errors
	if !bound || !errors.As(err, &probs) || !IsInvalidInput(err) {
		t.Fatalf("validate: bound %v, %v", bound, err)
	}
	// Text: the problems a user reads, with file, line and table.
	text := err.Error()
	for _, want := range []string{filepath.Join(dir, "job.yaml") + ":22: derived table crash_ca:", `"nmae"`, "job.yaml:25: derived table crash_cast: uses the :: cast"} {
		if !strings.Contains(text, want) {
			t.Errorf("validate says:\n%s\nwant %q", text, want)
		}
	}
	// run checks the same before converting anything.
	env, err := OpenEnv(context.Background(), spec, "file://"+t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	putCrashMonth(t, env.Storage, spec, 1)
	if _, err := Run(context.Background(), env, spec, Options{Month: crashMonth}); !errors.As(err, &probs) {
		t.Fatalf("run with a broken derived table: %v", err)
	}
	if n := countUnder(t, env.Storage, "tier1/"); n != 0 {
		t.Errorf("the run copied %d objects to tier 1 before its derived SQL was checked", n)
	}
	good := crashSpec(t)
	if _, err := ValidateDerived(context.Background(), good); err != nil {
		t.Errorf("the crash job: %v", err)
	}
}

// A part that fails names the intake object the user dropped first, then
// the tier-1 copy the converter read (issue 14, finding 9).
func TestPartErrorNamesIntakeFirst(t *testing.T) {
	open, spec := localCrashLake(t)
	env, _ := open(t, 0)
	putCrashMonth(t, env.Storage, spec, 1)
	key := spec.IntakePrefix(crashMonth) + "part-0003.csv.gz"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("ID,Name\n1,x\n"))
	zw.Close()
	if err := storage.Put(context.Background(), env.Storage, key, &gz, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), env, spec, Options{Month: crashMonth})
	if err == nil {
		t.Fatal("a part with a wrong header was converted")
	}
	// Text: the order in which the message names the objects is the point.
	msg := err.Error()
	intake, tier1 := strings.Index(msg, env.Storage.ObjectURI(key)), strings.Index(msg, "/tier1/crash/")
	if intake < 0 || tier1 < 0 || intake > tier1 {
		t.Errorf("the error names the intake object at %d and the tier-1 copy at %d: %s", intake, tier1, msg)
	}
}

// checkSchema validates out against definition def of the CLI's JSON
// Schema with ajv (npm): every --output json is what the schema promises.
func checkSchema(t *testing.T, def string, out []byte) error {
	t.Helper()
	return checkSchemaIn(t, "cli.schema.json", def, out)
}

// checkSchemaIn validates out against definition def of docs/schemas/file.
func checkSchemaIn(t *testing.T, file, def string, out []byte) error {
	t.Helper()
	mods := os.Getenv("TIERFLOW_TEST_NODE_MODULES")
	if mods == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TIERFLOW_TEST_NODE_MODULES is unset: .ci/tools.sh installs ajv")
		}
		t.Skip("TIERFLOW_TEST_NODE_MODULES is unset (source .ci/tools.sh): no JSON Schema validator")
	}
	cmd := exec.Command("node", filepath.Join("testdata", "jsonschema.cjs"), filepath.Join("..", "docs", "schemas", file), def)
	cmd.Stdin = bytes.NewReader(out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", def, err, stderr.String())
	}
	return nil
}

// viewJSON is v as the CLI's --output json prints it.
func viewJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// runs, status, lineage and validate print JSON their schema accepts, with
// the figures of the text output (issue 14, finding 4).
func TestJSONOutputsMatchSchema(t *testing.T) {
	open, spec := localCrashLake(t)
	ctx := context.Background()
	env, _ := open(t, 0)
	id := publishDeliveries(t, env, spec, 1)[0]
	lake, job := env.Storage.URI(), filepath.Join("testdata", "crash", "job.yaml")
	var out bytes.Buffer
	rv, err := Runs(ctx, job, lake, "", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	out.Write(viewJSON(t, rv))
	if err := checkSchema(t, "runs", out.Bytes()); err != nil {
		t.Error(err)
	}
	var runs RunsView
	if err := json.Unmarshal(out.Bytes(), &runs); err != nil || len(runs.Runs) != 1 || runs.Runs[0].RunID != id ||
		!runs.Runs[0].Published || runs.Runs[0].RowsOut != 60 || runs.Runs[0].Status != lineage.StatusComplete {
		t.Errorf("runs --output json: %+v (%v)", runs, err)
	}
	// The schema is no rubber stamp: a wrong status fails it.
	if err := checkSchema(t, "runs", bytes.Replace(out.Bytes(), []byte(`"COMPLETE"`), []byte(`"DONE"`), 1)); err == nil {
		t.Error("the schema accepted status DONE")
	}
	out.Reset()
	st, err := Status(ctx, StatusOptions{Job: job, Lake: lake, Run: id, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(viewJSON(t, st.View()))
	if err := checkSchema(t, "status", out.Bytes()); err != nil {
		t.Error(err)
	}
	out.Reset()
	g, err := Lineage(ctx, job, lake, "crash_ca", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	out.Write(viewJSON(t, g.View()))
	if err := checkSchema(t, "lineage", out.Bytes()); err != nil {
		t.Error(err)
	}
	var lin LineageView
	if err := json.Unmarshal(out.Bytes(), &lin); err != nil || len(lin.Upstream) == 0 {
		t.Errorf("lineage --output json: %+v (%v)", lin, err)
	}
	out.Reset()
	vv, _, err := Validate(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(viewJSON(t, vv))
	if err := checkSchema(t, "validate", out.Bytes()); err != nil {
		t.Error(err)
	}
	out.Reset()
	vv, _, err = Validate(ctx, "testdata/no-such-job.yaml")
	if !IsInvalidInput(err) {
		t.Errorf("validate of a missing spec: %v", err)
	}
	out.Write(viewJSON(t, vv))
	if err := checkSchema(t, "validate", out.Bytes()); err != nil || !strings.Contains(out.String(), `"valid": false`) {
		t.Errorf("validate --output json of a missing spec: %v\n%s", err, out.String())
	}
}
