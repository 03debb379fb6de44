// Package storagetest is the conformance suite every storage.Storage
// implementation must pass (modelled on restic's internal/backend/test and
// rclone's fstests). It uses only the storage interface, so the same suite
// runs against the local directory store and S3.
//
// Contracts checked beyond the interface comments (and documented here so
// every backend agrees):
//   - Keys must satisfy storage.CheckKey; anything else fails with an error
//     wrapping storage.ErrInvalidKey.
//   - OpenRange: offset in [0, size] (offset == size reads nothing),
//     length < 0 reads to the end, a length past the end is clipped, and an
//     offset beyond the end or negative fails with storage.ErrInvalidRange.
//   - Missing objects fail with storage.ErrNotExist from Open, OpenRange,
//     Stat and Copy (source); a "directory" made of other keys' prefixes is
//     not an object.
//   - A canceled context fails every call with an error wrapping
//     context.Canceled; canceling a writer's context before Commit makes
//     Commit fail and publishes nothing.
//   - ETags are non-empty, stable while the content is unchanged, equal in
//     Stat and List, and differ after the content changes (equal ETags for
//     identical content are NOT required).
//   - Writing to a committed writer fails (bytes are never silently lost).
//
// Not covered, because a file system cannot do it: a key that is both an
// object and a prefix of other keys ("a" and "a/b").
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/lake/storage"
)

// Run runs the storage conformance suite; open returns a fresh, empty
// storage each call.
func Run(t *testing.T, open func(t *testing.T) storage.Storage) {
	t.Run("PutGet", func(t *testing.T) { testPutGet(t, open) })
	t.Run("Stat", func(t *testing.T) { testStat(t, open) })
	t.Run("OpenRange", func(t *testing.T) { testOpenRange(t, open) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, open) })
	t.Run("Writer", func(t *testing.T) { testWriter(t, open) })
	t.Run("List", func(t *testing.T) { testList(t, open) })
	t.Run("Copy", func(t *testing.T) { testCopy(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("ObjectURI", func(t *testing.T) { testObjectURI(t, open) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, open) })
	t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, open) })
}

// opener returns a fresh, empty store each call.
type opener = func(t *testing.T) storage.Storage

// payload returns n deterministic pseudo-random bytes for seed.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func put(t *testing.T, s storage.Storage, key string, data []byte) {
	t.Helper()
	if err := storage.Put(t.Context(), s, key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatalf("put %q (%d bytes): %v", key, len(data), err)
	}
}

func readAll(t *testing.T, rc io.ReadCloser, what string) []byte {
	t.Helper()
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("read %s: %v", what, err)
	}
	return b
}

func get(t *testing.T, s storage.Storage, key string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %q: %v", key, err)
	}
	return readAll(t, rc, key)
}

func equalBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d bytes (first difference at %d)", what, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func listAll(t *testing.T, s storage.Storage, prefix string) []storage.Object {
	t.Helper()
	var objs []storage.Object
	err := s.List(t.Context(), prefix, func(o storage.Object) error {
		objs = append(objs, o)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return objs
}

func listKeys(t *testing.T, s storage.Storage, prefix string) []string {
	t.Helper()
	var keys []string
	for _, o := range listAll(t, s, prefix) {
		keys = append(keys, o.Key)
	}
	return keys
}

func equalKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func wantNotExist(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("%s: got error %v, want one wrapping storage.ErrNotExist", what, err)
	}
	if n := strings.Count(": "+err.Error(), ": storage: "); n != 1 {
		t.Fatalf("%s: %q names the storage package %d times, want once", what, err, n)
	}
}

func testPutGet(t *testing.T, open opener) {
	cases := []struct {
		name, key string
		size      int
	}{
		{"Empty", "empty.bin", 0},
		{"OneByte", "one.bin", 1},
		{"Small", "small.txt", 1000},
		// Above S3's 5 MiB minimum part size, so multipart paths run.
		{"MultiMB", "big/multi.bin", 12<<20 + 12345},
		{"NestedKey", "tier2/t/month=2020-03/run=abc/000042_0_part-0001.snappy.parquet", 4096},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			data := payload(uint64(i+1), c.size)
			put(t, s, c.key, data)
			equalBytes(t, "read back "+c.key, get(t, s, c.key), data)
		})
	}
	t.Run("ManySmallWrites", func(t *testing.T) {
		s := open(t)
		data := payload(77, 300_000)
		w, err := s.Create(t.Context(), "chunks.bin", storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Odd chunk sizes, single bytes included, cross any internal buffer.
		for off, step := 0, 1; off < len(data); step = step*7%4093 + 1 {
			end := min(off+step, len(data))
			if n, err := w.Write(data[off:end]); err != nil || n != end-off {
				t.Fatalf("write [%d:%d]: n=%d err=%v", off, end, n, err)
			}
			off = end
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "read back", get(t, s, "chunks.bin"), data)
	})
	t.Run("SpecialCharacters", func(t *testing.T) {
		s := open(t)
		keys := []string{
			"month=2020-03/part 1.csv.gz",
			"plus+sign/a+b",
			"percent/%20not-a-space%2F",
			"unicode/ünïcödé/ключ/日本",
			"punct/~!$&'()*,;:@",
			".leading-dot",
		}
		for i, k := range keys {
			put(t, s, k, []byte(k))
			equalBytes(t, "read back "+k, get(t, s, k), []byte(keys[i]))
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		equalKeys(t, "list", listKeys(t, s, ""), want)
	})
}

func testStat(t *testing.T, open opener) {
	t.Run("SizeETagModTime", func(t *testing.T) {
		s := open(t)
		data := payload(3, 5000)
		before := time.Now()
		put(t, s, "a/b.bin", data)
		o, err := s.Stat(t.Context(), "a/b.bin")
		if err != nil {
			t.Fatal(err)
		}
		if o.Key != "a/b.bin" || o.Size != int64(len(data)) || o.ETag == "" {
			t.Fatalf("stat = %+v, want key a/b.bin, size %d, non-empty ETag", o, len(data))
		}
		// Servers may keep whole seconds and run on another clock: allow slack.
		if o.ModTime.Before(before.Add(-time.Hour)) || o.ModTime.After(time.Now().Add(time.Hour)) {
			t.Fatalf("ModTime %v is not close to now (%v)", o.ModTime, before)
		}
	})
	t.Run("EmptyObject", func(t *testing.T) {
		s := open(t)
		put(t, s, "empty", nil)
		o, err := s.Stat(t.Context(), "empty")
		if err != nil {
			t.Fatal(err)
		}
		if o.Size != 0 || o.ETag == "" {
			t.Fatalf("stat = %+v, want size 0 and an ETag", o)
		}
	})
	t.Run("ETagChangesWithContent", func(t *testing.T) {
		s := open(t)
		put(t, s, "k", []byte("content one"))
		o1, err := s.Stat(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		put(t, s, "k", []byte("content two")) // same size
		o2, err := s.Stat(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		if o1.ETag == o2.ETag {
			t.Fatalf("ETag %q did not change when the content did", o1.ETag)
		}
	})
	t.Run("ETagStableAndMatchesList", func(t *testing.T) {
		s := open(t)
		put(t, s, "p/x", payload(4, 100))
		o1, err1 := s.Stat(t.Context(), "p/x")
		o2, err2 := s.Stat(t.Context(), "p/x")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if o1.ETag != o2.ETag {
			t.Fatalf("ETag changed without a write: %q then %q", o1.ETag, o2.ETag)
		}
		objs := listAll(t, s, "p/")
		if len(objs) != 1 || objs[0].ETag != o1.ETag || objs[0].Size != o1.Size {
			t.Fatalf("list = %+v, want one object with Stat's size %d and ETag %q", objs, o1.Size, o1.ETag)
		}
	})
	t.Run("PrefixIsNotAnObject", func(t *testing.T) {
		s := open(t)
		put(t, s, "dir/sub/x", []byte("x"))
		for _, k := range []string{"dir", "dir/sub"} {
			_, err := s.Stat(t.Context(), k)
			wantNotExist(t, "stat "+k, err)
			_, err = s.Open(t.Context(), k)
			wantNotExist(t, "open "+k, err)
		}
	})
}

func testOpenRange(t *testing.T, open opener) {
	data := payload(5, 1000)
	cases := []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"Middle", 100, 50, data[100:150]},
		{"Start", 0, 10, data[:10]},
		{"ToEnd", 990, -1, data[990:]},
		{"WholeToEnd", 0, -1, data},
		{"LengthPastEndIsClipped", 900, 500, data[900:]},
		{"ZeroLength", 10, 0, nil},
		{"OffsetAtEndIsEmpty", 1000, -1, nil},
		{"OffsetAtEndWithLength", 1000, 5, nil},
	}
	s := open(t)
	put(t, s, "r", data)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, err := s.OpenRange(t.Context(), "r", c.offset, c.length)
			if err != nil {
				t.Fatalf("OpenRange(%d, %d): %v", c.offset, c.length, err)
			}
			equalBytes(t, fmt.Sprintf("range(%d, %d)", c.offset, c.length), readAll(t, rc, "r"), c.want)
		})
	}
	for _, c := range []struct {
		name           string
		offset, length int64
	}{{"OffsetBeyondEnd", 1001, -1}, {"OffsetFarBeyondEnd", 1 << 40, 10}, {"NegativeOffset", -1, 10}} {
		t.Run(c.name, func(t *testing.T) {
			rc, err := s.OpenRange(t.Context(), "r", c.offset, c.length)
			if err == nil {
				rc.Close()
			}
			if !errors.Is(err, storage.ErrInvalidRange) {
				t.Fatalf("OpenRange(%d, %d): got %v, want storage.ErrInvalidRange", c.offset, c.length, err)
			}
		})
	}
	t.Run("EmptyObject", func(t *testing.T) {
		put(t, s, "e", nil)
		rc, err := s.OpenRange(t.Context(), "e", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "empty object range", readAll(t, rc, "e"), nil)
	})
	t.Run("MultiMBTail", func(t *testing.T) {
		big := payload(6, 6<<20+77)
		put(t, s, "big", big)
		off := int64(len(big) - 1_000_003)
		rc, err := s.OpenRange(t.Context(), "big", off, -1)
		if err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "tail", readAll(t, rc, "big"), big[off:])
		rc, err = s.OpenRange(t.Context(), "big", 3<<20, 2<<20)
		if err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "middle", readAll(t, rc, "big"), big[3<<20:5<<20])
	})
}

func testMissing(t *testing.T, open opener) {
	s := open(t)
	put(t, s, "present/x", []byte("x"))
	ctx := t.Context()
	for _, key := range []string{"absent", "present/absent", "absent/deep/key"} {
		t.Run("Open/"+key, func(t *testing.T) {
			rc, err := s.Open(ctx, key)
			if err == nil {
				rc.Close()
			}
			wantNotExist(t, "open "+key, err)
		})
		t.Run("Stat/"+key, func(t *testing.T) {
			_, err := s.Stat(ctx, key)
			wantNotExist(t, "stat "+key, err)
		})
		t.Run("OpenRange/"+key, func(t *testing.T) {
			rc, err := s.OpenRange(ctx, key, 0, 1)
			if err == nil {
				rc.Close()
			}
			wantNotExist(t, "open range "+key, err)
		})
	}
	t.Run("UnderAnObject", func(t *testing.T) {
		_, err := s.Stat(ctx, "present/x/y")
		wantNotExist(t, "stat present/x/y", err)
	})
	t.Run("CopySource", func(t *testing.T) {
		err := s.Copy(ctx, "absent", "copy-dst")
		wantNotExist(t, "copy absent", err)
		_, err = s.Stat(ctx, "copy-dst")
		wantNotExist(t, "stat copy destination after failed copy", err)
	})
	t.Run("ListNoMatch", func(t *testing.T) {
		equalKeys(t, "list absent/", listKeys(t, s, "absent/"), nil)
		equalKeys(t, "list presentx", listKeys(t, s, "presentx"), nil)
	})
}

func testWriter(t *testing.T, open opener) {
	t.Run("InvisibleUntilCommit", func(t *testing.T) { writerInvisibleUntilCommit(t, open) })
	t.Run("OverwriteInvisibleUntilCommit", func(t *testing.T) { writerOverwriteInvisibleUntilCommit(t, open) })
	t.Run("AbortLeavesNothing", func(t *testing.T) { writerAbortLeavesNothing(t, open) })
	t.Run("AbortKeepsPreviousVersion", func(t *testing.T) { writerAbortKeepsPreviousVersion(t, open) })
	t.Run("CommitAfterAbortFails", func(t *testing.T) { writerCommitAfterAbortFails(t, open) })
	t.Run("AbortAfterCommitIsNoop", func(t *testing.T) { writerAbortAfterCommitIsNoop(t, open) })
	t.Run("WriteAfterCommitFails", func(t *testing.T) { writerWriteAfterCommitFails(t, open) })
	t.Run("CorrectSHA256Accepted", func(t *testing.T) { writerCorrectSHA256Accepted(t, open) })
	t.Run("CanceledBeforeCommit", func(t *testing.T) { writerCanceledBeforeCommit(t, open) })
}

func writerInvisibleUntilCommit(t *testing.T, open opener) {
	s := open(t)
	w, err := s.Create(t.Context(), "w/obj", storage.PutOptions{ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(8, 70_000)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(t.Context(), "w/obj")
	wantNotExist(t, "stat before commit", err)
	equalKeys(t, "list before commit", listKeys(t, s, ""), nil)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	equalKeys(t, "list after commit", listKeys(t, s, ""), []string{"w/obj"})
	equalBytes(t, "read after commit", get(t, s, "w/obj"), payload(8, 70_000))
}

func writerOverwriteInvisibleUntilCommit(t *testing.T, open opener) {
	s := open(t)
	put(t, s, "o", []byte("old"))
	w, err := s.Create(t.Context(), "o", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("new content")); err != nil {
		t.Fatal(err)
	}
	equalBytes(t, "read before commit", get(t, s, "o"), []byte("old"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	equalBytes(t, "read after commit", get(t, s, "o"), []byte("new content"))
}

func writerAbortLeavesNothing(t *testing.T, open opener) {
	s := open(t)
	w, err := s.Create(t.Context(), "a/b/aborted", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(9, 6<<20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second abort: %v", err)
	}
	_, err = s.Stat(t.Context(), "a/b/aborted")
	wantNotExist(t, "stat after abort", err)
	equalKeys(t, "list after abort", listKeys(t, s, ""), nil)
}

func writerAbortKeepsPreviousVersion(t *testing.T, open opener) {
	s := open(t)
	put(t, s, "k", []byte("previous"))
	w, err := s.Create(t.Context(), "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("never published")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	equalBytes(t, "read after abort", get(t, s, "k"), []byte("previous"))
}

func writerCommitAfterAbortFails(t *testing.T, open opener) {
	s := open(t)
	w, err := s.Create(t.Context(), "x", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err == nil {
		t.Fatal("commit after abort succeeded")
	}
	_, err = s.Stat(t.Context(), "x")
	wantNotExist(t, "stat after commit-after-abort", err)
}

func writerAbortAfterCommitIsNoop(t *testing.T, open opener) {
	s := open(t)
	w, err := s.Create(t.Context(), "x", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("abort after commit: %v", err)
	}
	equalBytes(t, "read after abort-after-commit", get(t, s, "x"), []byte("kept"))
}

func writerWriteAfterCommitFails(t *testing.T, open opener) {
	s := open(t)
	w, err := s.Create(t.Context(), "x", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late")); err == nil {
		t.Fatal("write after commit succeeded; the bytes would be lost")
	}
	equalBytes(t, "read", get(t, s, "x"), nil)
}

func writerCorrectSHA256Accepted(t *testing.T, open opener) {
	s := open(t)
	// SHA-256 of "abc" (FIPS 180-2 test vector).
	const sum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	err := storage.Put(t.Context(), s, "abc", strings.NewReader("abc"), storage.PutOptions{SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	equalBytes(t, "read", get(t, s, "abc"), []byte("abc"))
}

func writerCanceledBeforeCommit(t *testing.T, open opener) {
	s := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w, err := s.Create(ctx, "c", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(10, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, werr := w.Write(payload(11, 1000))
	cerr := w.Commit()
	if cerr == nil {
		t.Fatalf("commit after cancel succeeded (write after cancel: %v)", werr)
	}
	_ = w.Abort()
	_, err = s.Stat(t.Context(), "c")
	wantNotExist(t, "stat after canceled commit", err)
}

func testList(t *testing.T, open opener) {
	t.Run("EmptyStorage", func(t *testing.T) {
		s := open(t)
		equalKeys(t, "list", listKeys(t, s, ""), nil)
	})
	t.Run("LexicographicOrder", func(t *testing.T) {
		s := open(t)
		// Chosen so that byte order differs from a naive directory walk:
		// '-' < '.' < '/' < '0' < 'A' < '_' < 'a'.
		keys := []string{"x/a.c", "x/a/b", "x/a0", "x/a-", "x/A", "x/b", "x/a_", "x/a/b.c/d", "x/a/b-", "y", "x0"}
		for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(len(keys)) {
			put(t, s, keys[i], []byte(keys[i]))
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		equalKeys(t, "list", listKeys(t, s, ""), want)
	})
	t.Run("PrefixSemantics", func(t *testing.T) {
		s := open(t)
		for _, k := range []string{"p/ab/c", "p/abc", "p/ab-d/e", "p/a", "p/b", "q/ab", "p/ab/c2/d"} {
			put(t, s, k, []byte(k))
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"p/ab", []string{"p/ab-d/e", "p/ab/c", "p/ab/c2/d", "p/abc"}},
			{"p/ab/", []string{"p/ab/c", "p/ab/c2/d"}},
			{"p/ab/c", []string{"p/ab/c", "p/ab/c2/d"}},
			{"p/abc", []string{"p/abc"}},
			{"p/", []string{"p/a", "p/ab-d/e", "p/ab/c", "p/ab/c2/d", "p/abc", "p/b"}},
			{"p", []string{"p/a", "p/ab-d/e", "p/ab/c", "p/ab/c2/d", "p/abc", "p/b"}},
			{"q", []string{"q/ab"}},
			{"p/abcd", nil},
			{"r", nil},
		} {
			equalKeys(t, fmt.Sprintf("list %q", c.prefix), listKeys(t, s, c.prefix), c.want)
		}
	})
	t.Run("Many", func(t *testing.T) {
		s := open(t)
		// More than one S3 ListObjectsV2 page (1,000 keys).
		const n = 1200
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("many/%04d", i)
		}
		var wg sync.WaitGroup
		work := make(chan string)
		for range 8 {
			wg.Go(func() {
				for k := range work {
					if err := storage.Put(t.Context(), s, k, strings.NewReader(k), storage.PutOptions{}); err != nil {
						t.Errorf("put %q: %v", k, err)
					}
				}
			})
		}
		for _, k := range keys {
			work <- k
		}
		close(work)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		objs := listAll(t, s, "many/")
		got := make([]string, len(objs))
		for i, o := range objs {
			got[i] = o.Key
			if o.Size != int64(len(o.Key)) {
				t.Fatalf("object %q: size %d, want %d", o.Key, o.Size, len(o.Key))
			}
		}
		equalKeys(t, "list many/", got, keys)
		equalKeys(t, "list many/00", listKeys(t, s, "many/00"), keys[:100])
	})
	t.Run("Nested", func(t *testing.T) {
		s := open(t)
		keys := []string{"t/m=1/r=a/000000_0", "t/m=1/r=a/000001_0", "t/m=1/r=b/000000_0", "t/m=2/r=a/000000_0", "t/top"}
		for _, k := range keys {
			put(t, s, k, nil)
		}
		equalKeys(t, "list t/", listKeys(t, s, "t/"), keys)
		equalKeys(t, "list t/m=1/r=a/", listKeys(t, s, "t/m=1/r=a/"), keys[:2])
	})
	t.Run("StopsOnCallbackError", func(t *testing.T) {
		s := open(t)
		for i := range 10 {
			put(t, s, fmt.Sprintf("s/%02d", i), nil)
		}
		stop := errors.New("stop here")
		var seen []string
		err := s.List(t.Context(), "s/", func(o storage.Object) error {
			seen = append(seen, o.Key)
			if len(seen) == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("list returned %v, want the callback's error", err)
		}
		equalKeys(t, "keys seen", seen, []string{"s/00", "s/01", "s/02"})
	})
}

func testCopy(t *testing.T, open opener) {
	t.Run("ContentEqualSourceIntact", func(t *testing.T) {
		s := open(t)
		data := payload(12, 6<<20+3)
		put(t, s, "src/part.csv.gz", data)
		if err := s.Copy(t.Context(), "src/part.csv.gz", "dst/deep/part.csv.gz"); err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "copy", get(t, s, "dst/deep/part.csv.gz"), data)
		equalBytes(t, "source", get(t, s, "src/part.csv.gz"), data)
		o, err := s.Stat(t.Context(), "dst/deep/part.csv.gz")
		if err != nil {
			t.Fatal(err)
		}
		if o.Size != int64(len(data)) || o.ETag == "" {
			t.Fatalf("stat copy = %+v, want size %d and an ETag", o, len(data))
		}
	})
	t.Run("OverwritesDestination", func(t *testing.T) {
		s := open(t)
		put(t, s, "a", []byte("new"))
		put(t, s, "b", []byte("old and longer"))
		if err := s.Copy(t.Context(), "a", "b"); err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "destination", get(t, s, "b"), []byte("new"))
	})
	t.Run("EmptyObject", func(t *testing.T) {
		s := open(t)
		put(t, s, "e", nil)
		if err := s.Copy(t.Context(), "e", "e2"); err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "copy", get(t, s, "e2"), nil)
	})
	t.Run("IndependentOfSource", func(t *testing.T) {
		s := open(t)
		put(t, s, "a", []byte("first"))
		if err := s.Copy(t.Context(), "a", "b"); err != nil {
			t.Fatal(err)
		}
		put(t, s, "a", []byte("second"))
		equalBytes(t, "copy after source overwrite", get(t, s, "b"), []byte("first"))
		if err := s.Delete(t.Context(), "a"); err != nil {
			t.Fatal(err)
		}
		equalBytes(t, "copy after source delete", get(t, s, "b"), []byte("first"))
	})
}

func testDelete(t *testing.T, open opener) {
	t.Run("Removes", func(t *testing.T) {
		s := open(t)
		put(t, s, "d/x", []byte("x"))
		if err := s.Delete(t.Context(), "d/x"); err != nil {
			t.Fatal(err)
		}
		_, err := s.Stat(t.Context(), "d/x")
		wantNotExist(t, "stat after delete", err)
		equalKeys(t, "list after delete", listKeys(t, s, ""), nil)
	})
	t.Run("MissingIsNil", func(t *testing.T) {
		s := open(t)
		for _, k := range []string{"never", "never/deep/key"} {
			if err := s.Delete(t.Context(), k); err != nil {
				t.Fatalf("delete missing %q: %v", k, err)
			}
		}
	})
	t.Run("KeepsSiblingsAndPrefixes", func(t *testing.T) {
		s := open(t)
		for _, k := range []string{"a/b/c", "a/b/d", "a/x"} {
			put(t, s, k, []byte(k))
		}
		if err := s.Delete(t.Context(), "a/b/c"); err != nil {
			t.Fatal(err)
		}
		// Deleting a key that is only a prefix of others removes nothing.
		if err := s.Delete(t.Context(), "a/b"); err != nil {
			t.Fatal(err)
		}
		equalKeys(t, "list", listKeys(t, s, ""), []string{"a/b/d", "a/x"})
	})
	t.Run("RecreateAfterDelete", func(t *testing.T) {
		s := open(t)
		put(t, s, "a/b/c", []byte("1"))
		if err := s.Delete(t.Context(), "a/b/c"); err != nil {
			t.Fatal(err)
		}
		// Once nothing lives below it, a former prefix can be an object...
		put(t, s, "a/b", []byte("2"))
		equalBytes(t, "former prefix", get(t, s, "a/b"), []byte("2"))
		if err := s.Delete(t.Context(), "a/b"); err != nil {
			t.Fatal(err)
		}
		// ...and a former object a prefix again.
		put(t, s, "a/b/c", []byte("3"))
		equalBytes(t, "recreated", get(t, s, "a/b/c"), []byte("3"))
		equalKeys(t, "list", listKeys(t, s, ""), []string{"a/b/c"})
	})
}

func testOverwrite(t *testing.T, open opener) {
	s := open(t)
	long, short := payload(13, 100_000), []byte("short")
	put(t, s, "o", long)
	put(t, s, "o", short)
	equalBytes(t, "after overwrite with shorter content", get(t, s, "o"), short)
	o, err := s.Stat(t.Context(), "o")
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != int64(len(short)) {
		t.Fatalf("size %d after overwrite, want %d", o.Size, len(short))
	}
	equalKeys(t, "list", listKeys(t, s, ""), []string{"o"})
}

func testConcurrent(t *testing.T, open opener) {
	t.Run("WritersDifferentKeys", func(t *testing.T) {
		s := open(t)
		const n = 16
		ws := make([]storage.Writer, n)
		for i := range ws {
			w, err := s.Create(t.Context(), fmt.Sprintf("c/%02d", i), storage.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ws[i] = w
		}
		// All writers open at once, written from their own goroutines.
		var wg sync.WaitGroup
		for i, w := range ws {
			wg.Go(func() {
				data := payload(uint64(100+i), 200_000+i)
				for off := 0; off < len(data); off += 8191 {
					if _, err := w.Write(data[off:min(off+8191, len(data))]); err != nil {
						t.Errorf("writer %d: %v", i, err)
						_ = w.Abort()
						return
					}
				}
				if err := w.Commit(); err != nil {
					t.Errorf("writer %d commit: %v", i, err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for i := range n {
			equalBytes(t, fmt.Sprintf("object %d", i), get(t, s, fmt.Sprintf("c/%02d", i)), payload(uint64(100+i), 200_000+i))
		}
	})
	t.Run("OverwriteSameKeyNeverMixes", func(t *testing.T) {
		s := open(t)
		const size = 256 << 10
		fill := func(b byte) []byte { return bytes.Repeat([]byte{b}, size) }
		put(t, s, "same", fill(0))
		ctx, cancel := context.WithCancel(t.Context())
		var readers sync.WaitGroup
		for range 2 {
			readers.Go(func() {
				for ctx.Err() == nil {
					rc, err := s.Open(ctx, "same")
					if err != nil {
						if ctx.Err() == nil {
							t.Errorf("open during overwrites: %v", err)
						}
						return
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil {
						if ctx.Err() == nil {
							t.Errorf("read during overwrites: %v", err)
						}
						return
					}
					if len(b) != size || bytes.Count(b, b[:1]) != size {
						t.Errorf("reader saw a mixed or partial object: %d bytes", len(b))
						return
					}
				}
			})
		}
		var writers sync.WaitGroup
		for i := range 8 {
			writers.Go(func() {
				for j := range 4 {
					v := fill(byte(1 + i*4 + j))
					if err := storage.Put(t.Context(), s, "same", bytes.NewReader(v), storage.PutOptions{}); err != nil {
						t.Errorf("writer %d: %v", i, err)
					}
				}
			})
		}
		writers.Wait()
		cancel()
		readers.Wait()
		got := get(t, s, "same")
		if len(got) != size || got[0] == 0 || bytes.Count(got, got[:1]) != size {
			t.Fatalf("final object is not one writer's whole content (len %d, first byte %d)", len(got), got[0])
		}
	})
}

func testObjectURI(t *testing.T, open opener) {
	s := open(t)
	root := s.URI()
	scheme, rootPath, err := storage.ParseURI(root)
	if err != nil {
		t.Fatalf("URI() = %q does not parse: %v", root, err)
	}
	if strings.HasSuffix(root, "/") && rootPath != "/" {
		t.Fatalf("URI() = %q ends with a slash", root)
	}
	for _, key := range []string{"a", "tier1/ds/month=2020-03/part 1.csv.gz"} {
		u := s.ObjectURI(key)
		if u != strings.TrimSuffix(root, "/")+"/"+key {
			t.Fatalf("ObjectURI(%q) = %q, want %q + \"/\" + key", key, u, root)
		}
		sc, p, err := storage.ParseURI(u)
		if err != nil || sc != scheme || p != strings.TrimSuffix(rootPath, "/")+"/"+key {
			t.Fatalf("ParseURI(ObjectURI(%q)) = %q, %q, %v", key, sc, p, err)
		}
	}
}

func testCanceled(t *testing.T, open opener) {
	s := open(t)
	put(t, s, "k", []byte("data"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with canceled context: got %v, want context.Canceled", op, err)
		}
	}
	w, err := s.Create(ctx, "new", storage.PutOptions{})
	if err == nil {
		// Some backends only notice at Commit; then Commit must fail.
		_, _ = w.Write([]byte("x"))
		err = w.Commit()
		_ = w.Abort()
	}
	check("Create", err)
	rc, err := s.Open(ctx, "k")
	if err == nil {
		rc.Close()
	}
	check("Open", err)
	rc, err = s.OpenRange(ctx, "k", 0, 1)
	if err == nil {
		rc.Close()
	}
	check("OpenRange", err)
	_, err = s.Stat(ctx, "k")
	check("Stat", err)
	check("List", s.List(ctx, "", func(storage.Object) error { return nil }))
	check("Copy", s.Copy(ctx, "k", "k2"))
	check("Delete", s.Delete(ctx, "k"))
	// Nothing changed.
	equalKeys(t, "list after canceled calls", listKeys(t, s, ""), []string{"k"})
}

func testInvalidKeys(t *testing.T, open opener) {
	s := open(t)
	put(t, s, "ok", []byte("ok"))
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "a/../b", "..", "../escape", "a/./b", "a\\b", "a\x00b", "a//b", "dir/"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, storage.ErrInvalidKey) {
					t.Errorf("%s %q: got %v, want storage.ErrInvalidKey", op, key, err)
				}
			}
			w, err := s.Create(ctx, key, storage.PutOptions{})
			if err == nil {
				_ = w.Abort()
			}
			check("Create", err)
			rc, err := s.Open(ctx, key)
			if err == nil {
				rc.Close()
			}
			check("Open", err)
			_, err = s.Stat(ctx, key)
			check("Stat", err)
			check("Copy to", s.Copy(ctx, "ok", key))
			check("Delete", s.Delete(ctx, key))
		})
	}
	equalKeys(t, "list after invalid keys", listKeys(t, s, ""), []string{"ok"})
}
