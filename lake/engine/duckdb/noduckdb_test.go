//go:build !cgo || noduckdb

package duckdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tierflow/tierflow/lake/engine/duckdb"
)

func TestWithoutDuckDB(t *testing.T) {
	_, err := duckdb.New(context.Background(), nil, nil, duckdb.Options{})
	if !errors.Is(err, duckdb.ErrNoDuckDB) {
		t.Errorf("New = %v, want ErrNoDuckDB", err)
	}
	if _, err := duckdb.OpenMemory(); !errors.Is(err, duckdb.ErrNoDuckDB) {
		t.Errorf("OpenMemory = %v, want ErrNoDuckDB", err)
	}
}
