package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/runner/deploy/deploytest"
)

func deployOptions(o *deploytest.Orchestration, out *bytes.Buffer) Options {
	return Options{
		Job: "consumer-header", Lake: "s3://lake-bucket/prod", Image: deploytest.Image,
		Subnets: []string{"subnet-0a", "subnet-0b"}, SecurityGroups: []string{"sg-0c"},
		IAMPropagation: 5 * time.Second, Log: zerolog.Nop(), Stdout: out, AWS: &o.Cfg,
	}
}

func TestDeployCreatesThenUpdates(t *testing.T) {
	o := deploytest.New(t)
	var out bytes.Buffer
	opts := deployOptions(o, &out)
	if err := Apply(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.Open("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDeployment(spec, opts, "aws", awsfake.Region, awsfake.AccountID)
	if err != nil {
		t.Fatal(err)
	}

	// Roles: trusted by their service only, with the generated policy.
	for _, r := range d.Roles() {
		got, ok := o.IAM.Role(r.Name)
		if !ok {
			t.Fatalf("role %s not created", r.Name)
		}
		if !samePolicy(got.Trust, d.TrustPolicy(*r).JSON()) || !strings.Contains(got.Trust, r.Service) {
			t.Errorf("role %s trust %s", r.Name, got.Trust)
		}
		if !samePolicy(got.Policies[PolicyName], r.Policy.JSON()) || len(got.Policies) != 1 {
			t.Errorf("role %s policies %v", r.Name, got.Policies)
		}
	}
	if c := o.ECS.Cluster("tierflow"); c == "" {
		t.Error("cluster tierflow not created")
	}

	// The task definition: Fargate, the job's CPU and memory, the image,
	// awslogs, the roles.
	td := o.ECS.TaskDefinition("tierflow-consumer-header")
	if td == nil {
		t.Fatal("no task definition")
	}
	if td["cpu"] != "4096" || td["memory"] != "16384" || td["networkMode"] != "awsvpc" ||
		!reflect.DeepEqual(td["requiresCompatibilities"], []any{"FARGATE"}) ||
		td["taskRoleArn"] != d.RoleARN(d.TaskRole) || td["executionRoleArn"] != d.RoleARN(d.ExecRole) {
		t.Errorf("task definition %v", td)
	}
	c := td["containerDefinitions"].([]any)[0].(map[string]any)
	logs := c["logConfiguration"].(map[string]any)
	if c["name"] != "tierflow" || c["image"] != deploytest.Image || logs["logDriver"] != "awslogs" ||
		logs["options"].(map[string]any)["awslogs-group"] != "/tierflow/consumer-header" {
		t.Errorf("container %v", c)
	}

	// The state machine: the rendered definition, with this revision, the
	// subnets and cluster given, run by the state machine role.
	sm, ok := o.SFN.StateMachine("tierflow-consumer-header")
	if !ok {
		t.Fatal("no state machine")
	}
	if sm.RoleArn != d.RoleARN(d.StateMachineRole) || sm.Type != "STANDARD" {
		t.Errorf("state machine role %s type %s", sm.RoleArn, sm.Type)
	}
	checkDefinition(t, sm.Definition, td["taskDefinitionArn"].(string))

	// The schedule: the job's cron, starting the state machine with no month.
	s, ok := o.Sched.Schedule("tierflow-consumer-header")
	if !ok {
		t.Fatal("no schedule")
	}
	if s.ScheduleExpression != "cron(0 6 2 * ? *)" || s.ScheduleExpressionTimezone != "UTC" || s.State != "ENABLED" ||
		aws.ToString(s.Target.Arn) != d.StateMachineARN() || aws.ToString(s.Target.RoleArn) != d.RoleARN(d.SchedulerRole) || s.Target.Input != ScheduleInput {
		t.Errorf("schedule %+v target %+v", s, s.Target)
	}
	for _, want := range []string{"deployed job consumer-header", ":task-definition/tierflow-consumer-header:1", "created          role tierflow-consumer-header-task"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// Deploy again with another image: updates, nothing created.
	o.Srv.ResetRequests()
	out.Reset()
	opts.Image = deploytest.Image[:len(deploytest.Image)-3] + "1.1"
	if err := Apply(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	count := func(target string) int { return len(o.Srv.RequestsTo(target)) }
	for target, want := range map[string]int{
		"iam.CreateRole": 0, "iam.UpdateAssumeRolePolicy": 0, "iam.PutRolePolicy": 4, "AmazonEC2ContainerServiceV20141113.CreateCluster": 0,
		"AWSStepFunctions.CreateStateMachine": 0, "AWSStepFunctions.UpdateStateMachine": 1,
		"scheduler.CreateSchedule": 0, "scheduler.UpdateSchedule": 1, "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition": 1,
	} {
		if got := count(target); got != want {
			t.Errorf("second deploy: %d calls to %s, want %d", got, target, want)
		}
	}
	sm, _ = o.SFN.StateMachine("tierflow-consumer-header")
	checkDefinition(t, sm.Definition, strings.TrimSuffix(td["taskDefinitionArn"].(string), "1")+"2")
	if strings.Contains(out.String(), "created") {
		t.Errorf("second deploy created something:\n%s", out.String())
	}
}

// checkDefinition checks a deployed definition names the task definition
// revision, cluster and subnets, and, when asl-validator is there,
// validates it.
func checkDefinition(t *testing.T, def, taskDef string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(def), &doc); err != nil {
		t.Fatalf("definition is not JSON: %v", err)
	}
	plan := doc["States"].(map[string]any)["Plan"].(map[string]any)["Parameters"].(map[string]any)
	net := plan["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
	if plan["TaskDefinition"] != taskDef || plan["Cluster"] != "tierflow" || !reflect.DeepEqual(net["Subnets"], []any{"subnet-0a", "subnet-0b"}) {
		t.Errorf("Plan runs %v in %v on %v, want %s", plan["TaskDefinition"], plan["Cluster"], net["Subnets"], taskDef)
	}
	if bin := os.Getenv("TIERFLOW_TEST_NPM_BIN"); bin != "" {
		path := filepath.Join(t.TempDir(), "deployed.asl.json")
		if err := os.WriteFile(path, []byte(def), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(filepath.Join(bin, "asl-validator"), "--json-path", path).CombinedOutput(); err != nil {
			t.Errorf("asl-validator: %v\n%s", err, out)
		}
	}
}

// TestDeployWaitsForNewRoles: Step Functions refuses a role IAM has not
// propagated yet; deploy retries that, and only that.
func TestDeployWaitsForNewRoles(t *testing.T) {
	o := deploytest.New(t)
	var out bytes.Buffer
	notYet := awsfake.Errorf("AccessDeniedException", "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.")
	o.Srv.FailNext("AWSStepFunctions.CreateStateMachine", notYet)
	if err := Apply(t.Context(), deployOptions(o, &out)); err != nil {
		t.Fatal(err)
	}
	if n := len(o.Srv.RequestsTo("AWSStepFunctions.CreateStateMachine")); n != 2 {
		t.Errorf("%d CreateStateMachine calls, want 2", n)
	}
	// Another error is not retried.
	o2 := deploytest.New(t)
	o2.Srv.FailNext("AWSStepFunctions.CreateStateMachine", awsfake.Errorf("InvalidDefinition", "bad"))
	err := Apply(t.Context(), deployOptions(o2, &out))
	if err == nil || !strings.Contains(err.Error(), "InvalidDefinition") || len(o2.Srv.RequestsTo("AWSStepFunctions.CreateStateMachine")) != 1 {
		t.Errorf("InvalidDefinition: %v", err)
	}
}

func TestDeployRefusesWhatCannotRun(t *testing.T) {
	o := deploytest.New(t)
	var out bytes.Buffer
	for name, c := range map[string]struct {
		mod  func(*Options)
		want string
	}{
		"local lake": {func(d *Options) { d.Lake = "" }, "--lake s3://"},
		"no image":   {func(d *Options) { d.Image = "" }, "no container image"},
		"no subnets": {func(d *Options) { d.Subnets = nil }, "no subnets"},
		"job file":   {func(d *Options) { d.Job = "../../jobs/consumer-header.yaml" }, "--job-uri"},
		"storage":    {func(d *Options) { d.StorageGiB = 500 }, "21–200"},
	} {
		opts := deployOptions(o, &out)
		c.mod(&opts)
		err := Apply(t.Context(), opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, c.want)
		}
	}
	// A refused deploy changes nothing: it got as far as finding the
	// account, at most.
	for _, r := range o.Srv.Requests() {
		if r.Target != "sts.GetCallerIdentity" {
			t.Errorf("a refused deploy called %s", r.Target)
		}
	}
	// A job file deploys with --job-uri: the tasks get the URI.
	opts := deployOptions(o, &out)
	opts.Job, opts.JobURI = "../../jobs/consumer-header.yaml", "s3://lake-bucket/jobs/consumer-header.yaml"
	if err := Apply(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	sm, _ := o.SFN.StateMachine("tierflow-consumer-header")
	if !strings.Contains(sm.Definition, `"job": "s3://lake-bucket/jobs/consumer-header.yaml"`) {
		t.Error("the definition does not pass the job URI to the tasks")
	}
}
