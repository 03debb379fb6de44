package container

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/storage"
)

// failingStorage fails every data-file write after limit bytes.
type failingStorage struct {
	*dirStorage
	limit int64
}

type failingWriter struct {
	storage.Writer
	left int64
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		return 0, errDiskFull
	}
	w.left -= int64(len(p))
	return w.Writer.Write(p)
}

func (f *failingStorage) Create(ctx context.Context, key string, opts storage.PutOptions) (storage.Writer, error) {
	w, err := f.dirStorage.Create(ctx, key, opts)
	if err != nil || !strings.HasPrefix(key, "data/") {
		return w, err
	}
	return &failingWriter{Writer: w, left: f.limit}, nil
}

func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("goroutines leaked: %d before, %d after", before, runtime.NumGoroutine())
}

func TestWriteFailureCleansUp(t *testing.T) {
	csvData, _ := genCSV(21, 3000, false)
	e := newEnv(t)
	before := runtime.NumGoroutine()
	dst := &failingStorage{dirStorage: e.dst, limit: 20 << 10}
	e.src.put("in/part-0001.csv.gz", gz(csvData, 1))
	spec := testSpec()
	spec.Convert.MemoryBytes = 400 << 10 // spilled runs, several row groups: failures mid-part
	spec.Output.RowGroupBytes = 16 << 10
	spec.Convert.SpillDir = t.TempDir()
	m, err := Convert(context.Background(), Options{Spec: spec, Part: "part-0001", Logger: zerolog.Nop(), chunkSize: 8 << 10}, e.src, "in/part-0001.csv.gz", dst, "data", "meta")
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("err = %v, want disk full", err)
	}
	if m.SpilledRuns == 0 {
		t.Fatal("nothing was spilled: the test does not cover the spill's cleanup")
	}
	if left, _ := os.ReadDir(spec.Convert.SpillDir); len(left) != 0 {
		t.Fatalf("spill left behind: %v", left)
	}
	if keys := e.dst.keys("data/"); len(keys) != 0 {
		t.Fatalf("files left after a write failure: %v", keys)
	}
	if m.Error == "" || len(m.Files) != 0 || m.RowsWritten != 0 {
		t.Fatalf("manifest after failure: error %q, %d files, %d rows", m.Error, len(m.Files), m.RowsWritten)
	}
	waitGoroutines(t, before)
}

func TestCancelCleansUp(t *testing.T) {
	csvData, _ := genCSV(22, 6000, false)
	e := newEnv(t)
	e.src.put("in/part-0001.csv.gz", gz(csvData, 1))
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	opts := Options{Spec: testSpec(), Part: "part-0001", Logger: zerolog.Nop(), chunkSize: 4 << 10,
		Progress: func(int64, int64) {
			calls++
			if calls == 5 {
				cancel()
			}
		}}
	_, err := Convert(ctx, opts, e.src, "in/part-0001.csv.gz", e.dst, "data", "meta")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if keys := e.dst.keys("data/"); len(keys) != 0 {
		t.Fatalf("files left after cancel: %v", keys)
	}
	waitGoroutines(t, before)
}

// brokenSource serves its input's first n bytes, then fails.
type brokenSource struct {
	*dirStorage
	n int64
}

var errNetwork = errors.New("connection reset by peer")

func (b *brokenSource) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := b.dirStorage.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, b.n), iotest.ErrReader(errNetwork)), rc}, nil
}

// TestSourceReadError: a storage failure mid-part is reported as such,
// with the compressed offset, not as corrupt gzip; nothing is published.
func TestSourceReadError(t *testing.T) {
	e := newEnv(t)
	csvData, _ := genCSV(3, 3000, false)
	e.src.put("in/part-0001.csv.gz", gz(csvData, 1))
	src := &brokenSource{dirStorage: e.src, n: 20 << 10}
	opts := Options{Spec: testSpec(), Part: "part-0001", Logger: zerolog.New(zerolog.NewTestWriter(t))}
	_, err := Convert(context.Background(), opts, src, "in/part-0001.csv.gz", e.dst, "data", "meta")
	var re *ReadError
	if !errors.As(err, &re) || re.Offset != 20480 || !errors.Is(err, errNetwork) || errors.Is(err, ErrCorruptGzip) || errors.As(err, new(*ParseError)) {
		t.Fatalf("err = %v", err)
	}
	if keys := e.dst.keys("data/"); len(keys) != 0 {
		t.Fatalf("files left: %v", keys)
	}
}
