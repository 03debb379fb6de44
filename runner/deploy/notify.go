package deploy

// The job's SNS topic: the state machine publishes one message per
// finished run to it (statemachines: Notify), the CloudWatch alarms
// publish theirs, and the spec's notify: section subscribes people to it.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// TopicName is the job's SNS topic's name.
func (d *Deployment) TopicName() string { return d.Base }

// TopicARN is the job's SNS topic's ARN.
func (d *Deployment) TopicARN() string { return d.arn("sns", d.TopicName()) }

// Subscription is one endpoint of the spec's notify: section.
type Subscription struct {
	Protocol string // email, sms, https
	Endpoint string
}

// Subscriptions are the topic's subscriptions the spec asks for.
func (d *Deployment) Subscriptions() []Subscription {
	var out []Subscription
	n := d.Spec.Notify
	for _, s := range []struct {
		protocol  string
		endpoints []string
	}{{"email", n.Email}, {"sms", n.SMS}, {"https", n.HTTPS}} {
		for _, e := range s.endpoints {
			out = append(out, Subscription{Protocol: s.protocol, Endpoint: e})
		}
	}
	return out
}

// FilterPolicy is every subscription's filter on the run messages'
// status attribute. Alarm messages carry no attributes, so they pass
// ("exists": false) whatever notify.on says.
func (d *Deployment) FilterPolicy() string {
	if d.Spec.Notify.OnFailureOnly {
		return `{"status":["FAILED",{"exists":false}]}`
	}
	return `{"status":["SUCCEEDED","FAILED",{"exists":false}]}`
}

// ensureTopic creates the topic (CreateTopic is idempotent) and makes its
// subscriptions the spec's: new ones are subscribed (e-mail and HTTPS
// endpoints must confirm), kept ones get the current filter policy, and
// confirmed ones the spec no longer lists are removed. It reports the
// subscriptions that wait for a confirmation.
func (a *Clients) ensureTopic(ctx context.Context, d *Deployment) (pending []string, err error) {
	out, err := a.sns.CreateTopic(ctx, &sns.CreateTopicInput{
		Name: aws.String(d.TopicName()), Tags: []snstypes.Tag{{Key: aws.String("tierflow:job"), Value: aws.String(d.Spec.Name)}},
	})
	if err != nil {
		return nil, fmt.Errorf("deploy: create topic %s: %w", d.TopicName(), err)
	}
	topic := aws.ToString(out.TopicArn)
	have := map[Subscription]string{} // → subscription ARN, or "PendingConfirmation"
	p := sns.NewListSubscriptionsByTopicPaginator(a.sns, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("deploy: list subscriptions of %s: %w", d.TopicName(), err)
		}
		for _, s := range page.Subscriptions {
			have[Subscription{Protocol: aws.ToString(s.Protocol), Endpoint: aws.ToString(s.Endpoint)}] = aws.ToString(s.SubscriptionArn)
		}
	}
	want := map[Subscription]bool{}
	for _, s := range d.Subscriptions() {
		want[s] = true
		arn, ok := have[s]
		switch {
		case ok && strings.HasPrefix(arn, "arn:"):
			if _, err := a.sns.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{
				SubscriptionArn: aws.String(arn), AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(d.FilterPolicy()),
			}); err != nil {
				return nil, fmt.Errorf("deploy: filter policy of %s %s: %w", s.Protocol, s.Endpoint, err)
			}
		case ok:
			pending = append(pending, s.Protocol+" "+s.Endpoint) // asked before, not confirmed yet
		default:
			if _, err := a.sns.Subscribe(ctx, &sns.SubscribeInput{
				TopicArn: aws.String(topic), Protocol: aws.String(s.Protocol), Endpoint: aws.String(s.Endpoint),
				Attributes: map[string]string{"FilterPolicy": d.FilterPolicy()},
			}); err != nil {
				return nil, fmt.Errorf("deploy: subscribe %s %s: %w", s.Protocol, s.Endpoint, err)
			}
			if s.Protocol != "sms" {
				// E-mail and HTTPS endpoints receive a confirmation first.
				pending = append(pending, s.Protocol+" "+s.Endpoint)
			}
		}
	}
	for s, arn := range have {
		// A pending confirmation has no ARN yet and cannot be removed: it
		// lapses after three days.
		if !want[s] && strings.HasPrefix(arn, "arn:") {
			if _, err := a.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(arn)}); err != nil {
				return nil, fmt.Errorf("deploy: unsubscribe %s %s: %w", s.Protocol, s.Endpoint, err)
			}
		}
	}
	return pending, nil
}

// notifyStatements are the grants the topic needs: the state machine
// publishes, the operator manages it.
func (d *Deployment) notifyStatements() {
	topic := d.TopicARN()
	d.StateMachineRole.Policy.Statement = append(d.StateMachineRole.Policy.Statement,
		allow("NotifyFinishedRuns", []string{"sns:Publish"}, topic))
	d.Operator.Statement = append(d.Operator.Statement,
		// CreateTopic with tags needs sns:TagResource.
		allow("ManageTheTopic", []string{"sns:CreateTopic", "sns:TagResource", "sns:ListSubscriptionsByTopic", "sns:Subscribe"}, topic),
		// Subscriptions are no IAM resource of their own: their calls are
		// authorized on the topic.
		allow("ManageTheSubscriptions", []string{"sns:SetSubscriptionAttributes", "sns:Unsubscribe"}, topic))
}

// cfnNotify adds the topic and its subscriptions to a template's
// resources.
func (d *Deployment) cfnNotify(resources cfnObject, tags []cfnObject) {
	resources["Topic"] = cfnObject{"Type": "AWS::SNS::Topic", "Properties": cfnObject{"TopicName": d.TopicName(), "Tags": tags}}
	for i, s := range d.Subscriptions() {
		var policy any
		if err := json.Unmarshal([]byte(d.FilterPolicy()), &policy); err != nil {
			panic(err) // a constant
		}
		resources[fmt.Sprintf("Subscription%d", i+1)] = cfnObject{"Type": "AWS::SNS::Subscription", "Properties": cfnObject{
			"TopicArn": ref("Topic"), "Protocol": s.Protocol, "Endpoint": s.Endpoint,
			"FilterPolicyScope": "MessageAttributes", "FilterPolicy": policy,
		}}
	}
}
