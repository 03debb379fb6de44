package runner

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/catalog"
)

// viewQuerier is an engine that can expose catalog tables as views and
// query them (DuckDB).
type viewQuerier interface {
	DefineViews(ctx context.Context, database string, sources []string) error
	QueryIn(ctx context.Context, database, query string, fn func(*sql.Rows) error) error
}

// QueryCommand runs query with DuckDB over what the catalog publishes —
// every table of the job by its catalog name, each month at its published
// run, never an unpublished one — and prints the result as output (table,
// csv or json).
func QueryCommand(ctx context.Context, job, lake, query, output string, log zerolog.Logger, w io.Writer) error {
	switch output {
	case "", "table", "csv", "json":
	default:
		return invalidInput{fmt.Errorf("query: --output %q: use table, csv or json", output)}
	}
	if strings.TrimSpace(query) == "" {
		return invalidInput{errors.New("query: give the SQL, e.g. tierflow query --job J \"SELECT count(*) FROM <table>\"")}
	}
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	if _, err := RepairAll(ctx, env, spec); err != nil {
		return err
	}
	eng, err := env.Engine(ctx)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	q, ok := eng.(viewQuerier)
	if !ok {
		return fmt.Errorf("query: the lake %s is on S3: query it with Athena (database %s); tierflow query runs DuckDB over a local lake", env.Storage.URI(), spec.Database)
	}
	var sources []string
	for _, t := range tables(spec) {
		if _, err := env.Catalog.GetTable(ctx, spec.Database, t.name); errors.Is(err, catalog.ErrNotFound) {
			continue // never published yet
		} else if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		sources = append(sources, t.name)
	}
	if len(sources) == 0 {
		return fmt.Errorf("query: job %s has published nothing in %s yet", spec.Name, env.Storage.URI())
	}
	if err := q.DefineViews(ctx, spec.Database, sources); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return q.QueryIn(ctx, spec.Database, query, func(rows *sql.Rows) error { return printRows(rows, output, w) })
}

// printRows writes rows as an aligned table, CSV or a JSON array of
// objects.
func printRows(rows *sql.Rows, output string, w io.Writer) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var all [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		all = append(all, vals)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	switch output {
	case "json":
		out := make([]map[string]any, 0, len(all))
		for _, vals := range all {
			m := map[string]any{}
			for i, c := range cols {
				m[c] = jsonValue(vals[i])
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(cols)
		for _, vals := range all {
			rec := make([]string, len(vals))
			for i, v := range vals {
				rec[i] = text(v)
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, vals := range all {
		rec := make([]string, len(vals))
		for i, v := range vals {
			rec[i] = text(v)
		}
		fmt.Fprintln(tw, strings.Join(rec, "\t"))
	}
	fmt.Fprintf(tw, "(%d rows)\n", len(all))
	return tw.Flush()
}

// text renders a value for table and CSV output; NULL is empty.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// jsonValue is v as JSON encodes it well: bytes as text, everything else
// as the driver gave it (numbers, strings, times, NULL).
func jsonValue(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	if t, ok := v.(time.Time); ok {
		return text(t)
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	return v
}
