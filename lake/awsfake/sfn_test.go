package awsfake_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/tierflow/tierflow/lake/awsfake"
)

const (
	testRole = "arn:aws:iam::123456789012:role/r"
	testDef  = `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::ecs:runTask.sync","Next":"M"},"M":{"Type":"Map","Label":"Parts","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"Next":"F"},"F":{"Type":"Fail"}}}`
)

// TestStepFunctionsExecutions: the state machine is moto's (created
// through the server), its executions the fake's.
func TestStepFunctionsExecutions(t *testing.T) {
	srv, acct := awsfake.OnMoto(t)
	fake := awsfake.NewStepFunctions(srv, sfn.NewFromConfig(acct.Config))
	fake.Script = func(e awsfake.ExecutionInfo) []awsfake.ExecStep {
		if e.RedriveCount > 0 {
			return []awsfake.ExecStep{{State: "M"}, {Status: "SUCCEEDED", Output: `{"ok":true}`}}
		}
		return []awsfake.ExecStep{
			{State: "A"},
			{State: "M", MapRun: &awsfake.MapRunStep{Label: "Parts", Total: 3, Succeeded: 1}},
			{MapRun: &awsfake.MapRunStep{Label: "Parts", Total: 3, Succeeded: 2, Failed: 1}},
			{State: "F", Status: "FAILED", Error: "E", Cause: "C"},
		}
	}
	cl := sfn.NewFromConfig(srv.Config())
	ctx := t.Context()
	sm, err := cl.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("sm"), Definition: aws.String(testDef), RoleArn: aws.String(testRole)})
	if err != nil {
		t.Fatal(err)
	}
	if r := srv.RequestsTo("AWSStepFunctions.CreateStateMachine"); len(r) != 1 || r[0].Status != 200 {
		t.Fatalf("CreateStateMachine not forwarded: %+v", r)
	}
	var noMachine *sfntypes.StateMachineDoesNotExist
	if _, err := cl.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(strings.Replace(aws.ToString(sm.StateMachineArn), ":sm", ":other", 1))}); !errors.As(err, &noMachine) {
		t.Fatalf("start on a state machine moto does not have: %v", err)
	}
	start := func(name, input string) (*sfn.StartExecutionOutput, error) {
		return cl.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String(name), Input: aws.String(input)})
	}
	ex, err := start("run-1", `{"month":"2020-03"}`)
	if err != nil {
		t.Fatal(err)
	}
	again, err := start("run-1", `{"month":"2020-03"}`)
	if err != nil || aws.ToString(again.ExecutionArn) != aws.ToString(ex.ExecutionArn) {
		t.Fatalf("idempotent start: %v %v", again, err)
	}
	var already *sfntypes.ExecutionAlreadyExists
	if _, err := start("run-1", `{"month":"2020-04"}`); !errors.As(err, &already) {
		t.Fatalf("same name, other input: %v", err)
	}
	var last *sfn.DescribeExecutionOutput
	for range 4 {
		if last, err = cl.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn}); err != nil {
			t.Fatal(err)
		}
	}
	if last.Status != sfntypes.ExecutionStatusFailed || aws.ToString(last.Error) != "E" || aws.ToString(last.Cause) != "C" {
		t.Fatalf("after the script: %s %s %s", last.Status, aws.ToString(last.Error), aws.ToString(last.Cause))
	}
	h, err := cl.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: ex.ExecutionArn, ReverseOrder: true, MaxResults: 3})
	if err != nil {
		t.Fatal(err)
	}
	if h.Events[0].Type != sfntypes.HistoryEventTypeExecutionFailed || h.Events[1].Type != sfntypes.HistoryEventTypeFailStateEntered ||
		aws.ToString(h.Events[1].StateEnteredEventDetails.Name) != "F" || h.NextToken == nil {
		t.Fatalf("history %+v", h.Events)
	}
	runs, err := cl.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: ex.ExecutionArn})
	if err != nil || len(runs.MapRuns) != 1 || !strings.Contains(aws.ToString(runs.MapRuns[0].MapRunArn), ":mapRun:sm/Parts:") {
		t.Fatalf("map runs %+v %v", runs, err)
	}
	mr, err := cl.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: runs.MapRuns[0].MapRunArn})
	if err != nil || mr.ItemCounts.Total != 3 || mr.ItemCounts.Succeeded != 2 || mr.ItemCounts.Failed != 1 || mr.Status != sfntypes.MapRunStatusFailed {
		t.Fatalf("map run %+v %v", mr, err)
	}
	if _, err := cl.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: ex.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if last, err = cl.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn}); err != nil {
			t.Fatal(err)
		}
	}
	if last.Status != sfntypes.ExecutionStatusSucceeded || last.RedriveCount == nil || *last.RedriveCount != 1 {
		t.Fatalf("redriven: %s %v", last.Status, last.RedriveCount)
	}
	var notRedrivable *sfntypes.ExecutionNotRedrivable
	if _, err := cl.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: ex.ExecutionArn}); !errors.As(err, &notRedrivable) {
		t.Fatalf("redrive a succeeded execution: %v", err)
	}
	list, err := cl.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn})
	if err != nil || len(list.Executions) != 1 || aws.ToString(list.Executions[0].Name) != "run-1" {
		t.Fatalf("list %+v %v", list, err)
	}
	var missing *sfntypes.ExecutionDoesNotExist
	if _, err := cl.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(strings.Replace(aws.ToString(ex.ExecutionArn), "run-1", "run-2", 1))}); !errors.As(err, &missing) {
		t.Fatalf("describe a missing execution: %v", err)
	}
}
