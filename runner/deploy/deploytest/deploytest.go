// Package deploytest holds what the tests of deploy and of runner's AWS
// orchestration (run --on aws, runs, status) share: an awsfake server with
// the control-plane services they call. Only tests import it.
package deploytest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tierflow/tierflow/lake/awsfake"
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
