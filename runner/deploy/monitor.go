package deploy

// CloudWatch: the job's alarms (a run failed, too many rows rejected, the
// month late), its dashboard, and the hourly late-data check that feeds
// the late alarm. The metrics come from the tasks' EMF lines (package
// emf) and from Step Functions (AWS/States).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/tierflow/tierflow/runner/emf"
)

// LateCheckName is the hourly late-data check's schedule's name.
func (d *Deployment) LateCheckName() string { return d.Base + "-late" }

// LateCheckARN is its ARN.
func (d *Deployment) LateCheckARN() string {
	return d.arn("scheduler", "schedule/default/"+d.LateCheckName())
}

// LateCheck reports whether the deployment has the late-data check: a
// schedule and monitor.late_after.
func (d *Deployment) LateCheck() bool { return d.Schedule != "" && d.Spec.Monitor.LateAfter > 0 }

// LateCheckInput is the late check's RunTask overrides: the command and a
// small task (it reads one lineage record).
func (d *Deployment) LateCheckInput() string {
	b, err := json.Marshal(map[string]any{
		"containerOverrides": []any{map[string]any{
			"name": d.Params.ContainerName, "command": []string{"late", "--job", d.Params.Job, "--lake", d.Params.Lake},
		}},
		"cpu": "256", "memory": "512", "ephemeralStorage": map[string]int{"sizeInGiB": 21},
	})
	if err != nil {
		panic(err) // plain values
	}
	return string(b)
}

// DashboardName is the job's CloudWatch dashboard's name.
func (d *Deployment) DashboardName() string { return d.Base }

// alarmARN is the ARN of an alarm of the deployment.
func (d *Deployment) alarmARN(name string) string { return d.arn("cloudwatch", "alarm:"+name) }

// Alarms are the job's CloudWatch alarms, each notifying the job's topic.
func (d *Deployment) Alarms() []*cloudwatch.PutMetricAlarmInput {
	topic := []string{d.TopicARN()}
	job := []cwtypes.Dimension{{Name: aws.String(emf.DimJob), Value: aws.String(d.Spec.Name)}}
	stat := func(id, name string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(false), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(emf.Namespace), MetricName: aws.String(name), Dimensions: job},
			Period: aws.Int32(3600), Stat: aws.String("Sum"),
		}}
	}
	alarms := []*cloudwatch.PutMetricAlarmInput{
		{
			AlarmName:        aws.String(d.Base + "-run-failed"),
			AlarmDescription: aws.String("tierflow job " + d.Spec.Name + ": an execution of the monthly run failed (tierflow status shows why)"),
			Namespace:        aws.String("AWS/States"), MetricName: aws.String("ExecutionsFailed"),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("StateMachineArn"), Value: aws.String(d.StateMachineARN())}},
			Statistic:  cwtypes.StatisticSum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
			TreatMissingData: aws.String("notBreaching"), AlarmActions: topic,
		},
		{
			AlarmName: aws.String(d.Base + "-rejected-rows"),
			AlarmDescription: aws.String(fmt.Sprintf("tierflow job %s: a published run rejected more than %g of the rows it read (monitor.rejected_fraction)",
				d.Spec.Name, d.Spec.Monitor.RejectedFraction)),
			Metrics: []cwtypes.MetricDataQuery{
				{Id: aws.String("fraction"), Expression: aws.String("rejected / rows"), Label: aws.String("rejected fraction"), ReturnData: aws.Bool(true)},
				stat("rejected", emf.RowsRejected), stat("rows", emf.RowsIn),
			},
			EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(d.Spec.Monitor.RejectedFraction),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
			TreatMissingData:   aws.String("notBreaching"), AlarmActions: topic,
		},
	}
	if d.LateCheck() {
		alarms = append(alarms, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(d.Base + "-late"),
			AlarmDescription: aws.String(fmt.Sprintf("tierflow job %s: the month is not published %v after the schedule fired (monitor.late_after; the hourly check %s); INSUFFICIENT_DATA: the check has not reported for an hour",
				d.Spec.Name, d.Spec.Monitor.LateAfter, d.LateCheckName())),
			Namespace: aws.String(emf.Namespace), MetricName: aws.String(emf.MonthLate), Dimensions: job,
			Statistic: cwtypes.StatisticMaximum, Period: aws.Int32(3600), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
			// A check that stopped reporting is worth knowing about too.
			TreatMissingData: aws.String("missing"), AlarmActions: topic, OKActions: topic, InsufficientDataActions: topic,
		})
	}
	for _, a := range alarms {
		a.Tags = []cwtypes.Tag{{Key: aws.String("tierflow:job"), Value: aws.String(d.Spec.Name)}}
	}
	return alarms
}

// DashboardBody is the job's dashboard: runs, rows, rejects, time, cost,
// throughput, lateness and the alarms.
func (d *Deployment) DashboardBody() string {
	job := func(metrics ...string) [][]any {
		var out [][]any
		for _, m := range metrics {
			out = append(out, []any{emf.Namespace, m, emf.DimJob, d.Spec.Name})
		}
		return out
	}
	widget := func(x, y int, title, stat string, period int, metrics [][]any) map[string]any {
		return map[string]any{"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": map[string]any{
			"title": title, "region": d.Region, "view": "timeSeries", "stat": stat, "period": period, "metrics": metrics,
		}}
	}
	day := 86400
	rejected := append(job(emf.RowsRejected, emf.RowsIn), []any{map[string]any{"expression": "m1 / m2", "label": "rejected fraction", "id": "e1"}})
	rejected[0] = append(rejected[0], map[string]any{"id": "m1", "visible": false})
	rejected[1] = append(rejected[1], map[string]any{"id": "m2", "visible": false})
	widgets := []any{
		widget(0, 0, "Runs: published / failed", "Sum", day, append(job(emf.MonthPublished, emf.RunFailed),
			[]any{"AWS/States", "ExecutionsFailed", "StateMachineArn", d.StateMachineARN()})),
		widget(12, 0, "Rows in / out / rejected", "Sum", day, job(emf.RowsIn, emf.RowsOut, emf.RowsRejected)),
		widget(0, 6, "Rejected fraction", "Sum", day, rejected),
		widget(12, 6, "Run wall time (s) and cost ($)", "Maximum", day, job(emf.RunWallTime, emf.RunCostUSD)),
		widget(0, 12, "Parts: rows/s and wall time (s)", "Average", 3600, job(emf.PartRowsPerSec, emf.PartWallTime)),
		widget(12, 12, "Bytes read / written", "Sum", day, job(emf.PartBytesRead, emf.RunBytesWritten)),
	}
	var arns []string
	for _, a := range d.Alarms() {
		arns = append(arns, d.alarmARN(aws.ToString(a.AlarmName)))
	}
	widgets = append(widgets, map[string]any{"type": "alarm", "x": 0, "y": 18, "width": 24, "height": 3,
		"properties": map[string]any{"title": "Alarms", "alarms": arns}})
	if d.LateCheck() {
		widgets = append(widgets, widget(0, 21, "Month late (1) by the hourly check", "Maximum", 3600, job(emf.MonthLate)))
	}
	b, err := json.Marshal(map[string]any{"widgets": widgets})
	if err != nil {
		panic(err) // plain values
	}
	return string(b)
}

// lateCheckTarget runs the late check as a Fargate task of the job's
// task definition (revision taskDef).
func (d *Deployment) lateCheckTarget(taskDef string) *schedtypes.Target {
	net := &schedtypes.AwsVpcConfiguration{Subnets: d.Params.Subnets, SecurityGroups: d.Params.SecurityGroups, AssignPublicIp: schedtypes.AssignPublicIpDisabled}
	if d.Params.AssignPublicIP {
		net.AssignPublicIp = schedtypes.AssignPublicIpEnabled
	}
	return &schedtypes.Target{
		Arn: aws.String(d.ClusterARN()), RoleArn: aws.String(d.RoleARN(d.SchedulerRole)), Input: aws.String(d.LateCheckInput()),
		EcsParameters: &schedtypes.EcsParameters{
			TaskDefinitionArn: aws.String(taskDef), LaunchType: schedtypes.LaunchTypeFargate, TaskCount: aws.Int32(1),
			NetworkConfiguration: &schedtypes.NetworkConfiguration{AwsvpcConfiguration: net},
		},
		// The next hour's check comes soon enough.
		RetryPolicy: &schedtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(2), MaximumEventAgeInSeconds: aws.Int32(1800)},
	}
}

// ensureMonitoring puts the alarms and the dashboard (both are created or
// replaced by their Put calls) and the hourly late check's schedule.
func (a *Clients) ensureMonitoring(ctx context.Context, d *Deployment, taskDef string, wait time.Duration) error {
	for _, in := range d.Alarms() {
		if _, err := a.cw.PutMetricAlarm(ctx, in); err != nil {
			return fmt.Errorf("deploy: alarm %s: %w", aws.ToString(in.AlarmName), err)
		}
	}
	if _, err := a.cw.PutDashboard(ctx, &cloudwatch.PutDashboardInput{
		DashboardName: aws.String(d.DashboardName()), DashboardBody: aws.String(d.DashboardBody()),
	}); err != nil {
		return fmt.Errorf("deploy: dashboard %s: %w", d.DashboardName(), err)
	}
	if !d.LateCheck() {
		return nil
	}
	_, err := a.upsertSchedule(ctx, d.LateCheckName(), "rate(1 hour)", d.lateCheckTarget(taskDef),
		"tierflow job "+d.Spec.Name+": hourly late-data check (tierflow late) for the late alarm", wait)
	return err
}

// monitorStatements are the grants the monitoring needs: the schedule's
// role starts the late check's task, the operator puts the alarms, the
// dashboard and the schedule.
func (d *Deployment) monitorStatements() {
	var alarms []string
	for _, a := range d.Alarms() {
		alarms = append(alarms, d.alarmARN(aws.ToString(a.AlarmName)))
	}
	d.Operator.Statement = append(d.Operator.Statement,
		allow("PutTheAlarms", []string{"cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"}, alarms...),
		// Dashboards are global: no region in their ARN.
		allow("PutTheDashboard", []string{"cloudwatch:PutDashboard"}, "arn:"+d.Partition+":cloudwatch::"+d.Account+":dashboard/"+d.DashboardName()))
	if !d.LateCheck() {
		return
	}
	for i, st := range d.Operator.Statement {
		if st.Sid == "ManageTheSchedule" {
			d.Operator.Statement[i].Resource = append(d.Operator.Statement[i].Resource, d.LateCheckARN())
		}
	}
	run := allow("RunTheLateCheck", []string{"ecs:RunTask"}, d.arn("ecs", "task-definition/"+d.Base+":*"))
	run.Condition = map[string]map[string]any{"ArnEquals": {"ecs:cluster": d.ClusterARN()}}
	pass := allow("PassTheLateChecksRoles", []string{"iam:PassRole"}, d.RoleARN(d.TaskRole), d.RoleARN(d.ExecRole))
	pass.Condition = map[string]map[string]any{"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
	d.SchedulerRole.Policy.Statement = append(d.SchedulerRole.Policy.Statement, run, pass)
}

// cfnMonitor adds the alarms, the dashboard and the late check's
// schedule to a template's resources.
func (d *Deployment) cfnMonitor(resources cfnObject) {
	for i, a := range d.Alarms() {
		resources[fmt.Sprintf("Alarm%d", i+1)] = cfnObject{"Type": "AWS::CloudWatch::Alarm", "Properties": cfnAlarm(a)}
	}
	resources["Dashboard"] = cfnObject{"Type": "AWS::CloudWatch::Dashboard", "Properties": cfnObject{
		"DashboardName": d.DashboardName(), "DashboardBody": d.DashboardBody(),
	}}
	if !d.LateCheck() {
		return
	}
	t := d.lateCheckTarget(cfnTaskDefinition)
	net := t.EcsParameters.NetworkConfiguration.AwsvpcConfiguration
	vpc := cfnObject{"Subnets": net.Subnets, "AssignPublicIp": string(net.AssignPublicIp)}
	if len(net.SecurityGroups) > 0 { // an empty list is invalid: leave it out (the VPC's default group)
		vpc["SecurityGroups"] = net.SecurityGroups
	}
	resources["LateCheck"] = cfnObject{"Type": "AWS::Scheduler::Schedule", "Properties": cfnObject{
		"Name":               d.LateCheckName(),
		"Description":        "tierflow job " + d.Spec.Name + ": hourly late-data check (tierflow late) for the late alarm",
		"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": cfnObject{"Mode": "OFF"}, "State": "ENABLED",
		"Target": cfnObject{
			"Arn": d.ClusterARN(), "RoleArn": getAtt("SchedulerRole"), "Input": aws.ToString(t.Input),
			"EcsParameters": cfnObject{
				"TaskDefinitionArn": ref("TaskDefinition"), "LaunchType": "FARGATE", "TaskCount": 1,
				"NetworkConfiguration": cfnObject{"AwsvpcConfiguration": vpc},
			},
			"RetryPolicy": cfnObject{"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 1800},
		},
	}}
}

// cfnAlarm is a PutMetricAlarm input as AWS::CloudWatch::Alarm properties;
// the actions are the template's topic.
func cfnAlarm(a *cloudwatch.PutMetricAlarmInput) cfnObject {
	dims := func(ds []cwtypes.Dimension) []cfnObject {
		var out []cfnObject
		for _, x := range ds {
			out = append(out, cfnObject{"Name": aws.ToString(x.Name), "Value": aws.ToString(x.Value)})
		}
		return out
	}
	p := cfnObject{
		"AlarmName": aws.ToString(a.AlarmName), "AlarmDescription": aws.ToString(a.AlarmDescription),
		"EvaluationPeriods": aws.ToInt32(a.EvaluationPeriods), "Threshold": aws.ToFloat64(a.Threshold),
		"ComparisonOperator": string(a.ComparisonOperator), "TreatMissingData": aws.ToString(a.TreatMissingData),
		"AlarmActions": []any{ref("Topic")},
	}
	if len(a.OKActions) > 0 {
		p["OKActions"] = []any{ref("Topic")}
	}
	if len(a.InsufficientDataActions) > 0 {
		p["InsufficientDataActions"] = []any{ref("Topic")}
	}
	if a.MetricName != nil {
		p["Namespace"], p["MetricName"], p["Dimensions"] = aws.ToString(a.Namespace), aws.ToString(a.MetricName), dims(a.Dimensions)
		p["Statistic"], p["Period"] = string(a.Statistic), aws.ToInt32(a.Period)
	}
	var metrics []cfnObject
	for _, m := range a.Metrics {
		q := cfnObject{"Id": aws.ToString(m.Id), "ReturnData": aws.ToBool(m.ReturnData)}
		if m.Expression != nil {
			q["Expression"], q["Label"] = aws.ToString(m.Expression), aws.ToString(m.Label)
		}
		if s := m.MetricStat; s != nil {
			q["MetricStat"] = cfnObject{"Period": aws.ToInt32(s.Period), "Stat": aws.ToString(s.Stat), "Metric": cfnObject{
				"Namespace": aws.ToString(s.Metric.Namespace), "MetricName": aws.ToString(s.Metric.MetricName), "Dimensions": dims(s.Metric.Dimensions),
			}}
		}
		metrics = append(metrics, q)
	}
	if len(metrics) > 0 {
		p["Metrics"] = metrics
	}
	return p
}

// upsertSchedule creates the schedule name in the default group, or
// updates it; it reports whether it created it.
func (a *Clients) upsertSchedule(ctx context.Context, name, expr string, target *schedtypes.Target, desc string, wait time.Duration) (bool, error) {
	window := &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff}
	_, err := a.sched.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name)})
	var missing *schedtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		err = retryIAM(ctx, wait, func() error {
			_, err := a.sched.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
				Name: aws.String(name), ScheduleExpression: aws.String(expr), ScheduleExpressionTimezone: aws.String("UTC"),
				FlexibleTimeWindow: window, Target: target, State: schedtypes.ScheduleStateEnabled, Description: aws.String(desc),
			})
			return err
		})
		if err != nil {
			return false, fmt.Errorf("deploy: create schedule %s: %w", name, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("deploy: get schedule %s: %w", name, err)
	}
	err = retryIAM(ctx, wait, func() error {
		_, err := a.sched.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
			Name: aws.String(name), ScheduleExpression: aws.String(expr), ScheduleExpressionTimezone: aws.String("UTC"),
			FlexibleTimeWindow: window, Target: target, State: schedtypes.ScheduleStateEnabled, Description: aws.String(desc),
		})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("deploy: update schedule %s: %w", name, err)
	}
	return false, nil
}
