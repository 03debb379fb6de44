package runner

// CloudWatch metrics in Embedded Metric Format: every task of an
// execution writes one JSON line to stdout, which the awslogs driver sends
// to CloudWatch Logs, which extracts the metrics
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
// No CloudWatch API call and no permission: the log group is the channel.

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/lake/lineage"
)

// MetricNamespace is the CloudWatch namespace of tierflow's metrics.
const MetricNamespace = "tierflow"

// The metrics the tasks emit, with the dimension Job and the dimensions
// Job and Month (monitor.go's alarms and dashboard read them by Job).
const (
	// convert, per part
	MetricPartRowsRead     = "PartRowsRead"
	MetricPartRowsRejected = "PartRowsRejected"
	MetricPartBytesRead    = "PartBytesRead"
	MetricPartBytesWritten = "PartBytesWritten"
	MetricPartRowsPerSec   = "PartRowsPerSecond"
	MetricPartWallTime     = "PartWallTime"
	// stage
	MetricStageWallTime = "StageWallTime"
	// plan
	MetricPlannedParts = "PlannedParts"
	MetricPlannedBytes = "PlannedBytes"
	// publish, per run
	MetricRowsIn           = "RowsIn"
	MetricRowsOut          = "RowsOut"
	MetricRowsRejected     = "RowsRejected"
	MetricRunWallTime      = "RunWallTime"
	MetricRunCostUSD       = "RunCostUSD"
	MetricMonthPublished   = "MonthPublished"
	MetricRunFailed        = "RunFailed"       // finish
	MetricMonthLate        = "MonthLate"       // the late check: 1 late, 0 not
	MetricBytesWrittenRun  = "RunBytesWritten" // publish: tier 2 and derived tables
	MetricRunRowsPerSecond = "RunRowsPerSecond"
)

// metric is one value of an EMF line.
type metric struct {
	name  string
	unit  string // a CloudWatch unit: Count, Bytes, Seconds, Count/Second, None
	value float64
}

// emfLine is one EMF document: the metrics with the job's dimensions
// (Month when month is not ""), plus properties that are searchable in
// CloudWatch Logs Insights but no dimension (run, part, task).
func emfLine(at time.Time, job, month string, props map[string]string, ms []metric) ([]byte, error) {
	dims := [][]string{{"Job"}}
	root := map[string]any{"Job": job}
	if month != "" {
		dims = [][]string{{"Job", "Month"}, {"Job"}}
		root["Month"] = month
	}
	for k, v := range props {
		root[k] = v
	}
	defs := make([]map[string]string, 0, len(ms))
	for _, m := range ms {
		if _, clash := root[m.name]; clash {
			return nil, fmt.Errorf("emf: metric %s clashes with a member of the same name", m.name)
		}
		defs = append(defs, map[string]string{"Name": m.name, "Unit": m.unit})
		root[m.name] = m.value
	}
	root["_aws"] = map[string]any{
		"Timestamp":         at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{"Namespace": MetricNamespace, "Dimensions": dims, "Metrics": defs}},
	}
	return json.Marshal(root)
}

// writeEMF writes one EMF line to w (a task's stdout). A metric that
// cannot be written is no reason to fail the task.
func writeEMF(w io.Writer, log logger, job, month string, props map[string]string, ms []metric) {
	b, err := emfLine(time.Now(), job, month, props, ms)
	if err == nil {
		_, err = fmt.Fprintf(w, "%s\n", b)
	}
	if err != nil {
		log.Warn().Err(err).Msg("writing CloudWatch metrics")
	}
}

// partMetrics are a converted part's figures.
func partMetrics(m *container.Manifest) []metric {
	var written int64
	for _, f := range m.Files {
		written += f.Bytes
	}
	wall := m.Timings.WallSeconds
	rate := 0.0
	if wall > 0 {
		rate = float64(m.RowsRead) / wall
	}
	return []metric{
		{MetricPartRowsRead, "Count", float64(m.RowsRead)},
		{MetricPartRowsRejected, "Count", float64(m.RowsRejected)},
		{MetricPartBytesRead, "Bytes", float64(m.InputBytes)},
		{MetricPartBytesWritten, "Bytes", float64(written)},
		{MetricPartRowsPerSec, "Count/Second", rate},
		{MetricPartWallTime, "Seconds", wall},
	}
}

// runMetrics are a finished run's figures: for a published run the rows,
// bytes, wall time and cost, with MonthPublished 1; for a failed one
// RunFailed 1 and its wall time.
func runMetrics(run lineage.Run) []metric {
	wall := run.Ended.Sub(run.Started).Seconds()
	if run.Status != lineage.StatusComplete {
		return []metric{{MetricRunFailed, "Count", 1}, {MetricRunWallTime, "Seconds", wall}, {MetricRunCostUSD, "None", run.Cost.USD}}
	}
	// stage counts tier 2 (from the parts' manifests, locally and on AWS
	// alike), derive the derived tables.
	var bytesOut int64
	for _, st := range run.Stages {
		if st.Name == "stage" || st.Name == "derive" {
			bytesOut += st.BytesOut
		}
	}
	rate := 0.0
	if wall > 0 {
		rate = float64(run.RowsIn) / wall
	}
	return []metric{
		{MetricRowsIn, "Count", float64(run.RowsIn)},
		{MetricRowsOut, "Count", float64(run.RowsOut)},
		{MetricRowsRejected, "Count", float64(run.RowsRejected)},
		{MetricRunRowsPerSecond, "Count/Second", rate},
		{MetricBytesWrittenRun, "Bytes", float64(bytesOut)},
		{MetricRunWallTime, "Seconds", wall},
		{MetricRunCostUSD, "None", run.Cost.USD},
		{MetricMonthPublished, "Count", 1},
	}
}
