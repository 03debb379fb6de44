// Package lineage defines the store of runs and lineage: every run (failed
// ones included), the datasets it read and wrote, and the edges between
// datasets. Records are OpenLineage-shaped (run, job, input and output
// datasets named by URI). DynamoDB on AWS, an embedded store locally.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package lineage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors returned (wrapped) by stores.
var (
	ErrNotFound = errors.New("lineage: not found")
	// ErrConflict: a conditional write lost (run already recorded, month
	// claimed by another run, claim superseded, published run moved).
	ErrConflict = errors.New("lineage: conflict")
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

// Claim is a lease on one month of a job: while it lasts only its owner
// works on the month. Token is the fencing token: every new claim of the
// month gets a larger one, and the commit is conditional on it, so a run
// that lost its claim (paused past its lease, then taken over) can never
// publish.
type Claim struct {
	Owner string `json:"owner"`
	Token int64  `json:"token"`
	// Host and PID identify a local holder, so that a claim whose process
	// is gone can be taken over at once.
	Host string `json:"host,omitempty"`
	PID  int    `json:"pid,omitempty"`
	// Execution is the holder's Step Functions execution ARN on AWS.
	Execution string    `json:"execution,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Renewed   time.Time `json:"renewed,omitzero"`
	Expires   time.Time `json:"expires,omitzero"`
}

// Live reports whether the claim is held and unexpired at now.
func (c Claim) Live(now time.Time) bool { return c.Owner != "" && now.Before(c.Expires) }

// Commit is a month's published-run record, written by Store.Commit.
type Commit struct {
	RunID string    `json:"run_id"`
	Prev  string    `json:"prev,omitempty"`
	Token int64     `json:"token"`
	At    time.Time `json:"at,omitzero"`
	// Rollback is set when the commit went back to an earlier run rather
	// than publishing a new one.
	Rollback bool `json:"rollback,omitempty"`
	// RolledForward is set once every catalog partition of the month
	// points at RunID (Store.MarkRolledForward).
	RolledForward bool `json:"rolled_forward"`
}

// Month is the state of one month of a job: who holds it, and what is
// published.
type Month struct {
	Claim     Claim  // Owner "" when nobody holds it
	Published Commit // RunID "" when nothing is published
}

// PublishedRun is m's published run id, or an error wrapping ErrNotFound
// naming job and month: how stores answer Published from Month.
func PublishedRun(m Month, job, month string) (string, error) {
	if m.Published.RunID == "" {
		return "", fmt.Errorf("published %s/%s: %w", job, month, ErrNotFound)
	}
	return m.Published.RunID, nil
}

// HeldError is returned by Store.Claim while another owner holds the
// month; it wraps ErrConflict.
type HeldError struct {
	Job, Month string
	Holder     Claim
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("lineage: month %s of %s is held by %s until %s", e.Month, e.Job, e.Holder.Owner, e.Holder.Expires.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *HeldError) Unwrap() error { return ErrConflict }

// Runs records every run of a job, failed ones included.
type Runs interface {
	// StartRun records a new run; ErrConflict if run.ID is already recorded.
	StartRun(ctx context.Context, run Run) error
	// FinishRun replaces the record of a started run with its final state.
	FinishRun(ctx context.Context, run Run) error
	// GetRun returns one run or ErrNotFound.
	GetRun(ctx context.Context, job, runID string) (Run, error)
	// ListRuns returns the job's runs, newest first; month "" means all.
	ListRuns(ctx context.Context, job, month string) ([]Run, error)
}

// Edges records lineage edges between datasets.
type Edges interface {
	// AddEdges records lineage edges (idempotent).
	AddEdges(ctx context.Context, edges []Edge) error
	// Upstream returns the edges whose To is uri.
	Upstream(ctx context.Context, uri string) ([]Edge, error)
	// Downstream returns the edges whose From is uri.
	Downstream(ctx context.Context, uri string) ([]Edge, error)
}

// Months holds each month's claim (who may work on it) and its commit
// (what is published): the publish protocol's state.
type Months interface {
	// Claim gives c.Owner the month for ttl and returns the claim as
	// stored, with its fencing token. It succeeds when nobody holds the
	// month (never claimed, released, or expired: then Token is one more
	// than the month's last token) or when c.Owner holds it already (a
	// retried claim: Token unchanged). While another owner's claim lasts it
	// fails with a *HeldError naming the holder (it wraps ErrConflict).
	// Owner strings must be unique per attempt (run id plus a nonce).
	Claim(ctx context.Context, job, month string, c Claim, ttl time.Duration) (Claim, error)
	// TakeOver replaces holder's claim by c whatever its expiry, for a
	// holder known to be dead; ErrConflict if the month's claim is no longer
	// holder's (Owner and Token). The new claim gets a new token.
	TakeOver(ctx context.Context, job, month string, holder, c Claim, ttl time.Duration) (Claim, error)
	// Renew extends owner's claim (whose token must be token) to ttl from
	// now; ErrConflict if the month's claim is no longer that one: the
	// caller has been fenced off and must stop.
	Renew(ctx context.Context, job, month, owner string, token int64, ttl time.Duration) error
	// Release gives up owner's claim; it does nothing when owner does not
	// hold the month. The month's token is kept, so the next claim's is
	// larger.
	Release(ctx context.Context, job, month, owner string) error

	// Commit is the one commit point of publish and rollback: one
	// conditional write that makes c.RunID the month's published run. It
	// succeeds only if owner still holds the claim with token c.Token (held
	// or expired, but not superseded: fencing) and the published run is
	// still c.Prev ("" = none); otherwise ErrConflict and nothing changed.
	Commit(ctx context.Context, job, month, owner string, c Commit) error
	// MarkRolledForward records that every catalog partition of the month
	// points at the committed run runID (token): later commands need not
	// check. It does nothing if the month's commit has moved on.
	MarkRolledForward(ctx context.Context, job, month, runID string, token int64) error
	// Month returns the month's claim and commit; zero values (not an
	// error) when the month was never claimed or published.
	Month(ctx context.Context, job, month string) (Month, error)
	// Published returns the month's published run id, or ErrNotFound.
	Published(ctx context.Context, job, month string) (string, error)
}

// Store is the whole lineage store: runs, edges and months, in one
// backend (an embedded bbolt file, or one DynamoDB table).
type Store interface {
	Runs
	Edges
	Months
	// Close releases the store.
	Close() error
}
