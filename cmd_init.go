package main

import (
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
			return runner.InitCommand(c.Context, c.String("job"), c.String("lake"), logOf(c), c.App.Writer)
		},
	}
}
