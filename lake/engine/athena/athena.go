// Package athena implements engine.Engine with Amazon Athena CTAS
// statements (aws-sdk-go-v2): it renders
//
//	CREATE TABLE "<db>"."<table>__tf_<hash>" WITH (format = 'PARQUET',
//	  write_compression = 'SNAPPY', external_location = '<location>',
//	  partitioned_by = ARRAY[...], bucketed_by = ARRAY[...], bucket_count = N)
//	AS
//	<SELECT>
//
// (research/athena-compat.md §6), runs it in a workgroup, polls
// GetQueryExecution with jittered exponential backoff and fills
// engine.Result from Athena's statistics. The table Athena registers is a
// scratch table: its definition gives Result.Columns and it is dropped
// (Glue DeleteTable through the catalog) afterwards. Registering the real
// table is the caller's job.
//
// engine.CTAS.Inputs (staged partitions not yet published) become scratch
// tables too, "<table>__tf_<hash>" with the input's definition and exactly
// its partitions, and the SELECT is rewritten to read them (see shadow);
// they are dropped afterwards, also when the query fails.
//
// Cost: Athena bills $5 per TB scanned, each query rounded up to the next
// MB with a 10 MB minimum. TB and MB are taken as 2^40 and 2^20 bytes: the
// seed's figures follow that convention (30.85 GB scanned → $0.15063 =
// 30.85 / 1024 × 5, DESIGN.md), and AWS's pricing page does not say
// otherwise.
package athena

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/storage"
)

// Defaults for Options.
const (
	DefaultWorkgroup  = "primary"
	DefaultPollMin    = 250 * time.Millisecond
	DefaultPollMax    = 5 * time.Second
	DefaultMaxWriters = 100 // Athena's limit of open partition × bucket writers per CTAS
	dataCatalog       = "AwsDataCatalog"
	scratchMarker     = "__tf_"
)

// Billing: $5 per TB (2^40 bytes), per query rounded up to the MB (2^20),
// at least 10 MB.
const (
	usdPerTB      = 5.0
	billingUnit   = 1 << 20
	minBilledUnit = 10
)

// tokenReuseSlack: a query found by our ClientRequestToken that was
// submitted this long before the call started is an earlier attempt's.
const tokenReuseSlack = time.Minute

// maxAttempts bounds the starts under fresh tokens in one call.
const maxAttempts = 8

// Options configure an Engine.
type Options struct {
	// Workgroup runs the queries; DefaultWorkgroup if empty.
	Workgroup string
	// OutputLocation is where Athena writes query results and manifests
	// (s3://...); empty uses the workgroup's.
	OutputLocation string
	// KMSKey, when set, encrypts query results with SSE_KMS under this key.
	KMSKey string
	// Database holds the scratch tables (the CTAS target and the Inputs);
	// empty means the CTAS's database.
	Database string
	// PollMin and PollMax bound the GetQueryExecution backoff: the delay
	// starts at PollMin, doubles up to PollMax, ±25% jitter.
	PollMin, PollMax time.Duration
	// Storage is the lake the CTAS locations live in. With it the engine
	// refuses a non-empty location, lists the written files into
	// Result.Files and Result.Bytes, and removes a failed query's partial
	// output; without it those stay unchecked and empty.
	Storage storage.Storage
	// MaxWriters is the most partition × bucket writers a CTAS may open;
	// DefaultMaxWriters if 0.
	MaxWriters int
	// Log receives one debug line per query state change; the zero value
	// logs nothing.
	Log zerolog.Logger
}

// Engine runs CTAS statements on Athena. It is safe for concurrent use.
type Engine struct {
	client *awsathena.Client
	cat    catalog.Catalog
	opts   Options
	sleep  func(ctx context.Context, d time.Duration) error // replaced in tests
	now    func() time.Time                                 // replaced in tests

	mu       sync.Mutex
	finished map[string]bool // query ids this engine saw end
}

var _ engine.Engine = (*Engine)(nil)

// New returns an engine using cfg (region, credentials, endpoint, retryer)
// and cat, the Glue catalog Athena reads (scratch tables are created and
// dropped through it).
func New(cfg aws.Config, cat catalog.Catalog, opts Options) *Engine {
	if opts.Workgroup == "" {
		opts.Workgroup = DefaultWorkgroup
	}
	if opts.PollMin <= 0 {
		opts.PollMin = DefaultPollMin
	}
	if opts.PollMax < opts.PollMin {
		opts.PollMax = max(DefaultPollMax, opts.PollMin)
	}
	if opts.MaxWriters <= 0 {
		opts.MaxWriters = DefaultMaxWriters
	}
	return &Engine{
		client: awsathena.NewFromConfig(cfg), cat: cat, opts: opts,
		sleep: sleepCtx, now: time.Now, finished: map[string]bool{},
	}
}

// Close releases nothing: the engine holds no resources beyond its HTTP
// client.
func (e *Engine) Close() error { return nil }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// QueryError is a query that ended FAILED or CANCELLED, with Athena's
// reason and error details.
type QueryError struct {
	QueryID   string
	State     string // FAILED or CANCELLED
	Reason    string // Status.StateChangeReason
	Category  int    // AthenaError.ErrorCategory: 1 system, 2 user, 3 other
	Type      int    // AthenaError.ErrorType (Athena's error type reference)
	Retryable bool
	Message   string // AthenaError.ErrorMessage
}

func (e *QueryError) Error() string {
	s := fmt.Sprintf("query %s %s: %s", e.QueryID, e.State, e.Reason)
	if e.Category != 0 || e.Message != "" {
		cat := map[int]string{1: "SYSTEM", 2: "USER", 3: "OTHER"}[e.Category]
		s += fmt.Sprintf(" (AthenaError category %d %s, type %d, retryable %t: %s)", e.Category, cat, e.Type, e.Retryable, e.Message)
	}
	if strings.Contains(e.Reason, "HIVE_TOO_MANY_OPEN_PARTITIONS") {
		s += "; a CTAS may open at most 100 partition × bucket writers: build fewer partitions per statement"
	}
	return s
}

// CreateTableAs runs c as an Athena CTAS and writes the result under
// c.Location; see the package documentation.
func (e *Engine) CreateTableAs(ctx context.Context, c engine.CTAS) (engine.Result, error) {
	res, err := e.createTableAs(ctx, c)
	if err != nil {
		return engine.Result{}, fmt.Errorf("athena: CTAS %s.%s: %w", c.Database, c.Table, err)
	}
	return res, nil
}

func (e *Engine) createTableAs(ctx context.Context, c engine.CTAS) (engine.Result, error) {
	p, err := e.plan(c)
	if err != nil {
		return engine.Result{}, err
	}
	log := e.opts.Log.With().Str("table", p.db+"."+strings.ToLower(c.Table)).Str("scratch", p.target.String()).Logger()
	locKey, err := e.checkLocation(ctx, c.Location)
	if err != nil {
		return engine.Result{}, err
	}

	// Scratch tables go whatever happens; a cancelled ctx must not stop
	// the cleanup.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, in := range p.inputs {
			if err := e.cat.DeleteTable(cctx, in.to.db, in.to.table); err != nil {
				log.Warn().Err(err).Str("input", in.to.String()).Msg("athena: dropping input scratch table")
			}
		}
		if err := e.cat.DeleteTable(cctx, p.target.db, p.target.table); err != nil {
			log.Warn().Err(err).Msg("athena: dropping scratch table")
		}
	}()
	// A scratch table left by a crashed run would make the CTAS fail.
	if err := e.cat.DeleteTable(ctx, p.target.db, p.target.table); err != nil {
		return engine.Result{}, fmt.Errorf("dropping leftover scratch table %s: %w", p.target, err)
	}
	if err := e.stageInputs(ctx, p); err != nil {
		return engine.Result{}, err
	}

	qe, err := e.run(ctx, p, log)
	if err != nil {
		if locKey != "" {
			if derr := storage.DeletePrefix(context.WithoutCancel(ctx), e.opts.Storage, locKey+"/"); derr != nil {
				err = errors.Join(err, fmt.Errorf("removing the failed query's output under %s: %w", c.Location, derr))
			}
		}
		return engine.Result{}, err
	}

	res := engine.Result{QueryID: aws.ToString(qe.QueryExecutionId), SQL: p.sql, InputTables: p.inputTables}
	if st := qe.Statistics; st != nil {
		res.DataScannedBytes = aws.ToInt64(st.DataScannedInBytes)
		res.EngineMillis = aws.ToInt64(st.EngineExecutionTimeInMillis)
	}
	res.CostUSD = Cost(res.DataScannedBytes)
	if res.Rows, err = e.rowCount(ctx, res.QueryID); err != nil {
		return engine.Result{}, err
	}
	t, err := e.cat.GetTable(ctx, p.target.db, p.target.table)
	if err != nil {
		return engine.Result{}, fmt.Errorf("reading the schema Athena registered for %s: %w", p.target, err)
	}
	res.Columns = append(slices.Clone(t.StorageDescriptor.Columns), t.PartitionKeys...)
	if locKey != "" {
		err := e.opts.Storage.List(ctx, locKey+"/", func(o storage.Object) error {
			res.Files = append(res.Files, e.opts.Storage.ObjectURI(o.Key))
			res.Bytes += o.Size
			return nil
		})
		if err != nil {
			return engine.Result{}, fmt.Errorf("listing the output under %s: %w", c.Location, err)
		}
	}
	log.Debug().Str("query_id", res.QueryID).Int64("rows", res.Rows).Int64("scanned", res.DataScannedBytes).
		Int64("engine_ms", res.EngineMillis).Float64("usd", res.CostUSD).Int("files", len(res.Files)).Msg("athena: CTAS done")
	return res, nil
}

// Cost is what Athena bills for a query that scanned n bytes: $5 per TB
// (2^40 bytes), rounded up to the MB (2^20 bytes), 10 MB minimum.
func Cost(n int64) float64 {
	units := max((n+billingUnit-1)/billingUnit, minBilledUnit)
	return float64(units) * usdPerTB / float64(1<<20)
}

// checkLocation returns the storage key of location and refuses a
// non-empty one; without Storage it checks nothing and returns "".
func (e *Engine) checkLocation(ctx context.Context, location string) (string, error) {
	st := e.opts.Storage
	if st == nil {
		return "", nil
	}
	root := strings.TrimSuffix(st.URI(), "/") + "/"
	key, ok := strings.CutPrefix(location, root)
	key = strings.TrimSuffix(key, "/")
	if !ok || key == "" {
		return "", fmt.Errorf("%w: %s (the lake is %s)", engine.ErrOutsideLake, location, st.URI())
	}
	if err := storage.CheckKey(key); err != nil {
		return "", fmt.Errorf("location %s: %w", location, err)
	}
	err := st.List(ctx, key+"/", func(o storage.Object) error {
		return fmt.Errorf("%w (Athena's external_location rule): %s holds %s", engine.ErrNotEmpty, location, o.Key)
	})
	if errors.Is(err, engine.ErrNotEmpty) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("location %s: %w", location, err)
	}
	return key, nil
}

// partitionPutter is implemented by catalogs that batch partition writes
// (glue.Catalog).
type partitionPutter interface {
	PutPartitions(ctx context.Context, ps []catalog.Partition) error
}

// stageInputs registers a scratch table per Input with exactly its
// partitions.
func (e *Engine) stageInputs(ctx context.Context, p *plan) error {
	for _, in := range p.inputs {
		t := in.table
		t.Database, t.Name, t.Version = in.to.db, in.to.table, ""
		if err := e.cat.PutTable(ctx, t); err != nil {
			return fmt.Errorf("staging input %s as %s: %w", in.from, in.to, err)
		}
		parts := make([]catalog.Partition, len(in.parts))
		for i, part := range in.parts {
			part.Database, part.Table = in.to.db, in.to.table
			parts[i] = part
		}
		if bp, ok := e.cat.(partitionPutter); ok && len(parts) > 0 {
			if err := bp.PutPartitions(ctx, parts); err != nil {
				return fmt.Errorf("staging input %s partitions: %w", in.from, err)
			}
			continue
		}
		for _, part := range parts {
			if err := e.cat.PutPartition(ctx, part); err != nil {
				return fmt.Errorf("staging input %s partition %q: %w", in.from, part.Values, err)
			}
		}
	}
	return nil
}

// run starts the query and polls it to the end.
//
// The ClientRequestToken is derived from the statement, so a start
// repeated after a crash or a lost answer finds the query already running
// instead of running it twice. A query the token finds that has already
// ended is not ours to report if this engine saw it end (the caller is
// retrying) or if it was submitted before this call began (another
// process's earlier attempt that failed): the query is then started again
// under the next attempt's token.
func (e *Engine) run(ctx context.Context, p *plan, log zerolog.Logger) (*types.QueryExecution, error) {
	called := e.now()
	for attempt := 1; ; attempt++ {
		in := &awsathena.StartQueryExecutionInput{
			QueryString:           aws.String(p.sql),
			ClientRequestToken:    aws.String(p.token(attempt)),
			QueryExecutionContext: &types.QueryExecutionContext{Catalog: aws.String(dataCatalog), Database: aws.String(p.db)},
			WorkGroup:             aws.String(e.opts.Workgroup),
		}
		if e.opts.OutputLocation != "" || e.opts.KMSKey != "" {
			rc := &types.ResultConfiguration{}
			if e.opts.OutputLocation != "" {
				rc.OutputLocation = aws.String(e.opts.OutputLocation)
			}
			if e.opts.KMSKey != "" {
				rc.EncryptionConfiguration = &types.EncryptionConfiguration{
					EncryptionOption: types.EncryptionOptionSseKms, KmsKey: aws.String(e.opts.KMSKey),
				}
			}
			in.ResultConfiguration = rc
		}
		out, err := e.client.StartQueryExecution(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("StartQueryExecution: %w", err)
		}
		id := aws.ToString(out.QueryExecutionId)
		e.mu.Lock()
		seen := e.finished[id]
		e.mu.Unlock()
		if seen && attempt < maxAttempts {
			log.Debug().Str("query_id", id).Int("attempt", attempt).Msg("athena: token names a query this engine saw end; next attempt")
			continue
		}
		log.Debug().Str("query_id", id).Int("attempt", attempt).Msg("athena: query started")
		qe, err := e.poll(ctx, id, log)
		if qe != nil {
			e.mu.Lock()
			e.finished[id] = true
			e.mu.Unlock()
		}
		var q *QueryError
		if errors.As(err, &q) && attempt < maxAttempts && qe.Status.SubmissionDateTime != nil &&
			qe.Status.SubmissionDateTime.Before(called.Add(-tokenReuseSlack)) {
			log.Info().Str("query_id", id).Time("submitted", *qe.Status.SubmissionDateTime).
				Msg("athena: the request token names an earlier failed attempt; starting again")
			continue
		}
		return qe, err
	}
}

// poll waits for the query to finish. On FAILED or CANCELLED it returns
// the execution and a *QueryError; when ctx ends it stops the query.
func (e *Engine) poll(ctx context.Context, id string, log zerolog.Logger) (*types.QueryExecution, error) {
	delay := e.opts.PollMin
	last := types.QueryExecutionState("")
	for {
		out, err := e.client.GetQueryExecution(ctx, &awsathena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			if ctx.Err() != nil {
				return nil, e.stop(ctx, id, err)
			}
			return nil, fmt.Errorf("GetQueryExecution %s: %w", id, err)
		}
		qe := out.QueryExecution
		if qe == nil || qe.Status == nil {
			return nil, fmt.Errorf("GetQueryExecution %s: answer without status", id)
		}
		st := qe.Status
		if st.State != last {
			log.Debug().Str("query_id", id).Str("state", string(st.State)).Msg("athena: query state")
			last = st.State
		}
		switch st.State {
		case types.QueryExecutionStateSucceeded:
			return qe, nil
		case types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
			q := &QueryError{QueryID: id, State: string(st.State), Reason: aws.ToString(st.StateChangeReason)}
			if a := st.AthenaError; a != nil {
				q.Category, q.Type = int(aws.ToInt32(a.ErrorCategory)), int(aws.ToInt32(a.ErrorType))
				q.Retryable, q.Message = a.Retryable, aws.ToString(a.ErrorMessage)
			}
			return qe, q
		}
		if err := e.sleep(ctx, jitter(delay)); err != nil {
			return nil, e.stop(ctx, id, err)
		}
		delay = min(delay*2, e.opts.PollMax)
	}
}

// stop cancels a query whose caller went away.
func (e *Engine) stop(ctx context.Context, id string, cause error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := e.client.StopQueryExecution(sctx, &awsathena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)})
	if err != nil {
		return errors.Join(fmt.Errorf("query %s abandoned: %w", id, cause), fmt.Errorf("StopQueryExecution: %w", err))
	}
	return fmt.Errorf("query %s stopped: %w", id, cause)
}

// jitter spreads d by ±25% so that many pollers do not synchronise.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
}

// rowCount reads the rows a CTAS wrote: GetQueryResults' UpdateCount.
func (e *Engine) rowCount(ctx context.Context, id string) (int64, error) {
	out, err := e.client.GetQueryResults(ctx, &awsathena.GetQueryResultsInput{QueryExecutionId: aws.String(id), MaxResults: aws.Int32(1)})
	if err != nil {
		return 0, fmt.Errorf("GetQueryResults %s: %w", id, err)
	}
	if out.UpdateCount == nil {
		return 0, fmt.Errorf("GetQueryResults %s: no UpdateCount for a CTAS", id)
	}
	return *out.UpdateCount, nil
}

// hashHex is the hex SHA-256 of parts separated by NUL.
func hashHex(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
