package local_test

import (
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/lineage/lineagetest"
	"github.com/tierflow/tierflow/lake/lineage/local"
)

func TestConformance(t *testing.T) {
	lineagetest.Run(t, func(t *testing.T) lineage.Store {
		s, err := local.Open(filepath.Join(t.TempDir(), "lineage.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
