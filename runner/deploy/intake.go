package deploy

// The intake trigger (docs/aws.md, "Intake-triggered runs"): the lake
// bucket sends its events to EventBridge, a rule matching Object Created
// events under the job's intake starts the intake state machine
// (statemachines/intake.asl.json), which starts the job's state machine
// for the object's month under a name derived from the object. Only jobs
// with source.complete_when get one: without it the first part would
// start a run on a partial delivery.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tierflow/tierflow/statemachines"
)

// IntakeTargetID is the id of the intake rule's one target.
const IntakeTargetID = "intake-check"

// intakeTrigger sets up the trigger of a job that says when its delivery
// is complete, unless o.NoIntake.
func (d *Deployment) intakeTrigger(o Options) error {
	if o.NoIntake {
		return nil
	}
	t, err := statemachines.Intake(d.Spec, d.Params.Lake)
	switch {
	case errors.Is(err, statemachines.ErrNoTrigger):
		return nil
	case err != nil:
		return fmt.Errorf("job %s: the intake trigger: %w (or deploy with --no-intake: runs on the schedule only)", d.Spec.Name, err)
	}
	d.Intake = &t
	d.IntakeRole = Role{Name: d.Base + "-intake", Service: "states.amazonaws.com"}
	d.EventsRole = Role{Name: d.Base + "-events", Service: "events.amazonaws.com"}
	return nil
}

// IntakeName names the intake trigger's rule and state machine.
func (d *Deployment) IntakeName() string { return d.Base + "-intake" }

// IntakeMachineARN is the intake state machine's ARN.
func (d *Deployment) IntakeMachineARN() string {
	return d.arn("states", "stateMachine:"+d.IntakeName())
}

// IntakeRuleARN is the intake rule's ARN (default event bus).
func (d *Deployment) IntakeRuleARN() string { return d.arn("events", "rule/"+d.IntakeName()) }

// IntakePattern is the intake rule's event pattern, as JSON.
func (d *Deployment) IntakePattern() string {
	b, err := json.Marshal(d.Intake.EventPattern())
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	return string(b)
}

// intakeRetry: EventBridge keeps trying to start the intake machine for a
// day (throttling, a role not propagated yet).
var intakeRetry = &ebtypes.RetryPolicy{MaximumEventAgeInSeconds: aws.Int32(86400), MaximumRetryAttempts: aws.Int32(185)}

// intakePolicies: the intake machine may start the job's machine, the
// rule's role the intake machine; nothing else.
func (d *Deployment) intakePolicies() {
	if d.Intake == nil {
		return
	}
	d.IntakeRole.Policy = PolicyDocument{Version: "2012-10-17", Statement: []Statement{
		allow("StartTheJobsMonth", []string{"states:StartExecution"}, d.StateMachineARN()),
	}}
	d.EventsRole.Policy = PolicyDocument{Version: "2012-10-17", Statement: []Statement{
		allow("StartTheIntakeCheck", []string{"states:StartExecution"}, d.IntakeMachineARN()),
	}}
}

// intakeOperatorStatements are what deploy needs for the trigger.
func (d *Deployment) intakeOperatorStatements() []Statement {
	if d.Intake == nil {
		return nil
	}
	return []Statement{
		allow("ManageTheIntakeMachine", []string{"states:CreateStateMachine", "states:UpdateStateMachine", "states:DescribeStateMachine"}, d.IntakeMachineARN()),
		allow("ManageTheIntakeRule", []string{"events:DescribeRule", "events:PutRule", "events:PutTargets"}, d.IntakeRuleARN()),
		// Read-modify-write of the bucket's notification configuration.
		allow("SendTheLakesEvents", []string{"s3:GetBucketNotification", "s3:PutBucketNotification"}, d.s3Bucket(d.Intake.Bucket)),
	}
}

// deployIntake creates or updates the intake state machine and rule, and
// turns on the bucket's EventBridge notifications.
func (a *Clients) deployIntake(ctx context.Context, d *Deployment, res *Result, wait time.Duration) error {
	def, err := statemachines.RenderIntake(d.Spec, d.Params.Lake, d.StateMachineARN())
	if err != nil {
		return err
	}
	created, err := a.ensureStateMachine(ctx, d, d.IntakeName(), d.IntakeRole, string(def), wait)
	if err != nil {
		return err
	}
	res.IntakeMachine = d.IntakeMachineARN()
	if created {
		res.Created = append(res.Created, "state machine "+d.IntakeName())
	}
	if created, err = a.ensureIntakeRule(ctx, d, wait); err != nil {
		return err
	}
	res.IntakeRule = d.IntakeRuleARN()
	if created {
		res.Created = append(res.Created, "rule "+d.IntakeName())
	}
	turnedOn, err := a.ensureBucketEvents(ctx, d)
	if err != nil {
		return err
	}
	if turnedOn {
		res.Created = append(res.Created, "EventBridge notifications of bucket "+d.Intake.Bucket)
	}
	return nil
}

// ensureIntakeRule puts the rule and its target (both calls create or
// replace); it reports whether the rule was new.
func (a *Clients) ensureIntakeRule(ctx context.Context, d *Deployment, wait time.Duration) (bool, error) {
	name := aws.String(d.IntakeName())
	_, err := a.events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: name})
	var missing *ebtypes.ResourceNotFoundException
	created := errors.As(err, &missing)
	if err != nil && !created {
		return false, fmt.Errorf("deploy: describe rule %s: %w", d.IntakeName(), err)
	}
	if _, err := a.events.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: name, EventPattern: aws.String(d.IntakePattern()), State: ebtypes.RuleStateEnabled,
		Description: aws.String("tierflow job " + d.Spec.Name + ": each new intake object re-checks its month's delivery"),
	}); err != nil {
		return false, fmt.Errorf("deploy: put rule %s: %w", d.IntakeName(), err)
	}
	err = retryIAM(ctx, wait, func() error {
		out, err := a.events.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: name, Targets: []ebtypes.Target{{
			Id: aws.String(IntakeTargetID), Arn: aws.String(d.IntakeMachineARN()), RoleArn: aws.String(d.RoleARN(d.EventsRole)),
			RetryPolicy: intakeRetry,
		}}})
		if err == nil && out.FailedEntryCount > 0 {
			e := out.FailedEntries[0]
			err = fmt.Errorf("%s: %s", aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("deploy: put the target of rule %s: %w", d.IntakeName(), err)
	}
	return created, nil
}

// ensureBucketEvents turns on the lake bucket's EventBridge notifications,
// keeping its other notifications: PutBucketNotificationConfiguration
// replaces the whole configuration, so what is there is read and written
// back with EventBridge added. It reports whether it had to.
func (a *Clients) ensureBucketEvents(ctx context.Context, d *Deployment) (bool, error) {
	bucket, owner := aws.String(d.Intake.Bucket), d.Spec.AWS.ExpectedBucketOwner
	cur, err := a.s3.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{
		Bucket: bucket, ExpectedBucketOwner: optional(owner),
	})
	if err != nil {
		return false, fmt.Errorf("deploy: read the notification configuration of bucket %s: %w", d.Intake.Bucket, err)
	}
	if cur.EventBridgeConfiguration != nil {
		return false, nil
	}
	if _, err := a.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: bucket, ExpectedBucketOwner: optional(owner),
		// The other notifications are someone else's, written back as they
		// are: a destination of theirs that is broken now must not fail
		// this deploy (S3 would test each one).
		SkipDestinationValidation: aws.Bool(true),
		NotificationConfiguration: &s3types.NotificationConfiguration{
			EventBridgeConfiguration:     &s3types.EventBridgeConfiguration{},
			TopicConfigurations:          cur.TopicConfigurations,
			QueueConfigurations:          cur.QueueConfigurations,
			LambdaFunctionConfigurations: cur.LambdaFunctionConfigurations,
		},
	}); err != nil {
		return false, fmt.Errorf("deploy: turn on EventBridge notifications of bucket %s: %w", d.Intake.Bucket, err)
	}
	return true, nil
}

// optional is nil for "", else s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// cfnJobMachine is the job's state machine ARN inside the rendered intake
// definition, filled by DefinitionSubstitutions.
const cfnJobMachine = "${JobStateMachineArn}"

// cfnIntake adds the trigger to a template's resources and outputs, and
// returns the template's metadata saying what the template cannot do: the
// lake bucket is not in it, so its EventBridge notifications are a note.
func (d *Deployment) cfnIntake(resources, outputs cfnObject) (cfnObject, error) {
	if d.Intake == nil {
		return nil, nil
	}
	def, err := statemachines.RenderIntake(d.Spec, d.Params.Lake, cfnJobMachine)
	if err != nil {
		return nil, err
	}
	resources["IntakeRole"] = d.cfnRole(d.IntakeRole)
	resources["EventsRole"] = d.cfnRole(d.EventsRole)
	resources["IntakeStateMachine"] = cfnObject{"Type": "AWS::StepFunctions::StateMachine", "Properties": cfnObject{
		"StateMachineName":        d.IntakeName(),
		"StateMachineType":        "STANDARD",
		"RoleArn":                 getAtt("IntakeRole"),
		"Definition":              json.RawMessage(def),
		"DefinitionSubstitutions": cfnObject{strings.Trim(cfnJobMachine, "${}"): ref("StateMachine")},
		"Tags":                    d.cfnTags(),
	}}
	resources["IntakeRule"] = cfnObject{"Type": "AWS::Events::Rule", "Properties": cfnObject{
		"Name":         d.IntakeName(),
		"Description":  "tierflow job " + d.Spec.Name + ": each new intake object re-checks its month's delivery",
		"EventPattern": d.Intake.EventPattern(),
		"State":        "ENABLED",
		"Targets": []cfnObject{{
			"Id": IntakeTargetID, "Arn": ref("IntakeStateMachine"), "RoleArn": getAtt("EventsRole"),
			"RetryPolicy": cfnObject{"MaximumEventAgeInSeconds": aws.ToInt32(intakeRetry.MaximumEventAgeInSeconds), "MaximumRetryAttempts": aws.ToInt32(intakeRetry.MaximumRetryAttempts)},
		}},
	}}
	outputs["IntakeRuleArn"] = cfnObject{"Value": getAtt("IntakeRule")}
	outputs["IntakeStateMachineArn"] = cfnObject{"Value": ref("IntakeStateMachine")}
	return cfnObject{"tierflow:LakeBucketNotifications": cfnObject{
		"Bucket":   d.Intake.Bucket,
		"Requires": "EventBridgeConfiguration",
		"Note": "The lake bucket is not in this template, and IntakeRule sees its objects only once the bucket sends its events to EventBridge. " +
			"tierflow deploy turns that on, keeping the bucket's other notifications. By hand: read the configuration " +
			"(aws s3api get-bucket-notification-configuration --bucket " + d.Intake.Bucket + "), add \"EventBridgeConfiguration\": {} to it " +
			"and write it back whole (aws s3api put-bucket-notification-configuration --bucket " + d.Intake.Bucket + " --notification-configuration file://…): a put replaces every notification.",
	}}, nil
}
