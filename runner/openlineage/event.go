// Package openlineage writes tierflow's runs as standard OpenLineage
// RunEvents (spec 2-0-2): the event model and the facets tierflow fills in,
// dataset naming, run ids, column lineage derived from a derived table's
// SELECT, and the transports that carry events away: one file per event
// in the lake (always) and an HTTP endpoint such as Marquez's
// POST /api/v1/lineage (when configured). A transport that fails never
// fails the run that emits: the Emitter logs a warning and the file copy
// stays.
package openlineage

import (
	"time"
)

// EventType is a run's state transition.
type EventType string

// The event types of a run: one START, then one of COMPLETE, FAIL or
// ABORT.
const (
	Start    EventType = "START"
	Complete EventType = "COMPLETE"
	Fail     EventType = "FAIL"
	Abort    EventType = "ABORT"
)

// RunEventSchemaURL is the schemaURL of every event: the RunEvent
// definition of the spec version the events follow. Marquez picks the
// event kind from its last path segment.
const RunEventSchemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

// RunEvent is one state transition of a run, with the datasets it read and
// wrote as far as they are known at that point.
type RunEvent struct {
	EventType EventType       `json:"eventType"`
	EventTime time.Time       `json:"eventTime"`
	Run       Run             `json:"run"`
	Job       Job             `json:"job"`
	Inputs    []InputDataset  `json:"inputs"`
	Outputs   []OutputDataset `json:"outputs"`
	Producer  string          `json:"producer"`
	SchemaURL string          `json:"schemaURL"`
}

// Run identifies a run (a UUID, see RunID) and carries its facets.
type Run struct {
	RunID  string `json:"runId"`
	Facets Facets `json:"facets,omitempty"`
}

// Job identifies a job by namespace and name and carries its facets.
type Job struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Facets    Facets `json:"facets,omitempty"`
}

// Dataset is a dataset named as the OpenLineage naming conventions say
// (see DatasetAt), with its facets.
type Dataset struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Facets    Facets `json:"facets,omitempty"`
}

// InputDataset is a dataset a run read, with facets about that read.
type InputDataset struct {
	Dataset
	InputFacets Facets `json:"inputFacets,omitempty"`
}

// OutputDataset is a dataset a run wrote, with facets about that write.
type OutputDataset struct {
	Dataset
	OutputFacets Facets `json:"outputFacets,omitempty"`
}

// Facets maps facet names (schema, columnLineage, …, or tierflow_… for
// tierflow's own) to facets: the structs of facets.go.
type Facets map[string]any

// NewRunEvent is an event of the given type at t (UTC, to the
// microsecond) with empty dataset lists, which the spec allows and
// consumers read as "none reported".
func NewRunEvent(typ EventType, t time.Time, producer string, run Run, job Job) RunEvent {
	return RunEvent{
		EventType: typ, EventTime: t.UTC().Truncate(time.Microsecond), Run: run, Job: job,
		Inputs: []InputDataset{}, Outputs: []OutputDataset{},
		Producer: producer, SchemaURL: RunEventSchemaURL,
	}
}
