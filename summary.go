package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/runner"
)

// printSummary prints a run's stages as a table (run and demo).
func printSummary(w io.Writer, spec *jobs.Spec, res *runner.Result) {
	r := res.Run
	if res.Waiting != "" {
		fmt.Fprintln(w, res.Waiting)
		return
	}
	if res.Skipped {
		fmt.Fprintf(w, "month %s of %s is already published by run %s from identical inputs; nothing to do (use --force to rerun)\n", r.Month, spec.Name, r.ID)
		return
	}
	fmt.Fprintf(w, "\njob %s  month %s  run %s  status %s\n\n", spec.Name, r.Month, r.ID, r.Status)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STAGE\tWALL\tROWS IN\tROWS OUT\tREJECTED\tBYTES IN\tBYTES OUT\tFILES\t")
	var total time.Duration
	for _, s := range r.Stages {
		total += s.Wall
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%d\t\n", s.Name, s.Wall.Round(time.Millisecond), s.RowsIn, s.RowsOut, s.RowsRejected, runner.HumanBytes(s.BytesIn), runner.HumanBytes(s.BytesOut), s.Files)
	}
	fmt.Fprintf(tw, "total\t%s\t\t\t\t\t\t\t\n", total.Round(time.Millisecond))
	tw.Flush()
	// The error is not repeated here: the command ends saying it.
	if r.RowsRejected > 0 {
		fmt.Fprintf(w, "\n%d rows rejected: see the rejects files under %s\n", r.RowsRejected, res.RunMeta)
	}
}
