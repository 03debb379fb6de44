package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/jobstest"
	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/mototest"
	"github.com/tierflow/tierflow/runner/deploy/deploytest"
	"github.com/tierflow/tierflow/statemachines"
)

var marker = jobs.CompleteWhen{Marker: "_SUCCESS"}

// The trigger's roles may each start one state machine and nothing else;
// the operator gets the rule, the intake machine and the lake bucket's
// notifications, nothing near them.
func TestIntakeDeployment(t *testing.T) {
	d := testDeploymentWhen(t, marker)
	if d.Intake == nil {
		t.Fatal("a job with complete_when has no intake trigger")
	}
	var names []string
	for _, r := range d.Roles() {
		names = append(names, r.Name)
	}
	if !reflect.DeepEqual(names, roleNames) {
		t.Errorf("roles %v, want %v", names, roleNames)
	}
	if d.EventsRole.Service != "events.amazonaws.com" || d.IntakeRole.Service != "states.amazonaws.com" {
		t.Errorf("trusted by %s and %s", d.EventsRole.Service, d.IntakeRole.Service)
	}
	for _, c := range []struct {
		p                PolicyDocument
		action, resource string
		want             bool
	}{
		{d.IntakeRole.Policy, "states:StartExecution", smARN, true},
		{d.IntakeRole.Policy, "states:StartExecution", intakeSM, false},
		{d.IntakeRole.Policy, "states:StartExecution", smARN + "-other", false},
		{d.EventsRole.Policy, "states:StartExecution", intakeSM, true},
		{d.EventsRole.Policy, "states:StartExecution", smARN, false},
		{d.Operator, "events:PutRule", intakeRule, true},
		{d.Operator, "events:PutRule", intakeRule + "-other", false},
		{d.Operator, "s3:PutBucketNotification", bucketARN, true},
		{d.Operator, "s3:PutBucketNotification", bucketARN + "-other", false},
		{d.Operator, "states:UpdateStateMachine", intakeSM, true},
		{d.Operator, "iam:PassRole", roleARNs()[5], true},
		{d.TaskRole.Policy, "events:PutRule", intakeRule, false},
		{d.StateMachineRole.Policy, "states:StartExecution", intakeSM, false},
	} {
		if got := allows(c.p, c.action, c.resource); got != c.want {
			t.Errorf("%s on %s: allowed %v, want %v", c.action, c.resource, got, c.want)
		}
	}
	if got := d.IntakePattern(); !strings.Contains(got, `"wildcard":"prod/intake/consumer/*/_SUCCESS"`) || !strings.Contains(got, `"name":["lake-bucket"]`) {
		t.Errorf("pattern %s", got)
	}

	// No trigger: a job without complete_when, or --no-intake.
	for name, d := range map[string]*Deployment{"shipped": testDeployment(t), "no-intake": noIntake(t)} {
		if d.Intake != nil || len(d.Roles()) != 4 || allows(d.Operator, "events:PutRule", intakeRule) {
			t.Errorf("%s: intake %+v, %d roles", name, d.Intake, len(d.Roles()))
		}
	}

	// A trigger that cannot find the month in a key is refused, naming the
	// way out.
	spec, err := jobs.Open("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	spec.Source.CompleteWhen, spec.Source.Intake = marker, "intake/consumer-{month}-"
	o := Options{Job: "consumer-header", Lake: "s3://lake-bucket/prod", Image: deploytest.Image, Subnets: []string{"subnet-0a"}}
	if _, err := NewDeployment(spec, o, "aws", "us-east-1", "123456789012"); err == nil || !strings.Contains(err.Error(), "--no-intake") {
		t.Errorf("month inside a folder name: %v", err)
	}
	o.NoIntake = true
	if _, err := NewDeployment(spec, o, "aws", "us-east-1", "123456789012"); err != nil {
		t.Errorf("with --no-intake: %v", err)
	}
}

func noIntake(t *testing.T) *Deployment {
	t.Helper()
	spec, err := jobs.Open("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	spec.Source.CompleteWhen = marker
	d, err := NewDeployment(spec, Options{Job: "consumer-header", Lake: "s3://lake-bucket/prod", Image: deploytest.Image, Subnets: []string{"subnet-0a"}, NoIntake: true},
		"aws", "us-east-1", "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestIntakeMachineRoleCoversTheDefinition: every service integration of
// the intake definition is allowed to its role.
func TestIntakeMachineRoleCoversTheDefinition(t *testing.T) {
	d := testDeploymentWhen(t, marker)
	def, err := statemachines.RenderIntake(d.Spec, d.Params.Lake, d.StateMachineARN())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ States map[string]map[string]any }
	if err := json.Unmarshal(def, &doc); err != nil {
		t.Fatal(err)
	}
	tasks := 0
	for name, st := range doc.States {
		r, ok := st["Resource"].(string)
		if !ok {
			continue
		}
		tasks++
		target, _ := st["Parameters"].(map[string]any)["StateMachineArn"].(string)
		if r != "arn:aws:states:::states:startExecution" || target != smARN || !allows(d.IntakeRole.Policy, "states:StartExecution", target) {
			t.Errorf("state %s: %s of %s: add what it needs to the intake role and this test", name, r, target)
		}
	}
	if tasks != 1 {
		t.Errorf("%d task states, want the one Start", tasks)
	}
}

// TestIntakeCloudFormation: the template has the rule, the intake machine
// (starting the job's through DefinitionSubstitutions) and their roles,
// says what it cannot do about the bucket, and cfn-lint and asl-validator
// accept it.
func TestIntakeCloudFormation(t *testing.T) {
	var b bytes.Buffer
	// cfn-lint checks the subnet ID's form in the late check's schedule.
	o := Options{Job: jobstest.WithCompleteWhen(t, "consumer-header", "{quiet: 45m}"), JobURI: "s3://lake-bucket/jobs/consumer-header.yaml", Lake: "s3://lake-bucket/prod",
		Image: deploytest.Image, Subnets: []string{"subnet-0a1b2c3d"}, Stdout: &b}
	if err := Render(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b.Bytes(), &tmpl); err != nil {
		t.Fatal(err)
	}
	res := tmpl["Resources"].(map[string]any)
	props := func(name string) map[string]any {
		r, ok := res[name].(map[string]any)
		if !ok {
			t.Fatalf("no resource %s", name)
		}
		return r["Properties"].(map[string]any)
	}
	rule := props("IntakeRule")
	target := rule["Targets"].([]any)[0].(map[string]any)
	if rule["State"] != "ENABLED" || !reflect.DeepEqual(target["Arn"], map[string]any{"Ref": "IntakeStateMachine"}) ||
		!reflect.DeepEqual(target["RoleArn"], map[string]any{"Fn::GetAtt": []any{"EventsRole", "Arn"}}) {
		t.Errorf("rule %v", rule)
	}
	sm := props("IntakeStateMachine")
	if !reflect.DeepEqual(sm["DefinitionSubstitutions"], map[string]any{"JobStateMachineArn": map[string]any{"Ref": "StateMachine"}}) ||
		!reflect.DeepEqual(sm["RoleArn"], map[string]any{"Fn::GetAtt": []any{"IntakeRole", "Arn"}}) {
		t.Errorf("intake state machine %v", sm)
	}
	def := sm["Definition"].(map[string]any)
	states := def["States"].(map[string]any)
	if arn := states["Start"].(map[string]any)["Parameters"].(map[string]any)["StateMachineArn"]; arn != "${JobStateMachineArn}" {
		t.Errorf("Start starts %v", arn)
	}
	if cfg := states["Init"].(map[string]any)["Parameters"].(map[string]any)["config"].(map[string]any); cfg["wait"] != float64(2700) {
		t.Errorf("config %v, want a 2700 s wait", cfg)
	}
	for _, r := range []string{"IntakeRole", "EventsRole"} {
		if props(r)["RoleName"] == nil {
			t.Errorf("%s has no name", r)
		}
	}
	note, _ := json.Marshal(tmpl["Metadata"])
	if !strings.Contains(string(note), "EventBridgeConfiguration") || !strings.Contains(string(note), "lake-bucket") {
		t.Errorf("metadata %s does not say the bucket must send events to EventBridge", note)
	}

	dir := t.TempDir()
	write := func(name string, v any) string { return writeJSON(t, dir, name, v) }
	if bin := os.Getenv("TIERFLOW_TEST_NPM_BIN"); bin != "" {
		if out, err := exec.Command(filepath.Join(bin, "asl-validator"), "--json-path", write("intake.asl.json", def)).CombinedOutput(); err != nil {
			t.Errorf("asl-validator: %v\n%s", err, out)
		}
	}
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed")
	}
	if out, err := exec.Command(bin, write("ok.json", tmpl)).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
	rule["State"] = "ON"
	if out, err := exec.Command(bin, write("broken.json", tmpl)).CombinedOutput(); err == nil {
		t.Errorf("cfn-lint accepted a rule State ON:\n%s", out)
	}
}

// counter counts the requests an SDK client sends, by operation.
type counter struct {
	mu   sync.Mutex
	next http.RoundTripper
	n    map[string]int
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if r.URL.Query().Has("notification") {
		op = r.Method + " ?notification"
	}
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *counter) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// TestDeployIntakeMoto deploys a job with an intake trigger to moto
// (written by others than tierflow's authors) twice: it creates the rule,
// its target, the intake machine and the roles, and turns the bucket's
// EventBridge notifications on, keeping its queue notification. moto then
// delivers the bucket's events to the rule: objects of the intake match its
// pattern, others do not.
func TestDeployIntakeMoto(t *testing.T) {
	cfg := mototest.Config(t)
	t.Setenv("TIERFLOW_S3_PATH_STYLE", "1")
	calls := &counter{next: http.DefaultTransport, n: map[string]int{}}
	cfg.HTTPClient = &http.Client{Transport: calls}
	ctx := t.Context()
	bucket := mototest.Name("tierflow-intake")
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	queue := s3types.QueueConfiguration{Id: aws.String("audit"), QueueArn: aws.String("arn:aws:sqs:us-east-1:123456789012:audit"),
		Events: []s3types.Event{"s3:ObjectRemoved:*"}}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &bucket,
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{queue}}}); err != nil {
		t.Fatal(err)
	}
	keptQueue := func(when string) {
		t.Helper()
		nc, err := s3c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &bucket})
		if err != nil {
			t.Fatal(err)
		}
		if len(nc.QueueConfigurations) != 1 || aws.ToString(nc.QueueConfigurations[0].QueueArn) != aws.ToString(queue.QueueArn) {
			t.Errorf("%s: the bucket's queue notification was not kept: %+v", when, nc.QueueConfigurations)
		}
		// moto 5.2.1 stores EventBridgeConfiguration but leaves it out of
		// GetBucketNotificationConfiguration; the deliveries below show it
		// is on. When moto returns it, check it here.
		if nc.EventBridgeConfiguration != nil {
			t.Errorf("%s: moto now returns EventBridgeConfiguration: assert it is set, and that a second deploy writes nothing", when)
		}
	}

	base := mototest.Name("tf")
	var out bytes.Buffer
	o := Options{Job: jobstest.WithCompleteWhen(t, "consumer-header", "{manifest: manifest.json}"), JobURI: "s3://" + bucket + "/jobs/consumer-header.yaml", Lake: "s3://" + bucket + "/lake",
		Image: deploytest.Image, Subnets: []string{"subnet-0a"}, Name: base, Cluster: base,
		IAMPropagation: 5 * time.Second, Log: zerolog.Nop(), Stdout: &out, AWS: &cfg}
	if err := Apply(ctx, o); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.Open(o.Job)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDeployment(spec, o, "aws", mototest.Region, mototest.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"intake trigger   " + d.IntakeRuleARN(), "rule " + base + "-intake", "state machine " + base + "-intake", "EventBridge notifications of bucket " + bucket} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out.String())
		}
	}
	keptQueue("first deploy")

	ev := eventbridge.NewFromConfig(cfg)
	rule, err := ev.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(d.IntakeName())})
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal([]byte(aws.ToString(rule.EventPattern)), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(d.IntakePattern()), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || rule.State != "ENABLED" {
		t.Errorf("rule %s pattern %s, want %s", rule.State, aws.ToString(rule.EventPattern), d.IntakePattern())
	}
	targets, err := ev.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(d.IntakeName())})
	if err != nil {
		t.Fatal(err)
	}
	if len(targets.Targets) != 1 || aws.ToString(targets.Targets[0].Arn) != d.IntakeMachineARN() || aws.ToString(targets.Targets[0].RoleArn) != d.RoleARN(d.EventsRole) {
		t.Errorf("targets %+v", targets.Targets)
	}
	sm, err := sfn.NewFromConfig(cfg).DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(d.IntakeMachineARN())})
	if err != nil {
		t.Fatal(err)
	}
	def, err := statemachines.RenderIntake(spec, o.Lake, d.StateMachineARN())
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(sm.Definition) != string(def) || aws.ToString(sm.RoleArn) != d.RoleARN(d.IntakeRole) {
		t.Errorf("intake machine role %s, definition\n%s", aws.ToString(sm.RoleArn), aws.ToString(sm.Definition))
	}
	ic := iam.NewFromConfig(cfg)
	for _, r := range []Role{d.IntakeRole, d.EventsRole} {
		p, err := ic.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(r.Name), PolicyName: aws.String(PolicyName)})
		if err != nil || !samePolicy(aws.ToString(p.PolicyDocument), r.Policy.JSON()) {
			t.Errorf("role %s: policy %v, %v", r.Name, aws.ToString(p.PolicyDocument), err)
		}
	}

	// moto's EventBridge cannot start a state machine: the test swaps the
	// rule's target for a queue and watches what the bucket sends it.
	keys := deliveredKeys(t, cfg, ev, d.IntakeName(), s3c, bucket, []string{
		"lake/intake/consumer/2026-11/part-0001.csv.gz", "lake/intake/consumer/2026-11/manifest.json",
		"lake/intake/consumer/2026-11/notes.txt", "lake/intake/consumer/README.csv.gz",
		"lake/tier1/consumer-header/month=2026-11/delivery=ab/part-0001.csv.gz", "other/intake/consumer/2026-11/part-0002.csv.gz",
	})
	if want := []string{"lake/intake/consumer/2026-11/part-0001.csv.gz", "lake/intake/consumer/2026-11/manifest.json"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("the rule matched %q, want %q", keys, want)
	}

	out.Reset()
	if err := Apply(ctx, o); err != nil {
		t.Fatal(err)
	}
	keptQueue("second deploy")
	// Two deploys' PutTargets and the test's own.
	if strings.Contains(out.String(), "created          role") || calls.get("AWSEvents.PutTargets") != 3 {
		t.Errorf("second deploy (%d PutTargets in all):\n%s", calls.get("AWSEvents.PutTargets"), out.String())
	}
	targets, err = ev.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(d.IntakeName())})
	if err != nil || !slices.ContainsFunc(targets.Targets, func(tg ebtypes.Target) bool { return aws.ToString(tg.Arn) == d.IntakeMachineARN() }) {
		t.Errorf("after the second deploy the rule's targets are %+v (%v)", targets.Targets, err)
	}
}

// deliveredKeys replaces the rule's targets by a new queue, puts each key
// into the bucket and returns the object keys of the events the queue got,
// in order.
func deliveredKeys(t *testing.T, cfg aws.Config, ev *eventbridge.Client, rule string, s3c *s3.Client, bucket string, keys []string) []string {
	t.Helper()
	ctx := t.Context()
	sq := sqs.NewFromConfig(cfg)
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(mototest.Name("intake-events"))})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(rule), Ids: []string{IntakeTargetID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), Targets: []ebtypes.Target{{
		Id: aws.String("observe"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
	}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = ev.RemoveTargets(context.WithoutCancel(ctx), &eventbridge.RemoveTargetsInput{Rule: aws.String(rule), Ids: []string{"observe"}})
	})
	for _, k := range keys {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for {
		msgs, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs.Messages) == 0 {
			return got
		}
		for _, m := range msgs.Messages {
			var e struct {
				DetailType string `json:"detail-type"`
				Detail     struct {
					Object struct{ Key string }
				}
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil || e.DetailType != "Object Created" {
				t.Errorf("message %s: %v", aws.ToString(m.Body), err)
			}
			got = append(got, e.Detail.Object.Key)
			if _, err := sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A bucket that sends its events to EventBridge already is left alone.
// No local S3 server returns EventBridgeConfiguration (moto 5.2.1 omits
// it, versitygw has no notifications), so this one is an httptest server.
func TestBucketEventsAlreadyOn(t *testing.T) {
	var puts int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.Query().Has("notification") {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
			return
		}
		if r.Method == http.MethodPut {
			puts++
		}
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>`)
	}))
	t.Cleanup(srv.Close)
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{Region: "us-east-1", Endpoint: srv.URL, Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	if err != nil {
		t.Fatal(err)
	}
	a := &Clients{s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })}
	on, err := a.ensureBucketEvents(t.Context(), testDeploymentWhen(t, marker))
	if err != nil || on || puts != 0 {
		t.Errorf("turned on %v, %d writes, %v; want nothing done", on, puts, err)
	}
}
