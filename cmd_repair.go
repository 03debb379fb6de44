package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// repairCommand is `tierflow repair`: finish what a command that stopped after its commit left undone: every table's partitions point at the published run, its record and lineage are complete (every command does this for the months it touches).
func repairCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "repair",
		Usage: "finish what a command that stopped after its commit left undone: every table's partitions point at the published run, its record and lineage are complete (every command does this for the months it touches)",
		Flags: []cli.Flag{f.job, f.lake,
			&cli.StringFlag{Name: "month", Usage: "only this month `YYYY-MM` (default: every month with runs)"},
		},
		Action: func(c *cli.Context) error {
			return runner.RepairCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), logOf(c), c.App.Writer)
		},
	}
}
