package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// validateCommand is `tierflow validate`: check a job before it runs: spec, schema, header sample, PII policy, and every derived table's SQL bound against the schema (DuckDB) and kept to what Athena runs; every problem at once, as file:line.
func validateCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check a job before it runs: spec, schema, header sample, PII policy, and every derived table's SQL bound against the schema (DuckDB) and kept to what Athena runs; every problem at once, as file:line",
		Flags: []cli.Flag{f.job, outputFlag()},
		Action: func(c *cli.Context) error {
			return runner.ValidateCommand(c.Context, c.String("job"), c.String("output"), logOf(c), c.App.Writer)
		},
	}
}
