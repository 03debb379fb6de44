// Package spool is a storage decorator that stages writes in local files
// and uploads each object when it is committed. A writer that produces many
// objects at once (the converter keeps one open per bucket: 60 of them)
// then needs disk, not memory: a streaming multipart upload buffers
// part-size chunks per open object, a spooled one buffers nothing.
package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tierflow/tierflow/lake/storage"
)

// Store wraps a storage.Storage; everything but Create passes through.
type Store struct {
	storage.Storage
	dir string
}

// New returns inner with writes spooled under dir (created if missing).
func New(inner storage.Storage, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool dir %s: %w", dir, err)
	}
	return &Store{Storage: inner, dir: dir}, nil
}

// Create spools the object to a temporary file; Commit uploads it.
func (s *Store) Create(ctx context.Context, key string, opts storage.PutOptions) (storage.Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.dir, "spool-*")
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", key, err)
	}
	return &writer{ctx: ctx, s: s, key: key, opts: opts, f: f}, nil
}

type writer struct {
	ctx  context.Context
	s    *Store
	key  string
	opts storage.PutOptions
	f    *os.File
	done bool
	err  error
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("spool %s: write after commit or abort", w.key)
	}
	return w.f.Write(p)
}

// Commit uploads the spooled file through the inner storage.
func (w *writer) Commit() error {
	if w.done {
		if w.err != nil {
			return w.err
		}
		return fmt.Errorf("spool %s: commit after commit or abort", w.key)
	}
	w.done = true
	defer w.remove()
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		w.err = err
		return err
	}
	if err := storage.Put(w.ctx, w.s.Storage, w.key, w.f, w.opts); err != nil {
		w.err = fmt.Errorf("upload %s: %w", w.key, err)
		return w.err
	}
	return nil
}

// Abort discards the spooled file; nothing reached the inner storage.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.err = errors.New("aborted")
	return w.remove()
}

func (w *writer) remove() error {
	w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
