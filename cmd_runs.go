package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// runsCommand is `tierflow runs`: list the job's runs: id, month, status, start, duration, rows in/out/rejected, cost.
func runsCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "list the job's runs: id, month, status, start, duration, rows in/out/rejected, cost",
		Flags: []cli.Flag{f.job, f.lake, outputFlag(),
			&cli.StringFlag{Name: "month", Usage: "only this month"},
			&cli.BoolFlag{Name: "wide", Usage: "every column (rows in, vCPU-s, GB-s, Athena bytes, S3 requests) and whole errors; default: fits 120 columns"},
			&cli.StringFlag{Name: "on", Value: "local", Usage: "`local` (the lake's lineage) or aws (Step Functions executions joined with lineage)"},
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "aws: executions listed"},
			&cli.StringFlag{Name: "name", Usage: "aws: the deployment's base name (default tierflow-<job>)"},
			&cli.StringFlag{Name: "region", Usage: "aws: region of the state machine (default: the job's)"},
			&cli.StringFlag{Name: "account", Usage: "aws: account of the state machine (default: the caller's)"},
		},
		Action: func(c *cli.Context) error {
			if c.String("on") == "aws" {
				runs, err := runner.ListAWSRuns(c.Context, runner.StatusOptions{
					Job: c.String("job"), Lake: c.String("lake"), Limit: c.Int("limit"),
					Name: c.String("name"), Region: c.String("region"), Account: c.String("account"),
					Log: logOf(c),
				})
				if err != nil {
					return err
				}
				return printAWSRuns(c.App.Writer, runs, time.Now())
			}
			output := c.String("output")
			if err := checkOutput("runs", output); err != nil {
				return err
			}
			v, err := runner.Runs(c.Context, c.String("job"), c.String("lake"), c.String("month"), logOf(c))
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(c.App.Writer, v)
			}
			printRuns(c.App.Writer, v, c.Bool("wide"))
			return nil
		},
	}
}

// runsWidth is the width `runs` fits in without --wide.
const runsWidth = 120

// printRuns prints runs in runsWidth columns, the long error cut with "…",
// or every column and the whole error when wide.
func printRuns(w io.Writer, v *runner.RunsView, wide bool) {
	if len(v.Runs) == 0 {
		fmt.Fprintf(w, "no runs of job %s yet\n", v.Job)
		return
	}
	head := []string{"RUN", "MONTH", "STATUS", "PUB", "STARTED", "DURATION", "ROWS OUT", "REJECTED", "COST $", "ERROR"}
	if wide {
		head = []string{"RUN", "MONTH", "STATUS", "PUB", "STARTED", "DURATION", "ROWS IN", "ROWS OUT", "REJECTED", "VCPU-S", "GB-S", "ATHENA SCANNED", "S3 REQ", "COST $", "ERROR"}
	}
	rows := [][]string{head}
	for _, r := range v.Runs {
		dur := "-"
		if r.Ended != nil {
			dur = r.Ended.Sub(r.Started).Round(10 * time.Millisecond).String()
		}
		mark := ""
		if r.Published {
			mark = "yes"
		}
		errText := oneLineText(r.Error)
		if wide {
			rows = append(rows, []string{r.RunID, r.Month, r.Status, mark, r.Started.Local().Format("2006-01-02 15:04:05"), dur,
				fmt.Sprint(r.RowsIn), fmt.Sprint(r.RowsOut), fmt.Sprint(r.RowsRejected),
				fmt.Sprintf("%.1f", r.Cost.VCPUSeconds), fmt.Sprintf("%.1f", r.Cost.GBSeconds), runner.HumanBytes(r.Cost.AthenaScanned),
				fmt.Sprint(r.Cost.S3Requests), fmt.Sprintf("%.5f", r.Cost.USD), errText})
			continue
		}
		rows = append(rows, []string{r.RunID, r.Month, r.Status, mark, r.Started.Local().Format("01-02 15:04"), dur,
			fmt.Sprint(r.RowsOut), fmt.Sprint(r.RowsRejected), fmt.Sprintf("%.4f", r.Cost.USD), errText})
	}
	widths := make([]int, len(head))
	for _, row := range rows {
		for i, c := range row[:len(row)-1] {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	used := 0
	for _, wd := range widths[:len(head)-1] {
		used += wd + 2
	}
	room := max(runsWidth-used, 12)
	for _, row := range rows {
		var b strings.Builder
		for i, c := range row[:len(row)-1] {
			fmt.Fprintf(&b, "%-*s  ", widths[i], c)
		}
		last := row[len(row)-1]
		if !wide {
			last = runner.Clip(last, room)
		}
		b.WriteString(last)
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// printAWSRuns prints executions as a table, newest first; now ends the
// duration of those still running.
func printAWSRuns(w io.Writer, runs *runner.AWSRuns, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXECUTION\tMONTH\tSTATUS\tSTARTED\tDURATION\tRUN\tRUN STATUS\tROWS OUT\tREJECTED")
	for _, e := range runs.Executions {
		started, dur := "-", "-"
		if e.Started != nil {
			started = e.Started.UTC().Format("2006-01-02 15:04")
			dur = until(e.Stopped, now).Sub(*e.Started).Round(time.Second).String()
		}
		runID, runStatus, out, rej := "-", "-", "-", "-"
		if r := e.Run; r != nil {
			runID, runStatus, out, rej = r.ID, r.Status, fmt.Sprint(r.RowsOut), fmt.Sprint(r.RowsRejected)
		}
		month := e.Month
		if month == "" {
			month = "-" // a scheduled start: plan chose the month
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, month, e.Status, started, dur, runID, runStatus, out, rej)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(runs.Executions) == 0 {
		fmt.Fprintf(w, "no executions of %s yet\n", runs.StateMachine)
	}
	if runs.LineageErr != nil {
		fmt.Fprintf(w, "(lineage unavailable: %v)\n", runs.LineageErr)
	}
	return nil
}
