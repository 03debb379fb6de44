package file

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/lake/storage"
)

// TestETagWithoutXattrs exercises the in-memory fallback used on file
// systems without user xattrs.
func TestETagWithoutXattrs(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.xattr.unsupported.Store(true)
	ctx := t.Context()
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

	if err := storage.Put(ctx, s, "w", strings.NewReader("written"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("foreign"), 0o644)
	for key, want := range map[string]string{"w": sum("written"), "f": sum("foreign")} {
		o, err := s.Stat(ctx, key)
		if err != nil || o.ETag != want {
			t.Fatalf("stat %q: ETag %q, %v; want %s", key, o.ETag, err, want)
		}
		if _, ok := s.etags.get(key, stamp{o.Size, o.ModTime.UnixNano()}); !ok {
			t.Fatalf("digest of %q not cached", key)
		}
	}
	// Same size, new mtime: the cached digest must not be reused.
	os.WriteFile(p, []byte("FOREIGN"), 0o644)
	later := time.Now().Add(time.Second)
	os.Chtimes(p, later, later)
	if o, err := s.Stat(ctx, "f"); err != nil || o.ETag != sum("FOREIGN") {
		t.Fatalf("after rewrite: ETag %q, %v", o.ETag, err)
	}
}

func TestXattrRecorded(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := storage.Put(t.Context(), s, "x", strings.NewReader("abc"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := getXattr(f, xattrName)
	if err == errXattrUnsupported {
		t.Skip("no user xattrs on this file system")
	}
	if err != nil {
		t.Fatal(err)
	}
	sum, st, ok := decodeStamped(v)
	fi, _ := f.Stat()
	if !ok || sum != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || st != stampOf(fi) {
		t.Fatalf("xattr %q does not record the digest at the file's stamp", v)
	}
}
