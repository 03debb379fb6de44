package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/lineage/local"
)

func openStore(t *testing.T, path string) *local.Store {
	t.Helper()
	s, err := local.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestTwoStoresClaim: two *Store values on one file (as two processes would
// have) race for a month; exactly one run wins.
func TestTwoStoresClaim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lineage.db")
	stores := []*local.Store{openStore(t, path), openStore(t, path)}
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = stores[i%2].Claim(t.Context(), "job", "2020-03", lineage.Claim{Owner: fmt.Sprintf("r%d", i)}, time.Hour)
		})
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, lineage.ErrConflict):
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d claims won, want 1", wins)
	}
}

const childEnv = "TIERFLOW_LINEAGE_TEST_CHILD"

// TestCrossProcessClaim: several processes claim the same month at once;
// exactly one wins and none hangs.
func TestCrossProcessClaim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lineage.db")
	openStore(t, path)
	const procs = 4
	outs := make([]string, procs)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildClaim$", "-test.v")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|r%d", childEnv, path, p))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("child %d: %v\n%s", p, err, out)
			}
			outs[p] = string(out)
		})
	}
	wg.Wait()
	won, lost := 0, 0
	for _, o := range outs {
		won += strings.Count(o, "CLAIM-WON")
		lost += strings.Count(o, "CLAIM-CONFLICT")
	}
	if won != 1 || lost != procs-1 {
		t.Fatalf("won %d, conflicted %d; want 1 and %d\n%s", won, lost, procs-1, strings.Join(outs, "\n"))
	}
}

// TestChildClaim is the child half of TestCrossProcessClaim.
func TestChildClaim(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("child process helper for TestCrossProcessClaim")
	}
	path, run, _ := strings.Cut(spec, "|")
	s, err := local.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	switch _, err := s.Claim(context.Background(), "job", "2020-03", lineage.Claim{Owner: run}, time.Hour); {
	case err == nil:
		t.Log("CLAIM-WON")
	case errors.Is(err, lineage.ErrConflict):
		t.Log("CLAIM-CONFLICT")
	default:
		t.Fatal(err)
	}
}

// TestWaitsForHolderWithoutHanging: while another process keeps the file
// open, calls wait, give up when their context ends, and proceed once the
// file is free.
func TestWaitsForHolderWithoutHanging(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lineage.db")
	s := openStore(t, path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Claim(ctx, "job", "2020-03", lineage.Claim{Owner: "r1"}, time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("claim while the file is held: %v, want deadline exceeded", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("gave up only after %v", waited)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		db.Close()
		close(released)
	}()
	if _, err := s.Claim(t.Context(), "job", "2020-03", lineage.Claim{Owner: "r1"}, time.Hour); err != nil {
		t.Fatalf("claim after the holder closed: %v", err)
	}
	<-released
}

func TestPersistsAcrossOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "lineage.db")
	s := openStore(t, path)
	r := lineage.Run{ID: "r1", Job: "job", Month: "2020-03", Status: lineage.StatusRunning, Started: time.Now()}
	if err := s.StartRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(t.Context(), "job", "2020-03", lineage.Claim{Owner: "r1#x"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(t.Context(), "job", "2020-03", "r1#x", lineage.Commit{RunID: "r1", Token: c.Token}); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, path)
	if got, err := s2.GetRun(t.Context(), "job", "r1"); err != nil || got.Month != "2020-03" {
		t.Fatalf("reopened store: %+v, %v", got, err)
	}
	if id, err := s2.Published(t.Context(), "job", "2020-03"); err != nil || id != "r1" {
		t.Fatalf("reopened store published: %q, %v", id, err)
	}
}

func TestClosedAndInvalid(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "lineage.db"))
	ctx := t.Context()
	if _, err := s.Claim(ctx, "job", "2020-03", lineage.Claim{Owner: "r1"}, 0); err == nil {
		t.Error("zero ttl accepted")
	}
	if err := s.StartRun(ctx, lineage.Run{Job: "job"}); err == nil {
		t.Error("run without id accepted")
	}
	if err := s.AddEdges(ctx, []lineage.Edge{{From: "a\x00b", To: "c", RunID: "r"}}); err == nil {
		t.Error("edge with NUL accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListRuns(ctx, "job", ""); err == nil {
		t.Error("closed store answered")
	}
}
