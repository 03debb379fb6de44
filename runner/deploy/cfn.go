package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/statemachines"
)

// CloudFormation pseudo parameters: render builds the Deployment with
// these as partition, region and account, and every string naming one
// becomes an Fn::Sub, so the template deploys into any account.
const (
	cfnPartition = "${AWS::Partition}"
	cfnRegion    = "${AWS::Region}"
	cfnAccount   = "${AWS::AccountId}"
)

// cfnTaskDefinition is the state machine definition's stand-in for the
// task definition's ARN, filled by DefinitionSubstitutions.
const cfnTaskDefinition = "${TaskDefinitionArn}"

// cfnTopic is the definition's stand-in for the topic's ARN, likewise.
const cfnTopic = "${TopicArn}"

// Render prints the job's deployment as a CloudFormation template
// (JSON): the same roles, task definition, state machine and schedule as
// deploy, plus the log group. It calls no AWS API.
func Render(_ context.Context, o Options) error {
	spec, err := jobs.Open(o.Job)
	if err != nil {
		return err
	}
	d, err := NewDeployment(spec, o, cfnPartition, cfnRegion, cfnAccount)
	if err != nil {
		return err
	}
	t, err := d.CloudFormation()
	if err != nil {
		return err
	}
	_, err = o.Stdout.Write(append(t, '\n'))
	return err
}

type cfnObject = map[string]any

func (d *Deployment) cfnTags() []cfnObject {
	return []cfnObject{{"Key": "tierflow:job", "Value": d.Spec.Name}}
}

// cfnRole is r as a template resource.
func (d *Deployment) cfnRole(r Role) cfnObject {
	return cfnObject{"Type": "AWS::IAM::Role", "Properties": cfnObject{
		"RoleName":                 r.Name,
		"Description":              "tierflow job " + d.Spec.Name + ": assumed by " + r.Service,
		"AssumeRolePolicyDocument": d.TrustPolicy(r),
		"Policies":                 []cfnObject{{"PolicyName": PolicyName, "PolicyDocument": r.Policy}},
		"Tags":                     d.cfnTags(),
	}}
}

func ref(name string) cfnObject    { return cfnObject{"Ref": name} }
func getAtt(name string) cfnObject { return cfnObject{"Fn::GetAtt": []string{name, "Arn"}} }

// CloudFormation returns the deployment as a CloudFormation template. d
// must be built with the pseudo parameters (see Render).
func (d *Deployment) CloudFormation() ([]byte, error) {
	p := d.Params
	p.TaskDefinition = cfnTaskDefinition
	p.TopicARN = cfnTopic
	def, err := statemachines.Render(d.Spec, p)
	if err != nil {
		return nil, err
	}
	tags := d.cfnTags()
	role := d.cfnRole
	var env []cfnObject
	for _, kv := range d.envVars() {
		env = append(env, cfnObject{"Name": kv[0], "Value": kv[1]})
	}
	td := cfnObject{
		"Family":                  d.Base,
		"RequiresCompatibilities": []string{"FARGATE"},
		"NetworkMode":             "awsvpc",
		"Cpu":                     strconv.Itoa(d.CPU),
		"Memory":                  strconv.Itoa(d.MemoryMiB),
		"TaskRoleArn":             getAtt("TaskRole"),
		"ExecutionRoleArn":        getAtt("ExecutionRole"),
		"RuntimePlatform":         cfnObject{"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
		"ContainerDefinitions": []cfnObject{{
			"Name": d.Params.ContainerName, "Image": d.Image, "Essential": true, "Environment": env,
			"LogConfiguration": cfnObject{"LogDriver": "awslogs", "Options": d.logOptions()},
		}},
		"Tags": tags,
	}
	if d.StorageGiB > 0 {
		td["EphemeralStorage"] = cfnObject{"SizeInGiB": d.StorageGiB}
	}
	resources := cfnObject{
		"LogGroup": cfnObject{"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
			"Properties": cfnObject{"LogGroupName": d.LogGroup, "RetentionInDays": 365}},
		"Cluster": cfnObject{"Type": "AWS::ECS::Cluster", "Condition": "CreateCluster",
			"Properties": cfnObject{"ClusterName": d.ClusterName(), "Tags": tags}},
		"TaskRole":         role(d.TaskRole),
		"ExecutionRole":    role(d.ExecRole),
		"StateMachineRole": role(d.StateMachineRole),
		"TaskDefinition":   cfnObject{"Type": "AWS::ECS::TaskDefinition", "DependsOn": []string{"LogGroup"}, "Properties": td},
		"StateMachine": cfnObject{"Type": "AWS::StepFunctions::StateMachine", "Properties": cfnObject{
			"StateMachineName":        d.Base,
			"StateMachineType":        "STANDARD",
			"RoleArn":                 getAtt("StateMachineRole"),
			"Definition":              json.RawMessage(def),
			"DefinitionSubstitutions": cfnObject{strings.Trim(cfnTaskDefinition, "${}"): ref("TaskDefinition"), strings.Trim(cfnTopic, "${}"): ref("Topic")},
			"Tags":                    tags,
		}},
	}
	outputs := cfnObject{
		"StateMachineArn":   cfnObject{"Value": ref("StateMachine")},
		"TaskDefinitionArn": cfnObject{"Value": ref("TaskDefinition")},
	}
	if d.Schedule != "" {
		resources["SchedulerRole"] = role(d.SchedulerRole)
		resources["Schedule"] = cfnObject{"Type": "AWS::Scheduler::Schedule", "Properties": cfnObject{
			"Name":                       d.ScheduleName(),
			"Description":                "tierflow job " + d.Spec.Name + ": the monthly run (plan picks the previous month)",
			"ScheduleExpression":         d.Schedule,
			"ScheduleExpressionTimezone": "UTC",
			"FlexibleTimeWindow":         cfnObject{"Mode": "OFF"},
			"State":                      "ENABLED",
			"Target": cfnObject{
				"Arn": ref("StateMachine"), "RoleArn": getAtt("SchedulerRole"), "Input": ScheduleInput,
				"RetryPolicy": cfnObject{"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 86400},
			},
		}}
		outputs["ScheduleArn"] = cfnObject{"Value": cfnObject{"Fn::GetAtt": []string{"Schedule", "Arn"}}}
	}
	metadata, err := d.cfnIntake(resources, outputs)
	if err != nil {
		return nil, err
	}
	tmpl := cfnObject{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              fmt.Sprintf("tierflow job %s: monthly run on Step Functions and ECS Fargate (tierflow render)", d.Spec.Name),
		"Parameters": cfnObject{"CreateCluster": cfnObject{
			"Type": "String", "AllowedValues": []string{"true", "false"}, "Default": "true",
			"Description": "Create the ECS cluster " + d.ClusterName() + " (false when it exists already)",
		}},
		"Conditions": cfnObject{"CreateCluster": cfnObject{"Fn::Equals": []any{ref("CreateCluster"), "true"}}},
		"Resources":  resources,
		"Outputs":    outputs,
	}
	if metadata != nil {
		tmpl["Metadata"] = metadata
	}
	d.cfnOps(tmpl, resources, outputs, tags)
	// Round-trip through JSON so the walk sees plain values, then wrap
	// every string naming a pseudo parameter in Fn::Sub — except inside
	// the state machine definition, which DefinitionSubstitutions fills.
	b, err := json.Marshal(tmpl)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	sm := v["Resources"].(map[string]any)["StateMachine"].(map[string]any)["Properties"].(map[string]any)
	definition := sm["Definition"]
	delete(sm, "Definition")
	out := subPseudo(v)
	out.(map[string]any)["Resources"].(map[string]any)["StateMachine"].(map[string]any)["Properties"].(map[string]any)["Definition"] = definition
	return json.MarshalIndent(out, "", "  ")
}

// subPseudo wraps strings containing ${AWS::…} in Fn::Sub.
func subPseudo(v any) any {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "${AWS::") {
			return map[string]any{"Fn::Sub": x}
		}
		return x
	case []any:
		for i := range x {
			x[i] = subPseudo(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = subPseudo(x[k])
		}
		return x
	}
	return v
}

// IAMPolicy prints the policies deploy attaches (per role: trust
// and inline policy) and the operator's, as one JSON document.
func IAMPolicy(ctx context.Context, o Options) error {
	o.PolicyOnly = true
	spec, err := jobs.Open(o.Job)
	if err != nil {
		return err
	}
	region, acct := o.Region, o.Account
	if region == "" {
		region = spec.AWS.Region
	}
	var d *Deployment
	if acct != "" && region != "" {
		d, err = NewDeployment(spec, o, partitionOf(region), region, acct)
	} else {
		api, aerr := NewClients(ctx, o.AWS, spec, o.Region, o.Log)
		if aerr != nil {
			return aerr
		}
		d, err = api.deployment(ctx, spec, o)
	}
	if err != nil {
		return err
	}
	out := map[string]any{"operator": d.Operator}
	for _, r := range d.Roles() {
		if r == &d.SchedulerRole && d.Schedule == "" {
			continue
		}
		out[r.Name] = map[string]any{"assumed_by": r.Service, "trust": d.TrustPolicy(*r), "policy": r.Policy}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = o.Stdout.Write(append(b, '\n'))
	return err
}
