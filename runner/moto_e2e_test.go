//go:build cgo && !noduckdb

package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/jobstest"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/catalog/glue"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/lineage/dynamo"
	"github.com/tierflow/tierflow/lake/mototest"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/s3"
	"github.com/tierflow/tierflow/runner/deploy"
	"github.com/tierflow/tierflow/runner/deploy/deploytest"
)

const athenaS3 = "Athena's own S3 access, which its documentation asks of the caller (multipart uploads, cleanup of a failed write, the result bucket's location); the DuckDB stand-in makes single PUTs"

// justifiedGrants are the generated grants no request of TestEndToEndMoto
// needs, each with why it is granted all the same. Keys are
// ROLE/SID/ACTION, or ROLE/SID/* for a whole statement.
var justifiedGrants = map[string]string{
	// Made by AWS services, not by tierflow's code, so no test of the code
	// makes them.
	"exec/WriteTheJobsLogs/*":                                 "the ECS agent ships the container's logs (awslogs driver)",
	"exec/PullTheImage/*":                                     "the ECS agent pulls the image from ECR",
	"exec/LogInToECR/*":                                       "the ECS agent logs in to ECR",
	"scheduler/StartTheMonthlyRun/*":                          "EventBridge Scheduler starts the monthly execution",
	"scheduler/RunTheLateCheck/*":                             "EventBridge Scheduler runs the hourly late check's task",
	"scheduler/PassTheLateChecksRoles/*":                      "EventBridge Scheduler hands the late check's task its roles",
	"statemachine/NotifyFinishedRuns/*":                       "Step Functions publishes each finished run's message (sns:publish); moto's Step Functions does not execute the definition",
	"statemachine/RunTheJobsTasks/*":                          "Step Functions runs the ECS tasks (ecs:runTask.sync)",
	"statemachine/FollowTheJobsTasks/*":                       "Step Functions follows and stops them (ecs:runTask.sync)",
	"statemachine/EcsSyncRule/*":                              "Step Functions' managed EventBridge rule for ecs:runTask.sync",
	"statemachine/PassTheTaskRoles/*":                         "Step Functions passes the task roles to ECS in RunTask",
	"statemachine/ExecutionState/*":                           "the Distributed Maps' ItemReaders and ResultWriter read and write the execution's files",
	"statemachine/DistributedMapChildren/*":                   "Distributed Map items run as child executions",
	"statemachine/DistributedMapRuns/*":                       "Step Functions follows, stops and redrives the map runs",
	"statemachine/DeriveWithAthena/athena:StopQueryExecution": "Step Functions stops a running query when the execution is stopped",
	"statemachine/DeriveWithAthena/athena:GetWorkGroup":       "athena:startQueryExecution.sync reads the workgroup's settings",
	// Athena's own requests, made with the state machine role's (or, for
	// tierflow run, the task's) permissions; the DuckDB stand-in makes
	// only some of them.
	"statemachine/CtasWriteTier3/s3:AbortMultipartUpload":         athenaS3,
	"statemachine/CtasWriteTier3/s3:DeleteObject":                 athenaS3,
	"statemachine/CtasWriteTier3/s3:GetObject":                    athenaS3,
	"statemachine/CtasWriteTier3/s3:ListMultipartUploadParts":     athenaS3,
	"statemachine/WriteAthenaResults/s3:AbortMultipartUpload":     athenaS3,
	"statemachine/WriteAthenaResults/s3:GetObject":                athenaS3,
	"statemachine/WriteAthenaResults/s3:ListMultipartUploadParts": athenaS3,
	"statemachine/ListAthenaResults/s3:GetBucketLocation":         athenaS3,
	"statemachine/CtasCatalog/glue:GetPartition":                  "Athena's documented Glue permissions for reading partitioned tables; the stand-in lists partitions (GetPartitions)",
	"statemachine/CtasCatalog/glue:BatchCreatePartition":          "Athena registers the partitions of a CTAS with partitioned_by (lake/engine/athena/plan.go); the shipped job's derived tables have none",
	"statemachine/CtasCatalog/glue:DeleteTable":                   "UNVERIFIED: for Athena cleaning up after a failed CTAS; no local server can show whether Athena needs it",
	// Paths of the code this test does not take.
	"task/QueryInTheJobsWorkgroup/*":                         "tierflow run (not the state machine) derives through Athena from the task; TestEndToEndAWS covers that path against awsfake's Athena",
	"task/WriteAthenaResults/*":                              "tierflow run derives through Athena from the task (above)",
	"task/ListAthenaResults/*":                               "tierflow run derives through Athena from the task (above)",
	"task/WriteTheJobsTiers/s3:AbortMultipartUpload":         "a failed or killed multipart upload, and gc of one (TestKilledRunS3 covers it against versitygw)",
	"task/CatalogTheJobsDatabase/glue:CreateDatabase":        "tierflow init creates the job's database (here the test's setup does)",
	"task/CatalogTheJobsDatabase/glue:GetTables":             "the catalog lists tables for gc of scratch tables left by crashed runs",
	"task/CatalogTheJobsDatabase/glue:CreatePartition":       "PutPartition of one partition (rollback, repair)",
	"task/CatalogTheJobsDatabase/glue:UpdateTable":           "a month's second publish replaces the table's definition; this test publishes each month once (the crash-point suites republish, against the open moto)",
	"task/CatalogTheJobsDatabase/glue:UpdatePartition":       "a month's second publish, a rollback or a repair switches an existing partition (the crash-point suites do, against the open moto)",
	"task/CheckTheMonthsHolder/states:DescribeExecution":     "a month held by an execution that stopped is taken over (TestStoppedExecutionTakenOver, against awsfake's Step Functions)",
	"task/CatalogTheJobsDatabase/glue:DeletePartition":       "DeletePartition (rollback to no run, gc)",
	"task/CatalogTheJobsDatabase/glue:BatchUpdatePartition":  "republishing partitions that exist (run --force, rollback)",
	"task/CatalogTheJobsDatabase/glue:BatchDeletePartition":  "dropping many partitions at once (gc, rollback)",
	"task/RecordLineage/dynamodb:BatchGetItem":               "reading many runs' records at once (runs, lineage over many runs)",
	"task/RecordLineage/dynamodb:DescribeTable":              "the table-exists waiter of tierflow init",
	"operator/ManageTheJobsRoles/iam:UpdateAssumeRolePolicy": "deploy repairs a role whose trust policy changed; both deploys here find it unchanged",
	"operator/FollowExecutions/*":                            "run --on aws, runs and status follow executions; moto's Step Functions does not execute the definition",
	"operator/FollowMapRuns/*":                               "status lists the map runs of an execution; moto's Step Functions does not execute the definition",
	"operator/ManageTheStateMachine/states:StartExecution":   "run --on aws starts executions; moto's Step Functions does not execute the definition",
	"operator/ManageTheStateMachine/states:ListExecutions":   "runs --on aws lists executions",
	"operator/ManageTheStateMachine/states:ListMapRuns":      "status lists the map runs of an execution",
	"operator/ReadLineage/*":                                 "runs and status --on aws read lineage",
	"operator/ManageTheSubscriptions/*":                      "deploy updates and removes the subscriptions of an earlier deploy; the shipped job subscribes no one (runner/deploy's TestDeployOpsResources covers them against moto)",
	"operator/ManageTheTopic/sns:Subscribe":                  "the shipped job subscribes no one (TestDeployOpsResources covers it)",
	"intake/StartTheJobsMonth/*":                             "the intake state machine starts the job's executions (states:startExecution)",
	"events/StartTheIntakeCheck/*":                           "the EventBridge rule starts the intake state machine",
}

// motoEnv is the AWS end-to-end setup on moto: S3 and Scheduler on the
// open moto (when enforcing IAM, its S3 miscomputes SigV4 for
// ListObjectsV2 prefixes holding "/", its Scheduler for every request),
// everything else on the moto that enforces IAM, with one IAM user per
// role holding exactly the policy tierflow iam-policy generates for it,
// and Athena on awsfake (no local server executes queries), whose CTAS
// DuckDB runs and registers in moto's Glue. Every request goes through
// the recorder.
type motoEnv struct {
	rec             *iamRecorder
	iam             *mototest.IAMServer
	admin           aws.Config
	s3URL, iamURL   string
	athena          *awsfake.Server
	athenaURL       string
	policies        map[string]deploy.PolicyDocument
	creds           map[string]aws.CredentialsProvider
	bucket, lakeURI string
	kmsKey          string // the lake's
	base            string // deploy's resource base name: fresh, as moto outlives a test
	job             string // the job file deploy reads: the shipped job with complete_when
}

// deployOptions deploys the shipped job, with source.complete_when (so
// with the intake trigger), on the test's lake, under the test's base
// name.
func (m *motoEnv) deployOptions() deploy.Options {
	return deploy.Options{Job: m.job, JobURI: "s3://" + m.bucket + "/jobs/consumer-header.yaml", Lake: m.lakeURI, Image: deploytest.Image, Name: m.base, Cluster: m.base,
		Subnets: []string{"subnet-0a"}, SecurityGroups: []string{"sg-0c"}}
}

// motoCompleteWhen is the test job's: the two parts each month gets.
const motoCompleteWhen = "{parts: 2}"

// motoView is a policy as moto 5.2.1 can enforce it: the same actions,
// on every resource, without conditions. moto authorizes Glue, DynamoDB,
// KMS, Step Functions, ECS and Scheduler calls against the resource "*"
// (and IAM's against "*" until the role exists), so a statement scoped to
// ARNs would deny everything; it evaluates no condition keys of ours.
// moto checks the actions, iam-simulate the resources and conditions.
//
// moto 5.2.1 also checks CloudWatch calls as "monitoring:<Op>" (CloudWatch's
// SigV4 signing name) where IAM has "cloudwatch:<Op>": the view grants
// both spellings.
func motoView(p deploy.PolicyDocument) deploy.PolicyDocument {
	out := deploy.PolicyDocument{Version: p.Version}
	for _, st := range p.Statement {
		actions := slices.Clone(st.Action)
		for _, a := range st.Action {
			if op, ok := strings.CutPrefix(a, "cloudwatch:"); ok {
				actions = append(actions, "monitoring:"+op)
			}
		}
		out.Statement = append(out.Statement, deploy.Statement{Sid: st.Sid, Effect: st.Effect, Action: actions, Resource: []string{"*"}})
	}
	return out
}

// config reaches the enforcing moto's proxy as role.
func (m *motoEnv) config(t *testing.T, role string) aws.Config {
	t.Helper()
	return m.configAt(t, role, m.iamURL)
}

// configAt reaches endpoint as role. (The endpoint must be set here: one
// set in awsconfig.Load wins over a later cfg.BaseEndpoint.)
func (m *motoEnv) configAt(t *testing.T, role, endpoint string) aws.Config {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{
		Region: mototest.Region, Endpoint: endpoint, Credentials: m.creds[role], MaxBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// actAs sets the environment the code under test reads its configuration
// from (awsconfig's standard chain) to role's credentials and the proxies.
func (m *motoEnv) actAs(t *testing.T, role string) {
	t.Helper()
	c, err := m.creds[role].Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": c.AccessKeyID, "AWS_SECRET_ACCESS_KEY": c.SecretAccessKey, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": mototest.Region, "AWS_ENDPOINT_URL": m.iamURL, "AWS_ENDPOINT_URL_S3": m.s3URL,
		"AWS_ENDPOINT_URL_GLUE": m.iamURL, "AWS_ENDPOINT_URL_DYNAMODB": m.iamURL, "AWS_ENDPOINT_URL_KMS": m.iamURL,
		"AWS_ENDPOINT_URL_ATHENA": m.athenaURL, awsconfig.EnvPathStyle: "1",
		// moto 5.2.1's Scheduler, like its S3, fails SigV4 checks of its own
		// clients' requests when enforcing IAM.
		"AWS_ENDPOINT_URL_SCHEDULER": m.s3URL,
		"AWS_PROFILE":                "", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	} {
		t.Setenv(k, v)
	}
}

func newMotoEnv(t *testing.T) (*motoEnv, *Env, *jobs.Spec) {
	ctx := context.Background()
	m := &motoEnv{iam: mototest.EnforcingIAM(t), rec: newIAMRecorder(t, mototest.Region, mototest.AccountID)}
	m.admin = m.iam.AdminConfig(t)
	m.s3URL = m.rec.proxy(mototest.Endpoint(t))
	m.iamURL = m.rec.proxy(m.iam.Endpoint)
	m.bucket = mototest.Name("tierflow-moto")
	m.base = mototest.Name("tf")
	m.lakeURI = "s3://" + m.bucket + "/lake"
	m.job = jobstest.WithCompleteWhen(t, "consumer-header", motoCompleteWhen)

	// The lake's SSE-KMS key and the key that encrypts the PII HMAC key.
	kc := kms.NewFromConfig(m.admin)
	newKey := func(what string) string {
		k, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(what)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.Arn)
	}
	spec := awsSpec(t, m.bucket)
	spec.Source.CompleteWhen = jobs.CompleteWhen{Parts: 2}
	spec.AWS.KMSKeyID = newKey("tierflow lake")
	m.kmsKey = spec.AWS.KMSKeyID
	spec.PII.KMSKeyID = newKey("tierflow PII HMAC key")
	enc, err := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: &spec.PII.KMSKeyID, Plaintext: bytes.Repeat([]byte{0xab}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	spec.PII.KeyFile, spec.PII.KeyPath, spec.PII.EncryptedKey = "", "", enc.CiphertextBlob

	// The roles' policies, as tierflow iam-policy prints them.
	d, err := deploy.NewDeployment(spec, m.deployOptions(), "aws", mototest.Region, mototest.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	m.policies = map[string]deploy.PolicyDocument{
		"task": d.TaskRole.Policy, "statemachine": d.StateMachineRole.Policy, "exec": d.ExecRole.Policy,
		"scheduler": d.SchedulerRole.Policy, "operator": d.Operator, "intake": d.IntakeRole.Policy, "events": d.EventsRole.Policy,
	}
	m.creds = map[string]aws.CredentialsProvider{}
	for role, p := range m.policies {
		m.creds[role] = m.iam.Credentials(t, "tierflow-"+role, motoView(p).JSON())
		c, err := m.creds[role].Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.rec.role(c.AccessKeyID, role)
	}

	// What tierflow init and the partner do, as the admin (not recorded).
	open := mototest.Config(t)
	if _, err := awss3.NewFromConfig(open, func(o *awss3.Options) { o.UsePathStyle = true }).
		CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &m.bucket}); err != nil {
		t.Fatal(err)
	}
	if err := dynamo.New(m.admin, spec.AWS.LineageTable).CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := glue.New(m.admin, glue.Options{}).EnsureDatabase(ctx, spec.Database); err != nil {
		t.Fatal(err)
	}
	intake, err := s3.New(ctx, open, m.lakeURI, s3.Options{UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, month := range []string{testMonth, "2020-04"} {
		if _, err := synth.Generate(ctx, intake, spec, synth.Options{Rows: 2000, Parts: 2, Seed: 3, Month: month}); err != nil {
			t.Fatal(err)
		}
	}

	// Athena: awsfake executes, as the state machine's role.
	m.athena = awsfake.New(t)
	sm, err := m.creds["statemachine"].Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.athena.UseCredentials(sm.AccessKeyID, sm.SecretAccessKey)
	fake := awsfake.NewAthena(m.athena, awsglue.NewFromConfig(m.config(t, "statemachine")))
	m.athenaURL = m.rec.proxy(m.athena.URL())
	fake.SetExecutor(m.ctasExecutor(t, fake))

	m.actAs(t, "task")
	env, err := OpenEnv(ctx, spec, m.lakeURI, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	return m, env, spec
}

// ctasExecutor stands in for Athena's engine, as mirrorExecutor does, with
// Athena's own access: the state machine role's, which started the query,
// so that what Athena reads and writes is checked against that role's
// policy. It copies the tables the SELECT names from moto into a
// temporary local lake, runs it with DuckDB and uploads the result.
func (m *motoEnv) ctasExecutor(t *testing.T, fake *awsfake.Athena) awsfake.Executor {
	return func(ctx context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		c := q.CTAS
		if c == nil {
			return awsfake.AthenaResult{}, &awsfake.QueryError{Category: 2, Type: 1000, Message: "only CTAS statements are executed"}
		}
		cfg := m.config(t, "statemachine")
		cat := glue.New(cfg, glue.Options{})
		s3cfg := m.configAt(t, "statemachine", m.s3URL)
		enc := s3.Options{UsePathStyle: true, KMSKeyID: m.kmsKey, KMSBucketKey: true}
		st, err := s3.New(ctx, s3cfg, m.lakeURI, enc)
		if err != nil {
			return awsfake.AthenaResult{}, err
		}
		// Athena writes each query's metadata beside its results.
		results, err := s3.New(ctx, s3cfg, strings.TrimSuffix(q.OutputLocation, "/"), enc)
		if err != nil {
			return awsfake.AthenaResult{}, err
		}
		if err := storage.Put(ctx, results, q.ID+".csv.metadata", strings.NewReader(c.Select), storage.PutOptions{}); err != nil {
			return awsfake.AthenaResult{}, err
		}
		return ctasOnDuckDB(ctx, t, c, []string{c.Database}, fake.TableNames, cat, st)
	}
}

// TestEndToEndMoto drives an execution the way the state machine does
// (plan, a convert per part, stage, the derive queries on Athena as
// athena:startQueryExecution.sync runs them, publish; then a failing
// execution through finish) and deploys the job twice (create, then
// update), against AWS implementations written by others (moto), each
// step with credentials that hold exactly its role's generated policy.
// Then it asks a real IAM policy engine (iam-simulate) about every request
// made: each must be allowed by its role's policy, and every action the
// policies grant must have been needed by some request (or be justified
// in justifiedGrants).
func TestEndToEndMoto(t *testing.T) {
	m, env, spec := newMotoEnv(t)
	ctx := context.Background()

	const exec = "consumer-header-2020-03-m1"
	if _, err := PlanStep(ctx, env, spec, testMonth, exec, false, time.Hour); err != nil {
		t.Fatal(err)
	}
	parts, items := convertAndStage(ctx, t, env, spec, exec)
	if len(parts) != 2 {
		t.Fatalf("parts.json: %v", parts)
	}
	if len(items) != len(spec.Derived) {
		t.Fatalf("derive.json: %d items for %d derived tables", len(items), len(spec.Derived))
	}
	client := awsathena.NewFromConfig(m.configAt(t, "statemachine", m.athenaURL))
	for _, it := range items {
		runAthena(t, client, it.Query, spec)
	}
	if err := step(ctx, env, spec, exec, func(j *job) error { _, err := j.finish(ctx, j.publishStep(ctx)); return err }); err != nil {
		t.Fatalf("publish: %v", err)
	}
	ex, _ := LoadExec(ctx, env.Storage, spec.Name, exec)
	r, err := env.Lineage.GetRun(ctx, spec.Name, ex.RunID)
	if err != nil || r.Status != lineage.StatusComplete || r.RowsOut != 2000 {
		t.Fatalf("run after publish: %+v %v", r, err)
	}
	want, _ := csvStateCounts(t, env.Storage, spec)
	if got := readPartitionStates(t, env, spec.Database, spec.Derived[0].Table); got["CA"] != want["CA"] || len(got) != 1 {
		t.Errorf("derived table after the steps: %v, want CA=%d", got, want["CA"])
	}

	// A failing execution: one part converted, then the Catch runs finish.
	const bad = "consumer-header-2020-04-m1"
	if _, err := PlanStep(ctx, env, spec, "2020-04", bad, false, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := step(ctx, env, spec, bad, func(j *job) error { return j.partStep(ctx, j.plan.Parts[0].Key, io.Discard) }); err != nil {
		t.Fatal(err)
	}
	cause := `{"Error":"States.TaskFailed","Cause":"part-0002: ECS task stopped"}`
	if err := step(ctx, env, spec, bad, func(j *job) error { return j.finishStep(ctx, cause, io.Discard) }); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{"2020-04"}); err == nil {
		t.Error("failed execution published 2020-04")
	}

	// Lineage of the derived table (BatchGetItem), then gc (incomplete
	// uploads, the failed run's leftovers), as the task's role.
	if _, err := loadGraph(ctx, env, spec, TableURI(spec.Database, spec.Derived[0].Table)); err != nil {
		t.Fatal(err)
	}
	if _, err := GC(ctx, env, spec, GCOptions{Keep: 0, TempAge: time.Nanosecond}); err != nil {
		t.Fatalf("gc: %v", err)
	}

	// Deploy, as the operator: creates everything, then updates it.
	m.actAs(t, "operator")
	for range 2 {
		var out bytes.Buffer
		o := m.deployOptions()
		o.IAMPropagation, o.Log, o.Stdout = 5*time.Second, zerolog.Nop(), &out
		if err := deploy.Apply(ctx, o); err != nil {
			t.Fatalf("deploy: %v", err)
		}
	}

	m.checkPolicies(t)
}

// checkPolicies evaluates every recorded request with iam-simulate.
func (m *motoEnv) checkPolicies(t *testing.T) {
	t.Helper()
	reqs := m.rec.requests()
	verdicts, distinct := simulate(t, m.policies, reqs)
	denied := 0
	for _, q := range distinct {
		if v := verdicts[requestKey(q)]; v.Result != "Allowed" {
			denied++
			ctx, _ := json.Marshal(q.Context)
			t.Errorf("%s: %s (%s) on %s %s: %s %s", q.Role, q.Action, q.Call, q.Resource, ctx, v.Result, v.Error)
		}
	}
	unused := unusedGrants(m.policies, reqs, verdicts, justifiedGrants)
	for _, g := range unused {
		t.Errorf("granted but needed by no request: %s", g)
	}
	t.Logf("iam-simulate: %d requests (%d distinct) evaluated, %d denied; %d grants unused", len(reqs), len(distinct), denied, len(unused))
	if len(reqs) == 0 {
		t.Error("no request recorded")
	}
}
