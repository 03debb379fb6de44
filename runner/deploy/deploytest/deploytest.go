// Package deploytest holds what the tests of deploy and of runner's AWS
// orchestration (run --on aws, runs, status) share: the control plane they
// call. Only tests import it.
package deploytest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/mototest"
)

// Image is a container image in ECR, as a deployment under test names it.
const Image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tierflow:1.0"

// Orchestration is the control plane: moto's IAM, STS, ECS, EventBridge
// Scheduler and Step Functions state machines, in a fresh account, behind
// an awsfake server, which checks and logs every request and runs the
// executions (moto's do not go through states, map runs or redrives);
// and the aws.Config that reaches it.
type Orchestration struct {
	Srv  *awsfake.Server
	SFN  *awsfake.StepFunctions
	Acct awsfake.Account // the moto account, reached directly
	Cfg  aws.Config
}

// New starts an Orchestration for the test; it stops with the test. Like
// awsfake.OnMoto it skips the test when moto is not running, and fails it
// in CI.
func New(tb testing.TB) *Orchestration {
	tb.Helper()
	srv, acct := awsfake.OnMoto(tb)
	return &Orchestration{Srv: srv, SFN: awsfake.NewStepFunctions(srv, sfn.NewFromConfig(acct.Config)), Acct: acct, Cfg: srv.Config()}
}

// StateMachineARN is the ARN the shipped job's state machine has once
// deployed.
func (o *Orchestration) StateMachineARN() string {
	return "arn:aws:states:" + awsfake.Region + ":" + o.Acct.ID + ":stateMachine:tierflow-consumer-header"
}

// LakeBucket creates a fresh lake bucket in the moto account and returns
// the lake URI s3://<bucket>/prod: deploy merges the job's lifecycle rules
// into the lake bucket's, so the bucket must exist (as it must on AWS).
// S3 is addressed path-style (moto), for deploy too.
func (o *Orchestration) LakeBucket(t *testing.T) string {
	t.Helper()
	t.Setenv(awsconfig.EnvPathStyle, "1")
	bucket := mototest.Name("tierflow-deploy")
	if _, err := s3.NewFromConfig(o.Acct.Config, func(so *s3.Options) { so.UsePathStyle = true }).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	return "s3://" + bucket + "/prod"
}
