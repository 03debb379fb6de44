package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/runner"
)

// repairCommand is `tierflow repair`: finish what a command that stopped after its commit left undone: every table's partitions point at the published run, its record and lineage are complete (every command does this for the months it touches).
func repairCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "repair",
		Usage: "finish what a command that stopped after its commit left undone: every table's partitions point at the published run, its record and lineage are complete (every command does this for the months it touches)",
		Flags: []cli.Flag{f.job, f.lake,
			&cli.StringFlag{Name: "month", Usage: "only this month `YYYY-MM` (default: every month with runs)"},
		},
		Action: func(c *cli.Context) error {
			spec, env, err := runner.OpenJob(c.Context, c.String("job"), c.String("lake"), logOf(c))
			if err != nil {
				return err
			}
			defer env.Close()
			var reps []runner.RepairReport
			if month := c.String("month"); month != "" {
				if _, err := jobs.ParseMonth(month); err != nil {
					return err
				}
				rep, err := runner.Repair(c.Context, env, spec, month)
				if err != nil {
					return err
				}
				reps = append(reps, rep)
			} else if reps, err = runner.RepairAll(c.Context, env, spec); err != nil {
				return err
			}
			printRepairs(c.App.Writer, reps)
			return nil
		},
	}
}

// printRepairs says, month by month, what repair did.
func printRepairs(w io.Writer, reps []runner.RepairReport) {
	fixed := 0
	for _, r := range reps {
		switch {
		case r.Run == "":
			fmt.Fprintf(w, "month %s: nothing published\n", r.Month)
		case r.Switched > 0 || r.Finished:
			fixed++
			fmt.Fprintf(w, "month %s: published run %s; switched %d partitions, completed its record: %v\n", r.Month, r.Run, r.Switched, r.Finished)
		default:
			fmt.Fprintf(w, "month %s: published run %s; nothing to repair\n", r.Month, r.Run)
		}
	}
	fmt.Fprintf(w, "repair: %d months checked, %d repaired\n", len(reps), fixed)
}
