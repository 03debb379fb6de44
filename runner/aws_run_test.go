package runner

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/lineage"
	locallineage "github.com/tierflow/tierflow/lake/lineage/local"
	"github.com/tierflow/tierflow/runner/deploy"
	"github.com/tierflow/tierflow/runner/deploy/deploytest"
)

// Scripted executions, as the monthly state machine goes.
var (
	successSteps = []awsfake.ExecStep{
		{State: "Defaults"}, {State: "Plan"}, {State: "ReadPlan"}, {State: "Planned"},
		{State: "Convert", MapRun: &awsfake.MapRunStep{Label: "Convert", Total: 3}},
		{MapRun: &awsfake.MapRunStep{Label: "Convert", Total: 3, Succeeded: 2}},
		{MapRun: &awsfake.MapRunStep{Label: "Convert", Total: 3, Succeeded: 3}},
		{State: "Stage"},
		{State: "Derive", MapRun: &awsfake.MapRunStep{Label: "Derive", Total: 2, Succeeded: 2}},
		{State: "Publish"}, {State: "Done", Status: "SUCCEEDED", Output: "{}"},
	}
	convertFailedSteps = []awsfake.ExecStep{
		{State: "Plan"}, {State: "Convert", MapRun: &awsfake.MapRunStep{Label: "Convert", Total: 3, Succeeded: 2, Failed: 1}},
		{State: "ConvertFailed"}, {State: "SaveError"}, {State: "Finish"},
		{State: "Failed", Status: "FAILED", Error: "tierflow.RunFailed", Cause: "convert failed: States.ExceedToleratedFailureThreshold: the specified tolerated failure threshold was exceeded"},
	}
	abortedSteps = []awsfake.ExecStep{
		{State: "Plan"}, {State: "Convert", MapRun: &awsfake.MapRunStep{Label: "Convert", Total: 3, Succeeded: 1}},
		{Status: "ABORTED", Error: "Stopped", Cause: "stopped by the operator"},
	}
	redrivenSteps = []awsfake.ExecStep{
		{State: "Convert", MapRun: &awsfake.MapRunStep{Label: "Convert", Total: 3, Succeeded: 3}},
		{State: "Stage"}, {State: "Derive"}, {State: "Publish"}, {State: "Done", Status: "SUCCEEDED"},
	}
)

// deployed deploys the shipped job to a fresh orchestration fake and
// scripts its executions by name.
func deployed(t *testing.T, scripts map[string][]awsfake.ExecStep) *deploytest.Orchestration {
	t.Helper()
	o := deploytest.New(t)
	var out bytes.Buffer
	if err := deploy.Apply(t.Context(), deploy.Options{
		Job: "consumer-header", Lake: o.LakeBucket(t), Image: deploytest.Image,
		Subnets: []string{"subnet-0a", "subnet-0b"}, SecurityGroups: []string{"sg-0c"},
		IAMPropagation: 5 * time.Second, Log: zerolog.Nop(), Stdout: &out, AWS: &o.Cfg,
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	o.SFN.Script = func(e awsfake.ExecutionInfo) []awsfake.ExecStep {
		mu.Lock()
		defer mu.Unlock()
		if e.RedriveCount > 0 {
			return redrivenSteps
		}
		month := executionMonth(e.Name)
		if s, ok := scripts[e.Name]; ok {
			return s
		}
		if s, ok := scripts[month]; ok {
			return s
		}
		return successSteps
	}
	o.Srv.ResetRequests()
	return o
}

func runOptions(o *deploytest.Orchestration, out *bytes.Buffer) AWSRunOptions {
	return AWSRunOptions{Job: "consumer-header", Poll: time.Millisecond, Log: zerolog.Nop(), Stdout: out, AWS: &o.Cfg}
}

func startInputs(o *deploytest.Orchestration) map[string]string {
	out := map[string]string{}
	for _, r := range o.Srv.RequestsTo("AWSStepFunctions.StartExecution") {
		out[r.Body["name"].(string)] = r.Body["input"].(string)
	}
	return out
}

func TestAWSRunFollowsToSuccess(t *testing.T) {
	o := deployed(t, nil)
	var out bytes.Buffer
	opts := runOptions(o, &out)
	opts.Month = "2020-03"
	if err := AWSRunCommand(t.Context(), opts); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := startInputs(o); !reflect.DeepEqual(got, map[string]string{"consumer-header-2020-03-r1": `{"month":"2020-03","force":false}`}) {
		t.Errorf("started %v", got)
	}
	r := o.Srv.RequestsTo("AWSStepFunctions.StartExecution")[0]
	if r.Body["stateMachineArn"] != o.StateMachineARN() {
		t.Errorf("started on %v", r.Body["stateMachineArn"])
	}
	for _, want := range []string{
		"2020-03: started consumer-header-2020-03-r1",
		"consumer-header-2020-03-r1 plan",
		"consumer-header-2020-03-r1 convert 0/3 parts",
		"consumer-header-2020-03-r1 convert 2/3 parts",
		"consumer-header-2020-03-r1 convert 3/3 parts",
		"consumer-header-2020-03-r1 derive 2/2 tables",
		"consumer-header-2020-03-r1 publish",
		"consumer-header-2020-03-r1 SUCCEEDED (published)",
	} {
		if !strings.Contains(out.String(), want+"\n") && !strings.Contains(out.String(), want+" ") {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Running the month again is harmless: it reports and starts nothing.
	out.Reset()
	o.Srv.ResetRequests()
	if err := AWSRunCommand(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if n := len(o.Srv.RequestsTo("AWSStepFunctions.StartExecution")); n != 0 || !strings.Contains(out.String(), "already succeeded") {
		t.Errorf("second run started %d executions:\n%s", n, out.String())
	}
	// --force reruns it as attempt 2, with force in the input.
	opts.Force = true
	if err := AWSRunCommand(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if got := startInputs(o); got["consumer-header-2020-03-r2"] != `{"month":"2020-03","force":true}` {
		t.Errorf("forced rerun started %v", got)
	}
}

// TestAWSRunStartedTwice: two CLIs running the same month at once share
// one execution.
func TestAWSRunStartedTwice(t *testing.T) {
	o := deployed(t, nil)
	var out1, out2 bytes.Buffer
	o1, o2 := runOptions(o, &out1), runOptions(o, &out2)
	o1.Month, o2.Month = "2020-03", "2020-03"
	o1.NoWait = true
	if err := AWSRunCommand(t.Context(), o1); err != nil {
		t.Fatal(err)
	}
	if err := AWSRunCommand(t.Context(), o2); err != nil {
		t.Fatal(err)
	}
	if n := len(o.SFN.Executions()); n != 1 || !strings.Contains(out2.String(), "already running; following it") {
		t.Errorf("%d executions; second run said:\n%s", n, out2.String())
	}
}

func TestAWSRunFailureRerunRedrive(t *testing.T) {
	o := deployed(t, map[string][]awsfake.ExecStep{
		"consumer-header-2020-04-r1": convertFailedSteps,
		"consumer-header-2020-05-r1": abortedSteps,
	})
	var out bytes.Buffer
	opts := runOptions(o, &out)
	opts.Month = "2020-04"
	err := AWSRunCommand(t.Context(), opts)
	if err == nil || !strings.Contains(err.Error(), "FAILED (tierflow.RunFailed: convert failed:") {
		t.Fatalf("failed run: %v", err)
	}
	if !strings.Contains(out.String(), "convert 2/3 parts (1 failed)") {
		t.Errorf("output:\n%s", out.String())
	}
	// A plain run again does not hide the failure.
	if err := AWSRunCommand(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "--rerun") {
		t.Errorf("run after a failure: %v", err)
	}
	// Redrive refuses: finish ran, the run is recorded failed and cleaned.
	redrive := opts
	redrive.Redrive = true
	if err := AWSRunCommand(t.Context(), redrive); err == nil || !strings.Contains(err.Error(), "finish ran") {
		t.Errorf("redrive after finish: %v", err)
	}
	if n := len(o.Srv.RequestsTo("AWSStepFunctions.RedriveExecution")); n != 0 {
		t.Errorf("%d redrives", n)
	}
	// Rerun starts attempt 2, which succeeds.
	rerun := opts
	rerun.Rerun = true
	if err := AWSRunCommand(t.Context(), rerun); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out.String())
	}
	if _, ok := startInputs(o)["consumer-header-2020-04-r2"]; !ok {
		t.Errorf("rerun started %v", startInputs(o))
	}

	// An execution stopped before finish ran is redriven where it stopped.
	opts.Month = "2020-05"
	if err := AWSRunCommand(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "ABORTED") {
		t.Fatalf("aborted run: %v", err)
	}
	redrive.Month = "2020-05"
	out.Reset()
	if err := AWSRunCommand(t.Context(), redrive); err != nil {
		t.Fatalf("redrive: %v\n%s", err, out.String())
	}
	reqs := o.Srv.RequestsTo("AWSStepFunctions.RedriveExecution")
	if len(reqs) != 1 || !strings.HasSuffix(reqs[0].Body["executionArn"].(string), ":consumer-header-2020-05-r1") {
		t.Errorf("redrives %+v", reqs)
	}
	if !strings.Contains(out.String(), "redriving consumer-header-2020-05-r1") || !strings.Contains(out.String(), "SUCCEEDED") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestAWSBackfill(t *testing.T) {
	slow := append([]awsfake.ExecStep{{State: "Plan"}, {State: "Plan"}, {State: "Plan"}}, successSteps...)
	o := deployed(t, map[string][]awsfake.ExecStep{
		"2020-06": slow, "2020-07": slow, "2020-08": convertFailedSteps, "2020-09": slow, "2020-10": slow,
	})
	var out bytes.Buffer
	opts := runOptions(o, &out)
	opts.From, opts.To, opts.Concurrency = "2020-06", "2020-10", 2
	err := AWSRunCommand(t.Context(), opts)
	if err == nil || !strings.Contains(err.Error(), "1 of 5 months failed: 2020-08") {
		t.Fatalf("backfill: %v\n%s", err, out.String())
	}
	var names []string
	for _, e := range o.SFN.Executions() {
		names = append(names, e.Name)
		var in executionInput
		if err := json.Unmarshal([]byte(e.Input), &in); err != nil || in.Month != executionMonth(e.Name) {
			t.Errorf("execution %s input %s", e.Name, e.Input)
		}
	}
	if len(names) != 5 {
		t.Errorf("executions %v", names)
	}
	if m := o.SFN.MaxRunning(); m != 2 {
		t.Errorf("at most %d executions ran at once, want the concurrency 2", m)
	}
	for _, bad := range []AWSRunOptions{
		{Job: "consumer-header", From: "2020-06"},
		{Job: "consumer-header", From: "2020-07", To: "2020-06"},
		{Job: "consumer-header", Month: "2020-06", From: "2020-06", To: "2020-07"},
		{Job: "consumer-header", Month: "2020-06", Rerun: true, Redrive: true},
	} {
		bad.AWS, bad.Stdout = &o.Cfg, &out
		if err := AWSRunCommand(t.Context(), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestMonths(t *testing.T) {
	got, err := Months("2019-11", "2020-02")
	if err != nil || !reflect.DeepEqual(got, []string{"2019-11", "2019-12", "2020-01", "2020-02"}) {
		t.Errorf("Months: %v %v", got, err)
	}
	if executionMonth(ExecutionName("consumer-header", "2020-03", 12)) != "2020-03" || executionMonth("0f3a-scheduled") != "" ||
		executionMonth("2026-11-in-"+strings.Repeat("9f", 32)) != "2026-11" {
		t.Error("executionMonth")
	}
}

func TestAWSStatusAndRuns(t *testing.T) {
	o := deployed(t, map[string][]awsfake.ExecStep{"2020-04": convertFailedSteps})
	var out bytes.Buffer
	opts := runOptions(o, &out)
	opts.Month = "2020-03"
	if err := AWSRunCommand(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	opts.Month = "2020-04"
	_ = AWSRunCommand(t.Context(), opts) // fails, on purpose

	lin, err := locallineage.Open(filepath.Join(t.TempDir(), "lineage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lin.Close()
	now := time.Now()
	for _, r := range []lineage.Run{
		{ID: "20200301-aaa", Job: "consumer-header", Month: "2020-03", Status: lineage.StatusComplete, Started: now.Add(-time.Hour), Ended: now,
			Parent: "consumer-header-2020-03-r1", RowsIn: 1000, RowsOut: 998, RowsRejected: 2},
		{ID: "20200401-bbb", Job: "consumer-header", Month: "2020-04", Status: lineage.StatusFailed, Started: now, Ended: now,
			Parent: "consumer-header-2020-04-r1", Error: "convert failed: States.ExceedToleratedFailureThreshold"},
	} {
		if err := lin.StartRun(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		if err := lin.FinishRun(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	st := StatusOptions{Job: "consumer-header", Lake: "s3://lake-bucket/prod", AWS: &o.Cfg, Lineage: lin, Log: zerolog.Nop()}

	// status finds the execution by name, run id or ARN, with its progress
	// and its lineage record (the CLI's printing: cmd_status_test.go).
	for _, run := range []string{"consumer-header-2020-03-r1", "20200301-aaa", strings.Replace(o.StateMachineARN(), ":stateMachine:", ":execution:", 1) + ":consumer-header-2020-03-r1"} {
		st.Run = run
		got, err := Status(t.Context(), st)
		if err != nil {
			t.Fatalf("status %s: %v", run, err)
		}
		e := got.Execution
		if e == nil || e.Name != "consumer-header-2020-03-r1" || e.Status != "SUCCEEDED" || e.Month != "2020-03" || e.Progress.Stage != "done" ||
			e.Progress.PartsDone != 3 || e.Progress.PartsTotal != 3 || e.Progress.TablesDone != 2 || e.Progress.TablesTotal != 2 {
			t.Errorf("status %s: execution %+v", run, e)
		}
		if r := got.Run; r == nil || r.ID != "20200301-aaa" || r.Status != lineage.StatusComplete || r.RowsOut != 998 || r.RowsRejected != 2 {
			t.Errorf("status %s: run %+v", run, r)
		}
	}
	st.Run = "consumer-header-2020-04-r1"
	got, err := Status(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if e := got.Execution; e == nil || e.Status != "FAILED" || e.Progress.Stage != "finish" || e.Error != "tierflow.RunFailed" || !strings.HasPrefix(e.Cause, "convert failed:") ||
		e.Progress.PartsDone != 2 || e.Progress.PartsTotal != 3 || e.Progress.PartsFailed != 1 {
		t.Errorf("status of the failed run: execution %+v", e)
	}
	if r := got.Run; r == nil || r.ID != "20200401-bbb" || r.Status != lineage.StatusFailed {
		t.Errorf("status of the failed run: run %+v", r)
	}
	st.Run = "nope"
	if _, err := Status(t.Context(), st); err == nil {
		t.Error("status of an unknown run succeeded")
	}

	// --output json: the execution and its run, as the schema says.
	for run, want := range map[string]ExecutionView{
		"consumer-header-2020-03-r1": {Execution: "consumer-header-2020-03-r1", Status: "SUCCEEDED", Month: "2020-03", Stage: "done",
			Parts: &CountView{Done: 3, Total: 3}, Tables: &CountView{Done: 2, Total: 2}, Run: &RunView{RunID: "20200301-aaa", Status: lineage.StatusComplete, RowsOut: 998}},
		"20200401-bbb": {Execution: "consumer-header-2020-04-r1", Status: "FAILED", Month: "2020-04", Stage: "finish", Error: "tierflow.RunFailed",
			Parts: &CountView{Done: 2, Failed: 1, Total: 3}, Run: &RunView{RunID: "20200401-bbb", Status: lineage.StatusFailed}},
	} {
		js := st
		js.Run = run
		rs, err := Status(t.Context(), js)
		if err != nil {
			t.Fatalf("status %s: %v", run, err)
		}
		out, err := json.Marshal(rs.ExecutionView(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSchema(t, "status", out); err != nil {
			t.Error(err)
		}
		var got ExecutionView
		if err := json.Unmarshal(out, &got); err != nil || got.Run == nil || got.Started == nil {
			t.Fatalf("status --output json %s: %v\n%s", run, err, out)
		}
		if got.Execution != want.Execution || got.Status != want.Status || got.Month != want.Month || got.Stage != want.Stage ||
			got.Error != want.Error || !reflect.DeepEqual(got.Parts, want.Parts) || !reflect.DeepEqual(got.Tables, want.Tables) ||
			got.Run.RunID != want.Run.RunID || got.Run.Status != want.Run.Status || got.Run.RowsOut != want.Run.RowsOut ||
			!strings.HasSuffix(got.ARN, ":execution:tierflow-consumer-header:"+want.Execution) {
			t.Errorf("status --output json %s:\n%s", run, out)
		}
	}
	if err := checkSchema(t, "status", []byte(`{"execution":"x","arn":"arn:aws:states:us-east-1:1:execution:a:x","status":"DONE","redrive_count":0}`)); err == nil {
		t.Error("the schema accepted execution status DONE")
	}

	// A local lake's run: the lineage record, and no AWS call.
	o.Srv.ResetRequests()
	local := st
	local.Lake, local.Run = "file://"+t.TempDir(), "20200301-aaa"
	got, err = Status(t.Context(), local)
	if err != nil {
		t.Fatal(err)
	}
	if r := got.Run; got.Execution != nil || r == nil || r.ID != "20200301-aaa" || r.Status != lineage.StatusComplete || r.Month != "2020-03" || len(o.Srv.Requests()) != 0 {
		t.Errorf("local status (%d AWS requests): %+v", len(o.Srv.Requests()), got)
	}

	st.Run = ""
	runs, err := ListAWSRuns(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs.Executions) != 2 || runs.LineageErr != nil {
		t.Fatalf("runs: %+v", runs)
	}
	// Newest first.
	for i, want := range []struct{ name, month, status, run, runStatus string }{
		{"consumer-header-2020-04-r1", "2020-04", "FAILED", "20200401-bbb", lineage.StatusFailed},
		{"consumer-header-2020-03-r1", "2020-03", "SUCCEEDED", "20200301-aaa", lineage.StatusComplete},
	} {
		e := runs.Executions[i]
		if e.Name != want.name || e.Month != want.month || e.Status != want.status || e.Run == nil || e.Run.ID != want.run || e.Run.Status != want.runStatus {
			t.Errorf("runs[%d] = %+v (run %+v), want %+v", i, e, e.Run, want)
		}
	}
	if r := runs.Executions[1].Run; r == nil || r.RowsOut != 998 || r.RowsRejected != 2 {
		t.Errorf("runs: the March run's rows: %+v", r)
	}
}
