package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// genCommand is `tierflow gen`: write a synthetic month of the job's input into its intake location.
func genCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "gen",
		Usage: "write a synthetic month of the job's input into its intake location",
		Flags: []cli.Flag{f.job, f.month, f.lake,
			&cli.Int64Flag{Name: "rows", Value: 100_000, Usage: "rows in the month"},
			&cli.IntFlag{Name: "parts", Value: 4, Usage: "number of gzip CSV parts"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "random seed (same seed, same bytes)"},
		},
		Action: func(c *cli.Context) error {
			return runner.Gen(c.Context, runner.GenOptions{
				Job: c.String("job"), Lake: c.String("lake"), Month: c.String("month"),
				Rows: c.Int64("rows"), Parts: c.Int("parts"), Seed: c.Int64("seed"),
				Log: logOf(c), Stdout: c.App.Writer,
			})
		},
	}
}
