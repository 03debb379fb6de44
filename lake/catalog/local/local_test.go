package local_test

import (
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/catalogtest"
	"github.com/tierflow/tierflow/lake/catalog/local"
)

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
		c, err := local.Open(filepath.Join(t.TempDir(), "catalog.json"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}
