package deploy

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/statemachines"
)

// Options are the options of deploy, render and iam-policy: the job
// and what the job spec does not say about its AWS home.
type Options struct {
	// Job is the job spec file, or a shipped job's name.
	Job string
	// JobURI is what the tasks pass as --job when Job is a file: the
	// s3:// URI of a copy of it, its schema and header files beside it.
	// A shipped job needs none (the image has it).
	JobURI string
	// Lake is the s3:// lake root (default: the job's lake).
	Lake string
	// Image is the tierflow container image (default: aws.image).
	Image string
	// Cluster, Subnets, SecurityGroups and PublicIP place the Fargate
	// tasks (defaults: the job's aws section; no public IP).
	Cluster        string
	Subnets        []string
	SecurityGroups []string
	PublicIP       bool
	// Name is the base name of every resource (default "tierflow-<job>").
	Name string
	// Region and Account (defaults: aws.region or the SDK's; the caller's
	// account from STS GetCallerIdentity).
	Region, Account string
	// PolicyOnly asks only for what the IAM policies depend on (iam-policy):
	// no image, no subnets, and a job file needs no --job-uri.
	PolicyOnly bool
	// StorageGiB is the tasks' ephemeral storage, 21–200 (default 200: the
	// converter spills a part's decompressed rows to disk, ≈ 7-10 times
	// the part's gzip size).
	StorageGiB int
	// NoSchedule skips (deploy) or leaves out (render) the schedule.
	NoSchedule bool
	// NoIntake leaves out the intake trigger of a job with
	// source.complete_when (intake.go): it then runs on its schedule only.
	NoIntake bool
	// IAMPropagation is how long deploy retries a just-created role that
	// IAM has not propagated yet (default 2 minutes).
	IAMPropagation time.Duration

	Log    zerolog.Logger
	Stdout io.Writer
	// AWS replaces the SDK configuration (tests).
	AWS *aws.Config
}

// Deployment is everything tierflow creates on AWS for one job, derived
// from the job and Options alone. deploy turns it into API calls and
// render into a CloudFormation template, so the two cannot drift apart.
type Deployment struct {
	Spec *jobs.Spec
	// Params are the state machine's, resolved (TaskDefinition is the
	// family's ARN without a revision until deploy registers one).
	Params statemachines.Params
	// Partition, Region and Account build every ARN; render sets them to
	// CloudFormation's ${AWS::Partition}, ${AWS::Region}, ${AWS::AccountId}.
	Partition, Region, Account string
	// Base is the resource base name, "tierflow-<job>".
	Base           string
	Bucket, Prefix string // the lake
	Image          string
	CPU, MemoryMiB int
	StorageGiB     int
	LogGroup       string
	Schedule       string // EventBridge cron expression; "" = none
	// Roles: the tasks' (S3, Glue, Athena, DynamoDB, KMS), the tasks'
	// execution role (image pull, logs), the state machine's and the
	// schedule's.
	TaskRole, ExecRole, StateMachineRole, SchedulerRole Role
	// Intake is where the job's deliveries land, for the intake trigger
	// (intake.go); nil when there is none. IntakeRole runs the intake
	// state machine, EventsRole lets the EventBridge rule start it.
	Intake                 *statemachines.IntakeTrigger
	IntakeRole, EventsRole Role
	// Operator is the policy for whoever runs deploy, run --on aws, runs
	// and status (not attached to anything tierflow creates).
	Operator PolicyDocument
}

// Role is an IAM role tierflow creates: its trust (the service that
// assumes it) and its one inline policy.
type Role struct {
	Name    string
	Service string // e.g. "ecs-tasks.amazonaws.com"
	Policy  PolicyDocument
}

// PolicyDocument is an IAM policy.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal map[string]string         `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// PolicyName is the name of the inline policy on every tierflow role.
const PolicyName = "tierflow"

// jobRef is what tasks pass as --job.
func jobRef(o Options, spec *jobs.Spec) (string, error) {
	if o.JobURI != "" {
		if !strings.HasPrefix(o.JobURI, "s3://") {
			return "", fmt.Errorf("--job-uri %q: want the s3:// URI of the job file", o.JobURI)
		}
		return o.JobURI, nil
	}
	if jobs.IsShippedName(o.Job) {
		return spec.Name, nil
	}
	return "", fmt.Errorf("job %s is a file the Fargate tasks cannot read: copy it, its schema and its header file to S3 (e.g. s3://BUCKET/jobs/%s/) and pass --job-uri s3://BUCKET/jobs/%s/%s",
		o.Job, spec.Name, spec.Name, fileName(o.Job))
}

func fileName(p string) string { return p[strings.LastIndexAny(p, "/\\")+1:] }

// baseName is the resource base name: name, or "tierflow-<job>".
func baseName(spec *jobs.Spec, name string) string {
	if name == "" {
		return "tierflow-" + spec.Name
	}
	return name
}

// NewDeployment computes a job's deployment. partition, region and
// account build the ARNs.
func NewDeployment(spec *jobs.Spec, o Options, partition, region, account string) (*Deployment, error) {
	// Every missing or wrong setting is reported at once.
	var errs []error
	ref, err := jobRef(o, spec)
	if err != nil && o.PolicyOnly {
		ref, err = spec.Name, nil // the policies do not name the job file
	}
	if err != nil {
		errs = append(errs, err)
	}
	d := &Deployment{Spec: spec, Partition: partition, Region: region, Account: account}
	d.Base = baseName(spec, o.Name)
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{1,50}$`).MatchString(d.Base) {
		errs = append(errs, fmt.Errorf("resource base name %q: use 1–50 letters, digits, - or _ (it prefixes role names of up to 64 characters)", d.Base))
	}
	d.Image = o.Image
	if d.Image == "" {
		d.Image = spec.AWS.Image
	}
	if d.Image == "" && !o.PolicyOnly {
		errs = append(errs, fmt.Errorf("job %s: no container image (aws.image or --image), e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/tierflow:VERSION", spec.Name))
	}
	d.CPU, d.MemoryMiB = spec.AWS.TaskCPU, spec.AWS.TaskMemoryMiB
	if d.CPU == 0 {
		d.CPU = 4096
	}
	if d.MemoryMiB == 0 {
		d.MemoryMiB = 4 * d.CPU
	}
	d.StorageGiB = o.StorageGiB
	if d.StorageGiB == 0 {
		d.StorageGiB = 200
	}
	if d.StorageGiB < 21 || d.StorageGiB > 200 {
		errs = append(errs, fmt.Errorf("--storage-gib %d: Fargate offers 21–200 GiB", d.StorageGiB))
	}
	d.LogGroup = "/tierflow/" + spec.Name
	if !o.NoSchedule {
		d.Schedule = spec.Schedule
	}
	p := statemachines.Params{
		Job: ref, Lake: o.Lake, Cluster: o.Cluster, Subnets: o.Subnets, SecurityGroups: o.SecurityGroups,
		AssignPublicIP: o.PublicIP, TaskDefinition: d.arn("ecs", "task-definition/"+d.Base), PolicyOnly: o.PolicyOnly,
		TopicARN: d.TopicARN(),
	}
	if p.Lake == "" && !strings.HasPrefix(spec.Lake, "s3://") {
		errs = append(errs, fmt.Errorf("job %s keeps its lake at %s; on AWS it needs an s3:// lake: pass --lake s3://BUCKET[/PREFIX]", spec.Name, spec.Lake))
		p.Lake = "s3://lake-unset" // so that the other settings are still checked
	}
	if d.Params, err = statemachines.Resolve(spec, p); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if d.Bucket, d.Prefix, err = statemachines.Lake(d.Params.Lake); err != nil {
		return nil, err
	}
	d.TaskRole = Role{Name: d.Base + "-task", Service: "ecs-tasks.amazonaws.com"}
	d.ExecRole = Role{Name: d.Base + "-exec", Service: "ecs-tasks.amazonaws.com"}
	d.StateMachineRole = Role{Name: d.Base + "-sfn", Service: "states.amazonaws.com"}
	d.SchedulerRole = Role{Name: d.Base + "-scheduler", Service: "scheduler.amazonaws.com"}
	if err := d.intakeTrigger(o); err != nil {
		return nil, err
	}
	d.policies()
	return d, nil
}

// arn builds an ARN in the deployment's partition, region and account.
func (d *Deployment) arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", d.Partition, service, d.Region, d.Account, resource)
}

// RoleARN is the ARN of a role of the deployment.
func (d *Deployment) RoleARN(r Role) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", d.Partition, d.Account, r.Name)
}

// StateMachineARN is the state machine's ARN.
func (d *Deployment) StateMachineARN() string { return d.arn("states", "stateMachine:"+d.Base) }

// ExecutionARN is the ARN of an execution of the state machine.
func (d *Deployment) ExecutionARN(name string) string {
	return d.arn("states", "execution:"+d.Base+":"+name)
}

// ClusterARN is the ECS cluster's ARN.
func (d *Deployment) ClusterARN() string {
	if strings.HasPrefix(d.Params.Cluster, "arn:") {
		return d.Params.Cluster
	}
	return d.arn("ecs", "cluster/"+d.Params.Cluster)
}

// ClusterName is the cluster's name.
func (d *Deployment) ClusterName() string {
	c := d.Params.Cluster
	return c[strings.LastIndex(c, "/")+1:]
}

// ScheduleName is the EventBridge Scheduler schedule's name (default group).
func (d *Deployment) ScheduleName() string { return d.Base }

// ScheduleARN is the schedule's ARN.
func (d *Deployment) ScheduleARN() string {
	return d.arn("scheduler", "schedule/default/"+d.ScheduleName())
}

// ScheduleInput is what the schedule starts the state machine with: no
// month, so plan picks the month before the one the schedule fires in.
const ScheduleInput = `{"month":"","force":false}`

// TrustPolicy is the assume-role policy of r: only r.Service, and only on
// behalf of this account (the confused-deputy guard AWS recommends).
func (d *Deployment) TrustPolicy(r Role) PolicyDocument {
	return PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
		Effect: "Allow", Principal: map[string]string{"Service": r.Service}, Action: []string{"sts:AssumeRole"},
		Condition: map[string]map[string]any{"StringEquals": {"aws:SourceAccount": d.Account}},
	}}}
}

// Roles lists the deployment's roles.
func (d *Deployment) Roles() []*Role {
	roles := []*Role{&d.TaskRole, &d.ExecRole, &d.StateMachineRole, &d.SchedulerRole}
	if d.Intake != nil {
		roles = append(roles, &d.IntakeRole, &d.EventsRole)
	}
	return roles
}

// envVars are the task's environment: the region, where the SDK's chain
// finds it. (Logs are JSON lines without asking: a task has no terminal.)
func (d *Deployment) envVars() [][2]string {
	return [][2]string{{"AWS_REGION", d.Region}}
}

// logOptions are the awslogs driver's options.
func (d *Deployment) logOptions() map[string]string {
	return map[string]string{
		"awslogs-group":         d.LogGroup,
		"awslogs-region":        d.Region,
		"awslogs-stream-prefix": "tierflow",
		"awslogs-create-group":  "true",
		// Logging must never block the converter: drop lines if CloudWatch
		// falls behind rather than stall a part.
		"mode":            "non-blocking",
		"max-buffer-size": "25m",
	}
}
