// Package statemachines holds tierflow's Amazon States Language
// definitions, embedded in the binary, and renders them for one job.
//
// The monthly state machine (monthly.asl.json) runs one month of a job as
// one Step Functions execution whose steps are the CLI commands of the
// tierflow image on ECS Fargate (see /work/notes/steps-contract.md and
// docs/aws.md):
//
//	Defaults → Init → Plan → ReadPlan → Skipped? ─yes→ NothingToDo
//	                                       └no→ Planned → Convert (Map over parts.json)
//	                                            → Stage → Derive (Map over derive.json, Athena CTAS)
//	                                            → Publish → ReadNotification → Notify (SNS) → Done
//	any failure → <Step>Failed → SaveError (error.json) → Finish → ReadNotification → Notify → Failed
//	(no notification.json after a failure: a message built from the failure)
//
// The template's job-specific values are written "${Name}" and always fill
// a whole JSON value, so Render substitutes typed JSON (a list of subnets, a
// number, an object) and never has to escape inside strings or intrinsic
// functions: values the intrinsic functions need (the job, the lake, the
// executions prefix) travel in the state as $.config.
package statemachines

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

//go:embed monthly.asl.json
var monthly []byte

// Template returns the monthly state machine as shipped, placeholders
// unfilled.
func Template() []byte { return bytes.Clone(monthly) }

// Container is the default name of the tierflow container in the task
// definition.
const Container = "tierflow"

// Params are the deployment's values the job spec does not hold, and
// overrides of those it does. A zero field takes the job's value.
type Params struct {
	// Job is what every task passes as --job: a shipped job's name, or the
	// s3:// URI of the job file (its schema and header beside it).
	Job string
	// Lake is the s3://bucket[/prefix] lake root (default: the job's).
	Lake string
	// Cluster is the ECS cluster's ARN or name (default: aws.cluster).
	Cluster string
	// TaskDefinition is the task definition ARN (with or without a
	// revision) or family.
	TaskDefinition string
	// ContainerName is the container in the task definition (default
	// "tierflow").
	ContainerName string
	// Subnets and SecurityGroups place the Fargate tasks (default: the
	// job's aws.subnets and aws.security_groups).
	Subnets        []string
	SecurityGroups []string
	// AssignPublicIP gives the tasks a public IP (needed in a public subnet
	// without a NAT gateway to reach ECR and S3).
	AssignPublicIP bool
	// PolicyOnly: the caller only needs the IAM policies, which do not
	// depend on where the tasks run, so missing subnets are no problem.
	PolicyOnly bool
	// Workgroup and AthenaOutput for the derived tables' CTAS (default:
	// aws.workgroup, aws.athena_output).
	Workgroup    string
	AthenaOutput string
	// KMSKeyID encrypts Athena's query results (default: aws.kms_key_id).
	KMSKeyID string
	// MaxConcurrency bounds the parts converted (and tables derived) at
	// once (default: aws.max_concurrency, else 8).
	MaxConcurrency int
	// StepTimeout bounds each task (default: the job's timeout, else 6h).
	StepTimeout time.Duration
	// TopicARN is the job's SNS topic, which the Notify state publishes
	// every finished run's message to.
	TopicARN string
}

// Rendered values Render derives; exported for the deploy and the tests.
type Rendered struct {
	Bucket     string // the lake's bucket
	Prefix     string // the lake's key prefix, "" or ending in "/"
	MetaPrefix string // Prefix + "_tierflow/executions/<job>/": parent of every execution's state
}

// Lake splits an s3:// lake URI into bucket and key prefix ("" or ending in
// "/").
func Lake(uri string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("lake %q: a Step Functions run needs an s3://bucket[/prefix] lake", uri)
	}
	bucket, prefix, _ = strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	if bucket == "" {
		return "", "", fmt.Errorf("lake %q: no bucket", uri)
	}
	if prefix != "" {
		prefix += "/"
	}
	return bucket, prefix, nil
}

// Resolve fills p's zero fields from spec and checks what is required.
func Resolve(spec *jobs.Spec, p Params) (Params, error) {
	if p.Job == "" {
		p.Job = spec.Name
	}
	if p.Lake == "" {
		p.Lake = spec.Lake
	}
	if p.Cluster == "" {
		p.Cluster = spec.AWS.Cluster
	}
	if p.ContainerName == "" {
		p.ContainerName = Container
	}
	if len(p.Subnets) == 0 {
		p.Subnets = spec.AWS.Subnets
	}
	if len(p.SecurityGroups) == 0 {
		p.SecurityGroups = spec.AWS.SecurityGroups
	}
	if p.Workgroup == "" {
		p.Workgroup = spec.AWS.Workgroup
	}
	if p.Workgroup == "" {
		p.Workgroup = "primary"
	}
	if p.AthenaOutput == "" {
		p.AthenaOutput = spec.AWS.AthenaOutput
	}
	if p.KMSKeyID == "" {
		p.KMSKeyID = spec.AWS.KMSKeyID
	}
	if p.MaxConcurrency <= 0 {
		p.MaxConcurrency = spec.AWS.MaxConcurrency
	}
	if p.MaxConcurrency <= 0 {
		p.MaxConcurrency = 8
	}
	if p.StepTimeout <= 0 {
		p.StepTimeout = spec.Timeout
	}
	if p.StepTimeout <= 0 {
		p.StepTimeout = 6 * time.Hour
	}
	var problems []string
	if _, _, err := Lake(p.Lake); err != nil {
		problems = append(problems, err.Error()+" (set lake: in the job or pass --lake)")
	}
	if p.Cluster == "" {
		problems = append(problems, "no ECS cluster (aws.cluster or --cluster)")
	}
	if p.TaskDefinition == "" {
		problems = append(problems, "no task definition")
	}
	if p.TopicARN == "" {
		problems = append(problems, "no SNS topic for the notifications")
	}
	if len(p.Subnets) == 0 && !p.PolicyOnly {
		problems = append(problems, "no subnets for the Fargate tasks (aws.subnets or --subnet)")
	}
	if spec.Database == "" && len(spec.Derived) > 0 {
		problems = append(problems, "no catalog database (catalog.database)")
	}
	if len(problems) > 0 {
		return p, fmt.Errorf("state machine for job %s: %s", spec.Name, strings.Join(problems, "; "))
	}
	return p, nil
}

// Derive computes the lake locations Render writes into the definition.
func Derive(spec *jobs.Spec, p Params) (Rendered, error) {
	bucket, prefix, err := Lake(p.Lake)
	if err != nil {
		return Rendered{}, err
	}
	return Rendered{Bucket: bucket, Prefix: prefix, MetaPrefix: prefix + "_tierflow/executions/" + spec.Name + "/"}, nil
}

// Retry policies, shared by the deploy docs and the tests.
var (
	// EcsRetry retries what means "the task did not start": Fargate out of
	// capacity (RunTask failures such as "RESOURCE:…" or "Capacity is
	// unavailable" arrive as ECS.AmazonECSException) and API throttling.
	// Retrying these never repeats work.
	EcsRetry = []Retrier{{
		ErrorEquals:     []string{"ECS.AmazonECSException", "ECS.ThrottlingException", "ECS.ServerException", "ECS.LimitExceededException"},
		IntervalSeconds: 20, MaxAttempts: 8, BackoffRate: 2, MaxDelaySeconds: 300, JitterStrategy: "FULL",
	}}
	// ConvertRetries is how often a part whose task failed (States.TaskFailed:
	// the container exited non-zero, or the task was stopped) is tried
	// again: convert is idempotent, it rewrites the part's own files.
	ConvertRetries = 2
	// FinishRetries bounds retries of the failure bookkeeping itself.
	FinishRetries = 2
)

// Retrier is one ASL Retry entry.
type Retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int      `json:"IntervalSeconds"`
	MaxAttempts     int      `json:"MaxAttempts"`
	BackoffRate     float64  `json:"BackoffRate"`
	MaxDelaySeconds int      `json:"MaxDelaySeconds,omitempty"`
	JitterStrategy  string   `json:"JitterStrategy,omitempty"`
}

// taskFailed retries a task that ran and failed. It must come after
// EcsRetry: the first retrier whose ErrorEquals matches decides, and
// States.TaskFailed matches every task error.
func taskFailed(n int) Retrier {
	return Retrier{ErrorEquals: []string{"States.TaskFailed"}, IntervalSeconds: 30, MaxAttempts: n, BackoffRate: 2}
}

var placeholder = regexp.MustCompile(`"\$\{([A-Za-z]+)\}"`)

// Render returns the monthly state machine for spec, with p's values (see
// Resolve for the defaults), indented JSON.
func Render(spec *jobs.Spec, p Params) ([]byte, error) {
	p, err := Resolve(spec, p)
	if err != nil {
		return nil, err
	}
	r, err := Derive(spec, p)
	if err != nil {
		return nil, err
	}
	net := map[string]any{"Subnets": p.Subnets, "AssignPublicIp": "DISABLED"}
	if p.AssignPublicIP {
		net["AssignPublicIp"] = "ENABLED"
	}
	if len(p.SecurityGroups) > 0 {
		net["SecurityGroups"] = p.SecurityGroups
	}
	results := map[string]any{}
	if p.AthenaOutput != "" {
		results["OutputLocation"] = p.AthenaOutput
	}
	if p.KMSKeyID != "" {
		results["EncryptionConfiguration"] = map[string]string{"EncryptionOption": "SSE_KMS", "KmsKey": p.KMSKeyID}
	}
	values := map[string]any{
		"Config":               map[string]string{"job": p.Job, "name": spec.Name, "lake": p.Lake, "meta": r.MetaPrefix},
		"TopicArn":             p.TopicARN,
		"Cluster":              p.Cluster,
		"TaskDefinition":       p.TaskDefinition,
		"Container":            p.ContainerName,
		"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": net},
		"LakeBucket":           r.Bucket,
		"MaxConcurrency":       p.MaxConcurrency,
		"StepTimeoutSeconds":   int(p.StepTimeout / time.Second),
		"Workgroup":            p.Workgroup,
		"Database":             spec.Database,
		"ResultConfiguration":  results,
		"EcsRetry":             EcsRetry,
		"ConvertRetry":         append(append([]Retrier{}, EcsRetry...), taskFailed(ConvertRetries)),
		"FinishRetry":          append(append([]Retrier{}, EcsRetry...), taskFailed(FinishRetries)),
	}
	return fill(monthly, values)
}

// fill replaces every "${Name}" in tmpl by values[Name] as JSON, refusing
// unknown names, unused values and "${" anywhere else.
func fill(tmpl []byte, values map[string]any) ([]byte, error) {
	var errs []string
	used := map[string]bool{}
	out := placeholder.ReplaceAllFunc(tmpl, func(m []byte) []byte {
		name := string(placeholder.FindSubmatch(m)[1])
		v, ok := values[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("unknown placeholder ${%s}", name))
			return m
		}
		used[name] = true
		b, err := json.Marshal(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("${%s}: %v", name, err))
			return m
		}
		return b
	})
	if i := bytes.Index(placeholder.ReplaceAll(tmpl, nil), []byte("${")); i >= 0 {
		errs = append(errs, fmt.Sprintf("template: \"${\" inside a string at byte %d (placeholders must be a whole value)", i))
	}
	var unused []string
	for k := range values {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	for _, k := range unused {
		errs = append(errs, fmt.Sprintf("value %s is not used by the template", k))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("render state machine: %s", strings.Join(errs, "; "))
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return nil, fmt.Errorf("render state machine: result is not JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// stages maps every state of the monthly state machine to the tierflow
// stage it belongs to, for progress reports.
var stages = map[string]string{
	"Defaults": "plan", "Init": "plan", "Plan": "plan", "ReadPlan": "plan", "Skipped?": "plan", "Planned": "plan",
	"NothingToDo": "skipped",
	"Convert":     "convert", "ConvertPart": "convert",
	"Stage":  "stage",
	"Derive": "derive", "DeriveTable": "derive",
	"Publish":    "publish",
	"Done":       "done",
	"PlanFailed": "finish", "ReadPlanFailed": "finish", "ConvertFailed": "finish", "StageFailed": "finish",
	"DeriveFailed": "finish", "PublishFailed": "finish", "SaveError": "finish", "Finish": "finish", "Failed": "finish",
	"ReadNotification": "notify", "NoNotification": "notify", "FallbackBody": "notify", "NotifyFallback": "notify",
	"Notify": "notify", "Notified": "notify",
}

// StageOf returns the tierflow stage (plan, convert, stage, derive,
// publish, done, skipped, finish, notify) a state of the monthly state machine
// belongs to, or "" for a state it does not have.
func StageOf(state string) string { return stages[state] }

// Map labels of the monthly state machine: a map run's ARN names its
// label, so progress can tell parts from derived tables.
const (
	ConvertLabel = "Convert"
	DeriveLabel  = "Derive"
)
