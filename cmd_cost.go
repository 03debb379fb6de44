package main

import (
	"fmt"
	"io"
	"text/tabwriter"

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
			output := c.String("output")
			if err := checkOutput("cost", output); err != nil {
				return err
			}
			v, err := runner.Cost(c.Context, c.String("job"), c.String("lake"), c.String("month"), logOf(c))
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(c.App.Writer, v)
			}
			return printCost(c.App.Writer, v)
		},
	}
}

// printCost prints the cost at rest as a table, its total and the prices' source.
func printCost(w io.Writer, v runner.CostView) error {
	if len(v.Rows) == 0 {
		fmt.Fprintf(w, "job %s keeps nothing in this lake\n", v.Job)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MONTH\tTIER\tCLASS\tOBJECTS\tBYTES\t$/GB-MONTH\t$/MONTH\t")
	for _, r := range v.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.5f\t%.4f\t\n", r.Month, r.Tier, r.Class, r.Objects, runner.HumanBytes(r.Bytes), runner.StoragePrice(r.Class), r.USD)
	}
	fmt.Fprintf(tw, "\t\t\t\t\ttotal\t%.4f\t\n", v.TotalUSD)
	if err := tw.Flush(); err != nil {
		return err
	}
	note := ""
	if v.Local {
		note = "; a local lake has no storage classes: priced as S3 Standard"
	}
	_, err := fmt.Fprintf(w, "prices: %s, as of %s%s\n", v.PriceSource, v.PricesAsOf, note)
	return err
}
