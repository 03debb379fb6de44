package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tierflow/tierflow/lake/storage"
)

// memStorage is an in-memory storage.Storage for Generate's tests.
type memStorage struct {
	mu        sync.Mutex
	objects   map[string][]byte
	failAfter int // writers fail once they hold more bytes; 0 = never
	aborted   int
}

func newMemStorage() *memStorage { return &memStorage{objects: map[string][]byte{}} }

func (m *memStorage) URI() string                 { return "mem://" }
func (m *memStorage) ObjectURI(key string) string { return "mem://" + key }

func (m *memStorage) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return m.OpenRange(ctx, key, 0, -1)
}

func (m *memStorage) OpenRange(_ context.Context, key string, off, n int64) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, storage.ErrNotExist)
	}
	data = data[min(off, int64(len(data))):]
	if n >= 0 {
		data = data[:min(n, int64(len(data)))]
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (m *memStorage) Stat(_ context.Context, key string) (storage.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[key]
	if !ok {
		return storage.Object{}, fmt.Errorf("%s: %w", key, storage.ErrNotExist)
	}
	sum := sha256.Sum256(data)
	return storage.Object{Key: key, Size: int64(len(data)), ETag: hex.EncodeToString(sum[:8]), ModTime: time.Unix(0, 0)}, nil
}

type memWriter struct {
	m    *memStorage
	key  string
	buf  bytes.Buffer
	done bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.m.failAfter > 0 && w.buf.Len()+len(p) > w.m.failAfter {
		return 0, errors.New("disk full")
	}
	return w.buf.Write(p)
}

func (w *memWriter) Commit() error {
	if w.done {
		return errors.New("already finished")
	}
	w.done = true
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.objects[w.key] = bytes.Clone(w.buf.Bytes())
	return nil
}

func (w *memWriter) Abort() error {
	if !w.done {
		w.done = true
		w.m.mu.Lock()
		w.m.aborted++
		w.m.mu.Unlock()
	}
	return nil
}

func (m *memStorage) Create(_ context.Context, key string, _ storage.PutOptions) (storage.Writer, error) {
	return &memWriter{m: m, key: key}, nil
}

func (m *memStorage) List(_ context.Context, prefix string, fn func(storage.Object) error) error {
	m.mu.Lock()
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		o, err := m.Stat(context.Background(), k)
		if err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStorage) Copy(_ context.Context, src, dst string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[src]
	if !ok {
		return fmt.Errorf("%s: %w", src, storage.ErrNotExist)
	}
	m.objects[dst] = bytes.Clone(data)
	return nil
}

func (m *memStorage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}
