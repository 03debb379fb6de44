package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// TestMain doubles as a `tierflow run` child process for the kill test.
func TestMain(m *testing.M) {
	if lake := os.Getenv("TIERFLOW_TEST_CHILD_RUN"); lake != "" {
		spec, err := jobs.Open(DemoJob)
		if table := os.Getenv("TIERFLOW_TEST_CHILD_TABLE"); err == nil && table != "" {
			// An S3 lake: the settings awsSpec gives the parent's spec.
			spec.AWS.LineageTable = table
			spec.AWS.AthenaOutput = "s3://" + table + "/athena-results/"
			spec.Convert.SpillDir = os.Getenv("TIERFLOW_TEST_CHILD_SPILL")
			spec.PII.KeyFile = os.Getenv("TIERFLOW_TEST_CHILD_KEY")
			spec.PII.KeyPath = spec.PII.KeyFile
		}
		if err == nil {
			var env *Env
			env, err = OpenEnv(context.Background(), spec, lake, zerolog.Nop())
			if err == nil {
				_, err = Run(context.Background(), env, spec, Options{Month: testMonth, Lease: 300 * time.Millisecond})
			}
		}
		if err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fileSums maps every published tier-2 file name to its SHA-256.
func fileSums(t *testing.T, env *Env, table string) map[string]string {
	t.Helper()
	ctx := context.Background()
	p, err := env.Catalog.GetPartition(ctx, shippedSpec(t).Database, table, []string{testMonth})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := strings.Cut(strings.TrimPrefix(p.StorageDescriptor.Location, env.Storage.URI()), "/")
	sums := map[string]string{}
	err = env.Storage.List(ctx, key, func(o storage.Object) error {
		sum, _, err := hashObject(ctx, env.Storage, o.Key, func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err })
		sums[filepath.Base(o.Key)] = sum
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// The converter killed (SIGKILL) in the middle of a part: no partial month
// is visible; gc removes what it left; the rerun succeeds and its files
// are byte-identical to a clean run's.
func TestKilledRunLeavesNothingVisible(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	spec := shippedSpec(t)
	env, dir := openTestEnv(t, spec, 60000, 2, 0)
	ctx := context.Background()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TIERFLOW_TEST_CHILD_RUN=file://"+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once the converter has written something.
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := 0
		filepath.Walk(filepath.Join(dir, "tier2"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				n++
			}
			return nil
		})
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child wrote nothing to tier 2 within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if ee, ok := werr.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed mid-run (it ended with %v); make the month bigger", werr)
	}

	// Nothing is visible to readers.
	if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{testMonth}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("partition visible after the kill: %v", err)
	}
	if _, err := env.Lineage.Published(ctx, spec.Name, testMonth); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("published pointer after the kill: %v", err)
	}

	// After the dead run's lease (300 ms) the month can be run again; the
	// rerun records the dead run as failed.
	time.Sleep(400 * time.Millisecond)
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil {
		t.Fatalf("rerun after the kill: %v", err)
	}
	runs, _ := env.Lineage.ListRuns(ctx, spec.Name, testMonth)
	abandoned, killed := 0, ""
	for _, r := range runs {
		if r.ID != res.Run.ID && r.Status == lineage.StatusFailed && strings.Contains(r.Error, "abandoned") {
			abandoned++
			killed = r.ID
		}
	}
	if abandoned != 1 || len(runs) != 2 {
		t.Errorf("runs after the rerun: %d, abandoned %d; want the killed run recorded as failed", len(runs), abandoned)
	}

	// gc removes the killed run's files and temporary files.
	rep, err := GC(ctx, env, spec, GCOptions{Keep: 0, TempAge: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Prefixes)+rep.Temp == 0 {
		t.Error("gc found nothing of the killed run to remove")
	}
	var left []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && (strings.HasPrefix(fi.Name(), ".tmp") || strings.Contains(p, "/run="+killed+"/")) {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("files of the killed run %s left after gc: %v", killed, left)
	}

	// Byte-identical to a clean run on the same inputs.
	clean, _ := openTestEnv(t, spec, 60000, 2, 0)
	if _, err := Run(ctx, clean, spec, Options{Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	a, b := fileSums(t, env, spec.Output.Table), fileSums(t, clean, spec.Output.Table)
	if len(a) == 0 || !equalMaps(a, b) {
		t.Errorf("rerun after the kill differs from a clean run: %d vs %d files", len(a), len(b))
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}
