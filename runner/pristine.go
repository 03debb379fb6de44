package runner

// Stage "pristine": every intake part copied byte for byte into tier 1.

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

type logger = zerolog.Logger

// ErrTier1Changed is returned (wrapped) when a part's tier-1 copy holds
// other bytes than the intake object: tier 1 is never modified, so the
// delivery cannot be stored.
var ErrTier1Changed = errors.New("runner: tier-1 copy differs from the intake object")

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
	watch := j.opts.watcher()
	for i, p := range j.plan.Parts {
		g.Go(func() error {
			watch.PartRead(i, 0, p.Size)
			o, err := j.pristineOne(ctx, p)
			j.tier1[i] = o
			if err == nil || !errors.Is(err, context.Canceled) {
				watch.PartDone(i, 0, err)
			}
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
	t0 := time.Now()
	sum, n, err := copyHashed(ctx, j.env.Storage, p, dst)
	if err != nil {
		return pristineObject{}, fmt.Errorf("part %s: %w", p.Key, err)
	}
	j.log.Debug().Str("part", p.Name).Str("tier1", j.env.Storage.ObjectURI(dst)).Int64("bytes", n).Str("sha256", sum).
		Float64("wall_s", time.Since(t0).Seconds()).Msg("part copied to tier 1")
	if n != p.Size {
		return pristineObject{}, fmt.Errorf("part %s: read %d bytes, listed size %d: the object changed during the run", p.Key, n, p.Size)
	}
	return pristineObject{part: p, key: dst, sha256: sum, size: n}, nil
}

// copyHashed copies part src to dst and returns the SHA-256 and size of
// src. A fresh copy is not read back: the converter hashes the tier-1
// object as it reads it and convertOne fails the part on a mismatch. A dst
// that already exists (a rerun of the same delivery) is never rewritten;
// it is hashed here, so a tier-1 object that differs fails with that
// reason before the converter trips over its content. Digests the vendor's
// manifest lists for src are checked before the copy is committed: a part
// that is not what the vendor listed never reaches tier 1.
func copyHashed(ctx context.Context, st storage.Storage, src Part, dst string) (string, int64, error) {
	o, statErr := st.Stat(ctx, dst)
	exists := statErr == nil
	if exists && o.Archived {
		// Tier 1 moved to an archive class (the job's lifecycle): say which
		// restore it needs instead of failing on the first read.
		return "", 0, fmt.Errorf("the tier-1 copy of this delivery is archived: %w", storage.Archived(st.ObjectURI(dst), o))
	}
	sum, n, err := hashChecked(ctx, st, src.Key, src, func(r io.Reader) error {
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
		return "", 0, fmt.Errorf("%w: %s has sha256 %s but the intake object has %s; tier 1 is never modified, so this delivery cannot be stored", ErrTier1Changed, dst, dstSum, sum)
	}
	return sum, n, nil
}

// hashObject streams key through fn while hashing it.
func hashObject(ctx context.Context, st storage.Storage, key string, fn func(io.Reader) error) (string, int64, error) {
	return hashChecked(ctx, st, key, Part{}, fn)
}

// hashChecked is hashObject that also checks the digests listed in want
// (SHA256, MD5; "" = not listed): when they differ, the reader fn gets
// fails at the end instead of returning io.EOF, so a write fed from it is
// aborted, never committed.
func hashChecked(ctx context.Context, st storage.Storage, key string, want Part, fn func(io.Reader) error) (string, int64, error) {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	var w io.Writer = h
	var m hash.Hash
	if want.MD5 != "" {
		m = md5.New()
		w = io.MultiWriter(h, m)
	}
	cr := &countingReader{r: io.TeeReader(rc, w)}
	var r io.Reader = cr
	if want.SHA256 != "" || m != nil {
		r = &endCheck{r: cr, check: func() error {
			if got := hex.EncodeToString(h.Sum(nil)); want.SHA256 != "" && got != want.SHA256 {
				return fmt.Errorf("sha256 is %s, but the delivery manifest lists %s: the object is not the part the vendor listed", got, want.SHA256)
			}
			if m != nil {
				if got := hex.EncodeToString(m.Sum(nil)); got != want.MD5 {
					return fmt.Errorf("md5 is %s, but the delivery manifest lists %s: the object is not the part the vendor listed", got, want.MD5)
				}
			}
			return nil
		}}
	}
	if err := fn(r); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), cr.n, nil
}

// endCheck returns check's error instead of io.EOF when it has one.
type endCheck struct {
	r     io.Reader
	check func() error
}

func (e *endCheck) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		if cerr := e.check(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
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
