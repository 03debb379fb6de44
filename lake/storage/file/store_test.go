package file_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

func newStore(t *testing.T, dir string) *file.Store {
	t.Helper()
	s, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func keys(t *testing.T, s storage.Storage) []string {
	t.Helper()
	var ks []string
	if err := s.List(t.Context(), "", func(o storage.Object) error { ks = append(ks, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestURIIsAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	s := newStore(t, "lake")
	wd, _ := os.Getwd()
	want := "file://" + filepath.ToSlash(filepath.Join(wd, "lake"))
	if s.URI() != want || s.ObjectURI("a/b") != want+"/a/b" {
		t.Fatalf("URI %q, ObjectURI %q; want %q", s.URI(), s.ObjectURI("a/b"), want)
	}
	if fi, err := os.Stat("lake"); err != nil || !fi.IsDir() {
		t.Fatalf("root directory not created: %v", err)
	}
}

// TestSymlinkEscape: links inside the lake that point outside are never
// followed, for reading, writing, listing, copying or deleting.
func TestSymlinkEscape(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	lake := filepath.Join(base, "lake")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, lake)
	ctx := t.Context()
	storagePut := func(key, data string) error {
		return storage.Put(ctx, s, key, strings.NewReader(data), storage.PutOptions{})
	}
	if err := storagePut("ok", "ok"); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"abs-file": secret,
		"abs-dir":  outside,
		"rel-file": "../outside/secret",
		"rel-dir":  "../outside",
	} {
		if err := os.Symlink(target, filepath.Join(lake, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"abs-file", "rel-file", "abs-dir/secret", "rel-dir/secret"} {
		if rc, err := s.Open(ctx, key); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("open %q read %q from outside the lake", key, b)
		}
		if rc, err := s.OpenRange(ctx, key, 0, -1); err == nil {
			rc.Close()
			t.Errorf("open range %q succeeded through an escaping link", key)
		}
		if o, err := s.Stat(ctx, key); err == nil {
			t.Errorf("stat %q succeeded through an escaping link: %+v", key, o)
		}
		if err := s.Copy(ctx, key, "copied"); err == nil {
			t.Errorf("copy from %q succeeded through an escaping link", key)
		}
	}
	for _, key := range []string{"abs-dir/new", "rel-dir/new", "abs-dir/sub/new"} {
		if err := storagePut(key, "written"); err == nil {
			t.Errorf("put %q succeeded through an escaping link", key)
		}
		if err := s.Copy(ctx, "ok", key); err == nil {
			t.Errorf("copy to %q succeeded through an escaping link", key)
		}
	}
	for _, key := range []string{"abs-dir/secret", "rel-dir/secret"} {
		_ = s.Delete(ctx, key)
	}
	// Putting a key that is itself a link replaces the link, not its target.
	if err := storagePut("abs-file", "replaced"); err != nil {
		t.Fatalf("put over a link: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(lake, "abs-file")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("abs-file should now be a regular file: %v", err)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
		t.Fatalf("file outside the lake changed: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("outside directory gained files: %v", entries)
	}
	// A link is neither listed nor descended: the listing fails, naming it,
	// so a linked file is never silently left out (nor read).
	// Text: the message a user reads names the link, and names the file
	// package once (no error type carries the key).
	err := s.List(ctx, "", func(o storage.Object) error { return nil })
	if !errors.Is(err, file.ErrNotRegular) || !strings.Contains(err.Error(), "-dir") && !strings.Contains(err.Error(), "-file") {
		t.Fatalf("list with links below: %v, want ErrNotRegular naming a link", err)
	}
	if n := strings.Count(": "+err.Error(), ": file: "); n != 1 {
		t.Errorf("list with links below: %q names the file package %d times, want once", err, n)
	}
	if err := s.List(ctx, "ok", func(o storage.Object) error { return nil }); err != nil {
		t.Errorf("a prefix with no link below lists fine: %v", err)
	}
}

func TestETagIsContentSHA256(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	data := []byte("hello tierflow")
	if err := storage.Put(ctx, s, "a/b", bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	o, err := s.Stat(ctx, "a/b")
	if err != nil || o.ETag != sha(data) {
		t.Fatalf("ETag %q, %v; want %s", o.ETag, err, sha(data))
	}
	// A second store (another process) sees the same digest.
	if o2, err := newStore(t, dir).Stat(ctx, "a/b"); err != nil || o2.ETag != o.ETag {
		t.Fatalf("second store: %q, %v", o2.ETag, err)
	}
	if err := s.Copy(ctx, "a/b", "c"); err != nil {
		t.Fatal(err)
	}
	if o, err := s.Stat(ctx, "c"); err != nil || o.ETag != sha(data) {
		t.Fatalf("copy ETag %q, %v", o.ETag, err)
	}
}

// TestForeignFiles: files placed in the directory by other tools (a partner
// drop) get a correct digest, and a stale recorded digest is not trusted.
func TestForeignFiles(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	p := filepath.Join(dir, "intake", "part-1.csv.gz")
	os.MkdirAll(filepath.Dir(p), 0o755)
	v1 := []byte("first version")
	if err := os.WriteFile(p, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := s.Stat(ctx, "intake/part-1.csv.gz"); err != nil || o.ETag != sha(v1) {
		t.Fatalf("foreign file ETag %q, %v; want %s", o.ETag, err, sha(v1))
	}
	v2 := []byte("second, longer version")
	if err := os.WriteFile(p, v2, 0o644); err != nil { // in place: same inode
		t.Fatal(err)
	}
	if o, err := s.Stat(ctx, "intake/part-1.csv.gz"); err != nil || o.ETag != sha(v2) {
		t.Fatalf("after in-place rewrite ETag %q, %v; want %s", o.ETag, err, sha(v2))
	}
	if err := s.Copy(ctx, "intake/part-1.csv.gz", "tier1/part-1.csv.gz"); err != nil {
		t.Fatal(err)
	}
	var listed storage.Object
	s.List(ctx, "tier1/", func(o storage.Object) error { listed = o; return nil })
	if listed.ETag != sha(v2) || listed.Size != int64(len(v2)) {
		t.Fatalf("copied foreign file listed as %+v", listed)
	}
}

func TestCommitVerifiesSHA256(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	err := storage.Put(t.Context(), s, "x/y", strings.NewReader("abc"), storage.PutOptions{SHA256: sha([]byte("abd"))})
	if err == nil {
		t.Fatal("commit with a wrong SHA256 succeeded")
	}
	if _, err := s.Stat(t.Context(), "x/y"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("object visible after failed verification: %v", err)
	}
	assertNoTemp(t, dir)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tierflow-tmp-") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

// TestCrashLeavesOnlyTemp: an abandoned writer (process killed before Commit
// or Abort) leaves a hidden temp file that List ignores and CleanTemp removes.
func TestCrashLeavesOnlyTemp(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	w, err := s.Create(ctx, "m/2020-03/part", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	// No Commit, no Abort: simulate the crash.
	temps, _ := filepath.Glob(filepath.Join(dir, "m", "2020-03", ".tierflow-tmp-*"))
	if len(temps) != 1 {
		t.Fatalf("want one temp file, got %v", temps)
	}
	if ks := keys(t, s); len(ks) != 0 {
		t.Fatalf("list shows %v", ks)
	}
	if _, err := s.Stat(ctx, "m/2020-03/part"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat: %v", err)
	}
	if n, err := s.CleanTemp(ctx, "", time.Hour); err != nil || n != 0 {
		t.Fatalf("CleanTemp removed %d young temp files (%v)", n, err)
	}
	if n, err := s.CleanTemp(ctx, "m/2019-12/", 0); err != nil || n != 0 {
		t.Fatalf("CleanTemp of another prefix removed %d (%v)", n, err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(temps[0], old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CleanTemp(ctx, "", time.Hour); err != nil || n != 1 {
		t.Fatalf("CleanTemp removed %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "m")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty directories left after CleanTemp: %v", err)
	}
	// Temp names cannot be used as keys.
	if _, err := s.Create(ctx, "a/.tierflow-tmp-x", storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("create of a temp-looking key: %v", err)
	}
}

// TestCleanTempPrefix: a prefix's temp files go whatever their age, with
// the empty directories below it (an engine that died before its first
// file), and nothing outside the prefix is touched.
func TestCleanTempPrefix(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	for _, k := range []string{"t/run=a/x", "t/run=b/x"} {
		w, err := s.Create(ctx, k, storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("partial")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "t", "run=a", "empty", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := storage.Put(ctx, s, "t/keep", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CleanTemp(ctx, "t/run=a", 0); err == nil {
		t.Fatal("a prefix without its slash was accepted")
	}
	if n, err := s.CleanTemp(ctx, "t/run=a/", 0); err != nil || n != 1 {
		t.Fatalf("CleanTemp of a dead run's prefix removed %d, %v; want its one young temp file", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "t", "run=a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dead run's directory is still there: %v", err)
	}
	temps, _ := filepath.Glob(filepath.Join(dir, "t", "run=b", ".tierflow-tmp-*"))
	if len(temps) != 1 {
		t.Fatalf("another run's temp file was touched: %v", temps)
	}
	if ks := keys(t, s); !slices.Equal(ks, []string{"t/keep"}) {
		t.Fatalf("objects after clean: %v", ks)
	}
}

func TestDeletePrunesEmptyDirectories(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	for _, k := range []string{"a/b/c/d", "a/x"} {
		if err := storage.Put(ctx, s, k, strings.NewReader(k), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a/b not pruned: %v", err)
	}
	if err := s.Delete(ctx, "a/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a not pruned: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("root removed: %v", err)
	}
}

func TestAbortRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	w, err := s.Create(t.Context(), "a/b", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	assertNoTemp(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	w, _ = s.Create(ctx, "a/c", storage.PutOptions{})
	cancel()
	if err := w.Commit(); !errors.Is(err, context.Canceled) {
		t.Fatalf("commit after cancel: %v", err)
	}
	assertNoTemp(t, dir)
}
