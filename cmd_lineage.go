package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// lineageCommand is `tierflow lineage`: show upstream and downstream of a table, partition or object.
func lineageCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:      "lineage",
		Usage:     "show upstream and downstream of a table, partition or object",
		ArgsUsage: "DATASET (table, table/month=YYYY-MM, or an object URI)",
		Flags:     []cli.Flag{f.job, f.lake, outputFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("lineage: give exactly one DATASET, e.g. consumer_ca or consumer_ca/month=2020-03")
			}
			return runner.LineageCommand(c.Context, c.String("job"), c.String("lake"), c.Args().First(), c.String("output"), logOf(c), c.App.Writer)
		},
	}
}
