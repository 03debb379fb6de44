package local_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/lake/lineage/local"
)

// BenchmarkClaimMonth measures one write (open, fsynced transaction, close).
func BenchmarkClaimMonth(b *testing.B) {
	s, _ := local.Open(filepath.Join(b.TempDir(), "lineage.db"))
	for i := 0; b.Loop(); i++ {
		if err := s.ClaimMonth(b.Context(), "job", fmt.Sprint(i), "r", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublished measures one read (shared open, view, close).
func BenchmarkPublished(b *testing.B) {
	s, _ := local.Open(filepath.Join(b.TempDir(), "lineage.db"))
	if err := s.SetPublished(b.Context(), "job", "m", "r", ""); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Published(b.Context(), "job", "m"); err != nil {
			b.Fatal(err)
		}
	}
}
