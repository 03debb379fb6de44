package runner

// Stage "convert": every tier-1 part through the converter into the run's
// tier-2 prefix, in parallel.

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/lake/lineage"
)

// convert runs the converter on every tier-1 part, in parallel, into the
// run's tier-2 prefix. The first failure cancels the others.
func (j *job) convert(ctx context.Context) (lineage.Stage, error) {
	manifests := make([]*container.Manifest, len(j.tier1))
	watch := j.opts.watcher()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(j.parallelism())
	for i, o := range j.tier1 {
		g.Go(func() error {
			m, err := j.convertOne(gctx, o, func(read, total int64) { watch.PartRead(i, read, total) })
			manifests[i] = m
			var rows int64
			if m != nil {
				rows = m.RowsWritten
			}
			if err == nil || !errors.Is(err, context.Canceled) {
				watch.PartDone(i, rows, err)
			}
			return err
		})
	}
	err := g.Wait()
	st := lineage.Stage{}
	for _, m := range manifests {
		if m == nil {
			continue
		}
		addManifest(&st, m)
	}
	return st, err
}

// addManifest adds a part's figures to a stage's.
func addManifest(st *lineage.Stage, m *container.Manifest) {
	st.RowsIn += m.RowsRead
	st.RowsOut += m.RowsWritten
	st.RowsRejected += m.RowsRejected
	st.BytesIn += m.InputBytes
	for _, f := range m.Files {
		st.BytesOut += f.Bytes
		st.Files++
	}
}

// convertOne converts one tier-1 part into the run's tier-2 prefix; its
// manifest and rejects go to the run's meta prefix, where stage reads them.
func (j *job) convertOne(ctx context.Context, o pristineObject, progress func(read, total int64)) (*container.Manifest, error) {
	opts := container.Options{
		Spec:      j.spec,
		Part:      o.part.Name,
		Logger:    j.log, // the converter names the part in its lines
		Progress:  progress,
		CreatedBy: CreatedBy(),
	}
	m, err := container.Convert(ctx, opts, j.env.Storage, o.key, j.output(), j.dataPrefix(), j.metaPrefix())
	if err != nil {
		// The object the user dropped first; the converter's error names
		// the part and the tier-1 copy it read.
		if errors.Is(err, context.Canceled) {
			return m, err
		}
		return m, fmt.Errorf("intake object %s: %w", j.env.Storage.ObjectURI(o.part.Key), err)
	}
	if m.InputSHA256 != o.sha256 {
		return m, fmt.Errorf("part %s: %w: %s has sha256 %s but the intake object had %s; tier 1 is never modified, so this delivery cannot be stored", o.part.Name, ErrTier1Changed, o.key, m.InputSHA256, o.sha256)
	}
	j.markVerified(ctx, o.part.Key)
	return m, nil
}

func (j *job) dataPrefix() string { return j.layout.Tier2Prefix(j.plan.Month, j.run.ID) }

func (j *job) metaPrefix() string { return j.layout.RunMetaPrefix(j.run.ID) + "parts/" }
