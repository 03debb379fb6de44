package spool_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/lake/storage/spool"
	"github.com/tierflow/tierflow/lake/storage/storagetest"
)

func newStore(t *testing.T) (*spool.Store, string) {
	inner, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := spool.New(inner, dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		s, _ := newStore(t)
		return s
	})
}

// Spool files are removed on commit and on abort.
func TestSpoolFilesRemoved(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	for i, commit := range []bool{true, false} {
		w, err := s.Create(ctx, "k"+string(rune('a'+i)), storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(strings.Repeat("x", 1<<20)))
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("%d spool files while writing, want 1", len(ents))
		}
		if commit {
			err = w.Commit()
		} else {
			err = w.Abort()
		}
		if err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("spool files left after commit=%v: %d", commit, len(ents))
		}
	}
	if _, err := s.Stat(ctx, "ka"); err != nil {
		t.Errorf("committed object: %v", err)
	}
	if _, err := s.Stat(ctx, "kb"); err == nil {
		t.Error("aborted object exists")
	}
}
