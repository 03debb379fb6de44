package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/statemachines"
)

// Result names what deploy created or updated.
type Result struct {
	TaskDefinition string // ARN with revision
	StateMachine   string
	Schedule       string // "" without one
	// IntakeRule and IntakeMachine are the intake trigger's EventBridge
	// rule and state machine; "" without one.
	IntakeRule, IntakeMachine string
	Roles                     []string
	Created                   []string // resources created (the others were updated)
	Ops                       OpsResult
}

// Apply creates or updates the job's AWS resources (IAM roles
// with their policies, the ECS cluster if missing, the task definition,
// the state machine and the monthly schedule) and prints what it did.
func Apply(ctx context.Context, o Options) error {
	spec, err := jobs.Open(o.Job)
	if err != nil {
		return err
	}
	api, err := NewClients(ctx, o.AWS, spec, o.Region, o.Log)
	if err != nil {
		return err
	}
	d, err := api.deployment(ctx, spec, o)
	if err != nil {
		return err
	}
	res, err := api.deploy(ctx, d, o)
	if err != nil {
		return err
	}
	w := o.Stdout
	fmt.Fprintf(w, "deployed job %s (%s, account %s)\n", spec.Name, d.Region, d.Account)
	fmt.Fprintf(w, "  task definition  %s (%d CPU units, %d MiB, image %s)\n", res.TaskDefinition, d.CPU, d.MemoryMiB, d.Image)
	fmt.Fprintf(w, "  state machine    %s\n", res.StateMachine)
	if res.Schedule != "" {
		fmt.Fprintf(w, "  schedule         %s (%s, UTC)\n", res.Schedule, d.Schedule)
	} else {
		fmt.Fprintln(w, "  schedule         none (start runs with: tierflow run --on aws)")
	}
	if res.IntakeRule != "" {
		fmt.Fprintf(w, "  intake trigger   %s → %s (objects under s3://%s/%s…)\n", res.IntakeRule, res.IntakeMachine, d.Intake.Bucket, d.Intake.Prefix)
	}
	fmt.Fprintf(w, "  roles            %s\n", strings.Join(res.Roles, ", "))
	res.Ops.print(w)
	if len(res.Created) > 0 {
		fmt.Fprintf(w, "  created          %s\n", strings.Join(res.Created, ", "))
	}
	return nil
}

// deploy applies d.
func (a *Clients) deploy(ctx context.Context, d *Deployment, o Options) (*Result, error) {
	res := &Result{}
	newRoles := false
	for _, r := range d.Roles() {
		created, err := a.ensureRole(ctx, d, *r)
		if err != nil {
			return nil, err
		}
		newRoles = newRoles || created
		res.Roles = append(res.Roles, r.Name)
		if created {
			res.Created = append(res.Created, "role "+r.Name)
		}
	}
	// A role IAM has just created is not usable everywhere for a few
	// seconds: services then refuse to assume it. Retry only in that case.
	wait := time.Duration(0)
	if newRoles {
		wait = o.IAMPropagation
		if wait == 0 {
			wait = 2 * time.Minute
		}
	}
	if created, err := a.ensureCluster(ctx, d); err != nil {
		return nil, err
	} else if created {
		res.Created = append(res.Created, "cluster "+d.ClusterName())
	}
	td, err := a.ecs.RegisterTaskDefinition(ctx, d.taskDefinitionInput())
	if err != nil {
		return nil, fmt.Errorf("deploy %s: register task definition %s: %w", d.Spec.Name, d.Base, err)
	}
	res.TaskDefinition = aws.ToString(td.TaskDefinition.TaskDefinitionArn)
	o.Log.Info().Str("task_definition", res.TaskDefinition).Msg("task definition registered")

	p := d.Params
	p.TaskDefinition = res.TaskDefinition
	def, err := statemachines.Render(d.Spec, p)
	if err != nil {
		return nil, err
	}
	created, err := a.ensureStateMachine(ctx, d, d.Base, d.StateMachineRole, string(def), wait)
	if err != nil {
		return nil, err
	}
	res.StateMachine = d.StateMachineARN()
	if created {
		res.Created = append(res.Created, "state machine "+d.Base)
	}
	if res.Ops, err = a.deployOps(ctx, d, res.TaskDefinition, wait); err != nil {
		return nil, err
	}
	if d.Schedule != "" {
		created, err := a.ensureSchedule(ctx, d, wait)
		if err != nil {
			return nil, err
		}
		res.Schedule = d.ScheduleARN()
		if created {
			res.Created = append(res.Created, "schedule "+d.ScheduleName())
		}
	}
	if d.Intake != nil {
		if err := a.deployIntake(ctx, d, res, wait); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// JSON is the policy as IAM takes it.
func (p PolicyDocument) JSON() string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a PolicyDocument always marshals
	}
	return string(b)
}

// samePolicy compares two policy documents as JSON values (IAM returns
// them URL-encoded and reformatted).
func samePolicy(a, b string) bool {
	if s, err := url.QueryUnescape(a); err == nil {
		a = s
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(bx) == string(by)
}

// ensureRole creates r or brings its trust policy up to date, then puts
// its inline policy; it reports whether the role was created.
func (a *Clients) ensureRole(ctx context.Context, d *Deployment, r Role) (bool, error) {
	trust := d.TrustPolicy(r).JSON()
	created := false
	got, err := a.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(r.Name)})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		_, err = a.iam.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName: aws.String(r.Name), AssumeRolePolicyDocument: aws.String(trust),
			Description: aws.String("tierflow job " + d.Spec.Name + ": assumed by " + r.Service),
			Tags:        []iamtypes.Tag{{Key: aws.String("tierflow:job"), Value: aws.String(d.Spec.Name)}},
		})
		if err != nil {
			return false, fmt.Errorf("deploy: create role %s: %w", r.Name, err)
		}
		created = true
	case err != nil:
		return false, fmt.Errorf("deploy: get role %s: %w", r.Name, err)
	case !samePolicy(aws.ToString(got.Role.AssumeRolePolicyDocument), trust):
		if _, err := a.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(r.Name), PolicyDocument: aws.String(trust)}); err != nil {
			return false, fmt.Errorf("deploy: update trust of role %s: %w", r.Name, err)
		}
	}
	if _, err := a.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(r.Name), PolicyName: aws.String(PolicyName), PolicyDocument: aws.String(r.Policy.JSON()),
	}); err != nil {
		return false, fmt.Errorf("deploy: put policy of role %s: %w", r.Name, err)
	}
	return created, nil
}

// ensureCluster creates the ECS cluster when it does not exist (a Fargate
// cluster costs nothing by itself).
func (a *Clients) ensureCluster(ctx context.Context, d *Deployment) (bool, error) {
	out, err := a.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{d.ClusterARN()}})
	if err != nil {
		return false, fmt.Errorf("deploy: describe cluster %s: %w", d.Params.Cluster, err)
	}
	for _, c := range out.Clusters {
		if aws.ToString(c.Status) == "ACTIVE" {
			return false, nil
		}
	}
	if _, err := a.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(d.ClusterName())}); err != nil {
		return false, fmt.Errorf("deploy: create cluster %s: %w", d.ClusterName(), err)
	}
	return true, nil
}

func (d *Deployment) taskDefinitionInput() *ecs.RegisterTaskDefinitionInput {
	var env []ecstypes.KeyValuePair
	for _, kv := range d.envVars() {
		env = append(env, ecstypes.KeyValuePair{Name: aws.String(kv[0]), Value: aws.String(kv[1])})
	}
	in := &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(d.Base),
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		Cpu:                     aws.String(strconv.Itoa(d.CPU)),
		Memory:                  aws.String(strconv.Itoa(d.MemoryMiB)),
		TaskRoleArn:             aws.String(d.RoleARN(d.TaskRole)),
		ExecutionRoleArn:        aws.String(d.RoleARN(d.ExecRole)),
		RuntimePlatform:         &ecstypes.RuntimePlatform{CpuArchitecture: ecstypes.CPUArchitectureX8664, OperatingSystemFamily: ecstypes.OSFamilyLinux},
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:             aws.String(d.Params.ContainerName),
			Image:            aws.String(d.Image),
			Essential:        aws.Bool(true),
			Environment:      env,
			LogConfiguration: &ecstypes.LogConfiguration{LogDriver: ecstypes.LogDriverAwslogs, Options: d.logOptions()},
		}},
		Tags: []ecstypes.Tag{{Key: aws.String("tierflow:job"), Value: aws.String(d.Spec.Name)}},
	}
	if d.StorageGiB > 0 {
		in.EphemeralStorage = &ecstypes.EphemeralStorage{SizeInGiB: int32(d.StorageGiB)}
	}
	return in
}

// retryIAM retries op while err looks like a role IAM has not propagated
// yet, for at most wait.
func retryIAM(ctx context.Context, wait time.Duration, op func() error) error {
	deadline := time.Now().Add(wait)
	delay := time.Second
	for {
		err := op()
		if err == nil || !iamNotReady(err) || time.Now().Add(delay).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// iamNotReady reports errors services give for a role that exists but is
// not yet assumable.
func iamNotReady(err error) bool {
	code, msg := apiErrorCode(err), err.Error()
	switch code {
	case "AccessDeniedException", "InvalidArn", "ValidationException":
		return strings.Contains(msg, "role") || strings.Contains(msg, "assume")
	}
	return false
}

// ensureStateMachine creates the state machine name, run by role, or
// updates its definition and role; it reports whether it was created.
func (a *Clients) ensureStateMachine(ctx context.Context, d *Deployment, name string, role Role, def string, wait time.Duration) (bool, error) {
	arn := d.arn("states", "stateMachine:"+name)
	_, err := a.SFN.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	var missing *sfntypes.StateMachineDoesNotExist
	switch {
	case errors.As(err, &missing):
		err = retryIAM(ctx, wait, func() error {
			_, err := a.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
				Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(d.RoleARN(role)),
				Type: sfntypes.StateMachineTypeStandard,
				Tags: []sfntypes.Tag{{Key: aws.String("tierflow:job"), Value: aws.String(d.Spec.Name)}},
			})
			return err
		})
		if err != nil {
			return false, fmt.Errorf("deploy: create state machine %s: %w", name, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("deploy: describe state machine %s: %w", name, err)
	}
	err = retryIAM(ctx, wait, func() error {
		_, err := a.SFN.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{
			StateMachineArn: aws.String(arn), Definition: aws.String(def), RoleArn: aws.String(d.RoleARN(role)),
		})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("deploy: update state machine %s: %w", name, err)
	}
	return false, nil
}

func (a *Clients) ensureSchedule(ctx context.Context, d *Deployment, wait time.Duration) (bool, error) {
	target := &schedtypes.Target{
		Arn: aws.String(d.StateMachineARN()), RoleArn: aws.String(d.RoleARN(d.SchedulerRole)), Input: aws.String(ScheduleInput),
		// A missed start is retried for a day; plan's month claim makes a
		// duplicate start harmless.
		RetryPolicy: &schedtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(10), MaximumEventAgeInSeconds: aws.Int32(86400)},
	}
	return a.upsertSchedule(ctx, d.ScheduleName(), d.Schedule, target,
		"tierflow job "+d.Spec.Name+": the monthly run (plan picks the previous month)", wait)
}
