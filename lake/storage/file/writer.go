package file

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sync"
)

// Writer states.
const (
	writing = iota
	committed
	aborted
)

// errClosed is returned by Write and Commit on a finished writer.
var errClosed = errors.New("writer already committed or aborted")

// writer streams one object into a temp file; see storage.Writer.
type writer struct {
	ctx      context.Context
	s        *Store
	key, tmp string
	want     string // expected SHA-256 hex, "" if unknown

	mu    sync.Mutex // Abort may race with Write/Commit from another goroutine
	state int
	f     *os.File
	buf   *bufio.Writer
	h     hash.Hash
}

func newWriter(ctx context.Context, s *Store, key, tmp string, f *os.File, want string) *writer {
	return &writer{ctx: ctx, s: s, key: key, tmp: tmp, want: want, f: f,
		buf: bufio.NewWriterSize(f, 128<<10), h: newHash()}
}

// Write appends p to the pending object.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return 0, fmt.Errorf("file: write %q: %w", w.key, errClosed)
	}
	if err := w.ctx.Err(); err != nil {
		return 0, fmt.Errorf("file: write %q: %w", w.key, err)
	}
	n, err := w.buf.Write(p)
	w.h.Write(p[:n])
	if err != nil {
		return n, fmt.Errorf("file: write %q: %w", w.key, err)
	}
	return n, nil
}

// Commit flushes, verifies the digest if one was given, fsyncs and renames
// the temp file over the key. On any failure the temp file is removed and
// nothing becomes visible.
func (w *writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return fmt.Errorf("file: commit %q: %w", w.key, errClosed)
	}
	if err := w.commit(); err != nil {
		w.discard()
		return fmt.Errorf("file: commit %q: %w", w.key, err)
	}
	w.state = committed
	return nil
}

func (w *writer) commit() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if err := w.buf.Flush(); err != nil {
		return err
	}
	sum := hex.EncodeToString(w.h.Sum(nil))
	if w.want != "" && w.want != sum {
		return fmt.Errorf("content SHA-256 %s, caller said %s", sum, w.want)
	}
	fi, err := w.f.Stat()
	if err != nil {
		return err
	}
	if err := w.s.finishFile(w.f, sum); err != nil {
		return err
	}
	w.f = nil
	if err := w.s.commitTemp(w.tmp, w.key); err != nil {
		return err
	}
	w.s.etags.put(w.key, stampOf(fi), sum)
	return nil
}

// SHA256 returns the digest of what was written so far: the writer is a
// storage.Hasher.
func (w *writer) SHA256() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.h.Sum(nil)
}

// Abort discards the pending object; after Commit, or twice, it is a no-op.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return nil
	}
	return w.discard()
}

// discard closes and removes the temp file and marks the writer aborted.
func (w *writer) discard() error {
	w.state = aborted
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	err := w.s.root.Remove(filepath.FromSlash(w.tmp))
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("file: abort %q: %w", w.key, err)
	}
	return nil
}
