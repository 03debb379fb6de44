package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// finishCommand is `tierflow finish`: an execution failed: record the run as failed, remove what it wrote, release the month (Step Functions Catch).
func finishCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "finish",
		Usage: "an execution failed: record the run as failed, remove what it wrote, release the month (Step Functions Catch)",
		Flags: []cli.Flag{f.job, f.lake, executionFlag,
			&cli.StringFlag{Name: "error", Usage: "the failure's cause, as the state machine reports it"},
		},
		Action: func(c *cli.Context) error {
			return runner.FinishCommand(c.Context, stepOptions(c), c.String("error"))
		},
	}
}
