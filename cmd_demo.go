package main

import (
	"github.com/urfave/cli/v2"

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
			return runner.Demo(c.Context, runner.DemoOptions{
				Dir: c.String("dir"), Rows: c.Int64("rows"), Parts: c.Int("parts"), Month: c.String("month"),
				Log: logOf(c), Stdout: c.App.Writer, Console: consoleOf(c),
			})
		},
	}
}
