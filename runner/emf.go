package runner

// CloudWatch metrics: every task of an execution writes its figures as one
// EMF line (package emf) to stdout, which the awslogs driver sends to
// CloudWatch Logs, which extracts the metrics.

import (
	"fmt"
	"io"
	"time"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/runner/emf"
)

// metric is one value of an EMF line.
type metric = emf.Metric

// writeEMF writes one EMF line to w (a task's stdout). A metric that
// cannot be written is no reason to fail the task.
func writeEMF(w io.Writer, log logger, job, month string, props map[string]string, ms []metric) {
	b, err := emf.Line(time.Now(), job, month, props, ms)
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
		{Name: emf.PartRowsRead, Unit: "Count", Value: float64(m.RowsRead)},
		{Name: emf.PartRowsRejected, Unit: "Count", Value: float64(m.RowsRejected)},
		{Name: emf.PartBytesRead, Unit: "Bytes", Value: float64(m.InputBytes)},
		{Name: emf.PartBytesWritten, Unit: "Bytes", Value: float64(written)},
		{Name: emf.PartRowsPerSec, Unit: "Count/Second", Value: rate},
		{Name: emf.PartWallTime, Unit: "Seconds", Value: wall},
	}
}

// runMetrics are a finished run's figures: for a published run the rows,
// bytes, wall time and cost, with MonthPublished 1; for a failed one
// RunFailed 1 and its wall time.
func runMetrics(run lineage.Run) []metric {
	wall := run.Ended.Sub(run.Started).Seconds()
	if run.Status != lineage.StatusComplete {
		return []metric{{Name: emf.RunFailed, Unit: "Count", Value: 1}, {Name: emf.RunWallTime, Unit: "Seconds", Value: wall}, {Name: emf.RunCostUSD, Unit: "None", Value: run.Cost.USD}}
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
		{Name: emf.RowsIn, Unit: "Count", Value: float64(run.RowsIn)},
		{Name: emf.RowsOut, Unit: "Count", Value: float64(run.RowsOut)},
		{Name: emf.RowsRejected, Unit: "Count", Value: float64(run.RowsRejected)},
		{Name: emf.RunRowsPerSecond, Unit: "Count/Second", Value: rate},
		{Name: emf.RunBytesWritten, Unit: "Bytes", Value: float64(bytesOut)},
		{Name: emf.RunWallTime, Unit: "Seconds", Value: wall},
		{Name: emf.RunCostUSD, Unit: "None", Value: run.Cost.USD},
		{Name: emf.MonthPublished, Unit: "Count", Value: 1},
	}
}
