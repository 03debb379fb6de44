package deploy

import (
	"regexp"
	"sort"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// The policies below are least privilege for what the code does; the
// table in deploy_iam_test.go lists every SDK operation tierflow calls,
// finds them in the code and checks each is allowed here on the resource
// it touches, and that nearby resources are not.

func allow(sid string, actions []string, resources ...string) Statement {
	return Statement{Sid: sid, Effect: "Allow", Action: actions, Resource: resources}
}

// s3Object is the ARN of keys under a prefix of the lake's bucket.
func (d *Deployment) s3Object(prefix string) string {
	return "arn:" + d.Partition + ":s3:::" + d.Bucket + "/" + d.Prefix + prefix + "*"
}

func (d *Deployment) s3Bucket(bucket string) string { return "arn:" + d.Partition + ":s3:::" + bucket }

// intakePrefix is the part of the intake template before the month.
func (d *Deployment) intakePrefix() string {
	p, _, _ := strings.Cut(d.Spec.Source.Intake, "{")
	return p
}

// writablePrefixes are where runs write: tier 1 (the job's pristine
// copies), tier 2 (its table), tier 3 (its derived tables) and _tierflow/
// (manifests, rejects, executions' state, keys).
func (d *Deployment) writablePrefixes() []string {
	out := []string{"tier1/" + d.Spec.Name + "/", jobs.TableRoot(2, d.Spec.Output.Table)}
	for _, t := range d.Spec.Derived {
		out = append(out, jobs.TableRoot(3, t.Table))
	}
	return append(out, "_tierflow/")
}

// athenaOutput splits aws.athena_output into bucket and prefix; ok false
// when the job names none (the workgroup's then applies, and its bucket
// must be granted by hand).
func (d *Deployment) athenaOutput() (bucket, prefix string, ok bool) {
	rest, found := strings.CutPrefix(d.Params.AthenaOutput, "s3://")
	if !found {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, prefix, bucket != ""
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^mrk-[0-9a-f]{32}$`)

// kmsStatements allow actions on the KMS keys named by id: a key ARN as
// is, a key id as its ARN, an alias through the kms:ResourceAliases
// condition (IAM authorises the key, not the alias).
func (d *Deployment) kmsStatements(sid string, actions []string, ids ...string) []Statement {
	var arns, aliases []string
	for _, id := range ids {
		switch {
		case id == "":
		case strings.HasPrefix(id, "arn:") && strings.Contains(id, ":alias/"):
			aliases = append(aliases, id[strings.Index(id, ":alias/")+1:])
		case strings.HasPrefix(id, "arn:"):
			arns = append(arns, id)
		case strings.HasPrefix(id, "alias/"):
			aliases = append(aliases, id)
		case uuidRe.MatchString(id):
			arns = append(arns, d.arn("kms", "key/"+id))
		default:
			aliases = append(aliases, "alias/"+id)
		}
	}
	var out []Statement
	if len(arns) > 0 {
		out = append(out, allow(sid, actions, dedupe(arns)...))
	}
	if len(aliases) > 0 {
		st := allow(sid+"ByAlias", actions, d.arn("kms", "key/*"))
		st.Condition = map[string]map[string]any{"ForAnyValue:StringEquals": {"kms:ResourceAliases": dedupe(aliases)}}
		out = append(out, st)
	}
	return out
}

func dedupe(s []string) []string {
	m := map[string]bool{}
	var out []string
	for _, v := range s {
		if !m[v] {
			m[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// glueResources are the catalog, the job's database and its tables
// (tier 2, derived and the scratch tables stage creates).
func (d *Deployment) glueResources() []string {
	db := d.Spec.Database
	return []string{d.arn("glue", "catalog"), d.arn("glue", "database/"+db), d.arn("glue", "table/"+db+"/*")}
}

// GlueActions are the Glue calls of the catalog (lake/catalog/glue).
var GlueActions = []string{
	"glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
	"glue:GetPartition", "glue:GetPartitions", "glue:CreatePartition", "glue:BatchCreatePartition", "glue:UpdatePartition",
	"glue:BatchUpdatePartition", "glue:DeletePartition", "glue:BatchDeletePartition",
}

func (d *Deployment) policies() {
	d.TaskRole.Policy = d.taskPolicy()
	d.ExecRole.Policy = d.execPolicy()
	d.StateMachineRole.Policy = d.stateMachinePolicy()
	d.SchedulerRole.Policy = PolicyDocument{Version: "2012-10-17", Statement: []Statement{
		allow("StartTheMonthlyRun", []string{"states:StartExecution"}, d.StateMachineARN()),
	}}
	d.intakePolicies()
	d.Operator = d.operatorPolicy()
	d.opsStatements()
}

// lakeList allows listing the lake under the job's prefixes.
// StringLikeIfExists: HeadBucket (the store's start-up check) sends no
// prefix and needs s3:ListBucket too; it reveals nothing.
func (d *Deployment) lakeList(prefixes []string) Statement {
	var like []string
	for _, p := range prefixes {
		like = append(like, d.Prefix+p, d.Prefix+p+"*")
	}
	st := allow("ListTheJobsPrefixes", []string{"s3:ListBucket"}, d.s3Bucket(d.Bucket))
	st.Condition = map[string]map[string]any{"StringLikeIfExists": {"s3:prefix": like}}
	return st
}

func (d *Deployment) taskPolicy() PolicyDocument {
	writable := d.writablePrefixes()
	var objects []string
	for _, p := range writable {
		objects = append(objects, d.s3Object(p))
	}
	st := []Statement{
		d.lakeList(append([]string{d.intakePrefix()}, writable...)),
		allow("ListAbandonedUploads", []string{"s3:ListBucketMultipartUploads"}, d.s3Bucket(d.Bucket)),
		allow("ReadTheIntake", []string{"s3:GetObject"}, d.s3Object(d.intakePrefix())),
		allow("WriteTheJobsTiers", []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}, objects...),
		allow("CatalogTheJobsDatabase", GlueActions, d.glueResources()...),
		allow("QueryInTheJobsWorkgroup", []string{"athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup"},
			d.arn("athena", "workgroup/"+d.Params.Workgroup)),
	}
	if b, p, ok := d.athenaOutput(); ok {
		st = append(st, d.athenaResultStatements(b, p)...)
	}
	if t := d.Spec.AWS.LineageTable; t != "" {
		st = append(st, allow("RecordLineage", []string{
			"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
			"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable",
		}, d.arn("dynamodb", "table/"+t), d.arn("dynamodb", "table/"+t+"/index/*")))
	}
	// A month held by an execution that has stopped is taken over at once.
	st = append(st, allow("CheckTheMonthsHolder", []string{"states:DescribeExecution"}, d.arn("states", "execution:"+d.Base+":*")))
	st = append(st, d.kmsStatements("EncryptTheLake", []string{"kms:GenerateDataKey", "kms:Decrypt"}, d.Params.KMSKeyID)...)
	st = append(st, d.kmsStatements("DecryptThePIIKey", []string{"kms:Decrypt"}, d.Spec.PII.KMSKeyID)...)
	return PolicyDocument{Version: "2012-10-17", Statement: st}
}

// athenaResultStatements allow Athena (run as this role) to write and read
// its query results.
func (d *Deployment) athenaResultStatements(bucket, prefix string) []Statement {
	list := allow("ListAthenaResults", []string{"s3:ListBucket", "s3:GetBucketLocation"}, d.s3Bucket(bucket))
	return []Statement{list, allow("WriteAthenaResults", []string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"},
		"arn:"+d.Partition+":s3:::"+bucket+"/"+prefix+"*")}
}

func (d *Deployment) execPolicy() PolicyDocument {
	group := d.arn("logs", "log-group:"+d.LogGroup)
	st := []Statement{
		// The awslogs driver creates the group on first use
		// (awslogs-create-group); render's template creates it itself.
		allow("WriteTheJobsLogs", []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, group, group+":*"),
	}
	if repo, ok := d.ecrRepository(); ok {
		st = append(st,
			allow("PullTheImage", []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}, repo),
			// GetAuthorizationToken has no resource-level permissions.
			allow("LogInToECR", []string{"ecr:GetAuthorizationToken"}, "*"))
	}
	return PolicyDocument{Version: "2012-10-17", Statement: st}
}

var ecrImage = regexp.MustCompile(`^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)`)

// ecrRepository is the image's ECR repository ARN, if it is in ECR.
func (d *Deployment) ecrRepository() (string, bool) {
	m := ecrImage.FindStringSubmatch(d.Image)
	if m == nil {
		return "", false
	}
	return "arn:" + d.Partition + ":ecr:" + m[2] + ":" + m[1] + ":repository/" + m[3], true
}

func (d *Deployment) stateMachinePolicy() PolicyDocument {
	meta := d.Prefix + "_tierflow/executions/" + d.Spec.Name + "/"
	st := []Statement{
		func() Statement {
			s := allow("RunTheJobsTasks", []string{"ecs:RunTask"}, d.arn("ecs", "task-definition/"+d.Base+":*"))
			s.Condition = map[string]map[string]any{"ArnEquals": {"ecs:cluster": d.ClusterARN()}}
			return s
		}(),
		allow("FollowTheJobsTasks", []string{"ecs:StopTask", "ecs:DescribeTasks"}, d.arn("ecs", "task/"+d.ClusterName()+"/*")),
		// ecs:runTask.sync learns that a task stopped through this managed rule.
		allow("EcsSyncRule", []string{"events:PutTargets", "events:PutRule", "events:DescribeRule"},
			d.arn("events", "rule/StepFunctionsGetEventsForECSTaskRule")),
		func() Statement {
			s := allow("PassTheTaskRoles", []string{"iam:PassRole"}, d.RoleARN(d.TaskRole), d.RoleARN(d.ExecRole))
			s.Condition = map[string]map[string]any{"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
			return s
		}(),
		// plan.json, the Maps' ItemReaders (parts.json, derive.json), error.json.
		allow("ExecutionState", []string{"s3:GetObject", "s3:PutObject"}, "arn:"+d.Partition+":s3:::"+d.Bucket+"/"+meta+"*"),
		// Distributed Maps run their items as child executions.
		allow("DistributedMapChildren", []string{"states:StartExecution"}, d.StateMachineARN()),
		allow("DistributedMapRuns", []string{"states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"},
			d.arn("states", "execution:"+d.Base+":*"), d.arn("states", "execution:"+d.Base+"/*")),
		allow("DeriveWithAthena", []string{"athena:StartQueryExecution", "athena:GetQueryExecution", "athena:StopQueryExecution", "athena:GetWorkGroup"},
			d.arn("athena", "workgroup/"+d.Params.Workgroup)),
		// Athena runs the CTAS with this role's permissions: it reads the
		// staged tier-2 data and writes tier 3.
		allow("CtasCatalog", []string{"glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions",
			"glue:CreateTable", "glue:DeleteTable", "glue:BatchCreatePartition"}, d.glueResources()...),
		allow("CtasReadTier2", []string{"s3:GetObject"}, d.s3Object(jobs.TableRoot(2, d.Spec.Output.Table))),
		d.lakeList(d.writablePrefixes()[1:]),
	}
	var tier3 []string
	for _, t := range d.Spec.Derived {
		tier3 = append(tier3, d.s3Object(jobs.TableRoot(3, t.Table)))
	}
	if len(tier3) > 0 {
		st = append(st, allow("CtasWriteTier3", []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}, tier3...))
	}
	if b, p, ok := d.athenaOutput(); ok {
		st = append(st, d.athenaResultStatements(b, p)...)
	}
	st = append(st, d.kmsStatements("EncryptTheLake", []string{"kms:GenerateDataKey", "kms:Decrypt"}, d.Params.KMSKeyID)...)
	return PolicyDocument{Version: "2012-10-17", Statement: st}
}

// operatorPolicy is for a person or CI role running deploy, run --on aws,
// runs and status for this job.
func (d *Deployment) operatorPolicy() PolicyDocument {
	var roles []string
	for _, r := range d.Roles() {
		roles = append(roles, d.RoleARN(*r))
	}
	execs := d.arn("states", "execution:"+d.Base+":*")
	st := []Statement{
		allow("ManageTheJobsRoles", []string{"iam:GetRole", "iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy"}, roles...),
		allow("HandTheRolesToServices", []string{"iam:PassRole"}, roles...),
		// RegisterTaskDefinition has no resource-level permissions.
		allow("RegisterTheTaskDefinition", []string{"ecs:RegisterTaskDefinition"}, "*"),
		allow("EnsureTheCluster", []string{"ecs:DescribeClusters", "ecs:CreateCluster"}, d.ClusterARN()),
		allow("ManageTheStateMachine", []string{"states:CreateStateMachine", "states:UpdateStateMachine", "states:DescribeStateMachine",
			"states:StartExecution", "states:ListExecutions", "states:ListMapRuns"}, d.StateMachineARN()),
		allow("FollowExecutions", []string{"states:DescribeExecution", "states:GetExecutionHistory", "states:RedriveExecution", "states:StopExecution", "states:ListMapRuns"}, execs),
		allow("FollowMapRuns", []string{"states:DescribeMapRun"}, d.arn("states", "mapRun:"+d.Base+"/*")),
		allow("ManageTheSchedule", []string{"scheduler:GetSchedule", "scheduler:CreateSchedule", "scheduler:UpdateSchedule"}, d.ScheduleARN()),
	}
	st = append(st, d.intakeOperatorStatements()...)
	if t := d.Spec.AWS.LineageTable; t != "" {
		st = append(st, allow("ReadLineage", []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"},
			d.arn("dynamodb", "table/"+t), d.arn("dynamodb", "table/"+t+"/index/*")))
	}
	return PolicyDocument{Version: "2012-10-17", Statement: st}
}
