package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/awsconfig"
)

// Clients holds the control-plane clients of deploy, run --on aws, runs
// and status.
type Clients struct {
	// Config is the configuration every client was built from.
	Config aws.Config
	// SFN is Step Functions, where run --on aws, runs and status follow
	// the executions.
	SFN   *sfn.Client
	ecs   *ecs.Client
	sched *scheduler.Client
	iam   *iam.Client
	sts   *sts.Client
	sns   *sns.Client
	cw    *cloudwatch.Client
	// events and s3 set up the intake trigger (intake.go).
	events *eventbridge.Client
	s3     *s3.Client
}

// NewClients builds the clients: from override (tests) or the SDK's
// standard chain, in region (default: the job's aws.region, then the
// chain's).
func NewClients(ctx context.Context, override *aws.Config, spec *jobs.Spec, region string, log zerolog.Logger) (*Clients, error) {
	if region == "" {
		region = spec.AWS.Region
	}
	var cfg aws.Config
	if override != nil {
		cfg = override.Copy()
		if region != "" {
			cfg.Region = region
		}
	} else {
		var err error
		if cfg, err = awsconfig.Load(ctx, awsconfig.Options{Region: region, Logger: awsconfig.ZerologLogger(log)}); err != nil {
			return nil, fmt.Errorf("aws config: %w", err)
		}
	}
	a := &Clients{
		Config: cfg, SFN: sfn.NewFromConfig(cfg), ecs: ecs.NewFromConfig(cfg), sched: scheduler.NewFromConfig(cfg),
		iam: iam.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg), events: eventbridge.NewFromConfig(cfg),
		s3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = awsconfig.PathStyle(os.Getenv) }),
		sns: sns.NewFromConfig(cfg),
		// CloudWatch speaks the Query protocol as well as the SDK's
		// default CBOR; moto (the tests' CloudWatch) speaks only Query.
		cw: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801) }),
	}
	return a, nil
}

// Account returns the given account, or the caller's.
func (a *Clients) Account(ctx context.Context, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	out, err := a.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("finding the AWS account (pass --account to skip): sts GetCallerIdentity: %w", err)
	}
	return aws.ToString(out.Account), nil
}

// deployment computes the job's deployment in the clients' region and the
// given or the caller's account.
func (a *Clients) deployment(ctx context.Context, spec *jobs.Spec, o Options) (*Deployment, error) {
	acct, err := a.Account(ctx, o.Account)
	if err != nil {
		return nil, err
	}
	return NewDeployment(spec, o, partitionOf(a.Config.Region), a.Config.Region, acct)
}

// StateMachineARN is the ARN of the job's deployed state machine: name is
// the deployment's base name ("" for the default "tierflow-<job>"), account
// the given or, when "", the caller's.
func (a *Clients) StateMachineARN(ctx context.Context, spec *jobs.Spec, name, account string) (string, error) {
	acct, err := a.Account(ctx, account)
	if err != nil {
		return "", err
	}
	d := &Deployment{Partition: partitionOf(a.Config.Region), Region: a.Config.Region, Account: acct, Base: baseName(spec, name)}
	return d.StateMachineARN(), nil
}

// partitionOf is the ARN partition of a region.
func partitionOf(region string) string {
	switch {
	case len(region) >= 3 && region[:3] == "cn-":
		return "aws-cn"
	case len(region) >= 7 && region[:7] == "us-gov-":
		return "aws-us-gov"
	}
	return "aws"
}

// apiErrorCode is the AWS error code of err, or "".
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
