package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/storage"
)

// publishedLocation is where the catalog's month partition of the tier-2
// table points.
func publishedLocation(t *testing.T, env *Env, table string) string {
	t.Helper()
	spec := shippedSpec(t)
	p, err := env.Catalog.GetPartition(context.Background(), spec.Database, table, []string{testMonth})
	if err != nil {
		t.Fatal(err)
	}
	return p.StorageDescriptor.Location
}

func countUnder(t *testing.T, st storage.Storage, prefix string) int {
	t.Helper()
	n := 0
	if err := st.List(context.Background(), prefix, func(storage.Object) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// Changed inputs publish a new run and keep the old one; rollback goes
// back to it; gc prunes only what is neither published nor kept.
func TestRerunRollbackGC(t *testing.T) {
	spec := shippedSpec(t)
	env, _ := openTestEnv(t, spec, 2000, 2, 0)
	ctx := context.Background()
	first, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil {
		t.Fatal(err)
	}
	// The partner re-delivers the month with different content.
	if _, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: 2500, Parts: 2, Seed: 8, Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	second, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil || second.Skipped || second.Run.ID == first.Run.ID || second.Previous != first.Run.ID {
		t.Fatalf("run on changed inputs: %v %+v", err, second)
	}
	l := jobs.Layout{Spec: spec}
	if !strings.HasSuffix(publishedLocation(t, env, spec.Output.Table), l.Tier2Prefix(testMonth, second.Run.ID)) {
		t.Fatalf("tier 2 not switched to the second run")
	}
	if countUnder(t, env.Storage, l.Tier2Prefix(testMonth, first.Run.ID)) == 0 {
		t.Fatal("the first run's prefix was not kept for rollback")
	}

	from, to, err := Rollback(ctx, env, spec, testMonth, "")
	if err != nil || from != second.Run.ID || to != first.Run.ID {
		t.Fatalf("rollback: %s → %s, %v", from, to, err)
	}
	for _, tb := range tables(spec) {
		if loc := publishedLocation(t, env, tb.name); !strings.HasSuffix(loc, tb.prefix(testMonth, first.Run.ID)) {
			t.Errorf("after rollback %s points at %s", tb.name, loc)
		}
	}
	if id, _ := env.Lineage.Published(ctx, spec.Name, testMonth); id != first.Run.ID {
		t.Errorf("published pointer %s after rollback, want %s", id, first.Run.ID)
	}

	// A killed run left files behind, with no record of it.
	stray := l.Tier2Prefix(testMonth, "deadbeef0000-9") + "000001_0_part-0001.snappy.parquet"
	if err := storage.Put(ctx, env.Storage, stray, strings.NewReader("partial"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	// Keep 1: the unpublished second run stays (for roll-forward), the stray goes.
	rep, err := GC(ctx, env, spec, GCOptions{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Prefixes) != 1 || !strings.Contains(rep.Prefixes[0], "deadbeef0000-9") {
		t.Errorf("gc keep=1 removed %v, want only the stray run", rep.Prefixes)
	}
	// Dry run lists without deleting.
	dry, err := GC(ctx, env, spec, GCOptions{Keep: 0, DryRun: true})
	if err != nil || len(dry.Prefixes) == 0 {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	if countUnder(t, env.Storage, l.Tier2Prefix(testMonth, second.Run.ID)) == 0 {
		t.Fatal("dry run deleted")
	}
	// Keep 0: the second run goes; the published (first) run never does.
	if _, err := GC(ctx, env, spec, GCOptions{Keep: 0}); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables(spec) {
		if countUnder(t, env.Storage, tb.prefix(testMonth, second.Run.ID)) != 0 {
			t.Errorf("gc keep=0 left %s of the unpublished run", tb.name)
		}
		if countUnder(t, env.Storage, tb.prefix(testMonth, first.Run.ID)) == 0 {
			t.Errorf("gc deleted the published run's %s", tb.name)
		}
	}
	// Nothing to roll back to any more.
	if _, _, err := Rollback(ctx, env, spec, testMonth, ""); err == nil {
		t.Error("rollback with no earlier run left succeeded")
	}
}
