package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/runner/deploy/deploytest"
)

// deployOptions deploy the shipped job with o's control plane, on a lake
// bucket of its own (deploy merges its lifecycle rules into the bucket's).
func deployOptions(t *testing.T, o *deploytest.Orchestration, out *bytes.Buffer) Options {
	t.Helper()
	return Options{
		Job: "consumer-header", Lake: o.LakeBucket(t), Image: deploytest.Image,
		Subnets: []string{"subnet-0a", "subnet-0b"}, SecurityGroups: []string{"sg-0c"},
		IAMPropagation: 5 * time.Second, Log: zerolog.Nop(), Stdout: out, AWS: &o.Cfg,
	}
}

// role reads a role's trust policy and inline policies from moto.
func role(t *testing.T, o *deploytest.Orchestration, name string) (trust string, policies map[string]string, ok bool) {
	t.Helper()
	ctx, c := t.Context(), iam.NewFromConfig(o.Acct.Config)
	r, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	var nf *iamtypes.NoSuchEntityException
	if errors.As(err, &nf) {
		return "", nil, false
	} else if err != nil {
		t.Fatal(err)
	}
	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &name})
	if err != nil {
		t.Fatal(err)
	}
	policies = map[string]string{}
	for _, p := range names.PolicyNames {
		doc, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: &p})
		if err != nil {
			t.Fatal(err)
		}
		policies[p] = aws.ToString(doc.PolicyDocument)
	}
	return aws.ToString(r.Role.AssumeRolePolicyDocument), policies, true
}

// definition reads the state machine's definition and role from moto.
func definition(t *testing.T, o *deploytest.Orchestration) (def, role string) {
	t.Helper()
	out, err := sfn.NewFromConfig(o.Acct.Config).DescribeStateMachine(t.Context(), &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(o.StateMachineARN())})
	if err != nil {
		t.Fatal(err)
	}
	if out.Type != sfntypes.StateMachineTypeStandard {
		t.Errorf("state machine type %s", out.Type)
	}
	return aws.ToString(out.Definition), aws.ToString(out.RoleArn)
}

func TestDeployCreatesThenUpdates(t *testing.T) {
	o := deploytest.New(t)
	var out bytes.Buffer
	opts := deployOptions(t, o, &out)
	if err := Apply(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.Open("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDeployment(spec, opts, "aws", awsfake.Region, o.Acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// Roles: trusted by their service only, with the generated policy.
	for _, r := range d.Roles() {
		trust, policies, ok := role(t, o, r.Name)
		if !ok {
			t.Fatalf("role %s not created", r.Name)
		}
		if !samePolicy(trust, d.TrustPolicy(*r).JSON()) || !strings.Contains(trust, r.Service) {
			t.Errorf("role %s trust %s", r.Name, trust)
		}
		if !samePolicy(policies[PolicyName], r.Policy.JSON()) || len(policies) != 1 {
			t.Errorf("role %s policies %v", r.Name, policies)
		}
	}
	// IAM refuses an inline policy over 10,240 characters; moto does not.
	puts := o.Srv.RequestsTo("iam.PutRolePolicy")
	for _, r := range puts {
		if doc, _ := r.Body["PolicyDocument"].(string); doc == "" || len(doc) > 10240 {
			t.Errorf("role %v: inline policy of %d characters", r.Body["RoleName"], len(doc))
		}
	}
	if len(puts) != len(d.Roles()) {
		t.Errorf("%d PutRolePolicy calls for %d roles", len(puts), len(d.Roles()))
	}
	clusters, err := ecs.NewFromConfig(o.Acct.Config).DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"tierflow"}})
	if err != nil || len(clusters.Clusters) != 1 || aws.ToString(clusters.Clusters[0].Status) != "ACTIVE" {
		t.Errorf("cluster tierflow not created: %+v %v", clusters, err)
	}

	// The task definition: Fargate, the job's CPU and memory, the image,
	// awslogs (which needs the execution role, a group and a region), the
	// roles, the ephemeral storage Fargate allows (21–200 GiB).
	tdOut, err := ecs.NewFromConfig(o.Acct.Config).DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("tierflow-consumer-header")})
	if err != nil {
		t.Fatalf("no task definition: %v", err)
	}
	td := tdOut.TaskDefinition
	if aws.ToString(td.Cpu) != "4096" || aws.ToString(td.Memory) != "16384" || td.NetworkMode != ecstypes.NetworkModeAwsvpc ||
		!reflect.DeepEqual(td.RequiresCompatibilities, []ecstypes.Compatibility{ecstypes.CompatibilityFargate}) ||
		aws.ToString(td.TaskRoleArn) != d.RoleARN(d.TaskRole) || aws.ToString(td.ExecutionRoleArn) != d.RoleARN(d.ExecRole) {
		t.Errorf("task definition %+v", td)
	}
	if es := td.EphemeralStorage; es != nil && (es.SizeInGiB < 21 || es.SizeInGiB > 200) {
		t.Errorf("ephemeral storage %d GiB, Fargate allows 21–200", es.SizeInGiB)
	}
	c := td.ContainerDefinitions[0]
	if aws.ToString(c.Name) != "tierflow" || aws.ToString(c.Image) != deploytest.Image || c.LogConfiguration == nil ||
		c.LogConfiguration.LogDriver != ecstypes.LogDriverAwslogs || c.LogConfiguration.Options["awslogs-group"] != "/tierflow/consumer-header" ||
		c.LogConfiguration.Options["awslogs-region"] != awsfake.Region {
		t.Errorf("container %+v logs %+v", c, c.LogConfiguration)
	}

	// The state machine: the rendered definition, with this revision, the
	// subnets and cluster given, run by the state machine role.
	def, smRole := definition(t, o)
	if smRole != d.RoleARN(d.StateMachineRole) {
		t.Errorf("state machine role %s", smRole)
	}
	checkDefinition(t, def, aws.ToString(td.TaskDefinitionArn))

	// The schedule: the job's cron, starting the state machine with no month.
	s, err := scheduler.NewFromConfig(o.Acct.Config).GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("tierflow-consumer-header")})
	if err != nil {
		t.Fatalf("no schedule: %v", err)
	}
	if aws.ToString(s.ScheduleExpression) != "cron(0 6 2 * ? *)" || aws.ToString(s.ScheduleExpressionTimezone) != "UTC" || s.State != schedtypes.ScheduleStateEnabled ||
		aws.ToString(s.Target.Arn) != d.StateMachineARN() || aws.ToString(s.Target.RoleArn) != d.RoleARN(d.SchedulerRole) || aws.ToString(s.Target.Input) != ScheduleInput {
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
		"scheduler.CreateSchedule": 0, "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition": 1,
		"scheduler.UpdateSchedule": 2, // the monthly run and the late check
	} {
		if got := count(target); got != want {
			t.Errorf("second deploy: %d calls to %s, want %d", got, target, want)
		}
	}
	def, _ = definition(t, o)
	checkDefinition(t, def, strings.TrimSuffix(aws.ToString(td.TaskDefinitionArn), "1")+"2")
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
	if err := Apply(t.Context(), deployOptions(t, o, &out)); err != nil {
		t.Fatal(err)
	}
	if n := len(o.Srv.RequestsTo("AWSStepFunctions.CreateStateMachine")); n != 2 {
		t.Errorf("%d CreateStateMachine calls, want 2", n)
	}
	// Another error is not retried.
	o2 := deploytest.New(t)
	o2.Srv.FailNext("AWSStepFunctions.CreateStateMachine", awsfake.Errorf("InvalidDefinition", "bad"))
	err := Apply(t.Context(), deployOptions(t, o2, &out))
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
		opts := deployOptions(t, o, &out)
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
	opts := deployOptions(t, o, &out)
	opts.Job, opts.JobURI = "../../jobs/consumer-header.yaml", "s3://lake-bucket/jobs/consumer-header.yaml"
	if err := Apply(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if def, _ := definition(t, o); !strings.Contains(def, `"job": "s3://lake-bucket/jobs/consumer-header.yaml"`) {
		t.Error("the definition does not pass the job URI to the tasks")
	}
}
