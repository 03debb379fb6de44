// Package deploytest holds what the tests of deploy and of runner's AWS
// orchestration (run --on aws, runs, status) share: an awsfake server with
// the control-plane services they call, and a moto account for the
// operations resources awsfake does not serve. Only tests import it.
package deploytest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/mototest"
)

// Image is a container image in ECR, as a deployment under test names it.
const Image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tierflow:1.0"

// Orchestration is an awsfake server with Step Functions, ECS, EventBridge
// Scheduler and IAM, and the aws.Config that reaches them.
type Orchestration struct {
	Srv   *awsfake.Server
	SFN   *awsfake.StepFunctions
	ECS   *awsfake.ECS
	Sched *awsfake.Scheduler
	IAM   *awsfake.IAM
	Cfg   aws.Config
}

// New starts an Orchestration for the test; it stops with the test.
func New(tb testing.TB) *Orchestration {
	tb.Helper()
	srv := awsfake.New(tb)
	return &Orchestration{
		Srv: srv, SFN: awsfake.NewStepFunctions(srv), ECS: awsfake.NewECS(srv), Sched: awsfake.NewScheduler(srv), IAM: awsfake.NewIAM(srv),
		Cfg: srv.Config(),
	}
}

// Ops is where a deploy under test puts the operations resources awsfake
// does not serve (the SNS topic, CloudWatch alarms and dashboard, the lake
// bucket's lifecycle rules): a fresh account of moto, holding a fresh lake
// bucket. Pass Cfg as deploy's OpsAWS and Lake as its lake.
type Ops struct {
	Cfg    aws.Config
	Bucket string
	Lake   string // s3://Bucket/prod
}

// NewOps creates the account's lake bucket; S3 is addressed path-style
// (moto), for deploy too.
func NewOps(t *testing.T) Ops {
	t.Helper()
	cfg := mototest.NewAccount(t)
	t.Setenv(awsconfig.EnvPathStyle, "1")
	bucket := mototest.Name("tierflow-deploy")
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	return Ops{Cfg: cfg, Bucket: bucket, Lake: "s3://" + bucket + "/prod"}
}
