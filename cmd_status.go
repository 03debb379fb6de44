package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// statusCommand is `tierflow status`: show one run: on AWS its Step Functions execution (stage, parts done, error), and its lineage record.
func statusCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show one run: on AWS its Step Functions execution (stage, parts done, error), and its lineage record",
		ArgsUsage: "RUN (an execution name or ARN, or a run id)",
		Flags: []cli.Flag{f.job, f.lake, outputFlag(),
			&cli.StringFlag{Name: "name", Usage: "the deployment's base `NAME` (default tierflow-<job>)"},
			&cli.StringFlag{Name: "region", Usage: "AWS `REGION` (default: the job's aws.region)"},
			&cli.StringFlag{Name: "account", Usage: "AWS `ACCOUNT` id (default: the caller's)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("status: give exactly one RUN")
			}
			return runner.StatusCommand(c.Context, runner.StatusOptions{
				Job: c.String("job"), Run: c.Args().First(), Lake: c.String("lake"), Name: c.String("name"),
				Region: c.String("region"), Account: c.String("account"), Output: c.String("output"), Log: logOf(c), Stdout: c.App.Writer,
			})
		},
	}
}
