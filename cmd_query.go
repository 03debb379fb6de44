package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// queryCommand is `tierflow query`: run SQL with DuckDB over what the job publishes: its tables by their catalog names, each month at its published run.
func queryCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:      "query",
		Usage:     "run SQL with DuckDB over what the job publishes: its tables by their catalog names, each month at its published run",
		ArgsUsage: "SQL",
		Flags: []cli.Flag{f.job, f.lake,
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "`table`, csv or json"},
		},
		Action: func(c *cli.Context) error {
			output := c.String("output")
			switch output {
			case "", "table", "csv", "json":
			default:
				return usageError{fmt.Errorf("query: --output %q: use table, csv or json", output)}
			}
			res, err := runner.Query(c.Context, c.String("job"), c.String("lake"), strings.Join(c.Args().Slice(), " "), logOf(c))
			if err != nil {
				return err
			}
			return printRows(c.App.Writer, res, output)
		},
	}
}

// printRows writes a query's rows as an aligned table, CSV or a JSON
// array of objects.
func printRows(w io.Writer, res *runner.QueryResult, output string) error {
	cols, all := res.Columns, res.Rows
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
		return writeJSON(w, out)
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
