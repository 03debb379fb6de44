package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// costCommand is `tierflow cost`: what the job's months cost to keep, per tier and storage class.
func costCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "cost",
		Usage: "storage cost at rest per month, tier and S3 storage class (intake, tier 1, 2, 3, run metadata)",
		Description: "Adds up the bytes the job keeps, by the storage class S3 reports for each object, and prices\n" +
			"them with S3's list prices per GB-month (the table, its date and source: docs/aws.md#11-storage-tiers).\n" +
			"A local lake has no storage classes: it is priced as S3 Standard.",
		Flags: []cli.Flag{f.job, f.lake, outputFlag(),
			&cli.StringFlag{Name: "month", Usage: "only this month `YYYY-MM` (default: every month)"},
		},
		Action: func(c *cli.Context) error {
			return runner.CostCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), c.String("output"), logOf(c), c.App.Writer)
		},
	}
}
