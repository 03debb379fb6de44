// Package lineage defines the store of runs and lineage: every run (failed
// ones included), the datasets it read and wrote, and the edges between
// datasets. Records are OpenLineage-shaped (run, job, input and output
// datasets named by URI). DynamoDB on AWS, an embedded store locally.
package lineage

import (
	"context"
	"errors"
	"time"
)

// Errors returned (wrapped) by stores.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict: a conditional write lost (run already recorded, month
	// claimed by another run, published pointer moved).
	ErrConflict = errors.New("conflict")
)

// Run states, following OpenLineage event types.
const (
	StatusRunning  = "RUNNING"
	StatusComplete = "COMPLETE"
	StatusFailed   = "FAIL"
	StatusSkipped  = "SKIPPED" // a rerun on unchanged inputs: nothing to do
)

// Dataset is one input or output of a run: an object, a partition or a table,
// named by URI (s3://bucket/key, file:///path, glue://db.table/month=2020-03,
// duckdb://db.table).
type Dataset struct {
	URI    string `json:"uri"`
	Kind   string `json:"kind"` // object | partition | table | file
	Tier   int    `json:"tier,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	ETag   string `json:"etag,omitempty"`
	Rows   int64  `json:"rows,omitempty"`
}

// Edge says run RunID produced To from From.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	RunID string `json:"run_id"`
	// Transform names the stage: pristine | convert | publish | derive.
	Transform string `json:"transform"`
}

// Stage is one stage's figures.
type Stage struct {
	Name         string        `json:"name"`
	Wall         time.Duration `json:"wall_ns"`
	RowsIn       int64         `json:"rows_in"`
	RowsOut      int64         `json:"rows_out"`
	RowsRejected int64         `json:"rows_rejected"`
	BytesIn      int64         `json:"bytes_in"`
	BytesOut     int64         `json:"bytes_out"`
	Files        int           `json:"files"`
}

// Cost is the run's cost ledger.
type Cost struct {
	VCPUSeconds   float64 `json:"vcpu_seconds"`
	GBSeconds     float64 `json:"gb_seconds"`
	AthenaScanned int64   `json:"athena_bytes_scanned"`
	S3Requests    int64   `json:"s3_requests"`
	USD           float64 `json:"usd"`
}

// Run is one execution of a job for one month.
type Run struct {
	ID          string    `json:"run_id"`
	Job         string    `json:"job"`
	Month       string    `json:"month"`
	Status      string    `json:"status"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended,omitzero"`
	Error       string    `json:"error,omitempty"`
	CodeVersion string    `json:"code_version,omitempty"`
	// Fingerprint identifies the run's inputs (spec, code version, input
	// object keys, sizes and ETags); equal fingerprints mean equal outputs.
	Fingerprint  string    `json:"fingerprint,omitempty"`
	Parent       string    `json:"parent,omitempty"` // e.g. the Step Functions execution ARN
	Inputs       []Dataset `json:"inputs,omitempty"`
	Outputs      []Dataset `json:"outputs,omitempty"`
	Stages       []Stage   `json:"stages,omitempty"`
	RowsIn       int64     `json:"rows_in"`
	RowsOut      int64     `json:"rows_out"`
	RowsRejected int64     `json:"rows_rejected"`
	Cost         Cost      `json:"cost"`
	Published    bool      `json:"published"`
}

// Store records runs and lineage.
type Store interface {
	// StartRun records a new run; ErrConflict if run.ID is already recorded.
	StartRun(ctx context.Context, run Run) error
	// FinishRun replaces the record of a started run with its final state.
	FinishRun(ctx context.Context, run Run) error
	// GetRun returns one run or ErrNotFound.
	GetRun(ctx context.Context, job, runID string) (Run, error)
	// ListRuns returns the job's runs, newest first; month "" means all.
	ListRuns(ctx context.Context, job, month string) ([]Run, error)

	// AddEdges records lineage edges (idempotent).
	AddEdges(ctx context.Context, edges []Edge) error
	// Upstream returns the edges whose To is uri.
	Upstream(ctx context.Context, uri string) ([]Edge, error)
	// Downstream returns the edges whose From is uri.
	Downstream(ctx context.Context, uri string) ([]Edge, error)

	// ClaimMonth gives runID the exclusive right to work on (job, month)
	// until ReleaseMonth or until ttl passes; ErrConflict while another run
	// holds it.
	ClaimMonth(ctx context.Context, job, month, runID string, ttl time.Duration) error
	// ReleaseMonth gives up a claim held by runID (no-op otherwise).
	ReleaseMonth(ctx context.Context, job, month, runID string) error
	// SetPublished moves the month's published-run pointer from prev ("" =
	// none yet) to runID; ErrConflict if the pointer is not prev.
	SetPublished(ctx context.Context, job, month, runID, prev string) error
	// Published returns the month's published run id, or ErrNotFound.
	Published(ctx context.Context, job, month string) (string, error)

	// Close releases the store.
	Close() error
}
