package runner

import (
	"fmt"
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

// ExecutionView is what status prints on AWS: the Step Functions
// execution and the lineage run it started.
type ExecutionView struct {
	Execution    string     `json:"execution,omitempty"` // empty: a local run's record (Run)
	ARN          string     `json:"arn,omitempty"`
	Status       string     `json:"status,omitempty"` // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
	Month        string     `json:"month,omitempty"`
	Stage        string     `json:"stage,omitempty"` // the tierflow stage of the state last entered
	State        string     `json:"state,omitempty"`
	Parts        *CountView `json:"parts,omitempty"`
	Tables       *CountView `json:"tables,omitempty"`
	Started      *time.Time `json:"started,omitempty"`
	Stopped      *time.Time `json:"stopped,omitempty"`
	DurationSecs *float64   `json:"duration_seconds,omitempty"`
	Redriven     int        `json:"redrive_count"`
	Error        string     `json:"error,omitempty"`
	Cause        string     `json:"cause,omitempty"`
	Run          *RunView   `json:"run,omitempty"`
	// Lineage says why there is no run record, when there is none.
	Lineage string `json:"lineage,omitempty"`
}

// ExecutionView is s as status --output json prints it on AWS; now ends the
// duration of an execution still running.
func (s *RunStatus) ExecutionView(now time.Time) ExecutionView {
	var v ExecutionView
	if s.Run != nil {
		rv := runView(*s.Run, s.Published)
		v.Run = &rv
	}
	e := s.Execution
	if e == nil {
		v.Lineage = "a local run: no Step Functions execution"
		return v
	}
	p := e.Progress
	v.Execution, v.ARN, v.Status, v.Month, v.Stage, v.State = e.Name, e.ARN, e.Status, e.Month, p.Stage, p.State
	v.Redriven, v.Error, v.Cause = e.Redrives, e.Error, e.Cause
	if p.PartsTotal > 0 {
		v.Parts = &CountView{Done: p.PartsDone, Failed: p.PartsFailed, Total: p.PartsTotal}
	}
	if p.TablesTotal > 0 {
		v.Tables = &CountView{Done: p.TablesDone, Total: p.TablesTotal}
	}
	if e.Started != nil {
		end := now
		if e.Stopped != nil {
			stopped := e.Stopped.UTC()
			v.Stopped, end = &stopped, stopped
		}
		started, secs := e.Started.UTC(), end.Sub(*e.Started).Seconds()
		v.Started, v.DurationSecs = &started, &secs
	}
	switch {
	case s.Run != nil:
	case s.LineageErr != nil:
		v.Lineage = fmt.Sprintf("unavailable: %v", s.LineageErr)
	default:
		v.Lineage = "no run recorded for this execution (yet)"
	}
	if v.Month == "" && s.Run != nil {
		v.Month = s.Run.Month
	}
	return v
}

// CountView counts a Map's items: parts converted or tables derived.
type CountView struct {
	Done   int `json:"done"`
	Failed int `json:"failed,omitempty"`
	Total  int `json:"total"`
}

// RunSummaryView is what run --output json prints for each month: the
// run's summary, as the text table shows it.
type RunSummaryView struct {
	Job   string `json:"job"`
	Month string `json:"month"`
	// RunID is the run's; for SKIPPED the published run's that made the
	// run unnecessary; empty when the month failed before a run began.
	RunID  string `json:"run_id,omitempty"`
	Status string `json:"status"` // COMPLETE, FAIL, SKIPPED or WAITING
	// Published says whether RunID is the month's published run now.
	Published    bool          `json:"published"`
	Previous     string        `json:"previous_run,omitempty"`
	Started      *time.Time    `json:"started,omitempty"`
	Ended        *time.Time    `json:"ended,omitempty"`
	DurationSecs float64       `json:"duration_seconds"`
	Parts        int           `json:"parts"`
	RowsIn       int64         `json:"rows_in"`
	RowsOut      int64         `json:"rows_out"`
	RowsRejected int64         `json:"rows_rejected"`
	Tables       []TableView   `json:"tables"`
	Stages       []StageView   `json:"stages"`
	Cost         *lineage.Cost `json:"cost,omitempty"`
	RunMeta      string        `json:"run_meta,omitempty"` // where the manifests and rejects are
	// Waiting says why the month's delivery is not complete yet (status
	// WAITING: nothing ran).
	Waiting string `json:"waiting,omitempty"`
	Error   string `json:"error,omitempty"`
}

// TableView is a table a run wrote: its tier-2 table or a derived one.
type TableView struct {
	Table string `json:"table"`
	Tier  int    `json:"tier"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
	Files int    `json:"files"`
}

// StageView is one stage of a run.
type StageView struct {
	Name         string  `json:"name"`
	WallSecs     float64 `json:"wall_seconds"`
	RowsIn       int64   `json:"rows_in"`
	RowsOut      int64   `json:"rows_out"`
	RowsRejected int64   `json:"rows_rejected"`
	BytesIn      int64   `json:"bytes_in"`
	BytesOut     int64   `json:"bytes_out"`
	Files        int     `json:"files"`
}

// RunSummary is month's summary as run --output json prints it: res (nil
// when the month failed before a run began) and the run's error.
func RunSummary(spec *jobs.Spec, month string, res *Result, runErr error) RunSummaryView {
	v := RunSummaryView{Job: spec.Name, Month: month, Status: lineage.StatusFailed, Tables: []TableView{}, Stages: []StageView{}}
	if runErr != nil {
		v.Error = runErr.Error()
	}
	if res == nil {
		return v
	}
	if res.Waiting != "" {
		v.Status, v.Waiting = "WAITING", res.Waiting
		return v
	}
	r := res.Run
	v.RunID, v.Status, v.Published, v.Previous, v.RunMeta = r.ID, r.Status, r.Published, res.Previous, res.RunMeta
	v.Parts, v.RowsIn, v.RowsOut, v.RowsRejected, v.Cost = len(res.Parts), r.RowsIn, r.RowsOut, r.RowsRejected, &r.Cost
	if res.Skipped {
		v.Status, v.Published, v.Previous, v.RunMeta = lineage.StatusSkipped, true, "", ""
		return v
	}
	if !r.Started.IsZero() {
		s := r.Started.UTC()
		v.Started = &s
	}
	if !r.Ended.IsZero() {
		e := r.Ended.UTC()
		v.Ended, v.DurationSecs = &e, r.Ended.Sub(r.Started).Seconds()
	}
	for _, st := range r.Stages {
		v.Stages = append(v.Stages, StageView{Name: st.Name, WallSecs: st.Wall.Seconds(), RowsIn: st.RowsIn, RowsOut: st.RowsOut,
			RowsRejected: st.RowsRejected, BytesIn: st.BytesIn, BytesOut: st.BytesOut, Files: st.Files})
		if st.Name == "convert" {
			v.Tables = append(v.Tables, TableView{Table: spec.Output.Table, Tier: 2, Rows: st.RowsOut, Bytes: st.BytesOut, Files: st.Files})
		}
	}
	// Derived results come in the spec's order, one per table built.
	for i, d := range res.Derived {
		if i < len(spec.Derived) {
			v.Tables = append(v.Tables, TableView{Table: spec.Derived[i].Table, Tier: 3, Rows: d.Rows, Bytes: d.Bytes, Files: len(d.Files)})
		}
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
