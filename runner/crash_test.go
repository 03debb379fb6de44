//go:build cgo && !noduckdb

package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/parquet-go/parquet-go"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// The crash-point suite: every write a command makes through the storage,
// catalog and lineage interfaces is failed, or the process killed, in turn
// (four modes: failed before or after it was made, killed before or after),
// and four invariants are checked right after the fault and again after
// the next command:
//
//  1. every table's partition of the month points at the run that lineage
//     names as published (after the next command);
//  2. no partition ever points at a run that is not COMPLETE (failed,
//     running or abandoned);
//  3. the published run's files exist (and, after the next command, its
//     record says COMPLETE);
//  4. a command that was not killed says what happened: it succeeded and
//     the month shows its outcome, or it failed and the month is as it was,
//     and its error or last log line says so.

const crashMonth = "2020-03"

func crashSpec(t testing.TB) *jobs.Spec {
	t.Helper()
	spec, err := jobs.Load(filepath.Join("testdata", "crash", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// putCrashMonth writes the month's two parts; version changes every name,
// so each version is a new delivery with its own run.
func putCrashMonth(t testing.TB, st storage.Storage, spec *jobs.Spec, version int) {
	t.Helper()
	states := []string{"CA", "TX", "NY", "WA", "CA", "OR"}
	for part := 1; part <= 2; part++ {
		var csv bytes.Buffer
		csv.WriteString("ID,State,Name\n")
		for i := range 30 {
			id := part*1000 + i
			fmt.Fprintf(&csv, "%d,%s,n%d-%d\n", id, states[id%len(states)], version, id)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(csv.Bytes())
		zw.Close()
		key := fmt.Sprintf("%spart-%04d.csv.gz", spec.IntakePrefix(crashMonth), part)
		if err := storage.Put(context.Background(), st, key, &gz, storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// publishDeliveries publishes deliveries 1..n of the crash month in turn
// and returns their runs' ids.
func publishDeliveries(t *testing.T, env *Env, spec *jobs.Spec, n int) []string {
	t.Helper()
	var ids []string
	for v := 1; v <= n; v++ {
		putCrashMonth(t, env.Storage, spec, v)
		res, err := Run(context.Background(), env, spec, Options{Month: crashMonth})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Run.ID)
	}
	return ids
}

// deadPID is the process id of a process that has exited: claims made
// under it belong to a dead holder.
func deadPID(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// logBuffer keeps an env's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(l.buf.String()), "\n")
	return lines[len(lines)-1]
}

// crashOutcome is what a faulted command reported.
type crashOutcome struct {
	err    error
	target string // the run the command meant to publish ("" for gc)
	prev   string // the published run before it
}

// crashCase is one command under the crash-point suite.
type crashCase struct {
	name string
	// setup builds the lake the command starts from (no faults).
	setup func(t *testing.T, env *Env, spec *jobs.Spec)
	// cmd is the command; it reports what it meant to do.
	cmd func(ctx context.Context, env *Env, spec *jobs.Spec) crashOutcome
	// next is the next command, run without faults in a fresh process.
	next func(ctx context.Context, env *Env, spec *jobs.Spec) error
	// said checks a failed command's error or last log line (mode fail*).
	said func(out crashOutcome, last string) bool
	// after checks what must hold once the next command ran.
	after func(t *testing.T, env *Env, spec *jobs.Spec, label string)
}

func runCase() crashCase {
	return crashCase{
		name: "run",
		setup: func(t *testing.T, env *Env, spec *jobs.Spec) {
			putCrashMonth(t, env.Storage, spec, 1)
			if _, err := Run(context.Background(), env, spec, Options{Month: crashMonth}); err != nil {
				t.Fatal(err)
			}
			putCrashMonth(t, env.Storage, spec, 2)
		},
		cmd: func(ctx context.Context, env *Env, spec *jobs.Spec) crashOutcome {
			prev, _ := env.Lineage.Published(ctx, spec.Name, crashMonth)
			res, err := Run(ctx, env, spec, Options{Month: crashMonth})
			out := crashOutcome{err: err, prev: prev}
			if res != nil {
				out.target = res.Run.ID
			}
			return out
		},
		next: func(ctx context.Context, env *Env, spec *jobs.Spec) error {
			_, err := Run(ctx, env, spec, Options{Month: crashMonth})
			return err
		},
		// Text: said checks what the user reads, in the error or the log.
		said: func(out crashOutcome, last string) bool {
			return strings.Contains(out.err.Error(), "nothing was published") || strings.Contains(last, "nothing was published") ||
				strings.Contains(last, "whether its commit landed is unknown")
		},
		after: func(t *testing.T, env *Env, spec *jobs.Spec, label string) {
			// The rerun publishes the second delivery, whatever the fault did.
			m, _ := env.Lineage.Month(context.Background(), spec.Name, crashMonth)
			r, err := env.Lineage.GetRun(context.Background(), spec.Name, m.Published.RunID)
			if err != nil || !strings.Contains(string(mustRead(t, env, planKey(spec, r.ID))), `"run_id"`) || r.RowsOut != 60 {
				t.Errorf("%s: after the rerun the month shows %+v (%v)", label, r, err)
			}
		},
	}
}

// publishCase is the AWS publish task (`tierflow publish --execution E`):
// the setup publishes one delivery, then runs the plan, convert and stage
// tasks of an execution over a second one and its Athena CTAS, as the
// state machine does; the faulted command is the publish task.
func publishCase(srv *awsFakes) crashCase {
	const exec = "crash-2020-03-e1"
	c := runCase()
	c.name = "publish"
	c.setup = func(t *testing.T, env *Env, spec *jobs.Spec) {
		ctx := context.Background()
		putCrashMonth(t, env.Storage, spec, 1)
		if _, err := Run(ctx, env, spec, Options{Month: crashMonth}); err != nil {
			t.Fatal(err)
		}
		putCrashMonth(t, env.Storage, spec, 2)
		// The execution's tasks have each exited (on AWS: the execution
		// stopped when its publish task was killed): the next command may
		// take the month over.
		env.PID = deadPID(t)
		if _, err := PlanStep(ctx, env, spec, crashMonth, exec, false, time.Hour); err != nil {
			t.Fatal(err)
		}
		_, items := convertAndStage(ctx, t, env, spec, exec)
		client := awsathena.NewFromConfig(srv.Config())
		for _, it := range items {
			runAthena(t, client, it.Query, spec)
		}
	}
	c.cmd = func(ctx context.Context, env *Env, spec *jobs.Spec) crashOutcome {
		prev, _ := env.Lineage.Published(ctx, spec.Name, crashMonth)
		ex, err := LoadExec(ctx, env.Storage, spec.Name, exec)
		if err != nil {
			return crashOutcome{err: err, prev: prev}
		}
		err = step(ctx, env, spec, exec, func(j *job) error { _, err := j.finish(ctx, j.publishStep(ctx)); return err })
		return crashOutcome{err: err, target: ex.RunID, prev: prev}
	}
	return c
}

func rollbackCase() crashCase {
	return crashCase{
		name:  "rollback",
		setup: func(t *testing.T, env *Env, spec *jobs.Spec) { publishDeliveries(t, env, spec, 2) },
		cmd: func(ctx context.Context, env *Env, spec *jobs.Spec) crashOutcome {
			prev, _ := env.Lineage.Published(ctx, spec.Name, crashMonth)
			runs, _ := env.Lineage.ListRuns(ctx, spec.Name, crashMonth)
			_, target, err := Rollback(ctx, env, spec, crashMonth, "")
			if target == "" {
				target = rollbackTarget(runs, prev, "")
			}
			return crashOutcome{err: err, target: target, prev: prev}
		},
		next: func(ctx context.Context, env *Env, spec *jobs.Spec) error {
			_, err := RepairAll(ctx, env, spec)
			return err
		},
		// Text: the refusal tells the user the month was not rolled back.
		said: func(out crashOutcome, _ string) bool {
			return strings.Contains(out.err.Error(), "not rolled back")
		},
	}
}

// gcCase publishes versions deliveries of the month (the oldest beyond the
// rollback target are pruned) and leaves a killed run behind.
func gcCase(versions int) crashCase {
	return crashCase{
		name: "gc",
		setup: func(t *testing.T, env *Env, spec *jobs.Spec) {
			ctx := context.Background()
			publishDeliveries(t, env, spec, versions)
			// A run killed mid-way: running, its claim held by a dead process,
			// files and a temporary file under its prefix.
			putCrashMonth(t, env.Storage, spec, versions+1)
			f := &faults{at: 8, mode: killBefore} // a tier-2 file, before the commit
			dead := *env
			dead.PID = deadPID(t)
			f.wrap(&dead)
			if _, err := Run(ctx, &dead, spec, Options{Month: crashMonth}); err == nil {
				t.Fatal("the killed run succeeded")
			}
		},
		cmd: func(ctx context.Context, env *Env, spec *jobs.Spec) crashOutcome {
			prev, _ := env.Lineage.Published(ctx, spec.Name, crashMonth)
			_, err := GC(ctx, env, spec, GCOptions{Keep: 0, TempAge: 1})
			return crashOutcome{err: err, target: prev, prev: prev}
		},
		next: func(ctx context.Context, env *Env, spec *jobs.Spec) error {
			_, err := GC(ctx, env, spec, GCOptions{Keep: 0, TempAge: 1})
			return err
		},
		said: func(crashOutcome, string) bool { return true },
		after: func(t *testing.T, env *Env, spec *jobs.Spec, label string) {
			ctx := context.Background()
			m, _ := env.Lineage.Month(ctx, spec.Name, crashMonth)
			runs, _ := env.Lineage.ListRuns(ctx, spec.Name, crashMonth)
			keep := map[string]bool{m.Published.RunID: true, rollbackTarget(runs, m.Published.RunID, ""): true}
			for _, r := range runs {
				if r.Status == lineage.StatusRunning {
					t.Errorf("%s: run %s still recorded as running after gc", label, r.ID)
				}
				for _, tb := range tables(spec) {
					n := countUnder(t, env.Storage, tb.prefix(crashMonth, r.ID))
					if keep[r.ID] != (n > 0) {
						t.Errorf("%s: after gc run %s (%s, kept %v) has %d objects in %s", label, r.ID, r.Status, keep[r.ID], n, tb.name)
					}
				}
			}
		},
	}
}

func mustRead(t *testing.T, env *Env, key string) []byte {
	t.Helper()
	rc, err := env.Storage.Open(context.Background(), key)
	if err != nil {
		return nil
	}
	defer rc.Close()
	var b bytes.Buffer
	b.ReadFrom(rc)
	return b.Bytes()
}

// checkLake checks invariants 1–3; converged asks for 1 and the strict 3.
func checkLake(t *testing.T, env *Env, spec *jobs.Spec, label string, converged bool) string {
	t.Helper()
	ctx := context.Background()
	m, err := env.Lineage.Month(ctx, spec.Name, crashMonth)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	pub := m.Published.RunID
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, crashMonth)
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	byID := map[string]lineage.Run{}
	for _, r := range runs {
		byID[r.ID] = r
	}
	for _, tb := range tables(spec) {
		p, err := env.Catalog.GetPartition(ctx, spec.Database, tb.name, []string{crashMonth})
		if errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("%s: table %s has no partition of the month", label, tb.name)
			continue
		} else if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		id := p.Parameters[RunParam]
		if r := byID[id]; r.Status != lineage.StatusComplete {
			t.Errorf("%s: %s's partition points at run %q, which is %q", label, tb.name, id, r.Status)
		}
		if !strings.HasSuffix(p.StorageDescriptor.Location, tb.prefix(crashMonth, id)) {
			t.Errorf("%s: %s's partition names run %s but points at %s", label, tb.name, id, p.StorageDescriptor.Location)
		}
		if err := mustHaveObjects(ctx, env.Storage, tb.prefix(crashMonth, id)); err != nil {
			t.Errorf("%s: %s's partition points at run %s: %v", label, tb.name, id, err)
		}
		if converged && id != pub {
			t.Errorf("%s: %s's partition points at run %s, lineage publishes %s", label, tb.name, id, pub)
		}
	}
	if pub == "" {
		t.Errorf("%s: nothing published", label)
		return pub
	}
	for _, tb := range tables(spec) {
		if err := mustHaveObjects(ctx, env.Storage, tb.prefix(crashMonth, pub)); err != nil {
			t.Errorf("%s: the published run %s: %v", label, pub, err)
		}
	}
	if r := byID[pub]; converged && (r.Status != lineage.StatusComplete || !r.Published) {
		t.Errorf("%s: the published run %s is recorded as %s (published %v)", label, pub, r.Status, r.Published)
	}
	return pub
}

// crashStats counts what a suite did, for the closing figures.
type crashStats struct {
	points, faults, commits int
	writes                  map[string]bool
}

// lakeOpener opens one prepared lake, in a new "process": pid 0 is this
// process, a deadPID one that has died.
type lakeOpener func(t *testing.T, pid int) (*Env, *logBuffer)

// crashSuite runs case c at every write: prepare returns a fresh lake in
// the state c.setup builds.
func crashSuite(t *testing.T, c crashCase, prepare func(t *testing.T) (lakeOpener, *jobs.Spec), modes func(at int) []faultMode) {
	// A dry run counts the writes.
	count := &faults{}
	open, spec := prepare(t)
	env, _ := open(t, deadPID(t))
	count.wrap(env)
	if out := c.cmd(context.Background(), env, spec); out.err != nil {
		t.Fatalf("%s without faults: %v", c.name, out.err)
	}
	n := count.n
	t.Logf("%s makes %d writes: %s", c.name, n, strings.Join(count.writes, "; "))
	stats := &crashStats{writes: map[string]bool{}}
	for at := 1; at <= n; at++ {
		for _, mode := range modes(at) {
			label := fmt.Sprintf("%s, %s at write %d", c.name, mode, at)
			open, spec := prepare(t)
			env, logs := open(t, deadPID(t))
			f := &faults{at: at, mode: mode}
			f.wrap(env)
			out := c.cmd(context.Background(), env, spec)
			stats.points++
			if f.hit == "" {
				t.Errorf("%s: no write was hit (the command made %d)", label, f.n)
				continue
			}
			label += " (" + f.hit + ")"
			stats.writes[f.hit] = true
			stats.faults++
			env.Close()
			// A fresh process looks at the lake.
			env, _ = open(t, 0)
			pub := checkLake(t, env, spec, label+", right after", false)
			if !f.killed() {
				switch {
				case out.err == nil && pub != out.target:
					t.Errorf("%s: the command succeeded but the month shows %s, not %s", label, pub, out.target)
				case out.err != nil && pub != out.prev:
					t.Errorf("%s: the command failed (%v) but the month moved from %s to %s", label, out.err, out.prev, pub)
				case out.err != nil && !c.said(out, logs.last()):
					t.Errorf("%s: the failure is not said plainly: %v / last log line %s", label, out.err, logs.last())
				}
			}
			if pub == out.target && out.target != out.prev {
				stats.commits++
			}
			if err := c.next(context.Background(), env, spec); err != nil {
				t.Errorf("%s: the next command: %v", label, err)
			}
			checkLake(t, env, spec, label+", after the next command", true)
			if c.after != nil {
				c.after(t, env, spec, label)
			}
		}
	}
	t.Logf("%s: %d crash points at %d writes, %d faults injected, %d after the commit had landed, %d distinct writes hit, 0 invariant violations unless reported above",
		c.name, stats.points, n, stats.faults, stats.commits, len(stats.writes))
}

func allModes(int) []faultMode { return []faultMode{failBefore, failAfter, killBefore, killAfter} }

// alternateModes fails odd writes before they land and kills the process
// after even ones: every write gets a fault, at half the cost.
func alternateModes(at int) []faultMode {
	if at%2 == 1 {
		return []faultMode{failBefore}
	}
	return []faultMode{killAfter}
}

func crashCases(gcVersions int) []crashCase {
	return []crashCase{runCase(), rollbackCase(), gcCase(gcVersions)}
}

func TestCrashPointsLocal(t *testing.T) {
	for _, c := range crashCases(3) {
		t.Run(c.name, func(t *testing.T) {
			open, spec := localCrashLake(t)
			env, _ := open(t, 0)
			c.setup(t, env, spec)
			env.Close()
			template := env.Storage.URI()[len("file://"):]
			crashSuite(t, c, func(t *testing.T) (lakeOpener, *jobs.Spec) {
				open, spec := localCrashLake(t)
				env, _ := open(t, 0)
				dir := env.Storage.URI()[len("file://"):]
				env.Close()
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.CopyFS(dir, os.DirFS(template)); err != nil {
					t.Fatal(err)
				}
				return open, spec
			}, allModes)
		})
	}
}

// TestCrashPointsAWS runs the crash-point suite on S3 (versitygw), DynamoDB
// (dynalite) and Glue and Athena (the awsfake server; Athena's CTAS runs on
// DuckDB). Each crash point gets its own lake prefix, lineage table and
// Glue database, prepared by running the case's setup there (about 0.8 s a
// run), so every write gets one fault here, failed before it lands or the
// process killed after it landed, in turn; the local suite gives every
// write all four.
func TestCrashPointsAWS(t *testing.T) {
	srv, bucket := awsServers(t)
	// gc's setup runs once per crash point here: two deliveries (the
	// published run and the rollback target) and the killed run; pruning a
	// complete run's files is the same storage path as the killed run's.
	for _, c := range append(crashCases(2), publishCase(srv)) {
		t.Run(c.name, func(t *testing.T) {
			crashSuite(t, c, func(t *testing.T) (lakeOpener, *jobs.Spec) {
				open, spec := awsCrashLake(t, srv, bucket)
				env, _ := open(t, 0)
				c.setup(t, env, spec)
				return open, spec
			}, alternateModes)
		})
	}
}

var awsLakes atomic.Int64

// awsCrashLake is a fresh lake for the crash job on the AWS test servers:
// its own prefix, lineage table and Glue database.
func awsCrashLake(t *testing.T, srv *awsFakes, bucket string) (lakeOpener, *jobs.Spec) {
	n := awsLakes.Add(1)
	spec := crashSpec(t)
	spec.Database = fmt.Sprintf("crash_%d", n)
	spec.AWS.LineageTable = fmt.Sprintf("%s-%d", bucket, n) // dynalite outlives test processes
	spec.AWS.AthenaOutput = "s3://" + bucket + "/athena-results/"
	spec.Convert.SpillDir = t.TempDir()
	lake := fmt.Sprintf("s3://%s/lake-%d", bucket, n)
	open := func(t *testing.T, pid int) (*Env, *logBuffer) {
		logs := &logBuffer{}
		env := openAWSTestLake(t, spec, lake, zerolog.New(logs))
		env.PID = pid
		return env, logs
	}
	env, _ := open(t, 0)
	srv.Athena.SetExecutor(mirrorExecutor(t, srv, env.Catalog, env.Storage))
	return open, spec
}

// localCrashLake is a fresh local lake for the crash job.
func localCrashLake(t *testing.T) (lakeOpener, *jobs.Spec) {
	spec, dir := crashSpec(t), t.TempDir()
	return func(t *testing.T, pid int) (*Env, *logBuffer) {
		logs := &logBuffer{}
		env, err := OpenEnv(context.Background(), spec, "file://"+dir, zerolog.New(logs))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { env.Close() })
		env.PID = pid
		return env, logs
	}, spec
}

// The Parquet files of a run name the build that wrote them, in the form
// parquet-mr's VersionParser reads.
func TestCreatedByNamesTheBuild(t *testing.T) {
	spec := crashSpec(t)
	env, err := OpenEnv(context.Background(), spec, "file://"+t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	putCrashMonth(t, env.Storage, spec, 1)
	res, err := Run(context.Background(), env, spec, Options{Month: crashMonth})
	if err != nil {
		t.Fatal(err)
	}
	want := "tierflow version " + Version + " (build " + CodeVersion() + ")"
	files := 0
	for _, m := range res.Manifests {
		for _, f := range m.Files {
			o, err := env.Storage.Stat(context.Background(), f.Key)
			if err != nil {
				t.Fatal(err)
			}
			pf, err := parquet.OpenFile(storage.ReaderAt(context.Background(), env.Storage, f.Key), o.Size)
			if err != nil {
				t.Fatal(err)
			}
			if got := pf.Metadata().CreatedBy; got != want {
				t.Errorf("%s: created_by %q, want %q", f.Key, got, want)
			}
			files++
		}
	}
	if files == 0 {
		t.Fatal("the run wrote no files")
	}
}
