package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// unlockCommand is `tierflow unlock`: release a month whose holder is known to be dead (refused while the holder is alive or renewing its lease).
func unlockCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "unlock",
		Usage: "release a month whose holder is known to be dead (refused while the holder is alive or renewing its lease)",
		Flags: []cli.Flag{f.job, f.month, f.lake},
		Action: func(c *cli.Context) error {
			return runner.UnlockCommand(c.Context, c.String("job"), c.String("lake"), c.String("month"), logOf(c), c.App.Writer)
		},
	}
}
