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
// atomic compare-and-set operations across processes; Commit checks the
// claim and moves the published run in one transaction.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
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
	bucketClaims    = []byte("claims")     // job\0month → monthRecord JSON
	bucketPublished = []byte("published")  // job\0month → lineage.Commit JSON
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
	return s.putRun(ctx, run, func(runs *bolt.Bucket) (*bolt.Bucket, error) {
		b, err := runs.CreateBucketIfNotExists([]byte(run.Job))
		if err != nil {
			return nil, err
		}
		if b.Get([]byte(run.ID)) != nil {
			return nil, fmt.Errorf("start run %s/%s: %w", run.Job, run.ID, lineage.ErrConflict)
		}
		return b, nil
	})
}

// FinishRun replaces a started run's record; lineage.ErrNotFound if it was
// never started.
func (s *Store) FinishRun(ctx context.Context, run lineage.Run) error {
	return s.putRun(ctx, run, func(runs *bolt.Bucket) (*bolt.Bucket, error) {
		b := runs.Bucket([]byte(run.Job))
		if b == nil || b.Get([]byte(run.ID)) == nil {
			return nil, fmt.Errorf("finish run %s/%s: %w", run.Job, run.ID, lineage.ErrNotFound)
		}
		return b, nil
	})
}

// putRun writes run's record into the job's bucket, which jobBucket finds
// in the runs bucket, or refuses with its error.
func (s *Store) putRun(ctx context.Context, run lineage.Run, jobBucket func(runs *bolt.Bucket) (*bolt.Bucket, error)) error {
	if err := checkNames("job", run.Job, "run id", run.ID); err != nil {
		return err
	}
	val, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("lineage: encode run %s: %w", run.ID, err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := jobBucket(tx.Bucket(bucketRuns))
		if err != nil {
			return err
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
			return fmt.Errorf("run %s/%s: %w", job, runID, lineage.ErrNotFound)
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

// monthRecord is the stored claim of a month: the current claim (Owner ""
// when released) and the last token issued, which outlives the claim.
type monthRecord struct {
	lineage.Claim
	Epoch int64 `json:"epoch"`
}

func getClaim(b *bolt.Bucket, job, month string) (monthRecord, error) {
	var r monthRecord
	v := b.Get(key(job, month))
	if v == nil {
		return r, nil
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("lineage: decode claim %s/%s: %w", job, month, err)
	}
	if r.Epoch < r.Token { // written before tokens were kept
		r.Epoch = r.Token
	}
	return r, nil
}

func putClaim(b *bolt.Bucket, job, month string, r monthRecord) error {
	val, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put(key(job, month), val)
}

// grant stores c as the month's new claim with the next token.
func grant(b *bolt.Bucket, job, month string, r monthRecord, c lineage.Claim, ttl time.Duration) (lineage.Claim, error) {
	now := time.Now()
	r.Epoch++
	c.Token, c.Since, c.Renewed, c.Expires = r.Epoch, now, now, now.Add(ttl)
	r.Claim = c
	return c, putClaim(b, job, month, r)
}

func checkClaim(job, month string, c lineage.Claim, ttl time.Duration) error {
	if err := checkNames("job", job, "month", month, "claim owner", c.Owner); err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("lineage: claim %s/%s: ttl %v must be positive", job, month, ttl)
	}
	return nil
}

// changeClaim checks c and ttl, then runs fn on the month's claim record
// in one transaction; fn writes what it changes.
func (s *Store) changeClaim(ctx context.Context, job, month string, c lineage.Claim, ttl time.Duration, fn func(b *bolt.Bucket, r monthRecord) (lineage.Claim, error)) (lineage.Claim, error) {
	if err := checkClaim(job, month, c, ttl); err != nil {
		return lineage.Claim{}, err
	}
	var out lineage.Claim
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClaims)
		r, err := getClaim(b, job, month)
		if err != nil {
			return err
		}
		out, err = fn(b, r)
		return err
	})
	return out, err
}

// Claim gives c.Owner the month (see lineage.Store).
func (s *Store) Claim(ctx context.Context, job, month string, c lineage.Claim, ttl time.Duration) (lineage.Claim, error) {
	return s.changeClaim(ctx, job, month, c, ttl, func(b *bolt.Bucket, r monthRecord) (lineage.Claim, error) {
		now := time.Now()
		switch {
		case r.Owner == c.Owner:
			r.Renewed, r.Expires = now, now.Add(ttl)
			return r.Claim, putClaim(b, job, month, r)
		case r.Live(now):
			return lineage.Claim{}, &lineage.HeldError{Job: job, Month: month, Holder: r.Claim}
		}
		return grant(b, job, month, r, c, ttl)
	})
}

// TakeOver replaces holder's claim by c (see lineage.Store).
func (s *Store) TakeOver(ctx context.Context, job, month string, holder, c lineage.Claim, ttl time.Duration) (lineage.Claim, error) {
	return s.changeClaim(ctx, job, month, c, ttl, func(b *bolt.Bucket, r monthRecord) (lineage.Claim, error) {
		if r.Owner != holder.Owner || r.Token != holder.Token {
			return lineage.Claim{}, fmt.Errorf("take over %s/%s from %s: the claim is now %q (token %d): %w", job, month, holder.Owner, r.Owner, r.Token, lineage.ErrConflict)
		}
		return grant(b, job, month, r, c, ttl)
	})
}

// Renew extends owner's claim (see lineage.Store).
func (s *Store) Renew(ctx context.Context, job, month, owner string, token int64, ttl time.Duration) error {
	_, err := s.changeClaim(ctx, job, month, lineage.Claim{Owner: owner}, ttl, func(b *bolt.Bucket, r monthRecord) (lineage.Claim, error) {
		if r.Owner != owner || r.Token != token {
			return lineage.Claim{}, fmt.Errorf("renew %s/%s for %s: the claim is now %q (token %d): %w", job, month, owner, r.Owner, r.Token, lineage.ErrConflict)
		}
		now := time.Now()
		r.Renewed, r.Expires = now, now.Add(ttl)
		return r.Claim, putClaim(b, job, month, r)
	})
	return err
}

// Release gives up owner's claim; it does nothing otherwise.
func (s *Store) Release(ctx context.Context, job, month, owner string) error {
	if err := checkNames("job", job, "month", month, "claim owner", owner); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClaims)
		r, err := getClaim(b, job, month)
		if err != nil || r.Owner != owner {
			return err
		}
		return putClaim(b, job, month, monthRecord{Epoch: r.Epoch})
	})
}

// getCommit reads the month's commit; a bare run id is what stores before
// commit records kept.
func getCommit(b *bolt.Bucket, job, month string) (lineage.Commit, error) {
	var c lineage.Commit
	v := b.Get(key(job, month))
	switch {
	case v == nil:
		return c, nil
	case v[0] != '{':
		return lineage.Commit{RunID: string(v), RolledForward: true}, nil
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return c, fmt.Errorf("lineage: decode published run of %s/%s: %w", job, month, err)
	}
	return c, nil
}

// Commit makes c.RunID the month's published run, in one bbolt
// transaction over the claim and the commit (see lineage.Store).
func (s *Store) Commit(ctx context.Context, job, month, owner string, c lineage.Commit) error {
	if err := checkNames("job", job, "month", month, "claim owner", owner, "run id", c.RunID); err != nil {
		return err
	}
	val, err := json.Marshal(lineage.Commit{RunID: c.RunID, Prev: c.Prev, Token: c.Token, At: c.At, Rollback: c.Rollback})
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		r, err := getClaim(tx.Bucket(bucketClaims), job, month)
		if err != nil {
			return err
		}
		if r.Owner != owner || r.Token != c.Token {
			return fmt.Errorf("commit %s/%s by %s (token %d): the claim is now %q (token %d): %w", job, month, owner, c.Token, r.Owner, r.Token, lineage.ErrConflict)
		}
		b := tx.Bucket(bucketPublished)
		cur, err := getCommit(b, job, month)
		if err != nil {
			return err
		}
		if cur.RunID != c.Prev {
			return fmt.Errorf("commit %s/%s: published run is %q, caller expected %q: %w", job, month, cur.RunID, c.Prev, lineage.ErrConflict)
		}
		return b.Put(key(job, month), val)
	})
}

// MarkRolledForward records a finished roll-forward (see lineage.Store).
func (s *Store) MarkRolledForward(ctx context.Context, job, month, runID string, token int64) error {
	if err := checkNames("job", job, "month", month, "run id", runID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPublished)
		cur, err := getCommit(b, job, month)
		if err != nil || cur.RunID != runID || cur.Token != token || cur.RolledForward {
			return err
		}
		cur.RolledForward = true
		val, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		return b.Put(key(job, month), val)
	})
}

// Month returns the month's claim and commit.
func (s *Store) Month(ctx context.Context, job, month string) (lineage.Month, error) {
	var m lineage.Month
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := getClaim(tx.Bucket(bucketClaims), job, month)
		if err != nil {
			return err
		}
		m.Claim = r.Claim
		m.Published, err = getCommit(tx.Bucket(bucketPublished), job, month)
		return err
	})
	return m, err
}

// Published returns the month's published run id or lineage.ErrNotFound.
func (s *Store) Published(ctx context.Context, job, month string) (string, error) {
	m, err := s.Month(ctx, job, month)
	if err != nil {
		return "", err
	}
	return lineage.PublishedRun(m, job, month)
}
