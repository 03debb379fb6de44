package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// initCommand is `tierflow init`: create what the job needs before its first run (AWS: DynamoDB lineage table, Glue database).
func initCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create what the job needs before its first run (AWS: DynamoDB lineage table, Glue database)",
		Flags: []cli.Flag{f.job, f.lake},
		Action: func(c *cli.Context) error {
			spec, env, err := runner.OpenJob(c.Context, c.String("job"), c.String("lake"), logOf(c))
			if err != nil {
				return err
			}
			defer env.Close()
			w := c.App.Writer
			fmt.Fprintf(w, "lake %s: reachable\n", env.Storage.URI())
			rep, err := runner.Init(c.Context, env, spec)
			if rep.LineageTable != "" {
				fmt.Fprintf(w, "lineage table %s: ready\n", rep.LineageTable)
			}
			if rep.Database != "" {
				fmt.Fprintf(w, "catalog database %s: ready\n", rep.Database)
			}
			return err
		},
	}
}
