package deploy

// The operations resources of issue 16 beside the run's own: the SNS
// topic (notify.go), the CloudWatch alarms, dashboard and late check
// (monitor.go) and the lake's lifecycle rules (lifecycle.go).

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// OpsResult names the operations resources deploy created or updated.
type OpsResult struct {
	Topic string
	// Pending are subscriptions waiting for their endpoint's confirmation.
	Pending        []string
	Alarms         []string
	Dashboard      string
	LateCheck      string // "" without one
	LifecycleRules []string
}

// deployOps creates or updates the topic and its subscriptions, the
// alarms, the dashboard, the late check (on task definition taskDef) and
// the lifecycle rules.
func (a *Clients) deployOps(ctx context.Context, d *Deployment, taskDef string, wait time.Duration) (OpsResult, error) {
	var r OpsResult
	var err error
	if r.Pending, err = a.ensureTopic(ctx, d); err != nil {
		return r, err
	}
	r.Topic = d.TopicARN()
	if err := a.ensureMonitoring(ctx, d, taskDef, wait); err != nil {
		return r, err
	}
	for _, al := range d.Alarms() {
		r.Alarms = append(r.Alarms, aws.ToString(al.AlarmName))
	}
	r.Dashboard = d.DashboardName()
	if d.LateCheck() {
		r.LateCheck = d.LateCheckName()
	}
	if r.LifecycleRules, err = a.ensureLifecycle(ctx, d); err != nil {
		return r, err
	}
	return r, nil
}

func (r OpsResult) print(w io.Writer) {
	fmt.Fprintf(w, "  topic            %s\n", r.Topic)
	if len(r.Pending) > 0 {
		fmt.Fprintf(w, "  to confirm       %s (SNS sent each a confirmation request)\n", strings.Join(r.Pending, ", "))
	}
	fmt.Fprintf(w, "  alarms           %s\n", strings.Join(r.Alarms, ", "))
	fmt.Fprintf(w, "  dashboard        %s\n", r.Dashboard)
	if r.LateCheck != "" {
		fmt.Fprintf(w, "  late check       %s (hourly)\n", r.LateCheck)
	}
	if len(r.LifecycleRules) > 0 {
		fmt.Fprintf(w, "  lifecycle rules  %s\n", strings.Join(r.LifecycleRules, ", "))
	}
}

// opsStatements add the operations resources' grants to the policies.
func (d *Deployment) opsStatements() {
	d.notifyStatements()
	d.monitorStatements()
	d.lifecycleStatements()
}

// cfnOps adds the operations resources to a template.
func (d *Deployment) cfnOps(tmpl, resources, outputs cfnObject, tags []cfnObject) {
	d.cfnNotify(resources, tags)
	d.cfnMonitor(resources)
	d.cfnLifecycle(tmpl)
	outputs["TopicArn"] = cfnObject{"Value": ref("Topic")}
	outputs["DashboardName"] = cfnObject{"Value": ref("Dashboard")}
}
