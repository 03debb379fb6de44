//go:build cgo && !noduckdb

package duckdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/lake/catalog"
)

// BindSelects checks that each SELECT binds — its tables, columns,
// functions and types resolve — against empty tables shaped like tables
// (their columns and partition keys, by Hive type) in database, without
// reading any data. Each result becomes an empty table named like its
// NamedSelect for the ones after it. It returns one error per statement
// (nil where it binds); the error is for DuckDB itself failing.
func BindSelects(ctx context.Context, database string, tables []catalog.Table, stmts []NamedSelect) ([]error, error) {
	db, err := OpenMemory()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("duckdb: connection: %w", err)
	}
	defer conn.Close()
	schema := quoteIdent(strings.ToLower(database))
	if _, err := conn.ExecContext(ctx, "CREATE SCHEMA "+schema+"; USE "+schema); err != nil {
		return nil, fmt.Errorf("duckdb: schema %s: %w", database, err)
	}
	for _, t := range tables {
		var cols []string
		for _, c := range append(append([]catalog.Column{}, t.StorageDescriptor.Columns...), t.PartitionKeys...) {
			typ, err := duckType(c.Type)
			if err != nil {
				return nil, fmt.Errorf("duckdb: table %s column %s: %w", t.Name, c.Name, err)
			}
			cols = append(cols, quoteIdent(strings.ToLower(c.Name))+" "+typ)
		}
		if _, err := conn.ExecContext(ctx, "CREATE TABLE "+quoteIdent(strings.ToLower(t.Name))+" ("+strings.Join(cols, ", ")+")"); err != nil {
			return nil, fmt.Errorf("duckdb: table %s: %w", t.Name, err)
		}
	}
	errs := make([]error, len(stmts))
	for i, s := range stmts {
		q := "CREATE TABLE " + quoteIdent(strings.ToLower(s.Table)) + " AS SELECT * FROM (" + s.SQL + "\n) AS q LIMIT 0"
		if _, err := conn.ExecContext(ctx, q); err != nil {
			errs[i] = fmt.Errorf("duckdb: %s", oneLineDuck(err))
		}
	}
	return errs, nil
}

// oneLineDuck folds DuckDB's multi-line error text.
func oneLineDuck(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}
