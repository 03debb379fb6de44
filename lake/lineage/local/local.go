// Package local implements lineage.Store on an embedded bbolt database file:
// the run records, lineage edges, month claims and published pointers of
// the embedded default.
//
// bbolt takes an exclusive file lock for as long as a database is open, so
// a store that kept the file open would block every other process (a second
// "tierflow run" for the same month would hang instead of getting
// ErrConflict from ClaimMonth). This store therefore opens the database for
// each operation and closes it right after: writers lock exclusively,
// readers share, and a waiting caller retries until its context ends. Inside
// one process a semaphore hands the file to one operation at a time, so
// goroutines queue without polling. Each write is one fsynced bbolt
// transaction, which is what makes StartRun, ClaimMonth and SetPublished
// atomic compare-and-set operations across processes.
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tierflow/tierflow/lake/lineage"
)

// Top-level buckets.
var (
	bucketRuns      = []byte("runs")       // runs/<job>/<run id> → Run JSON
	bucketEdgesFrom = []byte("edges_from") // from\0to\0run\0transform → Edge JSON
	bucketEdgesTo   = []byte("edges_to")   // to\0from\0run\0transform → Edge JSON
	bucketClaims    = []byte("claims")     // job\0month → claim JSON
	bucketPublished = []byte("published")  // job\0month → run id
)

// lockAttempt bounds one wait for bbolt's file lock before ctx is checked
// again (bbolt polls the lock every 50 ms).
const lockAttempt = 200 * time.Millisecond

// Store is a lineage.Store in a bbolt file. It is safe for concurrent use by
// goroutines and by other processes opening the same file.
type Store struct {
	path   string
	sem    chan struct{}
	closed atomic.Bool
}

var _ lineage.Store = (*Store)(nil)

// Open returns the store kept in the bbolt file at path, creating the file
// and its directory if needed. The file is not held open between calls.
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("lineage: path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o777); err != nil {
		return nil, fmt.Errorf("lineage: %w", err)
	}
	s := &Store{path: abs, sem: make(chan struct{}, 1)}
	// Create the buckets now, so that read-only opens never meet an
	// uninitialised file.
	err = s.update(context.Background(), func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRuns, bucketEdgesFrom, bucketEdgesTo, bucketClaims, bucketPublished} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Close marks the store closed; later calls fail. No file is held open.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

var errClosed = errors.New("lineage: store is closed")

// withDB opens the database (read-only unless writable), runs fn in one
// transaction and closes the database again.
func (s *Store) withDB(ctx context.Context, writable bool, fn func(*bolt.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lineage: %w", ctx.Err())
	}
	defer func() { <-s.sem }()
	var db *bolt.DB
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("lineage: waiting for %s: %w", s.path, err)
		}
		var err error
		db, err = bolt.Open(s.path, 0o600, &bolt.Options{Timeout: lockAttempt, ReadOnly: !writable})
		if err == nil {
			break
		}
		if !errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("lineage: open %s: %w", s.path, err)
		}
	}
	var err error
	if writable {
		err = db.Update(fn)
	} else {
		err = db.View(fn)
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("lineage: close %s: %w", s.path, cerr)
	}
	return err
}

func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	return s.withDB(ctx, true, fn)
}

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	return s.withDB(ctx, false, fn)
}

// checkName rejects empty names and NUL, which separates key parts.
func checkName(kind, v string) error {
	if v == "" {
		return fmt.Errorf("lineage: empty %s", kind)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("lineage: %s %q contains NUL", kind, v)
	}
	return nil
}

func checkNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkName(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func key(parts ...string) []byte { return []byte(strings.Join(parts, "\x00")) }

// StartRun records a new run; lineage.ErrConflict if (job, id) exists.
func (s *Store) StartRun(ctx context.Context, run lineage.Run) error {
	if err := checkNames("job", run.Job, "run id", run.ID); err != nil {
		return err
	}
	val, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("lineage: encode run %s: %w", run.ID, err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketRuns).CreateBucketIfNotExists([]byte(run.Job))
		if err != nil {
			return err
		}
		if b.Get([]byte(run.ID)) != nil {
			return fmt.Errorf("lineage: start run %s/%s: %w", run.Job, run.ID, lineage.ErrConflict)
		}
		return b.Put([]byte(run.ID), val)
	})
}

// FinishRun replaces a started run's record; lineage.ErrNotFound if it was
// never started.
func (s *Store) FinishRun(ctx context.Context, run lineage.Run) error {
	if err := checkNames("job", run.Job, "run id", run.ID); err != nil {
		return err
	}
	val, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("lineage: encode run %s: %w", run.ID, err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns).Bucket([]byte(run.Job))
		if b == nil || b.Get([]byte(run.ID)) == nil {
			return fmt.Errorf("lineage: finish run %s/%s: %w", run.Job, run.ID, lineage.ErrNotFound)
		}
		return b.Put([]byte(run.ID), val)
	})
}

// GetRun returns one run or lineage.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, job, runID string) (lineage.Run, error) {
	var run lineage.Run
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var v []byte
		if b := tx.Bucket(bucketRuns).Bucket([]byte(job)); b != nil && runID != "" {
			v = b.Get([]byte(runID))
		}
		if v == nil {
			return fmt.Errorf("lineage: run %s/%s: %w", job, runID, lineage.ErrNotFound)
		}
		return json.Unmarshal(v, &run)
	})
	return run, err
}

// ListRuns returns the job's runs, newest Started first (ties by run id,
// descending); month "" lists all months.
func (s *Store) ListRuns(ctx context.Context, job, month string) ([]lineage.Run, error) {
	var runs []lineage.Run
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if job == "" {
			return nil
		}
		b := tx.Bucket(bucketRuns).Bucket([]byte(job))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r lineage.Run
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("lineage: decode run %s/%s: %w", job, k, err)
			}
			if month == "" || r.Month == month {
				runs = append(runs, r)
			}
			return nil
		})
	})
	slices.SortFunc(runs, func(a, b lineage.Run) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return runs, err
}

// AddEdges records edges; an edge already recorded (same From, To, RunID
// and Transform) is not duplicated.
func (s *Store) AddEdges(ctx context.Context, edges []lineage.Edge) error {
	for _, e := range edges {
		if err := checkNames("edge from", e.From, "edge to", e.To, "edge run id", e.RunID); err != nil {
			return err
		}
		if strings.IndexByte(e.Transform, 0) >= 0 {
			return fmt.Errorf("lineage: edge transform %q contains NUL", e.Transform)
		}
	}
	if len(edges) == 0 {
		return nil
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		from, to := tx.Bucket(bucketEdgesFrom), tx.Bucket(bucketEdgesTo)
		for _, e := range edges {
			val, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := from.Put(key(e.From, e.To, e.RunID, e.Transform), val); err != nil {
				return err
			}
			if err := to.Put(key(e.To, e.From, e.RunID, e.Transform), val); err != nil {
				return err
			}
		}
		return nil
	})
}

// edges returns the edges stored in bucket under uri, in key order.
func (s *Store) edges(ctx context.Context, bucket []byte, uri string) ([]lineage.Edge, error) {
	var out []lineage.Edge
	if uri == "" {
		return nil, nil
	}
	prefix := append([]byte(uri), 0)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var e lineage.Edge
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("lineage: decode edge %q: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Upstream returns the edges whose To is uri, ordered by From, RunID and
// Transform.
func (s *Store) Upstream(ctx context.Context, uri string) ([]lineage.Edge, error) {
	return s.edges(ctx, bucketEdgesTo, uri)
}

// Downstream returns the edges whose From is uri, ordered by To, RunID and
// Transform.
func (s *Store) Downstream(ctx context.Context, uri string) ([]lineage.Edge, error) {
	return s.edges(ctx, bucketEdgesFrom, uri)
}

// claim is the stored value of a month claim.
type claim struct {
	RunID   string    `json:"run_id"`
	Expires time.Time `json:"expires"`
}

// ClaimMonth gives runID (job, month) until ReleaseMonth or ttl. A claim by
// another run that has expired is taken over; the same run claiming again
// renews its claim.
func (s *Store) ClaimMonth(ctx context.Context, job, month, runID string, ttl time.Duration) error {
	if err := checkNames("job", job, "month", month, "run id", runID); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("lineage: claim %s/%s: ttl %v must be positive", job, month, ttl)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClaims)
		k := key(job, month)
		now := time.Now()
		if v := b.Get(k); v != nil {
			var c claim
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("lineage: decode claim %s/%s: %w", job, month, err)
			}
			if c.RunID != runID && now.Before(c.Expires) {
				return fmt.Errorf("lineage: claim %s/%s for %s: held by %s until %s: %w",
					job, month, runID, c.RunID, c.Expires.Format(time.RFC3339), lineage.ErrConflict)
			}
		}
		val, err := json.Marshal(claim{RunID: runID, Expires: now.Add(ttl)})
		if err != nil {
			return err
		}
		return b.Put(k, val)
	})
}

// ReleaseMonth removes the claim if runID holds it; otherwise it does
// nothing.
func (s *Store) ReleaseMonth(ctx context.Context, job, month, runID string) error {
	if err := checkNames("job", job, "month", month, "run id", runID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClaims)
		k := key(job, month)
		v := b.Get(k)
		if v == nil {
			return nil
		}
		var c claim
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("lineage: decode claim %s/%s: %w", job, month, err)
		}
		if c.RunID != runID {
			return nil
		}
		return b.Delete(k)
	})
}

// SetPublished moves the month's published pointer from prev ("" = none)
// to runID, or fails with lineage.ErrConflict if it is not at prev.
func (s *Store) SetPublished(ctx context.Context, job, month, runID, prev string) error {
	if err := checkNames("job", job, "month", month, "run id", runID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPublished)
		k := key(job, month)
		if cur := string(b.Get(k)); cur != prev {
			return fmt.Errorf("lineage: publish %s/%s: pointer is %q, caller expected %q: %w", job, month, cur, prev, lineage.ErrConflict)
		}
		return b.Put(k, []byte(runID))
	})
}

// Published returns the month's published run id or lineage.ErrNotFound.
func (s *Store) Published(ctx context.Context, job, month string) (string, error) {
	var id string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketPublished).Get(key(job, month)))
		if id == "" {
			return fmt.Errorf("lineage: published %s/%s: %w", job, month, lineage.ErrNotFound)
		}
		return nil
	})
	return id, err
}
