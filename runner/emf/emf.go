// Package emf writes CloudWatch metrics in Embedded Metric Format: one
// JSON document per line, which CloudWatch Logs turns into metrics
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
// tierflow's tasks write them to stdout, which the awslogs driver ships;
// no CloudWatch call and no permission is needed. It also names every
// metric, for the runner that emits them and for deploy's alarms and
// dashboard that read them.
package emf

import (
	"encoding/json"
	"fmt"
	"time"
)

// Namespace is the CloudWatch namespace of tierflow's metrics.
const Namespace = "tierflow"

// Dimension names. Every metric has Job; most have Job and Month too.
const (
	DimJob   = "Job"
	DimMonth = "Month"
)

// The metrics tierflow's tasks emit.
const (
	// plan
	PlannedParts = "PlannedParts"
	PlannedBytes = "PlannedBytes"
	// convert, per part
	PartRowsRead     = "PartRowsRead"
	PartRowsRejected = "PartRowsRejected"
	PartBytesRead    = "PartBytesRead"
	PartBytesWritten = "PartBytesWritten"
	PartRowsPerSec   = "PartRowsPerSecond"
	PartWallTime     = "PartWallTime"
	// stage
	StageWallTime = "StageWallTime"
	// publish, per published run
	RowsIn           = "RowsIn"
	RowsOut          = "RowsOut"
	RowsRejected     = "RowsRejected"
	RunRowsPerSecond = "RunRowsPerSecond"
	RunBytesWritten  = "RunBytesWritten"
	RunWallTime      = "RunWallTime"
	RunCostUSD       = "RunCostUSD"
	MonthPublished   = "MonthPublished"
	// finish, per failed run
	RunFailed = "RunFailed"
	// the late check: 1 late, 0 in time (dimension Job only)
	MonthLate = "MonthLate"
)

// Metric is one value of a line.
type Metric struct {
	Name  string
	Unit  string // a CloudWatch unit: Count, Bytes, Seconds, Count/Second, None
	Value float64
}

// Line is one EMF document: the metrics with the dimension sets {Job,
// Month} and {Job} (only {Job} when month is ""), plus props, members that
// CloudWatch Logs Insights can search but that are no dimension (run,
// part, task).
func Line(at time.Time, job, month string, props map[string]string, ms []Metric) ([]byte, error) {
	dims := [][]string{{DimJob}}
	root := map[string]any{DimJob: job}
	if month != "" {
		dims = [][]string{{DimJob, DimMonth}, {DimJob}}
		root[DimMonth] = month
	}
	for k, v := range props {
		root[k] = v
	}
	defs := make([]map[string]string, 0, len(ms))
	for _, m := range ms {
		if _, clash := root[m.Name]; clash {
			return nil, fmt.Errorf("emf: metric %s clashes with a member of the same name", m.Name)
		}
		defs = append(defs, map[string]string{"Name": m.Name, "Unit": m.Unit})
		root[m.Name] = m.Value
	}
	root["_aws"] = map[string]any{
		"Timestamp":         at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{"Namespace": Namespace, "Dimensions": dims, "Metrics": defs}},
	}
	return json.Marshal(root)
}
