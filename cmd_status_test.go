package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/runner"
)

// status and runs --on aws print what runner found (runner's
// TestAWSStatusAndRuns checks the finding against the awsfake).
func TestPrintStatus(t *testing.T) {
	start := time.Date(2020, 4, 1, 3, 0, 0, 0, time.UTC)
	stop := start.Add(90 * time.Second)
	march := &lineage.Run{ID: "20200301-aaa", Month: "2020-03", Status: lineage.StatusComplete, RowsIn: 1000, RowsOut: 998, RowsRejected: 2,
		Started: start, Ended: stop}
	for _, c := range []struct {
		name  string
		st    runner.RunStatus
		onAWS bool
		want  []string
	}{
		{"succeeded", runner.RunStatus{Run: march, Execution: &runner.ExecutionStatus{
			Name: "consumer-header-2020-03-r1", ARN: "arn:x", Status: "SUCCEEDED", Month: "2020-03", Started: &start, Stopped: &stop,
			Progress: runner.Progress{Stage: "done", State: "Done", PartsDone: 3, PartsTotal: 3, TablesDone: 2, TablesTotal: 2}}}, true,
			[]string{"execution  consumer-header-2020-03-r1", "status     SUCCEEDED", "month      2020-03", "stage      done (state Done)", "parts      3/3 converted\n",
				"tables     2/2 derived", "started    2020-04-01T03:00:00Z (1m30s)", "run        20200301-aaa COMPLETE", "out 998, rejected 2"}},
		{"failed", runner.RunStatus{Execution: &runner.ExecutionStatus{
			Name: "consumer-header-2020-04-r1", Status: "FAILED", Error: "tierflow.RunFailed", Cause: "convert failed: threshold", Redrives: 2, Started: &start,
			Progress: runner.Progress{Stage: "finish", PartsDone: 2, PartsTotal: 3, PartsFailed: 1}}}, true,
			[]string{"status     FAILED", "stage      finish", "error      tierflow.RunFailed: convert failed:", "parts      2/3 converted, 1 failed",
				"started    2020-04-01T03:00:00Z (10m0s)", "redriven   2 times", "lineage    no run recorded for this execution (yet)"}},
		{"no lineage", runner.RunStatus{Execution: &runner.ExecutionStatus{Name: "e", Status: "RUNNING"}, LineageErr: errors.New("no table")}, true,
			[]string{"lineage    unavailable: no table"}},
		{"local run on AWS", runner.RunStatus{Run: march}, true,
			[]string{"run        20200301-aaa COMPLETE (month 2020-03)", "(a local run: no Step Functions execution)"}},
		{"local lake", runner.RunStatus{Run: march}, false,
			[]string{"run        20200301-aaa COMPLETE (month 2020-03)", "ran        2020-04-01T03:00:00Z, 1m30s"}},
	} {
		var out bytes.Buffer
		printStatus(&out, &c.st, c.onAWS, start.Add(10*time.Minute))
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: lacks %q:\n%s", c.name, w, out.String())
			}
		}
	}
}

func TestPrintAWSRuns(t *testing.T) {
	start := time.Date(2020, 4, 1, 3, 0, 0, 0, time.UTC)
	stop := start.Add(time.Hour)
	runs := &runner.AWSRuns{StateMachine: "arn:sm", Executions: []runner.ExecutionRun{
		{Name: "consumer-header-2020-04-r1", Month: "2020-04", Status: "RUNNING", Started: &start},
		{Name: "consumer-header-2020-03-r1", Month: "2020-03", Status: "SUCCEEDED", Started: &start, Stopped: &stop,
			Run: &lineage.Run{ID: "20200301-aaa", Status: lineage.StatusComplete, RowsOut: 998, RowsRejected: 2}},
		{Name: "0f3a-scheduled", Status: "SUCCEEDED"},
	}}
	var out bytes.Buffer
	if err := printAWSRuns(&out, runs, start.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "EXECUTION") {
		t.Fatalf("runs:\n%s", out.String())
	}
	for i, want := range [][]string{
		{"consumer-header-2020-04-r1", "2020-04", "RUNNING", "2020-04-01 03:00", "2m0s", "-"},
		{"consumer-header-2020-03-r1", "2020-03", "SUCCEEDED", "1h0m0s", "20200301-aaa", "COMPLETE", "998", "2"},
		{"0f3a-scheduled", "SUCCEEDED"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("runs line %q lacks %q", lines[i+1], w)
			}
		}
	}
	// A scheduled start's month is plan's choice: "-" until its run says.
	if f := strings.Fields(lines[3]); len(f) < 2 || f[1] != "-" {
		t.Errorf("the scheduled start's month: %q", lines[3])
	}
	out.Reset()
	if err := printAWSRuns(&out, &runner.AWSRuns{StateMachine: "arn:sm", LineageErr: errors.New("no table")}, start); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no executions of arn:sm yet") || !strings.Contains(out.String(), "(lineage unavailable: no table)") {
		t.Errorf("runs of nothing:\n%s", out.String())
	}
}
