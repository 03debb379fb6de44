package awsfake_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tierflow/tierflow/lake/awsfake"
)

const (
	testRole = "arn:aws:iam::123456789012:role/r"
	testDef  = `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::ecs:runTask.sync","Next":"M"},"M":{"Type":"Map","Label":"Parts","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"Next":"F"},"F":{"Type":"Fail"}}}`
)

func TestStepFunctionsExecutions(t *testing.T) {
	srv := awsfake.New(t)
	fake := awsfake.NewStepFunctions(srv)
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
	// Same again: idempotent. A different definition: already exists.
	if _, err := cl.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("sm"), Definition: aws.String(testDef), RoleArn: aws.String(testRole)}); err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(testDef, `"Fail"`, `"Succeed"`, 1)
	_, err = cl.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("sm"), Definition: aws.String(other), RoleArn: aws.String(testRole)})
	var exists *sfntypes.StateMachineAlreadyExists
	if !errors.As(err, &exists) {
		t.Fatalf("create with another definition: %v", err)
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

func TestStepFunctionsRejectsBadRequests(t *testing.T) {
	rec := &recorder{TB: t}
	srv := awsfake.New(rec)
	awsfake.NewStepFunctions(srv)
	cl := sfn.NewFromConfig(srv.Config())
	for name, in := range map[string]*sfn.CreateStateMachineInput{
		"bad name":     {Name: aws.String("a b"), Definition: aws.String(testDef), RoleArn: aws.String(testRole)},
		"bad role":     {Name: aws.String("a"), Definition: aws.String(testDef), RoleArn: aws.String("role")},
		"no StartAt":   {Name: aws.String("a"), Definition: aws.String(`{"States":{}}`), RoleArn: aws.String(testRole)},
		"not JSON def": {Name: aws.String("a"), Definition: aws.String(`{`), RoleArn: aws.String(testRole)},
	} {
		if _, err := cl.CreateStateMachine(t.Context(), in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Malformed names and roles are the caller's bugs: reported.
	if got := rec.reports(); len(got) != 2 {
		t.Errorf("reports %q, want 2 (bad name, bad role)", got)
	}
}

func TestECSTaskDefinitions(t *testing.T) {
	rec := &recorder{TB: t}
	srv := awsfake.New(rec)
	fake := awsfake.NewECS(srv)
	cl := ecs.NewFromConfig(srv.Config())
	ctx := t.Context()
	in := func(cpu, mem string, execRole *string) *ecs.RegisterTaskDefinitionInput {
		return &ecs.RegisterTaskDefinitionInput{
			Family: aws.String("fam"), Cpu: aws.String(cpu), Memory: aws.String(mem), NetworkMode: ecstypes.NetworkModeAwsvpc,
			RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate}, ExecutionRoleArn: execRole,
			ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("c"), Image: aws.String("img"), LogConfiguration: &ecstypes.LogConfiguration{
				LogDriver: ecstypes.LogDriverAwslogs, Options: map[string]string{"awslogs-group": "g", "awslogs-region": "us-east-1"}}}},
		}
	}
	for i := range 2 {
		out, err := cl.RegisterTaskDefinition(ctx, in("4096", "16384", aws.String(testRole)))
		if err != nil {
			t.Fatal(err)
		}
		if out.TaskDefinition.Revision != int32(i+1) || !strings.HasSuffix(aws.ToString(out.TaskDefinition.TaskDefinitionArn), "task-definition/fam:"+string(rune('1'+i))) {
			t.Fatalf("revision %d arn %s", out.TaskDefinition.Revision, aws.ToString(out.TaskDefinition.TaskDefinitionArn))
		}
	}
	if td := fake.TaskDefinition("fam"); td["cpu"] != "4096" || td["revision"] != 2 {
		t.Errorf("stored %v", td)
	}
	d, err := cl.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("fam:1")})
	if err != nil || d.TaskDefinition.Revision != 1 {
		t.Fatalf("describe fam:1: %v %v", d, err)
	}
	if _, err := cl.RegisterTaskDefinition(ctx, in("4096", "4096", aws.String(testRole))); err == nil {
		t.Error("4 vCPU with 4 GiB accepted")
	}
	if _, err := cl.RegisterTaskDefinition(ctx, in("1024", "2048", nil)); err == nil {
		t.Error("awslogs without an execution role accepted")
	}
	if got := rec.reports(); len(got) != 2 {
		t.Errorf("reports %q, want 2", got)
	}
	dc, err := cl.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"tierflow"}})
	if err != nil || len(dc.Clusters) != 0 || len(dc.Failures) != 1 {
		t.Fatalf("describe a missing cluster: %+v %v", dc, err)
	}
	if _, err := cl.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("tierflow")}); err != nil {
		t.Fatal(err)
	}
	if dc, err = cl.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"tierflow"}}); err != nil || len(dc.Clusters) != 1 {
		t.Fatalf("describe: %+v %v", dc, err)
	}
}

func TestFargateMemory(t *testing.T) {
	for _, c := range []struct {
		cpu, mem int
		ok       bool
	}{{256, 512, true}, {256, 4096, false}, {4096, 16384, true}, {4096, 31744, false}, {8192, 20480, true}, {8192, 18432, false}, {16384, 122880, true}, {3000, 8192, false}} {
		if got := awsfake.FargateMemory(c.cpu, c.mem); got != c.ok {
			t.Errorf("FargateMemory(%d, %d) = %v", c.cpu, c.mem, got)
		}
	}
}

func TestScheduler(t *testing.T) {
	rec := &recorder{TB: t}
	srv := awsfake.New(rec)
	fake := awsfake.NewScheduler(srv)
	cl := scheduler.NewFromConfig(srv.Config())
	ctx := t.Context()
	var nf *schedtypes.ResourceNotFoundException
	if _, err := cl.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("s")}); !errors.As(err, &nf) {
		t.Fatalf("get a missing schedule: %v", err)
	}
	in := &scheduler.CreateScheduleInput{
		Name: aws.String("s"), ScheduleExpression: aws.String("cron(0 6 2 * ? *)"), ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow: &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		Target:             &schedtypes.Target{Arn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:sm"), RoleArn: aws.String(testRole), Input: aws.String(`{"month":""}`)},
	}
	out, err := cl.CreateSchedule(ctx, in)
	if err != nil || aws.ToString(out.ScheduleArn) != "arn:aws:scheduler:us-east-1:123456789012:schedule/default/s" {
		t.Fatalf("create: %v %v", out, err)
	}
	var conflict *schedtypes.ConflictException
	if _, err := cl.CreateSchedule(ctx, in); !errors.As(err, &conflict) {
		t.Fatalf("create twice: %v", err)
	}
	got, err := cl.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("s")})
	if err != nil || aws.ToString(got.ScheduleExpression) != "cron(0 6 2 * ? *)" || aws.ToString(got.Target.Input) != `{"month":""}` || got.State != schedtypes.ScheduleStateEnabled {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := cl.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{Name: in.Name, ScheduleExpression: aws.String("cron(0 7 3 * ? *)"),
		FlexibleTimeWindow: in.FlexibleTimeWindow, Target: in.Target}); err != nil {
		t.Fatal(err)
	}
	if s, _ := fake.Schedule("s"); s.ScheduleExpression != "cron(0 7 3 * ? *)" || s.Updates != 1 {
		t.Errorf("after update %+v", s)
	}
	bad := *in
	bad.Name, bad.ScheduleExpression = aws.String("t"), aws.String("every month")
	if _, err := cl.CreateSchedule(ctx, &bad); err == nil {
		t.Error("bad expression accepted")
	}
	if r := rec.reports(); len(r) != 1 {
		t.Errorf("reports %q", r)
	}
	if reqs := srv.RequestsTo("scheduler.CreateSchedule"); len(reqs) != 3 || reqs[0].Body["ScheduleExpression"] != "cron(0 6 2 * ? *)" {
		t.Errorf("logged %+v", reqs)
	}
}

func TestIAMRolesAndSTS(t *testing.T) {
	rec := &recorder{TB: t}
	srv := awsfake.New(rec)
	fake := awsfake.NewIAM(srv)
	cl := iam.NewFromConfig(srv.Config())
	ctx := t.Context()
	var nse *iamtypes.NoSuchEntityException
	if _, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")}); !errors.As(err, &nse) {
		t.Fatalf("get a missing role: %v", err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	cr, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil || aws.ToString(cr.Role.Arn) != testRole {
		t.Fatalf("create: %+v %v", cr, err)
	}
	gr, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")})
	if err != nil {
		t.Fatal(err)
	}
	if doc, _ := url.QueryUnescape(aws.ToString(gr.Role.AssumeRolePolicyDocument)); doc != trust {
		t.Errorf("trust policy %q", doc)
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}`
	if _, err := cl.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("p"), PolicyDocument: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if r, _ := fake.Role("r"); r.Policies["p"] != pol {
		t.Errorf("stored %+v", r)
	}
	lp, err := cl.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("r")})
	if err != nil || len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "p" {
		t.Fatalf("list: %+v %v", lp, err)
	}
	// A policy without Resource is malformed: reported and refused.
	if _, err := cl.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("q"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}`)}); err == nil {
		t.Error("accepted a statement without Resource")
	}
	if r := rec.reports(); len(r) != 1 {
		t.Errorf("reports %q", r)
	}
	id, err := sts.NewFromConfig(srv.Config()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != awsfake.AccountID {
		t.Fatalf("caller identity %+v %v", id, err)
	}
}
