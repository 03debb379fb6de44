package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// faultMode says what happens at the chosen write.
type faultMode int

const (
	failBefore faultMode = iota // the write is not made and returns an error; the process goes on
	failAfter                   // the write is made, then returns an error (a lost reply)
	killBefore                  // the process dies before the write
	killAfter                   // the process dies right after the write
)

func (m faultMode) String() string {
	return [...]string{"fail", "fail-after", "kill", "kill-after"}[m]
}

// errInjected is the error of an injected failure; errKilled is what every
// write of a killed process returns (it never happens).
var (
	errInjected = fmt.Errorf("injected fault: %w", syscall.ENOSPC)
	errKilled   = errors.New("killed")
)

// faults counts the writes made through the wrapped storage, catalog and
// lineage store, and fails or kills at the at-th one. A killed process
// makes no write after the fault: every later write fails with errKilled,
// which stands for the process no longer running.
type faults struct {
	mu     sync.Mutex
	at     int // 1-based; 0: never
	mode   faultMode
	n      int
	dead   bool
	writes []string
	hit    string // the write the fault hit

	// failOn fails the first write whose name contains it (before it
	// lands); failAlso fails every write whose name contains it.
	failOn, failAlso string

	// pause, when set, stops the process at the first write whose name
	// contains it, as SIGSTOP would: paused is closed, and that write and
	// every lease renewal wait until resume is closed.
	pause          string
	paused, resume chan struct{}
	stopped        bool
}

// pauseAt makes f stop the process at the first write named like what.
func (f *faults) pauseAt(what string) {
	f.pause, f.paused, f.resume = what, make(chan struct{}), make(chan struct{})
}

// hold waits while the process is stopped.
func (f *faults) hold(what string) {
	if f.pause == "" {
		return
	}
	f.mu.Lock()
	first := !f.stopped && strings.Contains(what, f.pause)
	if first {
		f.stopped = true
		close(f.paused)
	}
	stopped := f.stopped
	f.mu.Unlock()
	if first || (stopped && strings.HasPrefix(what, "lineage renew")) {
		<-f.resume
	}
}

// do runs write (named what) under the fault plan.
func (f *faults) do(what string, write func() error) error {
	f.hold(what)
	f.mu.Lock()
	if f.dead {
		f.mu.Unlock()
		return errKilled
	}
	f.n++
	f.writes = append(f.writes, what)
	if f.failAlso != "" && strings.Contains(what, f.failAlso) {
		f.mu.Unlock()
		return fmt.Errorf("%s: %w", what, errInjected)
	}
	hit := f.n == f.at || (f.failOn != "" && f.hit == "" && strings.Contains(what, f.failOn))
	if hit {
		f.hit = what
		if f.mode == killBefore || f.mode == killAfter {
			f.dead = true
		}
	}
	f.mu.Unlock()
	switch {
	case !hit:
		return write()
	case f.mode == failBefore:
		return fmt.Errorf("%s: %w", what, errInjected)
	case f.mode == killBefore:
		return errKilled
	}
	err := write()
	if f.mode == killAfter {
		return errKilled
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s (made, reply lost): %w", what, errInjected)
}

func (f *faults) killed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dead
}

// wrap puts env's storage, catalog and lineage store behind f.
func (f *faults) wrap(env *Env) {
	st := &faultStorage{Storage: env.Storage, f: f}
	env.Storage, env.Output = st, st
	env.Catalog = &faultCatalog{Catalog: env.Catalog, f: f}
	env.Lineage = &faultLineage{Store: env.Lineage, f: f}
}

type faultStorage struct {
	storage.Storage
	f *faults
}

func (s *faultStorage) Create(ctx context.Context, key string, opts storage.PutOptions) (storage.Writer, error) {
	w, err := s.Storage.Create(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	return &faultWriter{Writer: w, f: s.f, key: key}, nil
}

func (s *faultStorage) Copy(ctx context.Context, src, dst string) error {
	return s.f.do("storage copy "+dst, func() error { return s.Storage.Copy(ctx, src, dst) })
}

func (s *faultStorage) Delete(ctx context.Context, key string) error {
	return s.f.do("storage delete "+key, func() error { return s.Storage.Delete(ctx, key) })
}

func (s *faultStorage) CleanTemp(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	c, ok := s.Storage.(tempCleaner)
	if !ok {
		return 0, nil
	}
	n := 0
	err := s.f.do("storage clean temp "+prefix, func() (err error) { n, err = c.CleanTemp(ctx, prefix, olderThan); return err })
	return n, err
}

func (s *faultStorage) AbortIncompleteUploads(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	a, ok := s.Storage.(uploadAborter)
	if !ok {
		return 0, nil
	}
	n := 0
	err := s.f.do("storage abort uploads "+prefix, func() (err error) { n, err = a.AbortIncompleteUploads(ctx, prefix, olderThan); return err })
	return n, err
}

type faultWriter struct {
	storage.Writer
	f   *faults
	key string
}

func (w *faultWriter) Commit() error {
	err := w.f.do("storage put "+w.key, w.Writer.Commit)
	if err != nil && !w.f.killed() {
		_ = w.Writer.Abort()
	}
	return err
}

type faultCatalog struct {
	catalog.Catalog
	f *faults
}

func (c *faultCatalog) EnsureDatabase(ctx context.Context, name string) error {
	return c.f.do("catalog ensure database "+name, func() error { return c.Catalog.EnsureDatabase(ctx, name) })
}

func (c *faultCatalog) PutTable(ctx context.Context, t catalog.Table) error {
	return c.f.do("catalog put table "+t.Name, func() error { return c.Catalog.PutTable(ctx, t) })
}

func (c *faultCatalog) DeleteTable(ctx context.Context, db, name string) error {
	return c.f.do("catalog delete table "+name, func() error { return c.Catalog.DeleteTable(ctx, db, name) })
}

func (c *faultCatalog) PutPartition(ctx context.Context, p catalog.Partition) error {
	return c.f.do("catalog put partition "+p.Table, func() error { return c.Catalog.PutPartition(ctx, p) })
}

func (c *faultCatalog) DeletePartition(ctx context.Context, db, table string, values []string) error {
	return c.f.do("catalog delete partition "+table, func() error { return c.Catalog.DeletePartition(ctx, db, table, values) })
}

type faultLineage struct {
	lineage.Store
	f *faults
}

func (l *faultLineage) StartRun(ctx context.Context, r lineage.Run) error {
	return l.f.do("lineage start run", func() error { return l.Store.StartRun(ctx, r) })
}

func (l *faultLineage) FinishRun(ctx context.Context, r lineage.Run) error {
	return l.f.do("lineage finish run "+r.Status, func() error { return l.Store.FinishRun(ctx, r) })
}

func (l *faultLineage) AddEdges(ctx context.Context, es []lineage.Edge) error {
	return l.f.do("lineage add edges", func() error { return l.Store.AddEdges(ctx, es) })
}

func (l *faultLineage) Claim(ctx context.Context, job, month string, c lineage.Claim, ttl time.Duration) (lineage.Claim, error) {
	var out lineage.Claim
	err := l.f.do("lineage claim", func() (err error) { out, err = l.Store.Claim(ctx, job, month, c, ttl); return err })
	return out, err
}

func (l *faultLineage) TakeOver(ctx context.Context, job, month string, holder, c lineage.Claim, ttl time.Duration) (lineage.Claim, error) {
	var out lineage.Claim
	err := l.f.do("lineage take over", func() (err error) { out, err = l.Store.TakeOver(ctx, job, month, holder, c, ttl); return err })
	return out, err
}

func (l *faultLineage) Renew(ctx context.Context, job, month, owner string, token int64, ttl time.Duration) error {
	return l.f.do("lineage renew", func() error { return l.Store.Renew(ctx, job, month, owner, token, ttl) })
}

func (l *faultLineage) Release(ctx context.Context, job, month, owner string) error {
	return l.f.do("lineage release", func() error { return l.Store.Release(ctx, job, month, owner) })
}

func (l *faultLineage) Commit(ctx context.Context, job, month, owner string, c lineage.Commit) error {
	return l.f.do("lineage commit "+c.RunID, func() error { return l.Store.Commit(ctx, job, month, owner, c) })
}

func (l *faultLineage) MarkRolledForward(ctx context.Context, job, month, runID string, token int64) error {
	return l.f.do("lineage mark rolled forward", func() error { return l.Store.MarkRolledForward(ctx, job, month, runID, token) })
}
