package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sync"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

type logger = zerolog.Logger

// pristineObject is a part's tier-1 copy.
type pristineObject struct {
	part   Part
	key    string // tier-1 key
	sha256 string
	size   int64
}

// pristine copies every part byte for byte into tier 1, in parallel.
func (j *job) pristine(ctx context.Context) (lineage.Stage, error) {
	st := lineage.Stage{}
	j.tier1 = make([]pristineObject, len(j.plan.Parts))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(j.parallelism())
	for i, p := range j.plan.Parts {
		g.Go(func() error {
			o, err := j.pristineOne(ctx, p)
			j.tier1[i] = o
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	for _, o := range j.tier1 {
		st.BytesIn += o.size
		st.BytesOut += o.size
		st.Files++
	}
	return st, nil
}

// tier1Key is where part p of this run's delivery is kept.
func (j *job) tier1Key(p Part) string {
	return j.layout.Tier1Prefix(j.plan.Month, j.plan.Delivery) + path.Base(p.Key)
}

// pristineOne copies one part into tier 1, hashing the intake bytes
// (SHA-256). A tier-1 object that already exists (a rerun of the same
// delivery) is never rewritten; the converter's hash of what it reads from
// tier 1 must equal the intake's.
func (j *job) pristineOne(ctx context.Context, p Part) (pristineObject, error) {
	dst := j.tier1Key(p)
	sum, n, err := copyHashed(ctx, j.env.Storage, p.Key, dst)
	if err != nil {
		return pristineObject{}, fmt.Errorf("part %s: %w", p.Key, err)
	}
	if n != p.Size {
		return pristineObject{}, fmt.Errorf("part %s: read %d bytes, listed size %d: the object changed during the run", p.Key, n, p.Size)
	}
	return pristineObject{part: p, key: dst, sha256: sum, size: n}, nil
}

// copyHashed copies src to dst and returns the SHA-256 and size of src.
// A fresh copy is not read back: the converter hashes the tier-1 object as
// it reads it and convertOne fails the part on a mismatch. A dst that
// already exists (a rerun of the same delivery) is never rewritten; it is
// hashed here, so a tier-1 object that differs fails with that reason
// before the converter trips over its content.
func copyHashed(ctx context.Context, st storage.Storage, src, dst string) (string, int64, error) {
	_, statErr := st.Stat(ctx, dst)
	exists := statErr == nil
	sum, n, err := hashObject(ctx, st, src, func(r io.Reader) error {
		if exists {
			_, err := io.Copy(io.Discard, r)
			return err
		}
		return storage.Put(ctx, st, dst, r, storage.PutOptions{ContentType: "application/gzip"})
	})
	if err != nil || !exists {
		return sum, n, err
	}
	dstSum, _, err := hashObject(ctx, st, dst, func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err != nil {
		return "", 0, fmt.Errorf("verify existing tier-1 copy %s: %w", dst, err)
	}
	if dstSum != sum {
		return "", 0, fmt.Errorf("tier-1 copy %s has sha256 %s but the intake object has %s; tier 1 is never modified, so this delivery cannot be stored", dst, dstSum, sum)
	}
	return sum, n, nil
}

// hashObject streams key through fn while hashing it.
func hashObject(ctx context.Context, st storage.Storage, key string, fn func(io.Reader) error) (string, int64, error) {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(rc, h)}
	if err := fn(cr); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// convert runs the converter on every tier-1 part, in parallel, into the
// run's tier-2 prefix. The first failure cancels the others.
func (j *job) convert(ctx context.Context) (lineage.Stage, error) {
	var mu sync.Mutex
	manifests := make([]*container.Manifest, len(j.tier1))
	done := make([]int64, len(j.tier1))
	var total int64
	for _, o := range j.tier1 {
		total += o.size
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(j.parallelism())
	for i, o := range j.tier1 {
		g.Go(func() error {
			var progress func(read, total int64)
			if j.opts.Progress != nil {
				progress = func(read, _ int64) {
					mu.Lock()
					defer mu.Unlock()
					done[i] = read
					var sum int64
					for _, d := range done {
						sum += d
					}
					j.opts.Progress(sum, total)
				}
			}
			m, err := j.convertOne(gctx, o, progress)
			manifests[i] = m
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
		Logger:    j.log.With().Str("part", o.part.Name).Logger(),
		Progress:  progress,
		CreatedBy: CreatedBy(),
	}
	m, err := container.Convert(ctx, opts, j.env.Storage, o.key, j.env.Output, j.dataPrefix(), j.metaPrefix())
	if err != nil {
		return m, err // it names the part already
	}
	if m.InputSHA256 != o.sha256 {
		return m, fmt.Errorf("part %s: the tier-1 copy %s has sha256 %s but the intake object had %s; tier 1 is never modified, so this delivery cannot be stored", o.part.Name, o.key, m.InputSHA256, o.sha256)
	}
	return m, nil
}

func (j *job) dataPrefix() string { return j.layout.Tier2Prefix(j.plan.Month, j.run.ID) }

func (j *job) metaPrefix() string { return j.layout.RunMetaPrefix(j.run.ID) + "parts/" }

// stage reads every part's manifest back from storage and checks it
// against what is stored (rows read = written + rejected, every file there
// with its size, the input hash that of the tier-1 object); then the tier-2
// partition is staged. It is the same whether the parts were converted in
// this process or in Fargate tasks.
func (j *job) stage(ctx context.Context) (lineage.Stage, error) {
	st := lineage.Stage{}
	j.res.Manifests = nil
	j.tier1 = make([]pristineObject, len(j.plan.Parts))
	for i, p := range j.plan.Parts {
		var m container.Manifest
		key := container.ManifestKey(j.metaPrefix(), p.Name)
		if err := getJSON(ctx, j.env.Storage, key, &m); err != nil {
			return st, fmt.Errorf("part %s: manifest: %w", p.Name, err)
		}
		if m.Error != "" {
			return st, fmt.Errorf("part %s failed: %s", p.Name, m.Error)
		}
		if err := verifyManifest(ctx, j.env.Storage, &m); err != nil {
			return st, err
		}
		j.tier1[i] = pristineObject{part: p, key: j.tier1Key(p), sha256: m.InputSHA256, size: m.InputBytes}
		j.res.Manifests = append(j.res.Manifests, &m)
		addManifest(&st, &m)
	}
	j.run.RowsIn, j.run.RowsOut, j.run.RowsRejected = st.RowsIn, st.RowsOut, st.RowsRejected
	j.run.Inputs = nil
	for _, o := range j.tier1 {
		j.run.Inputs = append(j.run.Inputs,
			lineage.Dataset{URI: j.env.Storage.ObjectURI(o.part.Key), Kind: "object", Size: o.size, SHA256: o.sha256, ETag: o.part.ETag},
			lineage.Dataset{URI: j.env.Storage.ObjectURI(o.key), Kind: "object", Tier: 1, Size: o.size, SHA256: o.sha256})
	}
	t := Tier2Table(j.env.Storage, j.spec)
	p := MonthPartition(t, j.plan.Month, DirURI(j.env.Storage, j.dataPrefix()), j.run.ID)
	j.staged = []staged{{table: t, partition: p, prefix: j.dataPrefix(), rows: st.RowsOut}}
	return st, nil
}

// derive builds each derived table from this run's staged (not yet
// published) partitions, so tier 2 and tier 3 publish together.
func (j *job) derive(ctx context.Context) (lineage.Stage, error) {
	st := lineage.Stage{}
	if len(j.spec.Derived) == 0 {
		return st, nil
	}
	eng, err := j.env.Engine(ctx)
	if err != nil {
		return st, fmt.Errorf("open query engine: %w", err)
	}
	for _, d := range j.spec.Derived {
		c, err := j.derivedCTAS(d)
		if err != nil {
			return st, err
		}
		r, err := eng.CreateTableAs(ctx, c)
		if err != nil {
			return st, fmt.Errorf("derived table %s: %w", d.Table, err)
		}
		if err := j.stageDerived(ctx, d, c, r, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// derivedCTAS is the statement that builds d for this run: its SELECT over
// the staged partitions, written to the run's tier-3 prefix.
func (j *job) derivedCTAS(d jobs.Derived) (engine.CTAS, error) {
	if err := checkAthenaWriters(d); err != nil {
		return engine.CTAS{}, err
	}
	var inputs []engine.Input
	for _, s := range j.staged {
		if mentions(d.SQL, s.table.Name) {
			inputs = append(inputs, engineInput(s.table, s.partition))
		}
	}
	return engine.CTAS{
		Database: j.spec.Database, Table: d.Table, SQL: d.SQL,
		Location: DirURI(j.env.Storage, j.layout.Tier3Prefix(d.Table, j.plan.Month, j.run.ID)),
		Format:   d.Format, Compression: d.Compression,
		BucketedBy: d.BucketedBy, BucketCount: d.BucketCount, Inputs: inputs,
	}, nil
}

// stageDerived takes the result of d's CTAS (wherever it ran), applies the
// job's PII policy when d is not a PII table, and stages d's partition.
func (j *job) stageDerived(ctx context.Context, d jobs.Derived, c engine.CTAS, r engine.Result, st *lineage.Stage) error {
	if !d.PII && j.spec.PII.Set {
		// The job's PII policy rewrites the output before it is staged.
		if err := j.applyPII(ctx, d, &r); err != nil {
			return fmt.Errorf("derived table %s: PII policy: %w", d.Table, err)
		}
	}
	j.res.Derived = append(j.res.Derived, r)
	st.RowsOut += r.Rows
	st.BytesIn += r.DataScannedBytes
	st.BytesOut += r.Bytes
	st.Files += len(r.Files)
	j.run.Cost.AthenaScanned += r.DataScannedBytes
	j.run.Cost.USD += r.CostUSD
	t := DerivedTable(j.env.Storage, j.spec, d, r.Columns)
	p := MonthPartition(t, j.plan.Month, c.Location, j.run.ID)
	j.staged = append(j.staged, staged{table: t, partition: p, prefix: j.layout.Tier3Prefix(d.Table, j.plan.Month, j.run.ID), rows: r.Rows})
	return nil
}
