package runner

// The commit protocol (docs/reliability.md): a run claims its month (a
// lease with a fencing token), writes only under its own prefixes, writes
// its publish plan, then makes ONE conditional write, lineage.Store.Commit.
// Before it nothing readers see has changed; after it the catalog
// partitions roll forward to the committed run, idempotently, and any
// later command (or `tierflow repair`) finishes an interrupted roll-forward.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// Partition parameters that say which commit a partition belongs to.
const (
	RunParam    = "tierflow.run"
	CommitParam = "tierflow.commit" // the commit's fencing token
)

// publishPlan is what a committed run makes readers see: each table's
// definition and its month partition, plus the lineage the run adds. It is
// written under the run's meta prefix before the commit, so a command that
// finds a commit not yet rolled forward can finish it, and a rollback goes
// back to a run exactly as it was published.
type publishPlan struct {
	Run     string            `json:"run_id"`
	Month   string            `json:"month"`
	Tables  []planEntry       `json:"tables"` // tier 2 first
	Edges   []lineage.Edge    `json:"edges"`
	Outputs []lineage.Dataset `json:"outputs"`
	// Record is the run's record as it is marked COMPLETE once committed
	// (figures, inputs, outputs), so a repair records it whole.
	Record *lineage.Run `json:"record,omitempty"`
}

type planEntry struct {
	Table     catalog.Table     `json:"table"`
	Partition catalog.Partition `json:"partition"`
}

// planKey is where a run's publish plan is kept.
func planKey(spec *jobs.Spec, runID string) string {
	return jobs.Layout{Spec: spec}.RunMetaPrefix(runID) + "publish.json"
}

// loadPlan reads a run's publish plan. Runs published before plans were
// written have none: their plan is rebuilt from the catalog's table
// definitions and the run's prefixes.
func loadPlan(ctx context.Context, env *Env, spec *jobs.Spec, month, runID string) (*publishPlan, error) {
	var p publishPlan
	err := getJSON(ctx, env.Storage, planKey(spec, runID), &p)
	if err == nil {
		return &p, nil
	}
	if !errors.Is(err, storage.ErrNotExist) {
		return nil, fmt.Errorf("publish plan of run %s: %w", runID, err)
	}
	p = publishPlan{Run: runID, Month: month}
	for _, t := range tables(spec) {
		def, err := env.Catalog.GetTable(ctx, spec.Database, t.name)
		if err != nil {
			return nil, fmt.Errorf("run %s has no publish plan and table %s.%s cannot be read: %w", runID, spec.Database, t.name, err)
		}
		part := MonthPartition(def, month, DirURI(env.Storage, t.prefix(month, runID)), runID)
		p.Tables = append(p.Tables, planEntry{Table: def, Partition: part})
	}
	return &p, nil
}

// errSuperseded stops a roll-forward whose commit is no longer the month's:
// a newer commit rolls itself forward.
var errSuperseded = errors.New("a newer commit of the month superseded this one")

// stillCommitted checks that (runID, token) is still the month's commit.
func stillCommitted(ctx context.Context, env *Env, job, month, runID string, token int64) error {
	m, err := env.Lineage.Month(ctx, job, month)
	if err != nil {
		return err
	}
	if m.Published.RunID != runID || m.Published.Token != token {
		return errSuperseded
	}
	return nil
}

// rollForward makes every table's month partition point at the committed
// run (with its token), idempotently; defineTables also writes the tables'
// definitions (a publish does; a rollback keeps today's definitions).
// Before each switch it checks that the commit is still the month's, and it
// never replaces a partition written by a newer commit, so a writer that
// was paused mid-way cannot turn readers back to an older run. It returns
// how many partitions it switched.
func rollForward(ctx context.Context, env *Env, spec *jobs.Spec, plan *publishPlan, token int64, defineTables bool) (int, error) {
	switched := 0
	for _, e := range plan.Tables {
		if err := stillCommitted(ctx, env, spec.Name, plan.Month, plan.Run, token); err != nil {
			return switched, err
		}
		if defineTables {
			if err := env.Catalog.PutTable(ctx, e.Table); err != nil {
				return switched, fmt.Errorf("table %s.%s: %w", e.Table.Database, e.Table.Name, err)
			}
		} else if _, err := env.Catalog.GetTable(ctx, e.Table.Database, e.Table.Name); errors.Is(err, catalog.ErrNotFound) {
			if err := env.Catalog.PutTable(ctx, e.Table); err != nil {
				return switched, fmt.Errorf("table %s.%s: %w", e.Table.Database, e.Table.Name, err)
			}
		}
		p := e.Partition
		p.Parameters = map[string]string{RunParam: plan.Run, CommitParam: strconv.FormatInt(token, 10)}
		cur, err := env.Catalog.GetPartition(ctx, p.Database, p.Table, p.Values)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
		case err != nil:
			return switched, fmt.Errorf("%s.%s month=%s: %w", p.Database, p.Table, plan.Month, err)
		case commitOf(cur) > token:
			return switched, errSuperseded
		case cur.StorageDescriptor.Location == p.StorageDescriptor.Location && commitOf(cur) == token:
			continue // already switched
		}
		if err := env.Catalog.PutPartition(ctx, p); err != nil {
			return switched, fmt.Errorf("switch %s.%s month=%s to %s: %w", p.Database, p.Table, plan.Month, p.StorageDescriptor.Location, err)
		}
		switched++
	}
	if err := env.Lineage.MarkRolledForward(ctx, spec.Name, plan.Month, plan.Run, token); err != nil {
		return switched, err
	}
	return switched, nil
}

// commitOf is the token of the commit that wrote p (0: none recorded).
func commitOf(p catalog.Partition) int64 {
	n, _ := strconv.ParseInt(p.Parameters[CommitParam], 10, 64)
	return n
}

// RepairReport says what Repair did for one month.
type RepairReport struct {
	Month    string
	Run      string // the committed run ("" when nothing is published)
	Switched int    // partitions switched to it
	Finished bool   // its run record was completed
}

// Repair converges a month to its commit: every table's partition points
// at the committed run, the run's lineage edges are recorded and its
// record says COMPLETE. It is idempotent and costs one read when there is
// nothing to do. Every command that touches a month calls it first.
func Repair(ctx context.Context, env *Env, spec *jobs.Spec, month string) (RepairReport, error) {
	rep := RepairReport{Month: month}
	m, err := env.Lineage.Month(ctx, spec.Name, month)
	if err != nil {
		return rep, fmt.Errorf("repair %s: %w", month, err)
	}
	c := m.Published
	rep.Run = c.RunID
	if c.RunID == "" {
		return rep, nil
	}
	run, err := env.Lineage.GetRun(ctx, spec.Name, c.RunID)
	if err != nil {
		return rep, fmt.Errorf("repair %s: committed run %s: %w", month, c.RunID, err)
	}
	if c.RolledForward && run.Status == lineage.StatusComplete && run.Published {
		return rep, nil
	}
	plan, err := loadPlan(ctx, env, spec, month, c.RunID)
	if err != nil {
		return rep, fmt.Errorf("repair %s: %w", month, err)
	}
	// The order of a publish: the run's record, its edges, the partitions.
	if run.Status != lineage.StatusComplete || !run.Published {
		if plan.Record != nil && plan.Record.ID == run.ID {
			run = *plan.Record
		}
		run.Status, run.Published, run.Error = lineage.StatusComplete, true, ""
		if run.Ended.IsZero() {
			run.Ended = time.Now()
		}
		if len(run.Outputs) == 0 {
			run.Outputs = plan.Outputs
		}
		if err := env.Lineage.FinishRun(ctx, run); err != nil {
			return rep, fmt.Errorf("repair %s: record run %s: %w", month, c.RunID, err)
		}
		rep.Finished = true
		olEmitRepaired(ctx, env, run)
	}
	if !c.RolledForward {
		if !c.Rollback {
			if err := env.Lineage.AddEdges(ctx, plan.Edges); err != nil {
				return rep, fmt.Errorf("repair %s: lineage edges of run %s: %w", month, c.RunID, err)
			}
		}
		rep.Switched, err = rollForward(ctx, env, spec, plan, c.Token, !c.Rollback)
		if err != nil && !errors.Is(err, errSuperseded) {
			return rep, fmt.Errorf("repair %s: %w", month, err)
		}
	}
	if rep.Switched > 0 || rep.Finished {
		env.Log.Warn().Str("month", month).Str("run", c.RunID).Int("partitions_switched", rep.Switched).Bool("run_completed", rep.Finished).
			Msg("repaired: finished the roll-forward of a commit whose command stopped before it was done")
	}
	return rep, nil
}

// RepairAll repairs every month the job has runs for.
func RepairAll(ctx context.Context, env *Env, spec *jobs.Spec) ([]RepairReport, error) {
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, "")
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	seen := map[string]bool{}
	var reps []RepairReport
	for _, r := range runs {
		if seen[r.Month] {
			continue
		}
		seen[r.Month] = true
		rep, err := Repair(ctx, env, spec, r.Month)
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// commit makes this run the month's published run: the one commit point.
func (j *job) commit(ctx context.Context) error {
	c := lineage.Commit{RunID: j.run.ID, Prev: j.res.Previous, Token: j.ex.Token, At: time.Now().UTC()}
	committed, err := commitMonth(ctx, j.env, j.spec.Name, j.plan.Month, j.ex.Claim, c)
	j.committed = committed
	j.uncertain = errors.Is(err, errCommitUnknown)
	return err
}

// errCommitUnknown: whether a commit landed could not be read.
var errCommitUnknown = errors.New("whether the commit landed cannot be read")

// commitMonth makes the one conditional write of a publish or rollback and
// says whether it landed. An error whose outcome is unknown (the write may
// have landed, its reply lost) is settled by reading the month; if that
// does not show the commit, the claim is released, which fences off any
// late arrival of the write, and the month is read once more.
func commitMonth(ctx context.Context, env *Env, job, month, owner string, c lineage.Commit) (bool, error) {
	err := env.Lineage.Commit(ctx, job, month, owner, c)
	if err == nil {
		return true, nil
	}
	ctx = context.WithoutCancel(ctx)
	landed := func() (lineage.Month, bool, error) {
		m, err := env.Lineage.Month(ctx, job, month)
		return m, err == nil && m.Published.RunID == c.RunID && m.Published.Token == c.Token, err
	}
	m, ok, merr := landed()
	if ok {
		return true, nil
	}
	if merr == nil && errors.Is(err, lineage.ErrConflict) {
		if m.Claim.Owner != owner || m.Claim.Token != c.Token {
			return false, errFenced
		}
		return false, fmt.Errorf("month %s was published by run %s (or rolled back to it) meanwhile; this command changed nothing", month, m.Published.RunID)
	}
	_ = env.Lineage.Release(ctx, job, month, owner)
	if _, ok, merr := landed(); ok {
		return true, nil
	} else if merr != nil {
		return false, fmt.Errorf("commit of run %s: %w; %w (%v): nothing is removed; run `tierflow repair --job %s --month %s`", c.RunID, err, errCommitUnknown, merr, job, month)
	}
	return false, fmt.Errorf("commit of run %s: %w", c.RunID, err)
}
