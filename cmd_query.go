package main

import (
	"strings"

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
			return runner.QueryCommand(c.Context, c.String("job"), c.String("lake"), strings.Join(c.Args().Slice(), " "), c.String("output"), logOf(c), c.App.Writer)
		},
	}
}
