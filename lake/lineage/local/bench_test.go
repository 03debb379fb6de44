package local_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/lineage/local"
)

// BenchmarkClaim measures one write (open, fsynced transaction, close).
func BenchmarkClaim(b *testing.B) {
	s, _ := local.Open(filepath.Join(b.TempDir(), "lineage.db"))
	for i := 0; b.Loop(); i++ {
		if _, err := s.Claim(b.Context(), "job", fmt.Sprint(i), lineage.Claim{Owner: "r"}, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublished measures one read (shared open, view, close).
func BenchmarkPublished(b *testing.B) {
	s, _ := local.Open(filepath.Join(b.TempDir(), "lineage.db"))
	c, err := s.Claim(b.Context(), "job", "m", lineage.Claim{Owner: "r#x"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Commit(b.Context(), "job", "m", "r#x", lineage.Commit{RunID: "r", Token: c.Token}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Published(b.Context(), "job", "m"); err != nil {
			b.Fatal(err)
		}
	}
}
