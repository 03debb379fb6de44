package runner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
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
	return TablePrefix(t.tier, t.name, month, runID)
}

// tables lists the job's published tables: tier 2, then each derived one.
func tables(spec *jobs.Spec) []publishedTable {
	out := []publishedTable{{spec.Output.Table, 2}}
	for _, d := range spec.Derived {
		out = append(out, publishedTable{d.Table, 3})
	}
	return out
}

// Rollback switches a month back to an earlier complete run (to == "":
// the newest complete run before the published one). The earlier run's
// prefixes must still exist (gc keeps them unless told otherwise).
func Rollback(ctx context.Context, env *Env, spec *jobs.Spec, month, to string) (from, target string, err error) {
	if _, err := jobs.ParseMonth(month); err != nil {
		return "", "", err
	}
	cur, err := env.Lineage.Published(ctx, spec.Name, month)
	if err != nil {
		return "", "", fmt.Errorf("rollback %s: no published run: %w", month, err)
	}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, month)
	if err != nil {
		return "", "", err
	}
	var curRun *lineage.Run
	for i := range runs {
		if runs[i].ID == cur {
			curRun = &runs[i]
		}
	}
	for _, r := range runs { // newest first
		if r.ID == cur || r.Status != lineage.StatusComplete {
			continue
		}
		if to == "" && curRun != nil && !r.Started.Before(curRun.Started) {
			continue
		}
		if to == "" || r.ID == to {
			target = r.ID
			break
		}
	}
	if target == "" {
		if to != "" {
			return cur, "", fmt.Errorf("rollback %s: run %s is not a complete run of this month other than the published one", month, to)
		}
		return cur, "", fmt.Errorf("rollback %s: no earlier complete run to go back to (published: %s)", month, cur)
	}
	var parts []catalog.Partition
	for _, t := range tables(spec) {
		prefix := t.prefix(month, target)
		if err := mustHaveObjects(ctx, env.Storage, prefix); err != nil {
			return cur, target, fmt.Errorf("rollback %s to %s: %w", month, target, err)
		}
		def, err := env.Catalog.GetTable(ctx, spec.Database, t.name)
		if err != nil {
			return cur, target, fmt.Errorf("rollback %s: table %s: %w", month, t.name, err)
		}
		parts = append(parts, MonthPartition(def, month, DirURI(env.Storage, prefix), target))
	}
	for _, p := range parts {
		if err := env.Catalog.PutPartition(ctx, p); err != nil {
			return cur, target, fmt.Errorf("rollback %s: switch %s.%s: %w", month, p.Database, p.Table, err)
		}
	}
	if err := env.Lineage.SetPublished(ctx, spec.Name, month, target, cur); err != nil {
		return cur, target, fmt.Errorf("rollback %s: published pointer: %w", month, err)
	}
	env.Log.Info().Str("month", month).Str("from", cur).Str("to", target).Msg("rolled back")
	return cur, target, nil
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

// GCOptions tune gc.
type GCOptions struct {
	// Keep is how many complete, unpublished runs per month are kept for
	// rollback besides the published one.
	Keep int
	// DryRun lists what would be deleted without deleting.
	DryRun bool
	// TempAge is the age beyond which abandoned temporary files and
	// incomplete multipart uploads are removed.
	TempAge time.Duration
}

// GCReport says what gc removed (or would remove).
type GCReport struct {
	Prefixes []string // run prefixes removed
	Objects  int      // objects removed
	Temp     int      // abandoned temporary files / incomplete uploads removed
}

var runDir = regexp.MustCompile(`month=([0-9]{4}-[0-9]{2})/run=([^/]+)/`)

// GC prunes run prefixes that are neither published nor among the Keep
// newest complete runs of their month, and never touches a run that may
// still be running. Incomplete uploads and abandoned temporary files older
// than TempAge go too.
func GC(ctx context.Context, env *Env, spec *jobs.Spec, o GCOptions) (*GCReport, error) {
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, "")
	if err != nil {
		return nil, err
	}
	ttl := spec.Timeout
	if ttl <= 0 {
		ttl = 6 * time.Hour
	}
	keep := map[string]bool{}
	kept := map[string]int{}
	for _, r := range runs { // newest first
		if r.Status == lineage.StatusRunning && time.Since(r.Started) < ttl {
			keep[r.ID] = true // may still be writing
			continue
		}
		if r.Status == lineage.StatusComplete && kept[r.Month] < o.Keep {
			keep[r.ID] = true
			kept[r.Month]++
		}
	}
	months := map[string]bool{}
	for _, r := range runs {
		months[r.Month] = true
	}
	for m := range months {
		id, err := env.Lineage.Published(ctx, spec.Name, m)
		if err == nil {
			keep[id] = true
			// The published run does not count against Keep.
		} else if !errors.Is(err, lineage.ErrNotFound) {
			return nil, err
		}
	}
	// The catalog is the final word on what readers see.
	for _, t := range tables(spec) {
		parts, err := env.Catalog.ListPartitions(ctx, spec.Database, t.name)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
		for _, p := range parts {
			if m := runDir.FindStringSubmatch(p.StorageDescriptor.Location); m != nil {
				keep[m[2]] = true
			}
		}
	}

	rep := &GCReport{}
	for _, t := range tables(spec) {
		root := TableRoot(t.tier, t.name)
		doomed := map[string][]string{}
		err := env.Storage.List(ctx, root, func(ob storage.Object) error {
			m := runDir.FindStringSubmatchIndex(ob.Key)
			if m == nil {
				return nil
			}
			id := ob.Key[m[4]:m[5]]
			if !keep[id] {
				prefix := ob.Key[:m[1]]
				doomed[prefix] = append(doomed[prefix], ob.Key)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("gc: list %s: %w", root, err)
		}
		prefixes := make([]string, 0, len(doomed))
		for p := range doomed {
			prefixes = append(prefixes, p)
		}
		sort.Strings(prefixes)
		for _, p := range prefixes {
			rep.Prefixes = append(rep.Prefixes, p)
			rep.Objects += len(doomed[p])
			if o.DryRun {
				continue
			}
			for _, k := range doomed[p] {
				if err := env.Storage.Delete(ctx, k); err != nil {
					return rep, fmt.Errorf("gc: delete %s: %w", k, err)
				}
			}
		}
	}
	if o.TempAge > 0 && !o.DryRun {
		type tempCleaner interface {
			CleanTemp(ctx context.Context, olderThan time.Duration) (int, error)
		}
		type uploadAborter interface {
			AbortIncompleteUploads(ctx context.Context, prefix string, olderThan time.Duration) (int, error)
		}
		if c, ok := env.Storage.(tempCleaner); ok {
			n, err := c.CleanTemp(ctx, o.TempAge)
			if err != nil {
				return rep, fmt.Errorf("gc: temporary files: %w", err)
			}
			rep.Temp += n
		}
		if a, ok := env.Storage.(uploadAborter); ok {
			n, err := a.AbortIncompleteUploads(ctx, "", o.TempAge)
			if err != nil {
				return rep, fmt.Errorf("gc: incomplete uploads: %w", err)
			}
			rep.Temp += n
		}
	}
	return rep, nil
}
