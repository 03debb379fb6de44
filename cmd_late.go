package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// lateCommand is `tierflow late`: the late-data check the late-data alarm is fed by.
func lateCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "late",
		Usage: "check that the month the schedule last asked for was published within monitor.late_after (exit 1 if not)",
		Description: "Takes the latest firing of the job's schedule whose deadline (firing + monitor.late_after) has\n" +
			"passed and checks that its month (the month before the firing's) is published. Prints the\n" +
			"finding and a CloudWatch EMF line (MonthLate 0 or 1). On AWS an hourly schedule runs it as a\n" +
			"small Fargate task and the late-data alarm watches MonthLate (docs/aws.md#10-notifications-and-monitoring).",
		Flags: []cli.Flag{f.job, f.lake},
		Action: func(c *cli.Context) error {
			return runner.LateCommand(c.Context, c.String("job"), c.String("lake"), logOf(c), c.App.Writer)
		},
	}
}
