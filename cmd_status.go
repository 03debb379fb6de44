package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/runner"
)

// statusCommand is `tierflow status`: show one run: on AWS its Step Functions execution (stage, parts done, error), and its lineage record.
func statusCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show one run: on AWS its Step Functions execution (stage, parts done, error), and its lineage record",
		ArgsUsage: "RUN (an execution name or ARN, or a run id)",
		Flags: []cli.Flag{f.job, f.lake, outputFlag(),
			&cli.StringFlag{Name: "name", Usage: "the deployment's base `NAME` (default tierflow-<job>)"},
			&cli.StringFlag{Name: "region", Usage: "AWS `REGION` (default: the job's aws.region)"},
			&cli.StringFlag{Name: "account", Usage: "AWS `ACCOUNT` id (default: the caller's)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("status: give exactly one RUN")
			}
			spec, err := jobs.Open(c.String("job"))
			if err != nil {
				return err
			}
			lake, err := runner.LakeURI(spec, c.String("lake"))
			if err != nil {
				return err
			}
			output := c.String("output")
			if err := checkOutput("status", output); err != nil {
				return err
			}
			onAWS := strings.HasPrefix(lake, "s3://")
			st, err := runner.Status(c.Context, runner.StatusOptions{
				Job: c.String("job"), Run: c.Args().First(), Lake: c.String("lake"), Name: c.String("name"),
				Region: c.String("region"), Account: c.String("account"), Log: logOf(c),
			})
			if err != nil {
				return err
			}
			switch {
			case output == "json" && onAWS:
				return writeJSON(c.App.Writer, st.ExecutionView(time.Now()))
			case output == "json":
				return writeJSON(c.App.Writer, st.View())
			}
			printStatus(c.App.Writer, st, onAWS, time.Now())
			return nil
		},
	}
}

// printStatus prints a run's execution (on AWS) and lineage record; now
// ends the duration of an execution still running.
func printStatus(w io.Writer, st *runner.RunStatus, onAWS bool, now time.Time) {
	switch {
	case st.Execution == nil && onAWS:
		printLineageRun(w, *st.Run)
		fmt.Fprintln(w, "(a local run: no Step Functions execution)")
		return
	case st.Execution == nil:
		r := st.Run
		printLineageRun(w, *r)
		if !r.Ended.IsZero() {
			fmt.Fprintf(w, "ran        %s, %s\n", r.Started.UTC().Format(time.RFC3339), r.Ended.Sub(r.Started).Round(time.Second))
		}
		return
	}
	e, p := st.Execution, st.Execution.Progress
	fmt.Fprintf(w, "execution  %s\n", e.Name)
	fmt.Fprintf(w, "arn        %s\n", e.ARN)
	fmt.Fprintf(w, "status     %s\n", e.Status)
	if e.Month != "" {
		fmt.Fprintf(w, "month      %s\n", e.Month)
	}
	fmt.Fprintf(w, "stage      %s (state %s)\n", p.Stage, p.State)
	if p.PartsTotal > 0 {
		fmt.Fprintf(w, "parts      %d/%d converted", p.PartsDone, p.PartsTotal)
		if p.PartsFailed > 0 {
			fmt.Fprintf(w, ", %d failed", p.PartsFailed)
		}
		fmt.Fprintln(w)
	}
	if p.TablesTotal > 0 {
		fmt.Fprintf(w, "tables     %d/%d derived\n", p.TablesDone, p.TablesTotal)
	}
	if e.Started != nil {
		fmt.Fprintf(w, "started    %s (%s)\n", e.Started.UTC().Format(time.RFC3339), until(e.Stopped, now).Sub(*e.Started).Round(time.Second))
	}
	if e.Redrives > 0 {
		fmt.Fprintf(w, "redriven   %d times\n", e.Redrives)
	}
	if e.Error != "" {
		fmt.Fprintf(w, "error      %s: %s\n", e.Error, e.Cause)
	}
	switch {
	case st.Run != nil:
		printLineageRun(w, *st.Run)
	case st.LineageErr != nil:
		fmt.Fprintf(w, "lineage    unavailable: %v\n", st.LineageErr)
	default:
		fmt.Fprintln(w, "lineage    no run recorded for this execution (yet)")
	}
}

func printLineageRun(w io.Writer, r lineage.Run) {
	fmt.Fprintf(w, "run        %s %s (month %s)\n", r.ID, r.Status, r.Month)
	fmt.Fprintf(w, "rows       in %d, out %d, rejected %d\n", r.RowsIn, r.RowsOut, r.RowsRejected)
	if r.Error != "" {
		fmt.Fprintf(w, "run error  %s\n", r.Error)
	}
}

// until is stopped, or now for what has not stopped.
func until(stopped *time.Time, now time.Time) time.Time {
	if stopped != nil {
		return *stopped
	}
	return now
}
