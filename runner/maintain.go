package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// publishedTable is a catalog table a job publishes each month.
type publishedTable struct {
	name string
	tier int
}

// prefix is the data prefix of one run's month of the table.
func (t publishedTable) prefix(month, runID string) string {
	return jobs.TablePrefix(t.tier, t.name, month, runID)
}

// tables lists the job's published tables: tier 2, then each derived one.
func tables(spec *jobs.Spec) []publishedTable {
	out := []publishedTable{{spec.Output.Table, 2}}
	for _, d := range spec.Derived {
		out = append(out, publishedTable{d.Table, 3})
	}
	return out
}

// rollbackLease is how long a rollback holds its month.
const rollbackLease = 2 * time.Minute

// Rollback switches a month back to an earlier complete run (to == "":
// the newest complete run started before the published one) through the
// same commit as a publish: it claims the month (refused while a run holds
// it), checks the target's files, commits, then rolls the catalog forward.
// The earlier run's prefixes must still exist (gc keeps the run rollback
// would pick).
func Rollback(ctx context.Context, env *Env, spec *jobs.Spec, month, to string) (from, target string, err error) {
	committed := false
	defer func() {
		if err != nil && !committed {
			err = fmt.Errorf("%w; the month was not rolled back", err)
		}
	}()
	if _, err := jobs.ParseMonth(month); err != nil {
		return "", "", err
	}
	if _, err := Repair(ctx, env, spec, month); err != nil {
		return "", "", err
	}
	claim, err := claimMonth(ctx, env, spec.Name, month, "rollback#"+nonce(), "the rollback", rollbackLease, env.Log)
	if err != nil {
		return "", "", fmt.Errorf("rollback %s refused while another command holds the month: %w", month, err)
	}
	defer func() {
		if err := env.Lineage.Release(context.WithoutCancel(ctx), spec.Name, month, claim.Owner); err != nil {
			env.Log.Warn().Err(err).Msg("releasing the month claim (it expires by itself)")
		}
	}()
	m, err := env.Lineage.Month(ctx, spec.Name, month)
	if err != nil {
		return "", "", fmt.Errorf("rollback %s: %w", month, err)
	}
	cur := m.Published.RunID
	if cur == "" {
		return "", "", fmt.Errorf("rollback %s: no published run: %w", month, lineage.ErrNotFound)
	}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, month)
	if err != nil {
		return cur, "", err
	}
	if target = rollbackTarget(runs, cur, to); target == "" {
		if to != "" {
			return cur, "", fmt.Errorf("rollback %s: run %s is not a complete run of this month other than the published one", month, to)
		}
		return cur, "", fmt.Errorf("rollback %s: no earlier complete run to go back to (published: %s)", month, cur)
	}
	plan, err := loadPlan(ctx, env, spec, month, target)
	if err != nil {
		return cur, target, fmt.Errorf("rollback %s to %s: %w", month, target, err)
	}
	for _, t := range tables(spec) {
		if err := mustHaveObjects(ctx, env.Storage, t.prefix(month, target)); err != nil {
			return cur, target, fmt.Errorf("rollback %s to %s: %w", month, target, err)
		}
	}
	c := lineage.Commit{RunID: target, Prev: cur, Token: claim.Token, At: time.Now().UTC(), Rollback: true}
	if committed, err = commitMonth(ctx, env, spec.Name, month, claim.Owner, c); err != nil {
		return cur, target, fmt.Errorf("rollback %s: %w", month, err)
	}
	// Committed: the rollback has happened; a failed switch is repaired.
	if _, err := rollForward(context.WithoutCancel(ctx), env, spec, plan, claim.Token, false); err != nil && !errors.Is(err, errSuperseded) {
		env.Log.Warn().Err(err).Str("month", month).Msgf("rolled back to run %s; some partitions are not switched yet and are finished by the next command (or: tierflow repair --job %s --month %s)", target, spec.Name, month)
		return cur, target, nil
	}
	env.Log.Info().Str("month", month).Str("from", cur).Str("to", target).Msg("rolled back")
	return cur, target, nil
}

// rollbackTarget is the run a rollback of a month whose published run is
// cur goes to: run to, or (to == "") the newest complete run started
// before cur; "" when there is none. runs are newest first.
func rollbackTarget(runs []lineage.Run, cur, to string) string {
	var curRun *lineage.Run
	for i := range runs {
		if runs[i].ID == cur {
			curRun = &runs[i]
		}
	}
	for _, r := range runs {
		if r.ID == cur || r.Status != lineage.StatusComplete {
			continue
		}
		if to == "" && curRun != nil && !r.Started.Before(curRun.Started) {
			continue
		}
		if to == "" || r.ID == to {
			return r.ID
		}
	}
	return ""
}

func mustHaveObjects(ctx context.Context, st storage.Storage, prefix string) error {
	found := errors.New("found")
	err := st.List(ctx, prefix, func(storage.Object) error { return found })
	if errors.Is(err, found) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s holds no files (pruned by gc?)", st.ObjectURI(prefix))
}
