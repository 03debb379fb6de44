package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// runsCommand is `tierflow runs`: list the job's runs: id, month, status, start, duration, rows in/out/rejected, cost.
func runsCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "list the job's runs: id, month, status, start, duration, rows in/out/rejected, cost",
		Flags: []cli.Flag{f.job, f.lake, outputFlag(),
			&cli.StringFlag{Name: "month", Usage: "only this month"},
			&cli.BoolFlag{Name: "wide", Usage: "every column (rows in, vCPU-s, GB-s, Athena bytes, S3 requests) and whole errors; default: fits 120 columns"},
			&cli.StringFlag{Name: "on", Value: "local", Usage: "`local` (the lake's lineage) or aws (Step Functions executions joined with lineage)"},
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "aws: executions listed"},
			&cli.StringFlag{Name: "name", Usage: "aws: the deployment's base name (default tierflow-<job>)"},
			&cli.StringFlag{Name: "region", Usage: "aws: region of the state machine (default: the job's)"},
			&cli.StringFlag{Name: "account", Usage: "aws: account of the state machine (default: the caller's)"},
		},
		Action: func(c *cli.Context) error {
			if c.String("on") == "aws" {
				return runner.AWSRunsCommand(c.Context, runner.StatusOptions{
					Job: c.String("job"), Lake: c.String("lake"), Limit: c.Int("limit"),
					Name: c.String("name"), Region: c.String("region"), Account: c.String("account"),
					Log: logOf(c), Stdout: c.App.Writer,
				})
			}
			return runner.RunsCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), c.Bool("wide"), c.String("output"), logOf(c), c.App.Writer)
		},
	}
}
