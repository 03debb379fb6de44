package main

import (
	"fmt"

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
			output := c.String("output")
			if err := checkOutput("validate", output); err != nil {
				return err
			}
			v, spec, err := runner.Validate(c.Context, c.String("job"))
			if output == "json" {
				// The problems are in the JSON too, and the exit code says
				// the job is invalid.
				if werr := writeJSON(c.App.Writer, v); werr != nil {
					return werr
				}
				return err
			}
			if err != nil {
				return err
			}
			how := "bound with DuckDB, their Athena CTAS rendered and checked"
			if !v.Bound {
				how = "their Athena CTAS rendered and checked (this build has no DuckDB to bind them)"
			}
			fmt.Fprintf(c.App.Writer, "job %s (%s): spec, schema (%d columns), header sample and PII policy valid; %d derived tables %s\n",
				spec.Name, spec.Path, len(spec.Schema.Columns), len(spec.Derived), how)
			if cw := spec.Source.CompleteWhen; cw.Set() {
				fmt.Fprintf(c.App.Writer, "a month's delivery is complete with: %s (source.complete_when)\n", cw)
			}
			return nil
		},
	}
}
