package deploy

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/runner/deploy/deploytest"
	"github.com/tierflow/tierflow/statemachines"
)

// Every AWS SDK operation tierflow's code calls, with who calls it (the
// Fargate task's role, the operator running deploy/run/status, or nobody
// tierflow grants: tests, init) and the IAM actions and resources it
// needs. TestPolicyCoversEveryCall finds the operations in the code, so a
// new call fails the test until it is listed here, and checks each listed
// need against the generated policies — and that neighbouring resources
// stay denied.

// need is one permission an operation needs: action on resource, or, when
// deny is set, an action on a resource the role must NOT have.
type need struct {
	action, resource string
	deny             bool
}

type opUse struct {
	role  string // task, operator, or "" when no generated policy covers it
	why   string // for role "": who calls it
	needs []need
}

// Sample resources of the test deployment (lake s3://lake-bucket/prod,
// database consumer, workgroup primary, lineage table tierflow-lineage).
const (
	objIntake  = "arn:aws:s3:::lake-bucket/prod/intake/consumer/2020-03/part-0001.csv.gz"
	objTier1   = "arn:aws:s3:::lake-bucket/prod/tier1/consumer-header/month=2020-03/delivery=ab/part-0001.csv.gz"
	objTier2   = "arn:aws:s3:::lake-bucket/prod/tier2/consumer_header/month=2020-03/run=r1/000001_0_part-0001.snappy.parquet"
	objTier3   = "arn:aws:s3:::lake-bucket/prod/tier3/consumer_ca/month=2020-03/run=r1/x.parquet"
	objMeta    = "arn:aws:s3:::lake-bucket/prod/_tierflow/runs/consumer-header/r1/parts/part-0001.manifest.json"
	objOther   = "arn:aws:s3:::lake-bucket/prod/tier2/other_table/x.parquet"
	objOutside = "arn:aws:s3:::lake-bucket/elsewhere/x"
	bucketARN  = "arn:aws:s3:::lake-bucket"
	acctRegion = "us-east-1:123456789012"
	glueDB     = "arn:aws:glue:" + acctRegion + ":database/consumer"
	glueTable  = "arn:aws:glue:" + acctRegion + ":table/consumer/consumer_header"
	glueOther  = "arn:aws:glue:" + acctRegion + ":table/other/t"
	ddbTable   = "arn:aws:dynamodb:" + acctRegion + ":table/tierflow-lineage"
	smARN      = "arn:aws:states:" + acctRegion + ":stateMachine:tierflow-consumer-header"
	intakeSM   = "arn:aws:states:" + acctRegion + ":stateMachine:tierflow-consumer-header-intake"
	intakeRule = "arn:aws:events:" + acctRegion + ":rule/tierflow-consumer-header-intake"
	execARN    = "arn:aws:states:" + acctRegion + ":execution:tierflow-consumer-header:consumer-header-2020-03-r1"
	topicARN   = "arn:aws:sns:" + acctRegion + ":tierflow-consumer-header"
	lateARN    = "arn:aws:scheduler:" + acctRegion + ":schedule/default/tierflow-consumer-header-late"
	alarmARN   = "arn:aws:cloudwatch:" + acctRegion + ":alarm:tierflow-consumer-header-"
)

// snsNeeds: the job's topic, not another.
func snsNeeds(actions ...string) opUse {
	var n []need
	for _, a := range actions {
		n = append(n, need{action: a, resource: topicARN}, need{action: a, resource: topicARN + "-other", deny: true})
	}
	return opUse{role: "operator", needs: n}
}

func s3Needs(action string, allowed ...string) []need {
	var out []need
	for _, r := range []string{objIntake, objTier1, objTier2, objTier3, objMeta, objOther, objOutside} {
		out = append(out, need{action: action, resource: r, deny: !contains(allowed, r)})
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

var (
	readable = []string{objIntake, objTier1, objTier2, objTier3, objMeta}
	writable = []string{objTier1, objTier2, objTier3, objMeta}
)

func glueNeeds(action string) []need {
	return []need{{action: action, resource: "arn:aws:glue:" + acctRegion + ":catalog"}, {action: action, resource: glueDB},
		{action: action, resource: glueTable}, {action: action, resource: glueOther, deny: true}}
}

func athenaNeeds(action string) []need {
	return []need{{action: action, resource: "arn:aws:athena:" + acctRegion + ":workgroup/primary"},
		{action: action, resource: "arn:aws:athena:" + acctRegion + ":workgroup/other", deny: true}}
}

func ddbNeeds(action string) []need {
	return []need{{action: action, resource: ddbTable}, {action: action, resource: ddbTable + "/index/GSI1"},
		{action: action, resource: "arn:aws:dynamodb:" + acctRegion + ":table/other", deny: true}}
}

var roleNames = []string{"tierflow-consumer-header-task", "tierflow-consumer-header-exec", "tierflow-consumer-header-sfn", "tierflow-consumer-header-scheduler",
	"tierflow-consumer-header-intake", "tierflow-consumer-header-events"}

func operatorNeeds(action string, resources ...string) opUse {
	var n []need
	for _, r := range resources {
		n = append(n, need{action: action, resource: r})
	}
	return opUse{role: "operator", needs: n}
}

func roleARNs() []string {
	var out []string
	for _, r := range roleNames {
		out = append(out, "arn:aws:iam::123456789012:role/"+r)
	}
	return out
}

// operations is the table: "<sdk package>.<Operation>".
var operations = map[string]opUse{
	// S3 (lake/storage/s3): reads everywhere the job reads, writes only
	// into its tiers and _tierflow/.
	"s3.GetObject":               {role: "task", needs: s3Needs("s3:GetObject", readable...)},
	"s3.HeadObject":              {role: "task", needs: s3Needs("s3:GetObject", readable...)},
	"s3.PutObject":               {role: "task", needs: s3Needs("s3:PutObject", writable...)},
	"s3.CreateMultipartUpload":   {role: "task", needs: s3Needs("s3:PutObject", writable...)},
	"s3.UploadPart":              {role: "task", needs: s3Needs("s3:PutObject", writable...)},
	"s3.CompleteMultipartUpload": {role: "task", needs: s3Needs("s3:PutObject", writable...)},
	"s3.UploadPartCopy":          {role: "task", needs: append(s3Needs("s3:PutObject", writable...), need{action: "s3:GetObject", resource: objIntake})},
	"s3.CopyObject":              {role: "task", needs: append(s3Needs("s3:PutObject", writable...), need{action: "s3:GetObject", resource: objIntake})},
	"s3.AbortMultipartUpload":    {role: "task", needs: s3Needs("s3:AbortMultipartUpload", writable...)},
	"s3.DeleteObject":            {role: "task", needs: s3Needs("s3:DeleteObject", writable...)},
	"s3.ListObjectsV2":           {role: "task", needs: []need{{action: "s3:ListBucket", resource: bucketARN}}},
	"s3.HeadBucket":              {role: "task", needs: []need{{action: "s3:ListBucket", resource: bucketARN}}},
	"s3.ListMultipartUploads":    {role: "task", needs: []need{{action: "s3:ListBucketMultipartUploads", resource: bucketARN}}},
	// The lifecycle tags (the shipped job expires unpublished tier 2 and
	// verified intake objects): tier 2 and the intake only.
	"s3.GetObjectTagging":    {role: "task", needs: s3Needs("s3:GetObjectTagging", objIntake, objTier2)},
	"s3.PutObjectTagging":    {role: "task", needs: s3Needs("s3:PutObjectTagging", objIntake, objTier2)},
	"s3.DeleteObjectTagging": {role: "task", needs: s3Needs("s3:DeleteObjectTagging", objTier2)},
	// deploy merges the job's lifecycle rules into the lake bucket's.
	"s3.GetBucketLifecycleConfiguration": operatorNeeds("s3:GetLifecycleConfiguration", bucketARN),
	"s3.PutBucketLifecycleConfiguration": operatorNeeds("s3:PutLifecycleConfiguration", bucketARN),
	"s3.DeleteBucketLifecycle":           operatorNeeds("s3:PutLifecycleConfiguration", bucketARN),
	// The job's topic, alarms and dashboard.
	"sns.CreateTopic":               snsNeeds("sns:CreateTopic", "sns:TagResource"),
	"sns.ListSubscriptionsByTopic":  snsNeeds("sns:ListSubscriptionsByTopic"),
	"sns.Subscribe":                 snsNeeds("sns:Subscribe"),
	"sns.SetSubscriptionAttributes": snsNeeds("sns:SetSubscriptionAttributes"),
	"sns.Unsubscribe":               snsNeeds("sns:Unsubscribe"),
	"cloudwatch.PutMetricAlarm": {role: "operator", needs: []need{
		{action: "cloudwatch:PutMetricAlarm", resource: alarmARN + "run-failed"}, {action: "cloudwatch:PutMetricAlarm", resource: alarmARN + "rejected-rows"},
		{action: "cloudwatch:PutMetricAlarm", resource: alarmARN + "late"}, {action: "cloudwatch:TagResource", resource: alarmARN + "late"},
		{action: "cloudwatch:PutMetricAlarm", resource: "arn:aws:cloudwatch:" + acctRegion + ":alarm:other", deny: true}}},
	"cloudwatch.PutDashboard": {role: "operator", needs: []need{{action: "cloudwatch:PutDashboard", resource: "arn:aws:cloudwatch::123456789012:dashboard/tierflow-consumer-header"},
		{action: "cloudwatch:PutDashboard", resource: "arn:aws:cloudwatch::123456789012:dashboard/other", deny: true}}},

	// Glue (lake/catalog/glue): the job's database only.
	"glue.GetDatabase":          {role: "task", needs: glueNeeds("glue:GetDatabase")},
	"glue.CreateDatabase":       {role: "task", needs: glueNeeds("glue:CreateDatabase")},
	"glue.GetTable":             {role: "task", needs: glueNeeds("glue:GetTable")},
	"glue.CreateTable":          {role: "task", needs: glueNeeds("glue:CreateTable")},
	"glue.UpdateTable":          {role: "task", needs: glueNeeds("glue:UpdateTable")},
	"glue.DeleteTable":          {role: "task", needs: glueNeeds("glue:DeleteTable")},
	"glue.GetPartition":         {role: "task", needs: glueNeeds("glue:GetPartition")},
	"glue.GetPartitions":        {role: "task", needs: glueNeeds("glue:GetPartitions")},
	"glue.CreatePartition":      {role: "task", needs: glueNeeds("glue:CreatePartition")},
	"glue.BatchCreatePartition": {role: "task", needs: glueNeeds("glue:BatchCreatePartition")},
	"glue.UpdatePartition":      {role: "task", needs: glueNeeds("glue:UpdatePartition")},
	"glue.BatchUpdatePartition": {role: "task", needs: glueNeeds("glue:BatchUpdatePartition")},
	"glue.DeletePartition":      {role: "task", needs: glueNeeds("glue:DeletePartition")},
	"glue.BatchDeletePartition": {role: "task", needs: glueNeeds("glue:BatchDeletePartition")},

	// Athena (lake/engine/athena): the job's workgroup only.
	"athena.StartQueryExecution": {role: "task", needs: athenaNeeds("athena:StartQueryExecution")},
	"athena.GetQueryExecution":   {role: "task", needs: athenaNeeds("athena:GetQueryExecution")},
	"athena.GetQueryResults":     {role: "task", needs: athenaNeeds("athena:GetQueryResults")},
	"athena.StopQueryExecution":  {role: "task", needs: athenaNeeds("athena:StopQueryExecution")},

	// DynamoDB (lake/lineage/dynamo): the job's lineage table and its index.
	"dynamodb.GetItem":        {role: "task", needs: ddbNeeds("dynamodb:GetItem")},
	"dynamodb.PutItem":        {role: "task", needs: ddbNeeds("dynamodb:PutItem")},
	"dynamodb.UpdateItem":     {role: "task", needs: ddbNeeds("dynamodb:UpdateItem")},
	"dynamodb.Query":          {role: "task", needs: ddbNeeds("dynamodb:Query")},
	"dynamodb.BatchGetItem":   {role: "task", needs: ddbNeeds("dynamodb:BatchGetItem")},
	"dynamodb.BatchWriteItem": {role: "task", needs: ddbNeeds("dynamodb:BatchWriteItem")},
	"dynamodb.CreateTable":    {why: "tierflow init, run once by the operator before the first run"},
	"dynamodb.DescribeTable":  {why: "tierflow init (waits for the table); the task role may describe it too"},

	// KMS (runner/pii): the PII key, when the job names one.
	"kms.Decrypt": {role: "task", needs: []need{{action: "kms:Decrypt", resource: "arn:aws:kms:" + acctRegion + ":key/pii"}}},

	// The control plane (runner/deploy*.go, runner/aws*.go).
	"iam.GetRole":                operatorNeeds("iam:GetRole", roleARNs()...),
	"iam.CreateRole":             operatorNeeds("iam:CreateRole", roleARNs()...),
	"iam.UpdateAssumeRolePolicy": operatorNeeds("iam:UpdateAssumeRolePolicy", roleARNs()...),
	"iam.PutRolePolicy":          operatorNeeds("iam:PutRolePolicy", roleARNs()...),
	"ecs.DescribeClusters":       operatorNeeds("ecs:DescribeClusters", "arn:aws:ecs:"+acctRegion+":cluster/tierflow"),
	"ecs.CreateCluster":          operatorNeeds("ecs:CreateCluster", "arn:aws:ecs:"+acctRegion+":cluster/tierflow"),
	"ecs.RegisterTaskDefinition": {role: "operator", needs: []need{{action: "ecs:RegisterTaskDefinition", resource: "*"}, {action: "iam:PassRole", resource: roleARNs()[0]}, {action: "iam:PassRole", resource: roleARNs()[1]}}},
	"sfn.DescribeStateMachine":   operatorNeeds("states:DescribeStateMachine", smARN, intakeSM),
	"sfn.CreateStateMachine":     {role: "operator", needs: []need{{action: "states:CreateStateMachine", resource: smARN}, {action: "iam:PassRole", resource: roleARNs()[2]}, {action: "states:CreateStateMachine", resource: intakeSM}, {action: "iam:PassRole", resource: roleARNs()[4]}}},
	"sfn.UpdateStateMachine":     {role: "operator", needs: []need{{action: "states:UpdateStateMachine", resource: smARN}, {action: "iam:PassRole", resource: roleARNs()[2]}, {action: "states:UpdateStateMachine", resource: intakeSM}, {action: "iam:PassRole", resource: roleARNs()[4]}}},
	"sfn.StartExecution":         operatorNeeds("states:StartExecution", smARN),
	"sfn.DescribeExecution":      operatorNeeds("states:DescribeExecution", execARN),
	"sfn.RedriveExecution":       operatorNeeds("states:RedriveExecution", execARN),
	"sfn.GetExecutionHistory":    operatorNeeds("states:GetExecutionHistory", execARN),
	"sfn.ListMapRuns":            operatorNeeds("states:ListMapRuns", execARN),
	"sfn.DescribeMapRun":         operatorNeeds("states:DescribeMapRun", "arn:aws:states:"+acctRegion+":mapRun:tierflow-consumer-header/Convert:0f3a"),
	"sfn.ListExecutions":         operatorNeeds("states:ListExecutions", smARN),
	"scheduler.GetSchedule":      operatorNeeds("scheduler:GetSchedule", "arn:aws:scheduler:"+acctRegion+":schedule/default/tierflow-consumer-header", lateARN),
	"scheduler.CreateSchedule":   {role: "operator", needs: []need{{action: "scheduler:CreateSchedule", resource: "arn:aws:scheduler:" + acctRegion + ":schedule/default/tierflow-consumer-header"}, {action: "scheduler:CreateSchedule", resource: lateARN}, {action: "iam:PassRole", resource: roleARNs()[3]}}},
	"scheduler.UpdateSchedule":   {role: "operator", needs: []need{{action: "scheduler:UpdateSchedule", resource: "arn:aws:scheduler:" + acctRegion + ":schedule/default/tierflow-consumer-header"}, {action: "scheduler:UpdateSchedule", resource: lateARN}, {action: "iam:PassRole", resource: roleARNs()[3]}}},
	"sts.GetCallerIdentity":      {why: "needs no permission"},

	// The intake trigger (intake.go): its rule, and the lake bucket's
	// notifications, read and written back.
	"eventbridge.DescribeRule": operatorNeeds("events:DescribeRule", intakeRule),
	"eventbridge.PutRule": {role: "operator", needs: []need{{action: "events:PutRule", resource: intakeRule},
		{action: "events:PutRule", resource: "arn:aws:events:" + acctRegion + ":rule/other", deny: true}}},
	"eventbridge.PutTargets": {role: "operator", needs: []need{{action: "events:PutTargets", resource: intakeRule}, {action: "iam:PassRole", resource: roleARNs()[5]},
		{action: "events:PutTargets", resource: "arn:aws:events:" + acctRegion + ":rule/other", deny: true}}},
	"s3.GetBucketNotificationConfiguration": {role: "operator", needs: []need{{action: "s3:GetBucketNotification", resource: bucketARN},
		{action: "s3:GetBucketNotification", resource: "arn:aws:s3:::other-bucket", deny: true}}},
	"s3.PutBucketNotificationConfiguration": {role: "operator", needs: []need{{action: "s3:PutBucketNotification", resource: bucketARN},
		{action: "s3:PutBucketNotification", resource: "arn:aws:s3:::other-bucket", deny: true}}},
}

// sdkCalls finds the SDK operations called by the non-test Go files of
// dirs: every <service>.<Op>Input{ literal and New<Op>Paginator /
// New<Thing>Waiter, where <service> is an aws-sdk-go-v2 service package.
func sdkCalls(t *testing.T, dirs ...string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	waiters := map[string]string{"TableExists": "DescribeTable", "TableNotExists": "DescribeTable", "TasksStopped": "DescribeTasks"}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range file.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				svc, ok := strings.CutPrefix(path, "github.com/aws/aws-sdk-go-v2/service/")
				if !ok || strings.Contains(svc, "/") {
					continue
				}
				alias := svc
				if imp.Name != nil {
					alias = imp.Name.Name
				}
				re := regexp.MustCompile(`\b` + regexp.QuoteMeta(alias) + `\.(?:([A-Z][A-Za-z0-9]*)Input\{|New([A-Z][A-Za-z0-9]*)Paginator\(|New([A-Z][A-Za-z0-9]*)Waiter\()`)
				for _, m := range re.FindAllStringSubmatch(string(src), -1) {
					op := m[1] + m[2]
					if m[3] != "" {
						op = waiters[m[3]]
						if op == "" {
							t.Errorf("%s: waiter %s: add the operation it polls to the waiters map", f, m[3])
							continue
						}
					}
					key := svc + "." + op
					found[key] = append(found[key], f)
				}
			}
		}
	}
	return found
}

// globMatch matches IAM wildcards: * any run, ? one character.
func globMatch(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// allows evaluates a policy's Allow statements (conditions aside: they
// only narrow, and TestPolicyConditions checks them).
func allows(p PolicyDocument, action, resource string) bool {
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			continue
		}
		actionOK, resourceOK := false, false
		for _, a := range st.Action {
			actionOK = actionOK || strings.EqualFold(a, action) || globMatch(strings.ToLower(a), strings.ToLower(action))
		}
		for _, r := range st.Resource {
			resourceOK = resourceOK || globMatch(r, resource)
		}
		if actionOK && resourceOK {
			return true
		}
	}
	return false
}

func testDeployment(t *testing.T) *Deployment {
	t.Helper()
	return testDeploymentWhen(t, jobs.CompleteWhen{})
}

// testDeploymentWhen is testDeployment of the job with source.complete_when
// cw: with one, the deployment has the intake trigger.
func testDeploymentWhen(t *testing.T, cw jobs.CompleteWhen) *Deployment {
	t.Helper()
	spec, err := jobs.Open("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	spec.Source.CompleteWhen = cw
	spec.PII.KMSKeyID = "arn:aws:kms:us-east-1:123456789012:key/pii"
	d, err := NewDeployment(spec, Options{Job: "consumer-header", Lake: "s3://lake-bucket/prod", Image: deploytest.Image, Subnets: []string{"subnet-0a"}}, "aws", "us-east-1", "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPolicyCoversEveryCall(t *testing.T) {
	calls := sdkCalls(t, "../../lake/storage/s3", "../../lake/catalog/glue", "../../lake/engine/athena", "../../lake/lineage/dynamo", "../pii", "..", ".")
	for _, must := range []string{"s3.GetObject", "glue.CreateTable", "athena.StartQueryExecution", "dynamodb.PutItem", "sfn.StartExecution", "iam.PutRolePolicy", "scheduler.CreateSchedule", "ecs.RegisterTaskDefinition"} {
		if _, ok := calls[must]; !ok {
			t.Errorf("the scan missed %s: is it still called? (scan broken?)", must)
		}
	}
	for op := range operations {
		if _, ok := calls[op]; !ok {
			t.Errorf("the operations table lists %s, which the code no longer calls: remove it (and its permission if nothing else needs it)", op)
		}
	}
	d := testDeploymentWhen(t, jobs.CompleteWhen{Marker: "_SUCCESS"})
	policies := map[string]PolicyDocument{"task": d.TaskRole.Policy, "operator": d.Operator}
	var ops []string
	for op := range calls {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		use, ok := operations[op]
		if !ok {
			t.Errorf("%s (called in %s) is not in the operations table: say which role needs which permission", op, strings.Join(calls[op], ", "))
			continue
		}
		if use.role == "" {
			continue
		}
		for _, n := range use.needs {
			if got := allows(policies[use.role], n.action, n.resource); got == n.deny {
				verb := "does not allow"
				if n.deny {
					verb = "allows"
				}
				t.Errorf("%s: the %s policy %s %s on %s", op, use.role, verb, n.action, n.resource)
			}
		}
	}
}

// TestStateMachineRoleCoversTheDefinition: every service integration in
// the rendered definition is allowed to the state machine's role, and the
// schedule's role may start it.
func TestStateMachineRoleCoversTheDefinition(t *testing.T) {
	d := testDeployment(t)
	p := d.Params
	p.TaskDefinition = "arn:aws:ecs:us-east-1:123456789012:task-definition/tierflow-consumer-header:7"
	def, err := statemachines.Render(d.Spec, p)
	if err != nil {
		t.Fatal(err)
	}
	meta := "arn:aws:s3:::lake-bucket/prod/_tierflow/executions/consumer-header/consumer-header-2020-03-r1/"
	integrations := map[string][]need{
		"arn:aws:states:::ecs:runTask.sync": {
			{action: "ecs:RunTask", resource: p.TaskDefinition},
			{action: "ecs:RunTask", resource: "arn:aws:ecs:us-east-1:123456789012:task-definition/other:1", deny: true},
			{action: "ecs:DescribeTasks", resource: "arn:aws:ecs:us-east-1:123456789012:task/tierflow/0f3a"},
			{action: "ecs:StopTask", resource: "arn:aws:ecs:us-east-1:123456789012:task/tierflow/0f3a"},
			{action: "events:PutRule", resource: "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule"},
			{action: "events:PutTargets", resource: "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule"},
			{action: "events:DescribeRule", resource: "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule"},
			{action: "iam:PassRole", resource: d.RoleARN(d.TaskRole)},
			{action: "iam:PassRole", resource: d.RoleARN(d.ExecRole)},
			{action: "iam:PassRole", resource: d.RoleARN(d.StateMachineRole), deny: true},
		},
		"arn:aws:states:::aws-sdk:s3:getObject": {{action: "s3:GetObject", resource: meta + "plan.json"}, {action: "s3:GetObject", resource: objIntake, deny: true}},
		"arn:aws:states:::s3:getObject":         {{action: "s3:GetObject", resource: meta + "parts.json"}, {action: "s3:GetObject", resource: meta + "derive.json"}},
		"arn:aws:states:::aws-sdk:s3:putObject": {{action: "s3:PutObject", resource: meta + "error.json"}, {action: "s3:PutObject", resource: objTier2, deny: true}},
		"arn:aws:states:::athena:startQueryExecution.sync": {
			{action: "athena:StartQueryExecution", resource: "arn:aws:athena:us-east-1:123456789012:workgroup/primary"},
			{action: "athena:GetQueryExecution", resource: "arn:aws:athena:us-east-1:123456789012:workgroup/primary"},
			{action: "athena:StopQueryExecution", resource: "arn:aws:athena:us-east-1:123456789012:workgroup/primary"},
			// Athena runs the CTAS as this role: reads tier 2, writes tier 3.
			{action: "glue:GetTable", resource: glueTable}, {action: "glue:CreateTable", resource: glueTable},
			{action: "s3:GetObject", resource: objTier2}, {action: "s3:PutObject", resource: objTier3},
			{action: "s3:PutObject", resource: objTier2, deny: true}, {action: "s3:ListBucket", resource: bucketARN},
		},
		// One message per finished run to the job's topic.
		"arn:aws:states:::sns:publish": {{action: "sns:Publish", resource: topicARN}, {action: "sns:Publish", resource: topicARN + "-other", deny: true}},
		// Distributed Map: child executions of the state machine itself.
		"map:DISTRIBUTED": {
			{action: "states:StartExecution", resource: smARN},
			{action: "states:DescribeExecution", resource: execARN},
			{action: "states:StopExecution", resource: "arn:aws:states:us-east-1:123456789012:execution:tierflow-consumer-header/Convert:0f3a"},
		},
	}
	var doc any
	if err := json.Unmarshal(def, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["Resource"].(string); ok {
				seen[r] = true
			}
			if x["Mode"] == "DISTRIBUTED" {
				seen["map:DISTRIBUTED"] = true
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	for r := range seen {
		needs, ok := integrations[r]
		if !ok {
			t.Errorf("the definition uses %s: add what it needs to this test and to the state machine policy", r)
			continue
		}
		for _, n := range needs {
			if got := allows(d.StateMachineRole.Policy, n.action, n.resource); got == n.deny {
				t.Errorf("%s: state machine role allows %s on %s: %v, want %v", r, n.action, n.resource, got, !n.deny)
			}
		}
	}
	if !allows(d.SchedulerRole.Policy, "states:StartExecution", smARN) || allows(d.SchedulerRole.Policy, "states:StartExecution", smARN+"-other") {
		t.Error("scheduler role: StartExecution on the state machine only")
	}
	// The late check: the schedule's role runs the job's task definition
	// and hands it the task roles.
	if !allows(d.SchedulerRole.Policy, "ecs:RunTask", "arn:aws:ecs:us-east-1:123456789012:task-definition/tierflow-consumer-header:3") ||
		allows(d.SchedulerRole.Policy, "ecs:RunTask", "arn:aws:ecs:us-east-1:123456789012:task-definition/other:1") ||
		!allows(d.SchedulerRole.Policy, "iam:PassRole", d.RoleARN(d.TaskRole)) || allows(d.SchedulerRole.Policy, "iam:PassRole", d.RoleARN(d.StateMachineRole)) {
		t.Error("scheduler role: the late check runs the job's task definition with its task roles, nothing else")
	}
	repo := "arn:aws:ecr:us-east-1:123456789012:repository/tierflow"
	if !allows(d.ExecRole.Policy, "ecr:BatchGetImage", repo) || allows(d.ExecRole.Policy, "ecr:BatchGetImage", repo+"-other") ||
		!allows(d.ExecRole.Policy, "logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/tierflow/consumer-header:log-stream:tierflow/tierflow/abc") {
		t.Error("execution role: pull the image's repository, write the job's log group")
	}
}

// TestPolicyConditions checks the conditions that narrow the policies.
func TestPolicyConditions(t *testing.T) {
	d := testDeployment(t)
	var list *Statement
	for i, st := range d.TaskRole.Policy.Statement {
		if contains(st.Action, "s3:ListBucket") {
			list = &d.TaskRole.Policy.Statement[i]
		}
	}
	if list == nil {
		t.Fatal("no ListBucket statement")
	}
	prefixes, _ := list.Condition["StringLikeIfExists"]["s3:prefix"].([]string)
	for _, want := range []string{"prod/intake/consumer/*", "prod/tier1/consumer-header/*", "prod/tier2/consumer_header/*", "prod/tier3/consumer_ca/*", "prod/tier3/consumer_ca_deid/*", "prod/_tierflow/*"} {
		if !contains(prefixes, want) {
			t.Errorf("ListBucket prefixes %v lack %s", prefixes, want)
		}
	}
	for _, p := range prefixes {
		if !strings.HasPrefix(p, "prod/") {
			t.Errorf("ListBucket prefix %s outside the lake", p)
		}
	}
	for _, r := range d.Roles() {
		tp := d.TrustPolicy(*r)
		if tp.Statement[0].Principal["Service"] != r.Service || tp.Statement[0].Condition["StringEquals"]["aws:SourceAccount"] != "123456789012" {
			t.Errorf("trust of %s: %+v", r.Name, tp)
		}
	}
	// A KMS alias is authorised through kms:ResourceAliases.
	d.Spec.AWS.KMSKeyID = "alias/lake"
	d.Params.KMSKeyID = "alias/lake"
	d.policies()
	var byAlias bool
	for _, st := range d.TaskRole.Policy.Statement {
		if v, ok := st.Condition["ForAnyValue:StringEquals"]["kms:ResourceAliases"]; ok && contains(v.([]string), "alias/lake") && contains(st.Action, "kms:GenerateDataKey") {
			byAlias = true
		}
	}
	if !byAlias {
		t.Error("an alias key id is not granted through kms:ResourceAliases")
	}
	b, _ := json.Marshal(d.TaskRole.Policy)
	if len(b) > 10240 {
		t.Errorf("task policy is %d bytes; IAM's inline limit is 10240", len(b))
	}
}
