package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// rollbackCommand is `tierflow rollback`: switch a month back to an earlier complete run (default: the one before the published run).
func rollbackCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "rollback",
		Usage: "switch a month back to an earlier complete run (default: the one before the published run)",
		Flags: []cli.Flag{f.job, f.month, f.lake,
			&cli.StringFlag{Name: "to", Usage: "the `RUN` id to go back to"},
		},
		Action: func(c *cli.Context) error {
			spec, env, err := runner.OpenJob(c.Context, c.String("job"), c.String("lake"), logOf(c))
			if err != nil {
				return err
			}
			defer env.Close()
			month := c.String("month")
			from, target, err := runner.Rollback(c.Context, env, spec, month, c.String("to"))
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "month %s of %s: published run %s → %s\n", month, spec.Name, from, target)
			return nil
		},
	}
}
