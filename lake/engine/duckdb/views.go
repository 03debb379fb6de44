//go:build cgo && !noduckdb

package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
)

// hiveNullPartition is the directory value Hive (and DuckDB) use for a NULL
// partition value.
const hiveNullPartition = "__HIVE_DEFAULT_PARTITION__"

// source is one catalog table a statement reads; input, when set, replaces
// the catalog's definition and partitions (a run's staged data).
type source struct {
	db, table string
	input     *engine.Input
}

func (s source) String() string { return s.db + "." + s.table }

// parseSources resolves "db.table" or "table" (in db) names, lowercased as
// Glue stores them, without duplicates.
func parseSources(db string, names []string) ([]source, error) {
	var out []source
	seen := map[string]bool{}
	for _, n := range names {
		s := source{db: strings.ToLower(db), table: strings.ToLower(strings.TrimSpace(n))}
		if d, t, ok := strings.Cut(s.table, "."); ok {
			s.db, s.table = d, t
		}
		if s.db == "" || s.table == "" || strings.Contains(s.table, ".") {
			return nil, fmt.Errorf("source %q: want table or db.table", n)
		}
		if !seen[s.String()] {
			seen[s.String()] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// withInputs adds the CTAS inputs to the sources; an input shadows the
// source of the same name.
func withInputs(db string, srcs []source, inputs []engine.Input) []source {
	for i := range inputs {
		in := &inputs[i]
		s := source{db: strings.ToLower(in.Table.Database), table: strings.ToLower(in.Table.Name), input: in}
		if s.db == "" {
			s.db = strings.ToLower(db)
		}
		replaced := false
		for j := range srcs {
			if srcs[j].String() == s.String() {
				srcs[j], replaced = s, true
			}
		}
		if !replaced {
			srcs = append(srcs, s)
		}
	}
	return srcs
}

// DefineViews replaces the engine's views with one per source ("db.table",
// or "table" in database) and leaves them defined, so that Query can read
// catalog tables outside a CTAS (benchmarks do).
func (e *Engine) DefineViews(ctx context.Context, database string, sources []string) error {
	srcs, err := parseSources(database, sources)
	if err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	return e.withConn(ctx, func(conn *sql.Conn) error {
		if err := e.defineViews(ctx, conn, database, srcs); err != nil {
			return fmt.Errorf("duckdb: %w", err)
		}
		return nil
	})
}

// withConn runs fn on one connection, after the previous statement.
func (e *Engine) withConn(ctx context.Context, fn func(*sql.Conn) error) error {
	if err := e.acquire(ctx); err != nil {
		return err
	}
	defer e.release()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duckdb: connection: %w", err)
	}
	defer conn.Close()
	return fn(conn)
}

func (e *Engine) acquire(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("duckdb: waiting for the previous statement: %w", ctx.Err())
	}
}

func (e *Engine) release() { <-e.sem }

// defineViews drops the views of the previous call, so that a table missing
// from the sources fails to bind instead of reading a stale view, then
// creates the schemas and one view per source.
func (e *Engine) defineViews(ctx context.Context, conn *sql.Conn, db string, srcs []source) error {
	for _, v := range e.views {
		if _, err := conn.ExecContext(ctx, "DROP VIEW IF EXISTS "+v); err != nil {
			return fmt.Errorf("drop view %s: %w", v, err)
		}
	}
	e.views = nil
	schemas := []string{strings.ToLower(db)}
	for _, s := range srcs {
		schemas = append(schemas, s.db)
	}
	for _, s := range schemas {
		if _, err := conn.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(s)); err != nil {
			return fmt.Errorf("create schema %s: %w", s, err)
		}
	}
	for _, s := range srcs {
		body, err := e.viewSQL(ctx, conn, s)
		if err != nil {
			return fmt.Errorf("source %s: %w", s, err)
		}
		name := quoteIdent(s.db) + "." + quoteIdent(s.table)
		stmt := "CREATE OR REPLACE VIEW " + name + " AS\n" + body
		e.log.Debug().Str("view", s.String()).Int("bytes", len(stmt)).Msg("duckdb: create view")
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("source %s: create view: %w", s, err)
		}
		e.views = append(e.views, name)
	}
	return nil
}

// viewColumn is one column of a view: a data column read from the files or
// a partition key.
type viewColumn struct {
	name, duck string
}

// viewSQL builds the SELECT of one source's view from its catalog entry.
func (e *Engine) viewSQL(ctx context.Context, conn *sql.Conn, s source) (string, error) {
	var t catalog.Table
	if s.input != nil {
		t = s.input.Table
	} else {
		var err error
		if t, err = e.cat.GetTable(ctx, s.db, s.table); err != nil {
			return "", err
		}
	}
	data, err := viewColumns(t.StorageDescriptor.Columns)
	if err != nil {
		return "", err
	}
	keys, err := viewColumns(t.PartitionKeys)
	if err != nil {
		return "", fmt.Errorf("partition keys: %w", err)
	}
	if len(data) == 0 {
		return "", errors.New("table has no columns in the catalog")
	}
	if len(keys) == 0 {
		sel, err := e.branchSQL(ctx, conn, t.StorageDescriptor.Location, data, nil, nil)
		if err != nil {
			return "", fmt.Errorf("location %s: %w", t.StorageDescriptor.Location, err)
		}
		return sel, nil
	}
	var parts []catalog.Partition
	if s.input != nil {
		parts = s.input.Partitions
	} else if parts, err = e.cat.ListPartitions(ctx, s.db, s.table); err != nil {
		return "", fmt.Errorf("list partitions: %w", err)
	}
	var branches []string
	for _, p := range parts {
		if len(p.Values) != len(keys) {
			return "", fmt.Errorf("partition %v: %d values for %d partition keys", p.Values, len(p.Values), len(keys))
		}
		sel, err := e.branchSQL(ctx, conn, p.StorageDescriptor.Location, data, keys, p.Values)
		if err != nil {
			return "", fmt.Errorf("partition %v at %s: %w", p.Values, p.StorageDescriptor.Location, err)
		}
		branches = append(branches, sel)
	}
	if len(branches) == 0 { // no partitions yet: no rows, same columns
		nulls := make([]string, len(keys))
		for i := range nulls {
			nulls[i] = hiveNullPartition
		}
		return emptySelect(data, keys, nulls), nil
	}
	return strings.Join(branches, "\nUNION ALL\n"), nil
}

func viewColumns(cols []catalog.Column) ([]viewColumn, error) {
	out := make([]viewColumn, len(cols))
	for i, c := range cols {
		d, err := duckType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		out[i] = viewColumn{name: strings.ToLower(c.Name), duck: d}
	}
	return out, nil
}

// branchSQL is the SELECT for one location: its files projected onto the
// catalog columns, plus the partition values as typed constants.
func (e *Engine) branchSQL(ctx context.Context, conn *sql.Conn, location string, data, keys []viewColumn, values []string) (string, error) {
	if location == "" {
		return "", errors.New("no location in the catalog")
	}
	files, err := e.listFiles(location)
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return emptySelect(data, keys, values), nil
	}
	from := readParquet(files)
	present, err := fileColumns(ctx, conn, from)
	if err != nil {
		return "", err
	}
	sel := make([]string, 0, len(data)+len(keys))
	for _, c := range data {
		src := quoteIdent(c.name)
		if !present[c.name] { // schema evolution: an older file lacks the column
			src = "NULL"
		}
		sel = append(sel, "CAST("+src+" AS "+c.duck+") AS "+quoteIdent(c.name))
	}
	sel = append(sel, partitionConstants(keys, values)...)
	return "SELECT " + strings.Join(sel, ", ") + "\nFROM " + from, nil
}

// emptySelect has the view's columns and no rows: read_parquet cannot read
// an empty file list.
func emptySelect(data, keys []viewColumn, values []string) string {
	sel := make([]string, 0, len(data)+len(keys))
	for _, c := range data {
		sel = append(sel, "CAST(NULL AS "+c.duck+") AS "+quoteIdent(c.name))
	}
	sel = append(sel, partitionConstants(keys, values)...)
	return "SELECT " + strings.Join(sel, ", ") + " WHERE false"
}

func partitionConstants(keys []viewColumn, values []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		v := quoteString(values[i])
		if values[i] == hiveNullPartition {
			v = "NULL"
		}
		out[i] = "CAST(" + v + " AS " + k.duck + ") AS " + quoteIdent(k.name)
	}
	return out
}

func readParquet(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = quoteString(f)
	}
	// hive_partitioning off: the catalog, not the path, says what the
	// partition values are (and run=<id> is no column).
	return "read_parquet([" + strings.Join(q, ", ") + "], hive_partitioning = false, union_by_name = true)"
}

// fileColumns returns the lowercase column names present in the files.
func fileColumns(ctx context.Context, conn *sql.Conn, from string) (map[string]bool, error) {
	cols, err := describe(ctx, conn, "SELECT * FROM "+from)
	if err != nil {
		return nil, err
	}
	present := make(map[string]bool, len(cols))
	for _, c := range cols {
		present[strings.ToLower(c.name)] = true
	}
	return present, nil
}

// describedColumn is one row of DESCRIBE.
type describedColumn struct{ name, duck string }

// describe returns the result columns of a query without running it.
func describe(ctx context.Context, conn *sql.Conn, query string) ([]describedColumn, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []describedColumn
	vals := make([]any, len(n))
	for rows.Next() {
		var c describedColumn
		ptrs := []any{&c.name, &c.duck}
		for i := 2; i < len(vals); i++ {
			ptrs = append(ptrs, &vals[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// listFiles returns the local paths of the data files directly under a
// location, as Hive lists them: names starting with "_" or "." are not data
// (manifests, markers, the file store's temp files), and neither are
// subdirectories. It reads the directory rather than storage.List, which
// would compute ETags of files the store did not write.
func (e *Engine) listFiles(location string) ([]string, error) {
	key, err := e.keyOf(location)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.lakeDir, filepath.FromSlash(key))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no objects under the prefix
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", location, err)
	}
	var files []string
	for _, d := range entries {
		name := d.Name()
		if !d.Type().IsRegular() || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
			continue
		}
		files = append(files, filepath.Join(dir, name))
	}
	return files, nil
}

// keyOf returns the storage key (no trailing slash) of a location below the
// lake root.
func (e *Engine) keyOf(location string) (string, error) {
	root := strings.TrimSuffix(e.st.URI(), "/") + "/"
	key, ok := strings.CutPrefix(location, root)
	key = strings.Trim(key, "/")
	if !ok || key == "" {
		return "", fmt.Errorf("%w: %q (the lake is %q)", engine.ErrOutsideLake, location, e.st.URI())
	}
	return key, nil
}

// QueryIn runs query on one connection whose default schema is database,
// so catalog tables (views of DefineViews) are named as in the catalog,
// unqualified, and hands the rows to fn.
func (e *Engine) QueryIn(ctx context.Context, database, query string, fn func(*sql.Rows) error) error {
	return e.withConn(ctx, func(conn *sql.Conn) error {
		if _, err := conn.ExecContext(ctx, "USE "+quoteIdent(strings.ToLower(database))); err != nil {
			return fmt.Errorf("duckdb: use %s: %w", database, err)
		}
		defer conn.ExecContext(context.Background(), "USE memory.main") //nolint:errcheck
		rows, err := conn.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("duckdb: query %q: %w", firstLine(query), err)
		}
		defer rows.Close()
		return fn(rows)
	})
}
