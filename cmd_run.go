package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/runner"
)

// runCommand is `tierflow run`: run the monthly job: plan, pristine copy, convert, derive, publish, lineage.
func runCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run the monthly job: plan, pristine copy, convert, derive, publish, lineage",
		Description: "Locally (default) every step runs in this process. With --on aws the month runs as an\n" +
			"execution of the deployed state machine (tierflow deploy), followed until it ends.\n" +
			"--from M1 --to M2 runs a range of months (a backfill). --output json prints each month's\n" +
			"summary as one JSON object (docs/schemas/cli.schema.json, definition run_summary).",
		Flags: []cli.Flag{f.job, f.lake,
			&cli.StringFlag{Name: "month", Usage: "data month `YYYY-MM`"},
			&cli.StringFlag{Name: "from", Usage: "first month `YYYY-MM` of a backfill"},
			&cli.StringFlag{Name: "to", Usage: "last month `YYYY-MM` of a backfill (inclusive)"},
			&cli.BoolFlag{Name: "force", Usage: "rerun even if the month was published from identical inputs"},
			&cli.BoolFlag{Name: "keep-going", Usage: "backfill: run the other months after one fails (the command still fails, naming them)"},
			outputFlag(),
			&cli.StringFlag{Name: "on", Value: "local", Usage: "`local` (this process) or aws (Step Functions)"},
			&cli.IntFlag{Name: "concurrency", Value: 2, Usage: "months run at once in an AWS backfill"},
			&cli.BoolFlag{Name: "rerun", Usage: "aws: start a new attempt of a month whose last execution failed"},
			&cli.BoolFlag{Name: "redrive", Usage: "aws: continue the month's last execution where it stopped"},
			&cli.BoolFlag{Name: "no-wait", Usage: "aws: start the executions and return"},
			&cli.DurationFlag{Name: "poll", Value: 15 * time.Second, Usage: "aws: interval between progress checks"},
			&cli.StringFlag{Name: "name", Usage: "aws: the deployment's base name (default tierflow-<job>)"},
			&cli.StringFlag{Name: "region", Usage: "aws: region of the state machine (default: the job's)"},
			&cli.StringFlag{Name: "account", Usage: "aws: account of the state machine (default: the caller's)"},
		},
		Action: func(c *cli.Context) error {
			switch c.String("on") {
			case "aws":
				if c.String("output") != "text" {
					return usageError{errors.New("run --on aws: --output is text only; for JSON, tierflow status --output json EXECUTION")}
				}
				return runner.AWSRunCommand(c.Context, runner.AWSRunOptions{
					Job: c.String("job"), Month: c.String("month"), From: c.String("from"), To: c.String("to"),
					Force: c.Bool("force"), Rerun: c.Bool("rerun"), Redrive: c.Bool("redrive"),
					Concurrency: c.Int("concurrency"), Poll: c.Duration("poll"), NoWait: c.Bool("no-wait"),
					Name: c.String("name"), Region: c.String("region"), Account: c.String("account"),
					Log: logOf(c), Stdout: c.App.Writer,
				})
			case "local":
				w, output := c.App.Writer, c.String("output")
				if err := checkOutput("run", output); err != nil {
					return err
				}
				var printErr error
				err := runner.RunMonths(c.Context, runner.RunMonthsOptions{
					Job: c.String("job"), Lake: c.String("lake"), Month: c.String("month"),
					From: c.String("from"), To: c.String("to"), KeepGoing: c.Bool("keep-going"),
					Force: c.Bool("force"), Log: logOf(c), Console: consoleOf(c),
					Done: func(spec *jobs.Spec, month string, res *runner.Result, err error) {
						switch {
						case output == "json":
							printErr = errors.Join(printErr, writeJSON(w, runner.RunSummary(spec, month, res, err)))
						case res != nil:
							printSummary(w, spec, res)
						}
					},
				})
				var bf *runner.BackfillError
				if errors.As(err, &bf) && output != "json" {
					fmt.Fprintf(w, "backfill: %d of %d months failed: %s\n", len(bf.Failed), bf.Months, strings.Join(bf.Failed, ", "))
				}
				if err == nil {
					err = printErr
				}
				return err
			default:
				return fmt.Errorf("run: --on %q: use local or aws", c.String("on"))
			}
		},
	}
}
