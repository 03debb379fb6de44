package file_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// BenchmarkPut measures a 64 MiB atomic write (SHA-256, fsync, rename).
func BenchmarkPut(b *testing.B) {
	s, _ := file.New(b.TempDir())
	defer s.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		if err := storage.Put(b.Context(), s, fmt.Sprintf("k%d", i%4), bytes.NewReader(data), storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStat measures Stat of an object whose digest is in its xattr.
func BenchmarkStat(b *testing.B) {
	s, _ := file.New(b.TempDir())
	defer s.Close()
	if err := storage.Put(b.Context(), s, "a/b", bytes.NewReader(make([]byte, 1<<20)), storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Stat(b.Context(), "a/b"); err != nil {
			b.Fatal(err)
		}
	}
}
