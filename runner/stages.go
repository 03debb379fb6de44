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

// pristine copies every part byte for byte into tier 1, hashing what it
// reads; a tier-1 object that already exists (a rerun of the same delivery)
// is never rewritten, only checked. The converter later reads the tier-1
// copy and its own hash of it must match.
func (j *job) pristine(ctx context.Context) (lineage.Stage, error) {
	st := lineage.Stage{}
	j.tier1 = make([]pristineObject, len(j.plan.Parts))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(j.parallelism())
	for i, p := range j.plan.Parts {
		g.Go(func() error {
			dst := j.layout.Tier1Prefix(j.plan.Month, j.plan.Delivery) + path.Base(p.Key)
			sum, n, err := copyHashed(ctx, j.env.Storage, p.Key, dst)
			if err != nil {
				return fmt.Errorf("part %s: %w", p.Key, err)
			}
			if n != p.Size {
				return fmt.Errorf("part %s: read %d bytes, listed size %d: the object changed during the run", p.Key, n, p.Size)
			}
			j.tier1[i] = pristineObject{part: p, key: dst, sha256: sum, size: n}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	for _, o := range j.tier1 {
		st.BytesIn += o.size
		st.BytesOut += o.size
		st.Files++
		in := lineage.Dataset{URI: j.env.Storage.ObjectURI(o.part.Key), Kind: "object", Size: o.size, SHA256: o.sha256, ETag: o.part.ETag}
		out := lineage.Dataset{URI: j.env.Storage.ObjectURI(o.key), Kind: "object", Tier: 1, Size: o.size, SHA256: o.sha256}
		j.run.Inputs = append(j.run.Inputs, in, out)
	}
	return st, nil
}

// copyHashed copies src to dst unless dst exists, and returns the SHA-256
// of src; an existing dst must hash the same (tier 1 is never modified).
func copyHashed(ctx context.Context, st storage.Storage, src, dst string) (string, int64, error) {
	srcSum, n, err := hashObject(ctx, st, src, func(r io.Reader) error {
		if _, err := st.Stat(ctx, dst); err == nil {
			_, err := io.Copy(io.Discard, r)
			return err
		}
		return storage.Put(ctx, st, dst, r, storage.PutOptions{ContentType: "application/gzip"})
	})
	if err != nil {
		return "", 0, err
	}
	dstSum, _, err := hashObject(ctx, st, dst, func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err != nil {
		return "", 0, fmt.Errorf("verify tier-1 copy %s: %w", dst, err)
	}
	if dstSum != srcSum {
		return "", 0, fmt.Errorf("tier-1 copy %s has sha256 %s but the intake object has %s; tier 1 is never modified, so this delivery cannot be stored", dst, dstSum, srcSum)
	}
	return srcSum, n, nil
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
	st := lineage.Stage{}
	dataPrefix := j.layout.Tier2Prefix(j.plan.Month, j.run.ID)
	metaPrefix := j.layout.RunMetaPrefix(j.run.ID) + "parts/"
	manifests := make([]*container.Manifest, len(j.tier1))

	var mu sync.Mutex
	done := make([]int64, len(j.tier1))
	var total int64
	for _, o := range j.tier1 {
		total += o.size
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(j.parallelism())
	for i, o := range j.tier1 {
		g.Go(func() error {
			opts := container.Options{
				Spec:   j.spec,
				Part:   o.part.Name,
				Logger: j.log.With().Str("part", o.part.Name).Logger(),
			}
			if j.opts.Progress != nil {
				opts.Progress = func(read, _ int64) {
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
			m, err := container.Convert(gctx, opts, j.env.Storage, o.key, j.env.Output, dataPrefix, metaPrefix)
			manifests[i] = m
			if err != nil {
				return fmt.Errorf("part %s: %w", o.part.Name, err)
			}
			if m.InputSHA256 != o.sha256 {
				return fmt.Errorf("part %s: converter read sha256 %s but tier 1 holds %s", o.part.Name, m.InputSHA256, o.sha256)
			}
			return nil
		})
	}
	err := g.Wait()
	for _, m := range manifests {
		if m == nil {
			continue
		}
		j.res.Manifests = append(j.res.Manifests, m)
		st.RowsIn += m.RowsRead
		st.RowsOut += m.RowsWritten
		st.RowsRejected += m.RowsRejected
		st.BytesIn += m.InputBytes
		for _, f := range m.Files {
			st.BytesOut += f.Bytes
			st.Files++
		}
	}
	j.run.RowsIn, j.run.RowsOut, j.run.RowsRejected = st.RowsIn, st.RowsOut, st.RowsRejected
	if err != nil {
		return st, err
	}
	t := Tier2Table(j.env.Storage, j.spec)
	p := MonthPartition(t, j.plan.Month, DirURI(j.env.Storage, dataPrefix), j.run.ID)
	j.staged = append(j.staged, staged{table: t, partition: p, prefix: dataPrefix, rows: st.RowsOut})
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
		if err := checkAthenaWriters(d); err != nil {
			return st, err
		}
		var inputs []engine.Input
		for _, s := range j.staged {
			if mentions(d.SQL, s.table.Name) {
				inputs = append(inputs, engineInput(s.table, s.partition))
			}
		}
		prefix := j.layout.Tier3Prefix(d.Table, j.plan.Month, j.run.ID)
		c := engine.CTAS{
			Database: j.spec.Database, Table: d.Table, SQL: d.SQL,
			Location: DirURI(j.env.Storage, prefix), Format: d.Format, Compression: d.Compression,
			BucketedBy: d.BucketedBy, BucketCount: d.BucketCount, Inputs: inputs,
		}
		r, err := eng.CreateTableAs(ctx, c)
		if err != nil {
			return st, fmt.Errorf("derived table %s: %w", d.Table, err)
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
		j.staged = append(j.staged, staged{table: t, partition: p, prefix: prefix, rows: r.Rows})
	}
	return st, nil
}
