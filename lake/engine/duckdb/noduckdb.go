//go:build !cgo || noduckdb

// Package duckdb is the local query engine for derived tiers. This build
// has no DuckDB (CGO_ENABLED=0 or the noduckdb tag, as in the converter
// image): New and OpenMemory return ErrNoDuckDB.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package duckdb

import (
	"context"
	"database/sql"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/storage"
)

// Engine is never constructed in this build.
type Engine struct{}

var _ engine.Engine = (*Engine)(nil)

// New returns ErrNoDuckDB.
func New(ctx context.Context, cat catalog.Catalog, st storage.Storage, opts Options) (*Engine, error) {
	return nil, ErrNoDuckDB
}

// OpenMemory returns ErrNoDuckDB.
func OpenMemory() (*sql.DB, error) { return nil, ErrNoDuckDB }

// CreateTableAs returns ErrNoDuckDB.
func (e *Engine) CreateTableAs(ctx context.Context, c engine.CTAS) (engine.Result, error) {
	return engine.Result{}, ErrNoDuckDB
}

// DefineViews returns ErrNoDuckDB.
func (e *Engine) DefineViews(ctx context.Context, database string, sources []string) error {
	return ErrNoDuckDB
}

// Query returns ErrNoDuckDB.
func (e *Engine) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return nil, ErrNoDuckDB
}

// Close does nothing.
func (e *Engine) Close() error { return nil }

// Version is "" in a build without DuckDB.
func Version() string { return "" }

// BindSelects returns ErrNoDuckDB in a build without DuckDB.
func BindSelects(context.Context, string, []catalog.Table, []NamedSelect) ([]error, error) {
	return nil, ErrNoDuckDB
}
