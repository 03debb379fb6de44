package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/runner"
)

// unlockCommand is `tierflow unlock`: release a month whose holder is known to be dead (refused while the holder is alive or renewing its lease).
func unlockCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "unlock",
		Usage: "release a month whose holder is known to be dead (refused while the holder is alive or renewing its lease)",
		Flags: []cli.Flag{f.job, f.month, f.lake},
		Action: func(c *cli.Context) error {
			month := c.String("month")
			if _, err := jobs.ParseMonth(month); err != nil {
				return err
			}
			spec, env, err := runner.OpenJob(c.Context, c.String("job"), c.String("lake"), logOf(c))
			if err != nil {
				return err
			}
			defer env.Close()
			h, err := runner.Unlock(c.Context, env, spec.Name, month, 2*time.Minute)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "month %s of %s: released the claim of run %s (pid %d on %s); the next command takes the month\n",
				month, spec.Name, runner.RunOfOwner(h.Owner), h.PID, h.Host)
			return nil
		},
	}
}
