package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// stageCommand is `tierflow stage`: after every part is converted: check the manifests, stage tier 2, prepare the derived tables' CTAS (Step Functions task).
func stageCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "stage",
		Usage: "after every part is converted: check the manifests, stage tier 2, prepare the derived tables' CTAS (Step Functions task)",
		Flags: []cli.Flag{f.job, f.lake, executionFlag},
		Action: func(c *cli.Context) error {
			return runner.StageCommand(c.Context, stepOptions(c))
		},
	}
}
