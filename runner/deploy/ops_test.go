package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/tierflow/tierflow/runner/deploy/deploytest"
)

// opsJob writes the shipped job with a notify: section appended into a
// temporary directory and returns the spec's path.
func opsJob(t *testing.T, notify string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"consumer-header.yaml", "consumer-header.schema.yaml", "consumer-header.header.csv"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "jobs", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "consumer-header.yaml" {
			b = append(b, notify...)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "consumer-header.yaml")
}

// Deploy creates the job's topic with the spec's subscriptions, its alarms,
// dashboard and late check, and merges its lifecycle rules into the lake
// bucket's; a second deploy with another notify: section brings the
// subscriptions in line. Everything is moto's, checked in the account.
func TestDeployOpsResources(t *testing.T) {
	o := deploytest.New(t)
	var out bytes.Buffer
	opts := deployOptions(t, o, &out)
	opts.Job = opsJob(t, "notify:\n  on: failure\n  email: [data-team@example.com]\n  sms: [\"+12065550100\"]\n  https: [https://hooks.example.com/tierflow]\n")
	opts.JobURI = "s3://lake-bucket/jobs/consumer-header.yaml"
	ctx := t.Context()
	ops := o.Acct.Config
	bucket := strings.TrimPrefix(strings.TrimSuffix(opts.Lake, "/prod"), "s3://")
	s3c := s3.NewFromConfig(ops, func(o *s3.Options) { o.UsePathStyle = true })
	// The bucket has a rule of its own, and one a former deploy of this
	// job left that the spec no longer asks for.
	rule := func(id, prefix string) s3types.LifecycleRule {
		return s3types.LifecycleRule{ID: aws.String(id), Status: s3types.ExpirationStatusEnabled, Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String(prefix)},
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(3)}}
	}
	if _, err := s3c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &bucket,
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{rule("logs-expire", "logs/"), rule("tierflow/consumer-header/old", "prod/old/")}}}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"topic            arn:aws:sns:", "to confirm       email data-team@example.com, https https://hooks.example.com/tierflow",
		"alarms           tierflow-consumer-header-run-failed, tierflow-consumer-header-rejected-rows, tierflow-consumer-header-late",
		"dashboard        tierflow-consumer-header", "late check       tierflow-consumer-header-late (hourly)", "lifecycle rules  tierflow/consumer-header/tier1-archive"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// The topic and its subscriptions, each filtering on failures (and
	// letting the alarms' messages through).
	sc := sns.NewFromConfig(ops)
	topics, err := sc.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var topic string
	for _, tp := range topics.Topics {
		if strings.HasSuffix(aws.ToString(tp.TopicArn), ":tierflow-consumer-header") {
			topic = aws.ToString(tp.TopicArn)
		}
	}
	if topic == "" {
		t.Fatalf("no topic tierflow-consumer-header among %v", topics.Topics)
	}
	subs := func() map[string]string {
		t.Helper()
		got := map[string]string{}
		ls, err := sc.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: &topic})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ls.Subscriptions {
			attrs, err := sc.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: s.SubscriptionArn})
			if err != nil {
				t.Fatal(err)
			}
			got[aws.ToString(s.Protocol)+" "+aws.ToString(s.Endpoint)] = attrs.Attributes["FilterPolicy"]
		}
		return got
	}
	failures := `{"status":["FAILED",{"exists":false}]}`
	want := map[string]string{"email data-team@example.com": failures, "sms +12065550100": failures, "https https://hooks.example.com/tierflow": failures}
	if got := subs(); !equalJSONMaps(got, want) {
		t.Errorf("subscriptions %v, want %v", got, want)
	}

	// The alarms, notifying the topic; the rejected-rows one is metric math.
	cw := cloudwatch.NewFromConfig(ops, func(o *cloudwatch.Options) { o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801) })
	alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("tierflow-consumer-header-")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range alarms.MetricAlarms {
		names = append(names, aws.ToString(a.AlarmName))
		if !slices.Contains(a.AlarmActions, topic) {
			t.Errorf("alarm %s actions %v", aws.ToString(a.AlarmName), a.AlarmActions)
		}
		if aws.ToString(a.AlarmName) == "tierflow-consumer-header-rejected-rows" && (len(a.Metrics) != 3 || aws.ToFloat64(a.Threshold) != 0.0005) {
			t.Errorf("rejected-rows alarm: %d metrics, threshold %v", len(a.Metrics), aws.ToFloat64(a.Threshold))
		}
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"tierflow-consumer-header-late", "tierflow-consumer-header-rejected-rows", "tierflow-consumer-header-run-failed"}) {
		t.Errorf("alarms %v", names)
	}
	dash, err := cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String("tierflow-consumer-header")})
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Widgets []map[string]any }
	if err := json.Unmarshal([]byte(aws.ToString(dash.DashboardBody)), &body); err != nil || len(body.Widgets) < 7 {
		t.Errorf("dashboard body: %d widgets, %v", len(body.Widgets), err)
	}

	// The late check: hourly, a small task of the job's task definition
	// running tierflow late.
	late, err := scheduler.NewFromConfig(ops).GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("tierflow-consumer-header-late")})
	if err != nil {
		t.Fatalf("the late-check schedule: %v", err)
	}
	var in struct {
		ContainerOverrides []struct{ Command []string }
		CPU                string `json:"cpu"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(late.Target.Input)), &in); err != nil || len(in.ContainerOverrides) != 1 || in.CPU != "256" ||
		!slices.Equal(in.ContainerOverrides[0].Command, []string{"late", "--job", opts.JobURI, "--lake", opts.Lake}) {
		t.Errorf("late check input %s (%v)", aws.ToString(late.Target.Input), err)
	}
	if aws.ToString(late.ScheduleExpression) != "rate(1 hour)" || late.Target.EcsParameters == nil ||
		!strings.Contains(aws.ToString(late.Target.EcsParameters.TaskDefinitionArn), ":task-definition/tierflow-consumer-header:1") {
		t.Errorf("late check %+v target %+v", late, late.Target)
	}

	// The bucket keeps its own rule, loses the job's old one, gains the
	// job's.
	lc, err := s3c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range lc.Rules {
		ids = append(ids, aws.ToString(r.ID))
	}
	wantIDs := []string{"logs-expire", "tierflow/consumer-header/tier1-archive", "tierflow/consumer-header/intake-expire",
		"tierflow/consumer-header/unpublished-expire", "tierflow/consumer-header/executions-expire", "tierflow/consumer-header/abort-uploads"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("bucket rules %v, want %v", ids, wantIDs)
	}

	// Deploy again with one e-mail address and every run: the others are
	// unsubscribed, the kept one's filter lets successes through.
	opts.Job = opsJob(t, "notify:\n  email: [data-team@example.com]\n")
	if err := Apply(ctx, opts); err != nil {
		t.Fatal(err)
	}
	all := `{"status":["SUCCEEDED","FAILED",{"exists":false}]}`
	if got := subs(); !equalJSONMaps(got, map[string]string{"email data-team@example.com": all}) {
		t.Errorf("subscriptions after the second deploy %v", got)
	}
}

// equalJSONMaps compares maps of JSON documents by value.
func equalJSONMaps(got, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || !samePolicy(g, w) {
			return false
		}
	}
	return true
}
