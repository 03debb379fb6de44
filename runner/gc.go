package runner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// GCOptions tune gc.
type GCOptions struct {
	// Keep is how many complete runs per month are kept besides the
	// published one and the one rollback would pick.
	Keep int
	// DryRun lists what would be deleted without deleting.
	DryRun bool
	// TempAge is the age beyond which temporary files and incomplete
	// multipart uploads outside dead runs' prefixes are removed (a dead
	// run's go at once). Nothing is swept while a run of the job is in
	// flight.
	TempAge time.Duration
}

// GCReport says what gc removed (or would remove).
type GCReport struct {
	Prefixes  []string // run data prefixes removed
	Objects   int      // objects removed from them
	Meta      int      // runs whose metadata (manifests, rejects, plans, executions) went
	Temp      int      // temporary files and incomplete uploads removed
	Abandoned []string // runs found dead while marked running: fenced off and recorded as failed
	InFlight  []string // runs left alone because they hold their month
}

var runDir = regexp.MustCompile(`month=([0-9]{4}-[0-9]{2})/run=([^/]+)/`)

// tempCleaner is a store that can remove temporary files (and the empty
// directories left) below a prefix (the file store).
type tempCleaner interface {
	CleanTemp(ctx context.Context, prefix string, olderThan time.Duration) (int, error)
}

// uploadAborter is a store that can abort incomplete uploads (S3).
type uploadAborter interface {
	AbortIncompleteUploads(ctx context.Context, prefix string, olderThan time.Duration) (int, error)
}

// gcPlan is what gc keeps: runs by id, and why.
type gcPlan struct {
	keep     map[string]string // run id → reason
	inFlight map[string]bool
	failed   map[string]bool // failed runs whose metadata is kept (the newest per month)
}

// GC prunes what no reader and no rollback needs: the data prefixes,
// metadata and executions of runs that are neither published, nor the run
// rollback would pick, nor among the Keep newest complete runs of their
// month, nor in flight. Runs marked running whose holder is gone are
// fenced off (their claim taken over, so they can never commit) and
// recorded as failed first. Every month is repaired before anything is
// decided.
func GC(ctx context.Context, env *Env, spec *jobs.Spec, o GCOptions) (*GCReport, error) {
	if _, err := RepairAll(ctx, env, spec); err != nil {
		return nil, err
	}
	rep := &GCReport{}
	plan, err := planGC(ctx, env, spec, o, rep)
	if err != nil {
		return nil, err
	}
	doomed := map[string][]string{} // data prefix → its objects
	for _, t := range tables(spec) {
		root := jobs.TableRoot(t.tier, t.name)
		err := env.Storage.List(ctx, root, func(ob storage.Object) error {
			m := runDir.FindStringSubmatchIndex(ob.Key)
			if m == nil {
				return nil
			}
			if _, ok := plan.keep[ob.Key[m[4]:m[5]]]; !ok {
				prefix := ob.Key[:m[1]]
				doomed[prefix] = append(doomed[prefix], ob.Key)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("gc: list %s: %w", root, err)
		}
	}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, "")
	if err != nil {
		return nil, err
	}
	// Dead runs' prefixes that hold no object may still hold temporary
	// files or empty directories.
	for _, r := range runs {
		if _, ok := plan.keep[r.ID]; ok {
			continue
		}
		for _, t := range tables(spec) {
			if p := t.prefix(r.Month, r.ID); doomed[p] == nil {
				doomed[p] = []string{}
			}
		}
	}
	prefixes := make([]string, 0, len(doomed))
	for p := range doomed {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		if len(doomed[p]) > 0 {
			rep.Prefixes = append(rep.Prefixes, p)
			rep.Objects += len(doomed[p])
		}
		if o.DryRun {
			continue
		}
		for _, k := range doomed[p] {
			if err := env.Storage.Delete(ctx, k); err != nil {
				return rep, fmt.Errorf("gc: delete %s: %w", env.Storage.ObjectURI(k), err)
			}
		}
		n, err := cleanTemp(ctx, env.Storage, p, 0)
		if err != nil {
			return rep, err
		}
		rep.Temp += n
	}
	if err := gcMeta(ctx, env, spec, runs, plan, o, rep); err != nil {
		return rep, err
	}
	if o.DryRun {
		return rep, nil
	}
	if len(plan.inFlight) > 0 {
		env.Log.Info().Strs("in_flight", rep.InFlight).Msg("a run of this job is in flight: temporary files outside dead runs' prefixes are left alone")
		return rep, nil
	}
	if o.TempAge > 0 {
		for _, root := range jobRoots(spec) {
			n, err := cleanTemp(ctx, env.Storage, root, o.TempAge)
			if err != nil {
				return rep, err
			}
			rep.Temp += n
		}
	}
	return rep, nil
}

// jobRoots are the prefixes a job writes below.
func jobRoots(spec *jobs.Spec) []string {
	roots := []string{"tier1/" + spec.Name + "/", "_tierflow/runs/" + spec.Name + "/", "_tierflow/executions/" + spec.Name + "/"}
	for _, t := range tables(spec) {
		roots = append(roots, jobs.TableRoot(t.tier, t.name))
	}
	return roots
}

// cleanTemp removes temporary files and incomplete uploads below prefix.
func cleanTemp(ctx context.Context, st storage.Storage, prefix string, olderThan time.Duration) (int, error) {
	n := 0
	if c, ok := st.(tempCleaner); ok {
		k, err := c.CleanTemp(ctx, prefix, olderThan)
		if err != nil {
			return n, fmt.Errorf("gc: temporary files under %s: %w", st.ObjectURI(prefix), err)
		}
		n += k
	}
	if a, ok := st.(uploadAborter); ok {
		k, err := a.AbortIncompleteUploads(ctx, prefix, olderThan)
		if err != nil {
			return n, fmt.Errorf("gc: incomplete uploads under %s: %w", st.ObjectURI(prefix), err)
		}
		n += k
	}
	return n, nil
}

// planGC decides which runs stay, fencing off dead ones on the way.
func planGC(ctx context.Context, env *Env, spec *jobs.Spec, o GCOptions, rep *GCReport) (*gcPlan, error) {
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, "")
	if err != nil {
		return nil, err
	}
	p := &gcPlan{keep: map[string]string{}, inFlight: map[string]bool{}, failed: map[string]bool{}}
	byMonth := map[string][]lineage.Run{}
	for _, r := range runs { // newest first
		byMonth[r.Month] = append(byMonth[r.Month], r)
	}
	for month, rs := range byMonth {
		m, err := env.Lineage.Month(ctx, spec.Name, month)
		if err != nil {
			return nil, err
		}
		if h := m.Claim; h.Owner != "" {
			if h.Live(time.Now()) && env.holderAlive(ctx, h) != HolderDead {
				id := RunOfOwner(h.Owner)
				p.keep[id], p.inFlight[id] = "in flight", true
				rep.InFlight = append(rep.InFlight, id)
			} else if !o.DryRun {
				// Expired or dead: take the claim over and release it, so
				// that the holder can never commit what gc removes.
				if c, err := env.Lineage.TakeOver(ctx, spec.Name, month, h, env.holderClaim("gc#"+nonce()), time.Minute); err == nil {
					_ = env.Lineage.Release(ctx, spec.Name, month, c.Owner)
				} else if !errors.Is(err, lineage.ErrConflict) {
					return nil, err
				}
			}
		}
		if pub := m.Published.RunID; pub != "" {
			p.keep[pub] = "published"
			if t := rollbackTarget(rs, pub, ""); t != "" {
				p.keep[t] = "rollback target"
			}
		}
		kept, failedKept := 0, false
		for _, r := range rs {
			switch {
			case p.inFlight[r.ID]:
			case r.Status == lineage.StatusRunning:
				rep.Abandoned = append(rep.Abandoned, r.ID)
				if !o.DryRun {
					markFailed(ctx, env, r, "abandoned: the run stopped without finishing (its process died or it lost its claim); gc removed what it wrote")
				}
			case r.Status == lineage.StatusComplete && p.keep[r.ID] == "" && kept < o.Keep:
				p.keep[r.ID] = "kept"
				kept++
			case r.Status == lineage.StatusFailed && !failedKept:
				// The newest failure's manifests and rejects explain it.
				p.failed[r.ID], failedKept = true, true
			}
		}
	}
	// The catalog is the final word on what readers see.
	for _, t := range tables(spec) {
		parts, err := env.Catalog.ListPartitions(ctx, spec.Database, t.name)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
		for _, part := range parts {
			if m := runDir.FindStringSubmatch(part.StorageDescriptor.Location); m != nil && p.keep[m[2]] == "" {
				p.keep[m[2]] = "in the catalog"
			}
		}
	}
	return p, nil
}

// markFailed records a run as failed with why, best effort.
func markFailed(ctx context.Context, env *Env, r lineage.Run, why string) {
	r.Status, r.Error = lineage.StatusFailed, why
	if r.Ended.IsZero() {
		r.Ended = time.Now()
	}
	if err := env.Lineage.FinishRun(ctx, r); err != nil {
		env.Log.Warn().Err(err).Str("run", r.ID).Msg("recording an abandoned run as failed")
	}
	olEmitAbandoned(ctx, env, r, why)
}

// gcMeta removes the metadata of pruned runs: their manifests, rejects and
// publish plan, and the executions that ran them (plus skipped executions
// older than TempAge). The newest failed run of each month keeps its
// manifests and rejects.
func gcMeta(ctx context.Context, env *Env, spec *jobs.Spec, runs []lineage.Run, plan *gcPlan, o GCOptions, rep *GCReport) error {
	l := jobs.Layout{Spec: spec}
	gone := map[string]bool{}
	for _, r := range runs {
		if _, ok := plan.keep[r.ID]; ok || plan.failed[r.ID] {
			continue
		}
		gone[r.ID] = true
		rep.Meta++
		if !o.DryRun {
			if err := deleteAll(ctx, env.Storage, l.RunMetaPrefix(r.ID)); err != nil {
				return err
			}
		}
	}
	execRoot := "_tierflow/executions/" + spec.Name + "/"
	var doomed []string
	err := env.Storage.List(ctx, execRoot, func(ob storage.Object) error {
		if !strings.HasSuffix(ob.Key, "/plan.json") {
			return nil
		}
		var ex Exec
		if err := getJSON(ctx, env.Storage, ob.Key, &ex); err != nil {
			return nil // unreadable: left for a person
		}
		stale := ex.Skipped && o.TempAge > 0 && time.Since(ex.Started) > o.TempAge
		if gone[ex.RunID] || stale {
			doomed = append(doomed, strings.TrimSuffix(ob.Key, "plan.json"))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gc: list %s: %w", execRoot, err)
	}
	if o.DryRun {
		return nil
	}
	for _, p := range doomed {
		if err := deleteAll(ctx, env.Storage, p); err != nil {
			return err
		}
	}
	return nil
}

// deleteAll removes every object below prefix, then its temporary files.
func deleteAll(ctx context.Context, st storage.Storage, prefix string) error {
	if err := storage.DeletePrefix(ctx, st, prefix); err != nil {
		return fmt.Errorf("gc: delete %s: %w", st.ObjectURI(prefix), err)
	}
	_, err := cleanTemp(ctx, st, prefix, 0)
	return err
}
