package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/runner"
)

// demoCommand is `tierflow demo`: generate a sample month and run the whole job in a fresh local lake, then summarise.
func demoCommand(_ commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "generate a sample month and run the whole job in a fresh local lake, then summarise",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "./tierflow-demo", Usage: "lake `DIR` (created fresh; an earlier demo there is replaced)"},
			&cli.Int64Flag{Name: "rows", Value: 100_000, Usage: "rows in the sample month"},
			&cli.IntFlag{Name: "parts", Value: 4, Usage: "gzip CSV parts"},
			&cli.StringFlag{Name: "month", Value: "2020-03", Usage: "data month `YYYY-MM`"},
		},
		Action: func(c *cli.Context) error {
			month := c.String("month")
			d, err := runner.Demo(c.Context, runner.DemoOptions{
				Dir: c.String("dir"), Rows: c.Int64("rows"), Parts: c.Int("parts"), Month: month,
				Log: logOf(c), Console: consoleOf(c),
			})
			if d == nil {
				return err
			}
			w, spec := c.App.Writer, d.Spec
			printSummary(w, spec, d.Result)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, `
Where to look next:
  lake                 %s
  tier 2 (Parquet)     %s
  tier 3 (derived)     %s
  manifests, rejects   %s
  runs                 go run . runs --job %s --lake %s
  lineage              go run . lineage --job %s --lake %s %s/month=%s
  query                go run . query --job %s --lake %s "SELECT state, count(*) AS n FROM %s WHERE month = '%s' GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
`, d.Dir, filepath.Join(d.Dir, "tier2", spec.Output.Table), filepath.Join(d.Dir, "tier3"), d.Result.RunMeta,
				spec.Name, d.Lake, spec.Name, d.Lake, firstDerived(spec), month, spec.Name, d.Lake, spec.Output.Table, month)
			return nil
		},
	}
}

// firstDerived is the table the demo's lineage hint shows.
func firstDerived(spec *jobs.Spec) string {
	if len(spec.Derived) > 0 {
		return spec.Derived[0].Table
	}
	return spec.Output.Table
}
