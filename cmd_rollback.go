package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// rollbackCommand is `tierflow rollback`: switch a month back to an earlier complete run (default: the one before the published run).
func rollbackCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "rollback",
		Usage: "switch a month back to an earlier complete run (default: the one before the published run)",
		Flags: []cli.Flag{f.job, f.month, f.lake,
			&cli.StringFlag{Name: "to", Usage: "the `RUN` id to go back to"},
		},
		Action: func(c *cli.Context) error {
			return runner.RollbackCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), c.String("to"), logOf(c), c.App.Writer)
		},
	}
}
