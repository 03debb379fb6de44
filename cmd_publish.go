package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// publishCommand is `tierflow publish`: after the derived tables are built: switch every partition to the run, record lineage (Step Functions task).
func publishCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "publish",
		Usage: "after the derived tables are built: switch every partition to the run, record lineage (Step Functions task)",
		Flags: []cli.Flag{f.job, f.lake, executionFlag},
		Action: func(c *cli.Context) error {
			return runner.PublishCommand(c.Context, stepOptions(c))
		},
	}
}
