package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/runner"
)

// watchCommand is `tierflow watch`: poll the intake and run each complete, unpublished month.
func watchCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "watch",
		Usage: "poll the intake and run each month whose delivery is complete (source.complete_when) and not yet published",
		Description: "Every --interval, lists the job's intake and runs, oldest first, each month whose delivery\n" +
			"is complete and whose inputs were never published (a month published from the same inputs,\n" +
			"or rolled back from them, is left alone; a run that failed is not retried on the same inputs).\n" +
			"--once makes one pass and exits: 0 when every month it ran succeeded or none was ready.\n" +
			"Ctrl-C between passes stops it (exit 0); during a run it interrupts the run (nothing published).",
		Flags: []cli.Flag{f.job, f.lake,
			&cli.BoolFlag{Name: "once", Usage: "make one pass and exit"},
			&cli.DurationFlag{Name: "interval", Value: runner.DefaultWatchInterval, Usage: "time between passes"},
		},
		Action: func(c *cli.Context) error {
			if d := c.Duration("interval"); d <= 0 {
				return usageError{fmt.Errorf("watch: --interval %s must be positive", d)}
			}
			spec, env, err := runner.OpenJob(c.Context, c.String("job"), c.String("lake"), logOf(c))
			if err != nil {
				return err
			}
			defer env.Close()
			return runner.Watch(c.Context, env, spec, runner.WatchOptions{
				Once: c.Bool("once"), Interval: c.Duration("interval"), Log: logOf(c), Stdout: c.App.Writer,
				Done: func(spec *jobs.Spec, res *runner.Result) { printSummary(c.App.Writer, spec, res) },
			})
		},
	}
}
