package container

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tierflow/tierflow/lake/storage"
)

// dirStorage is a minimal storage.Storage over a temp directory, enough for
// the converter's tests (DuckDB reads the files it writes from disk).
type dirStorage struct {
	root string
}

func (d *dirStorage) URI() string                 { return "file://" + d.root }
func (d *dirStorage) ObjectURI(key string) string { return d.URI() + "/" + key }
func (d *dirStorage) path(key string) string      { return filepath.Join(d.root, filepath.FromSlash(key)) }

func (d *dirStorage) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	f, err := os.Open(d.path(key))
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%s: %w", key, storage.ErrNotExist)
	}
	return f, err
}

func (d *dirStorage) OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	b, err := os.ReadFile(d.path(key))
	if err != nil {
		return nil, err
	}
	b = b[off:]
	if n >= 0 {
		b = b[:n]
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (d *dirStorage) Stat(ctx context.Context, key string) (storage.Object, error) {
	fi, err := os.Stat(d.path(key))
	if os.IsNotExist(err) {
		return storage.Object{}, fmt.Errorf("%s: %w", key, storage.ErrNotExist)
	}
	if err != nil {
		return storage.Object{}, err
	}
	return storage.Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

type dirWriter struct {
	f     *os.File
	final string
	done  bool
}

func (w *dirWriter) Write(p []byte) (int, error) { return w.f.Write(p) }
func (w *dirWriter) Commit() error {
	if w.done {
		return nil
	}
	w.done = true
	if err := w.f.Close(); err != nil {
		return err
	}
	return os.Rename(w.f.Name(), w.final)
}
func (w *dirWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

func (d *dirStorage) Create(ctx context.Context, key string, opts storage.PutOptions) (storage.Writer, error) {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return nil, err
	}
	return &dirWriter{f: f, final: p}, nil
}

func (d *dirStorage) List(ctx context.Context, prefix string, fn func(storage.Object) error) error {
	var keys []string
	err := filepath.Walk(d.root, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(d.root, path)
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) && !strings.HasPrefix(filepath.Base(key), ".tmp-") {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(keys)
	for _, k := range keys {
		o, err := d.Stat(ctx, k)
		if err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (d *dirStorage) Copy(ctx context.Context, src, dst string) error {
	b, err := os.ReadFile(d.path(src))
	if err != nil {
		return err
	}
	return os.WriteFile(d.path(dst), b, 0o644)
}

func (d *dirStorage) Delete(ctx context.Context, key string) error {
	err := os.Remove(d.path(key))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// put writes an object.
func (d *dirStorage) put(key string, data []byte) {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		panic(err)
	}
}

// keys lists every object under prefix.
func (d *dirStorage) keys(prefix string) []string {
	var out []string
	_ = d.List(context.Background(), prefix, func(o storage.Object) error {
		out = append(out, o.Key)
		return nil
	})
	return out
}
