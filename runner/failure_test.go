package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

func shippedSpec(t *testing.T) *jobs.Spec {
	t.Helper()
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestEmptyMonthIsAClearError(t *testing.T) {
	spec := shippedSpec(t)
	env, _ := openTestEnv(t, spec, 10, 1, 0)
	_, err := Run(context.Background(), env, spec, Options{Month: "2021-01"})
	// Text: the message says where it looked.
	if !errors.Is(err, ErrNoParts) || !strings.Contains(err.Error(), "intake/consumer/2021-01/") {
		t.Fatalf("empty month: %v, want an error naming where it looked", err)
	}
}

// A part whose header differs from the agreed sample fails the run: the
// failure is recorded with the part named, nothing is published and the
// run's tier-2 prefix is removed.
func TestFailedRunPublishesNothing(t *testing.T) {
	spec := shippedSpec(t)
	env, _ := openTestEnv(t, spec, 3000, 2, 0)
	ctx := context.Background()
	bad := strings.Join(spec.Source.Header[1:], ",") + "\n" // a column missing
	key := spec.IntakePrefix(testMonth) + "part-0003.csv.gz"
	if err := storage.Put(ctx, env.Storage, key, bytes.NewReader(gz(t, bad)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err == nil {
		t.Fatal("run with a bad header succeeded")
	}
	var pe *container.ParseError
	if !errors.Is(err, container.ErrHeaderMismatch) || !errors.As(err, &pe) || pe.Part != "part-0003" {
		t.Errorf("error %q is not a header mismatch of part-0003", err)
	}
	if res == nil || res.Run.Status != lineage.StatusFailed || res.Run.Published {
		t.Fatalf("result %+v", res)
	}
	got, gerr := env.Lineage.GetRun(ctx, spec.Name, res.Run.ID)
	if gerr != nil || got.Status != lineage.StatusFailed || !strings.Contains(got.Error, "part-0003") {
		t.Errorf("lineage record of the failed run: %+v (%v)", got, gerr)
	}
	if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{testMonth}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("catalog partition after a failed run: %v, want not found", err)
	}
	if _, err := env.Lineage.Published(ctx, spec.Name, testMonth); !errors.Is(err, lineage.ErrNotFound) {
		t.Errorf("published pointer after a failed run: %v", err)
	}
	var left []string
	env.Storage.List(ctx, "tier2/", func(o storage.Object) error { left = append(left, o.Key); return nil })
	if len(left) > 0 {
		t.Errorf("failed run left tier-2 objects: %v", left[:min(3, len(left))])
	}

	// Fixing the part and rerunning publishes.
	if err := env.Storage.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	res2, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil || !res2.Run.Published || res2.Run.RowsOut != 3000 {
		t.Fatalf("rerun after the fix: %v %+v", err, res2)
	}
}

// A month claimed by another run cannot be run at the same time.
func TestClaimedMonthRefused(t *testing.T) {
	spec := shippedSpec(t)
	env, _ := openTestEnv(t, spec, 100, 1, 0)
	ctx := context.Background()
	if _, err := env.Lineage.Claim(ctx, spec.Name, testMonth, env.holderClaim("someone-else#x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := Run(ctx, env, spec, Options{Month: testMonth})
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.Owner != "someone-else#x" || held.Liveness != HolderAlive {
		t.Fatalf("run of a claimed month: %v, want a HeldError naming the live holder", err)
	}
	// Text: the refusal tells a user who holds the month and what to do.
	for _, want := range []string{"held by run someone-else", fmt.Sprintf("pid %d", os.Getpid()), "looks alive", "tierflow unlock --job consumer-header --month " + testMonth} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
}

// Two runs of one month started at once: exactly one publishes; the other
// stops with a clear message (or, if it started after the first finished,
// finds nothing to do).
func TestConcurrentRunsExactlyOnePublishes(t *testing.T) {
	spec := shippedSpec(t)
	env, dir := openTestEnv(t, spec, 4000, 2, 0)
	env2, err := OpenEnv(context.Background(), spec, "file://"+dir, env.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer env2.Close()
	var wg sync.WaitGroup
	results := make([]*Result, 2)
	errs := make([]error, 2)
	for i, e := range []*Env{env, env2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Run(context.Background(), e, spec, Options{Month: testMonth})
		}()
	}
	wg.Wait()
	published := 0
	for i := range results {
		switch {
		case errs[i] == nil && results[i].Run.Published && !results[i].Skipped:
			published++
		case errs[i] == nil && results[i].Skipped:
		case errs[i] != nil && errors.As(errs[i], new(*HeldError)):
		default:
			t.Errorf("run %d: %v %+v", i, errs[i], results[i])
		}
	}
	if published != 1 {
		t.Errorf("%d runs published, want exactly 1 (errors: %v)", published, errs)
	}
}

// A tier-1 object that already exists with other bytes than the intake's
// (tier 1 is never modified) fails the run; nothing is published.
func TestTier1MismatchFails(t *testing.T) {
	spec := shippedSpec(t)
	env, _ := openTestEnv(t, spec, 500, 1, 0)
	ctx := context.Background()
	plan, err := MakePlan(ctx, env.Storage, spec, testMonth, env.CodeVersion)
	if err != nil {
		t.Fatal(err)
	}
	key := jobs.Layout{Spec: spec}.Tier1Prefix(testMonth, plan.Delivery) + "part-0001.csv.gz"
	if err := storage.Put(ctx, env.Storage, key, bytes.NewReader(gz(t, "not the delivery\n")), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = Run(ctx, env, spec, Options{Month: testMonth})
	// Text: the message names the tier-1 object.
	if !errors.Is(err, ErrTier1Changed) || !strings.Contains(err.Error(), key) {
		t.Fatalf("run over a tampered tier-1 object: %v", err)
	}
	if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{testMonth}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("published despite the tier-1 mismatch: %v", err)
	}
	if b := readAll(t, env.Storage, key); !bytes.Equal(b, gz(t, "not the delivery\n")) {
		t.Error("the existing tier-1 object was rewritten")
	}
}
