package runner

import (
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
)

// The views runs, status, lineage and validate return; the CLI prints them
// as --output json. Their shape is docs/schemas/cli.schema.json, which the
// tests check them against.

// RunView is one run as runs and status print it.
type RunView struct {
	RunID        string       `json:"run_id"`
	Job          string       `json:"job"`
	Month        string       `json:"month"`
	Status       string       `json:"status"`
	Published    bool         `json:"published"`
	Started      time.Time    `json:"started"`
	Ended        *time.Time   `json:"ended,omitempty"`
	DurationSecs *float64     `json:"duration_seconds,omitempty"`
	RowsIn       int64        `json:"rows_in"`
	RowsOut      int64        `json:"rows_out"`
	RowsRejected int64        `json:"rows_rejected"`
	Cost         lineage.Cost `json:"cost"`
	Error        string       `json:"error,omitempty"`
}

func runView(r lineage.Run, published bool) RunView {
	v := RunView{RunID: r.ID, Job: r.Job, Month: r.Month, Status: r.Status, Published: published, Started: r.Started.UTC(),
		RowsIn: r.RowsIn, RowsOut: r.RowsOut, RowsRejected: r.RowsRejected, Cost: r.Cost, Error: r.Error}
	if !r.Ended.IsZero() {
		e := r.Ended.UTC()
		d := r.Ended.Sub(r.Started).Seconds()
		v.Ended, v.DurationSecs = &e, &d
	}
	return v
}

// RunsView is what runs prints.
type RunsView struct {
	Job  string    `json:"job"`
	Runs []RunView `json:"runs"`
}

// LineageView is what lineage prints: the edges around a dataset.
type LineageView struct {
	Dataset    string         `json:"dataset"`
	Upstream   []lineage.Edge `json:"upstream"`
	Downstream []lineage.Edge `json:"downstream"`
}

// ValidateView is what validate prints.
type ValidateView struct {
	Job      string        `json:"job"`
	Path     string        `json:"path"`
	Valid    bool          `json:"valid"`
	Bound    bool          `json:"derived_sql_bound"`
	Problems []ProblemView `json:"problems"`
}

// ProblemView is one problem of a job spec.
type ProblemView struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func problemViews(ps jobs.Errors) []ProblemView {
	out := []ProblemView{}
	for _, p := range ps {
		out = append(out, ProblemView{File: p.File, Line: p.Line, Message: p.Msg})
	}
	return out
}
