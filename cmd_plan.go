package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// planCommand is `tierflow plan`: step 1 of an execution: list the month's parts, claim the month, record the run (Step Functions task).
func planCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "step 1 of an execution: list the month's parts, claim the month, record the run (Step Functions task)",
		Flags: []cli.Flag{f.job, f.lake, executionFlag,
			&cli.StringFlag{Name: "month", Usage: "data month `YYYY-MM` (default: the previous month, UTC)"},
			&cli.BoolFlag{Name: "force", Usage: "rerun even if the month was published from identical inputs"},
		},
		Action: func(c *cli.Context) error {
			return runner.PlanCommand(c.Context, stepOptions(c), c.String("month"), c.Bool("force"))
		},
	}
}
