package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// convertCommand is `tierflow convert`: convert one gzip CSV part into bucketed Parquet (the container's entrypoint).
func convertCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "convert",
		Usage: "convert one gzip CSV part into bucketed Parquet (the container's entrypoint)",
		Description: "Standalone: --part URI --out URI [--meta URI].\n" +
			"In a Step Functions execution: --execution E --part KEY (an intake key of the execution's plan):\n" +
			"the part is copied to tier 1, verified, and converted into the run's tier-2 prefix.",
		Flags: []cli.Flag{f.job, f.lake,
			&cli.StringFlag{Name: "part", Required: true, Usage: "the part's `URI` (file:///… or s3://…), or with --execution its intake key"},
			&cli.StringFlag{Name: "out", Usage: "output folder `URI` for the Parquet files"},
			&cli.StringFlag{Name: "meta", Usage: "folder `URI` for the manifest and rejects (default: OUT/_tierflow)"},
			executionFlag,
		},
		Action: func(c *cli.Context) error {
			if c.String("execution") != "" {
				return runner.PartCommand(c.Context, stepOptions(c), c.String("part"))
			}
			if c.String("out") == "" {
				return errors.New("convert: --out is required (or --execution to convert a part of a run)")
			}
			m, err := runner.ConvertPart(c.Context, runner.ConvertPartOptions{
				Job: c.String("job"), Part: c.String("part"), Out: c.String("out"), Meta: c.String("meta"),
				Log: logOf(c), Console: consoleOf(c),
			})
			if m != nil {
				// The manifest says what was converted, also of a part that failed.
				if werr := writeJSON(c.App.Writer, m); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
}
