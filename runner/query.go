package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/catalog"
)

// viewQuerier is an engine that can expose catalog tables as views and
// query them (DuckDB).
type viewQuerier interface {
	DefineViews(ctx context.Context, database string, sources []string) error
	QueryIn(ctx context.Context, database, query string, fn func(*sql.Rows) error) error
}

// QueryResult is a query's answer, values as the driver gave them (NULL
// is nil).
type QueryResult struct {
	Columns []string
	Rows    [][]any
}

// Query runs query with DuckDB over what the catalog publishes: every
// table of the job by its catalog name, each month at its published run,
// never an unpublished one.
func Query(ctx context.Context, job, lake, query string, log zerolog.Logger) (*QueryResult, error) {
	if strings.TrimSpace(query) == "" {
		return nil, invalidInput{errors.New("query: give the SQL, e.g. tierflow query --job J \"SELECT count(*) FROM <table>\"")}
	}
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	if _, err := RepairAll(ctx, env, spec); err != nil {
		return nil, err
	}
	eng, err := env.Engine(ctx)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	q, ok := eng.(viewQuerier)
	if !ok {
		return nil, fmt.Errorf("query: the lake %s is on S3: query it with Athena (database %s); tierflow query runs DuckDB over a local lake", env.Storage.URI(), spec.Database)
	}
	var sources []string
	for _, t := range tables(spec) {
		if _, err := env.Catalog.GetTable(ctx, spec.Database, t.name); errors.Is(err, catalog.ErrNotFound) {
			continue // never published yet
		} else if err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		sources = append(sources, t.name)
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("query: job %s has published nothing in %s yet", spec.Name, env.Storage.URI())
	}
	if err := q.DefineViews(ctx, spec.Database, sources); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	res := &QueryResult{}
	err = q.QueryIn(ctx, spec.Database, query, func(rows *sql.Rows) error { return res.read(rows) })
	if err != nil {
		return nil, err
	}
	return res, nil
}

// read takes in every row.
func (r *QueryResult) read(rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	r.Columns = cols
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		r.Rows = append(r.Rows, vals)
	}
	return rows.Err()
}
