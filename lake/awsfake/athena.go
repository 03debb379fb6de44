package awsfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// Athena is the fake Athena (X-Amz-Target prefix "AmazonAthena", SigV4
// service "athena"): StartQueryExecution, GetQueryExecution,
// StopQueryExecution and a minimal GetQueryResults.
//
// A query runs through the Executor the test supplies. Its state moves
// across successive GetQueryExecution calls, independent of goroutine
// scheduling: the first answers QUEUED and starts the executor, the next
// SetRunningPolls (default 1) answer RUNNING, and the one after waits for
// the executor and answers SUCCEEDED or FAILED (with
// Status.StateChangeReason and AthenaError).
// StopQueryExecution cancels the executor's context and answers CANCELLED.
//
// Like Athena it resolves the workgroup ("primary" exists; AddWorkGroup adds
// more) and the result location (the request's, or the workgroup's, which
// wins when enforced; one is required and must be s3://), honours
// ClientRequestToken (the same token and parameters return the same query
// id; different parameters are refused), and for a CTAS (CREATE TABLE ...
// WITH (...) AS SELECT) checks the WITH properties, fails when the target
// table exists or its database does not, fails with
// HIVE_TOO_MANY_OPEN_PARTITIONS above 100 partition × bucket writers, and
// on success registers the new table (and the partitions the executor
// reports) in the Glue Data Catalog it was given, as Athena does.
type Athena struct {
	s    *Server
	glue *awsglue.Client // the catalog CTAS checks its target in and registers it in

	mu           sync.Mutex
	exec         Executor
	runningPolls int
	workgroups   map[string]WorkGroup
	schemes      []string
	queries      map[string]*query
	tokens       map[string]string // ClientRequestToken → query id
	stopped      bool
}

// Executor runs one query for the fake. It returns the result, or an error
// that fails the query: a *QueryError sets Athena's error details, any
// other error is a USER error (category 2, type 1000) with its text as the
// reason.
type Executor func(ctx context.Context, q AthenaQuery) (AthenaResult, error)

// AthenaQuery is a query as the executor sees it.
type AthenaQuery struct {
	ID             string
	SQL            string // QueryString as sent
	Database       string // QueryExecutionContext.Database ("default" if absent)
	Catalog        string // QueryExecutionContext.Catalog ("AwsDataCatalog" if absent)
	WorkGroup      string
	OutputLocation string // effective result location
	// CTAS is the parsed statement when SQL is CREATE TABLE ... AS; the
	// executor writes the result under CTAS.ExternalLocation.
	CTAS *CTAS
}

// AthenaResult is what a successful query produced.
type AthenaResult struct {
	DataScannedBytes int64
	EngineMillis     int64 // 0: the executor's wall time
	// Rows is the number of rows a CTAS or INSERT wrote (GetQueryResults
	// UpdateCount).
	Rows int64
	// Columns are the result columns in SELECT order with Hive types; for a
	// CTAS the new table's columns, partition columns (last) included.
	Columns []Column
	// Partitions lists the partition values a partitioned CTAS wrote; they
	// are registered with the table.
	Partitions [][]string
	// ResultRows are the data rows of a SELECT, for GetQueryResults.
	ResultRows [][]string
}

// Column is a result column: name and Hive type.
type Column struct {
	Name string
	Type string
}

// QueryError fails a query with Athena's error details.
type QueryError struct {
	Category  int // 1 system, 2 user, 3 other
	Type      int // Athena error type, e.g. 1000 user error, 1001 data error
	Retryable bool
	Message   string
}

func (e *QueryError) Error() string { return e.Message }

// WorkGroup is an Athena workgroup's result configuration.
type WorkGroup struct {
	Name           string
	OutputLocation string // default result location, "" for none
	Enforce        bool   // the workgroup's location overrides the request's
}

type query struct {
	id, token string
	params    string      // canonical request without the token, for idempotency
	q         AthenaQuery // q.CTAS parsed at the start
	badSQL    error       // what parsing the statement found, failing it when it runs
	encrypt   map[string]any
	state     string
	reason    string
	aerr      *QueryError
	submitted time.Time
	started   time.Time
	completed time.Time
	seen      int // RUNNING answers given
	finished  bool
	res       AthenaResult
	err       error
	cancel    context.CancelFunc
	done      chan struct{}
}

// NewAthena adds the fake Athena to s. CTAS statements check their target
// in and register their tables in the Glue Data Catalog glue reaches (e.g.
// moto's): Athena's query execution is the one thing no local AWS
// implementation offers, Glue is not. Those requests are Athena's, made
// with the permissions of whoever started the query, so glue should carry
// that principal's credentials. Queries still running are stopped when the
// test ends.
func NewAthena(s *Server, glue *awsglue.Client) *Athena {
	a := &Athena{
		s:            s,
		glue:         glue,
		runningPolls: 1,
		workgroups:   map[string]WorkGroup{"primary": {Name: "primary"}},
		schemes:      []string{"s3"},
		queries:      map[string]*query{},
		tokens:       map[string]string{},
	}
	a.exec = func(ctx context.Context, q AthenaQuery) (AthenaResult, error) {
		s.tb.Errorf("awsfake: Athena query %s started but no executor is set (Athena.SetExecutor)", q.ID)
		return AthenaResult{}, &QueryError{Category: 1, Type: 100, Message: "awsfake: no executor"}
	}
	s.Register(a.service())
	s.tb.Cleanup(a.stopAll)
	return a
}

// SetExecutor sets the function that runs queries.
func (a *Athena) SetExecutor(e Executor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.exec = e
}

// SetRunningPolls sets how many GetQueryExecution calls answer RUNNING
// (default 1) before the final state.
func (a *Athena) SetRunningPolls(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runningPolls = max(n, 0)
}

// AddWorkGroup adds or replaces a workgroup.
func (a *Athena) AddWorkGroup(w WorkGroup) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.workgroups[w.Name] = w
}

// AllowLocationSchemes sets the URI schemes a CTAS external_location may
// use (default only "s3", as on AWS); a test whose executor writes to a
// file:// lake allows "file".
func (a *Athena) AllowLocationSchemes(schemes ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.schemes = slices.Clone(schemes)
}

// stopAll cancels running executors and waits for them.
func (a *Athena) stopAll() {
	a.mu.Lock()
	a.stopped = true
	var running []*query
	for _, q := range a.queries {
		if q.cancel != nil {
			q.cancel()
			running = append(running, q)
		}
	}
	a.mu.Unlock()
	for _, q := range running {
		<-q.done
	}
}

func (a *Athena) service() *JSONService {
	return &JSONService{
		TargetPrefix: "AmazonAthena",
		SigningName:  "athena",
		JSONVersion:  "1.1",
		Operations: map[string]Operation{
			"StartQueryExecution": a.start,
			"GetQueryExecution":   a.get,
			"StopQueryExecution":  a.stop,
			"GetQueryResults":     a.results,
		},
	}
}

func invalidRequest(code, format string, args ...any) *Error {
	e := Errorf("InvalidRequestException", format, args...)
	e.Fields = map[string]any{"AthenaErrorCode": code}
	return e
}

type startRequest struct {
	QueryString           *string `json:"QueryString"`
	ClientRequestToken    string  `json:"ClientRequestToken,omitempty"`
	QueryExecutionContext *struct {
		Database string `json:"Database,omitempty"`
		Catalog  string `json:"Catalog,omitempty"`
	} `json:"QueryExecutionContext,omitempty"`
	ResultConfiguration *struct {
		OutputLocation          string `json:"OutputLocation,omitempty"`
		ExpectedBucketOwner     string `json:"ExpectedBucketOwner,omitempty"`
		EncryptionConfiguration *struct {
			EncryptionOption *string `json:"EncryptionOption"`
			KmsKey           string  `json:"KmsKey,omitempty"`
		} `json:"EncryptionConfiguration,omitempty"`
		AclConfiguration *struct {
			S3AclOption *string `json:"S3AclOption"`
		} `json:"AclConfiguration,omitempty"`
	} `json:"ResultConfiguration,omitempty"`
	WorkGroup           string   `json:"WorkGroup,omitempty"`
	ExecutionParameters []string `json:"ExecutionParameters,omitempty"`
}

func (a *Athena) start(c *Call) (any, error) {
	var in startRequest
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.QueryString == nil || len(*in.QueryString) < 1 || len(*in.QueryString) > 262144 {
		return nil, BadRequest("InvalidRequestException", "QueryString is required, 1 to 262144 characters")
	}
	if in.ClientRequestToken != "" && (len(in.ClientRequestToken) < 32 || len(in.ClientRequestToken) > 128) {
		return nil, BadRequest("InvalidRequestException", "ClientRequestToken %q: length must be between 32 and 128", in.ClientRequestToken)
	}
	if len(in.ExecutionParameters) > 0 {
		return nil, BadRequest("InvalidRequestException", "ExecutionParameters are not modelled by awsfake")
	}
	q := AthenaQuery{SQL: *in.QueryString, Database: "default", Catalog: "AwsDataCatalog", WorkGroup: "primary"}
	if ctx := in.QueryExecutionContext; ctx != nil {
		if ctx.Database != "" {
			q.Database = strings.ToLower(ctx.Database)
		}
		if ctx.Catalog != "" {
			q.Catalog = ctx.Catalog
		}
	}
	if in.WorkGroup != "" {
		q.WorkGroup = in.WorkGroup
	}
	var encrypt map[string]any
	if rc := in.ResultConfiguration; rc != nil {
		q.OutputLocation = rc.OutputLocation
		if ec := rc.EncryptionConfiguration; ec != nil {
			if ec.EncryptionOption == nil {
				return nil, BadRequest("InvalidRequestException", "EncryptionConfiguration.EncryptionOption is required")
			}
			switch *ec.EncryptionOption {
			case "SSE_S3":
			case "SSE_KMS", "CSE_KMS":
				if ec.KmsKey == "" {
					return nil, invalidRequest("INVALID_INPUT", "KmsKey is required for %s", *ec.EncryptionOption)
				}
			default:
				return nil, BadRequest("InvalidRequestException", "EncryptionOption %q: want SSE_S3, SSE_KMS or CSE_KMS", *ec.EncryptionOption)
			}
			encrypt = map[string]any{"EncryptionOption": *ec.EncryptionOption}
			if ec.KmsKey != "" {
				encrypt["KmsKey"] = ec.KmsKey
			}
		}
	}
	canon, _ := json.Marshal(struct {
		startRequest
		ClientRequestToken string `json:"ClientRequestToken,omitempty"`
	}{startRequest: in})

	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok := a.tokens[in.ClientRequestToken]; ok && in.ClientRequestToken != "" {
		if a.queries[id].params != string(canon) {
			return nil, invalidRequest("INVALID_INPUT", "Idempotent parameters do not match: ClientRequestToken %s was used for a different request", in.ClientRequestToken)
		}
		return map[string]any{"QueryExecutionId": id}, nil
	}
	wg, ok := a.workgroups[q.WorkGroup]
	if !ok {
		return nil, invalidRequest("INVALID_INPUT", "WorkGroup %s is not found.", q.WorkGroup)
	}
	if wg.Enforce && wg.OutputLocation != "" || q.OutputLocation == "" {
		q.OutputLocation = wg.OutputLocation
	}
	if q.OutputLocation == "" {
		return nil, invalidRequest("INVALID_INPUT", "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.")
	}
	if !strings.HasPrefix(q.OutputLocation, "s3://") {
		return nil, invalidRequest("INVALID_INPUT", "%s is not a valid S3 path.", q.OutputLocation)
	}
	q.ID = newUUID()
	var badSQL error
	q.CTAS, badSQL = parseCTAS(q.SQL, q.Database)
	qs := &query{
		id: q.ID, token: in.ClientRequestToken, params: string(canon), q: q, badSQL: badSQL, encrypt: encrypt,
		state: "QUEUED", submitted: time.Now(), done: make(chan struct{}),
	}
	a.queries[q.ID] = qs
	if in.ClientRequestToken != "" {
		a.tokens[in.ClientRequestToken] = q.ID
	}
	return map[string]any{"QueryExecutionId": q.ID}, nil
}

func (a *Athena) decodeID(c *Call) (*query, *Error) {
	var in struct {
		QueryExecutionID *string `json:"QueryExecutionId"`
		// GetQueryResults only.
		NextToken  string `json:"NextToken,omitempty"`
		MaxResults *int   `json:"MaxResults,omitempty"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err.(*Error)
	}
	if in.QueryExecutionID == nil || *in.QueryExecutionID == "" {
		return nil, BadRequest("InvalidRequestException", "QueryExecutionId is required")
	}
	if !strings.HasSuffix(c.Target, ".GetQueryResults") && (in.NextToken != "" || in.MaxResults != nil) {
		return nil, BadRequest("SerializationException", "%s has no NextToken or MaxResults member", c.Target)
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 1000) {
		return nil, BadRequest("InvalidRequestException", "MaxResults %d: want 1 to 1000", *in.MaxResults)
	}
	if in.NextToken != "" {
		return nil, BadRequest("InvalidRequestException", "GetQueryResults paging is not modelled by awsfake")
	}
	q := a.queries[*in.QueryExecutionID]
	if q == nil {
		return nil, invalidRequest("INVALID_INPUT", "QueryExecution %s was not found", *in.QueryExecutionID)
	}
	return q, nil
}

func (a *Athena) get(c *Call) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q, e := a.decodeID(c)
	if e != nil {
		return nil, e
	}
	switch q.state {
	case "QUEUED":
		out := a.describe(q)
		a.run(q)
		return out, nil
	case "RUNNING":
		if q.seen < a.runningPolls {
			q.seen++
			break
		}
		// The poll after the last RUNNING answer waits for the executor,
		// so that the sequence of states does not depend on scheduling.
		if !q.finished {
			a.mu.Unlock()
			select {
			case <-q.done:
			case <-c.Ctx.Done():
			}
			a.mu.Lock()
		}
		if q.state == "RUNNING" && q.finished {
			a.finish(q)
		}
	}
	return a.describe(q), nil
}

// run moves q to RUNNING and starts its executor. Callers hold a.mu.
func (a *Athena) run(q *query) {
	q.state, q.started = "RUNNING", time.Now()
	if a.stopped {
		q.finished, q.err = true, &QueryError{Category: 1, Type: 100, Message: "awsfake: server closed"}
		close(q.done)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	exec := a.exec
	go func() {
		defer close(q.done)
		defer cancel()
		res, err := a.execute(ctx, exec, q.q, q.badSQL)
		a.mu.Lock()
		defer a.mu.Unlock()
		q.finished, q.res, q.err = true, res, err
	}()
}

// userError is a query's failure in the user's statement (Athena's error
// category 2, type 1000).
func userError(format string, args ...any) *QueryError {
	return &QueryError{Category: 2, Type: 1000, Message: fmt.Sprintf(format, args...)}
}

// execute runs the executor plus Athena's CTAS checks around it; badSQL is
// what parsing the statement found.
func (a *Athena) execute(ctx context.Context, exec Executor, q AthenaQuery, badSQL error) (AthenaResult, error) {
	if badSQL != nil {
		return AthenaResult{}, userError("%v", badSQL)
	}
	ctas := q.CTAS
	if ctas != nil {
		if err := a.checkCTAS(ctx, ctas); err != nil {
			return AthenaResult{}, userError("%v", err)
		}
	}
	start := time.Now()
	res, err := exec(ctx, q)
	if err != nil {
		return res, err
	}
	if res.EngineMillis == 0 {
		res.EngineMillis = max(time.Since(start).Milliseconds(), 1)
	}
	if ctas != nil {
		if err := a.registerCTAS(ctx, ctas, q, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (a *Athena) checkCTAS(ctx context.Context, c *CTAS) error {
	a.mu.Lock()
	schemes := a.schemes
	a.mu.Unlock()
	if c.ExternalLocation != "" {
		scheme, _, _ := strings.Cut(c.ExternalLocation, "://")
		if !slices.Contains(schemes, scheme) {
			return fmt.Errorf("external_location %s: the location must be an Amazon S3 path (s3://...)", c.ExternalLocation)
		}
	}
	if c.Format == "PARQUET" {
		switch c.WriteCompression {
		case "", "SNAPPY", "GZIP", "ZSTD", "LZ4", "NONE":
		default:
			return fmt.Errorf("Unsupported compression %s for format PARQUET", c.WriteCompression)
		}
	}
	if c.BucketCount > 100 {
		return fmt.Errorf("HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers for partitions/buckets")
	}
	return a.checkCTASTarget(ctx, c.Database, c.Table)
}

// hiveFormats are the Hive classes of the formats the fake registers.
var hiveFormats = map[string][3]string{
	"PARQUET": {"org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		"org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		"org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}

// registerCTAS checks the executor's result against the CTAS properties
// and stores the new table (and partitions) in the Glue catalog.
func (a *Athena) registerCTAS(ctx context.Context, c *CTAS, q AthenaQuery, res AthenaResult) error {
	cls, ok := hiveFormats[c.Format]
	if !ok {
		return userError("awsfake: CTAS format %s is not modelled", c.Format)
	}
	n, k := len(res.Columns), len(c.PartitionedBy)
	if n == 0 {
		return userError("awsfake: the executor reported no columns for CTAS %s.%s", c.Database, c.Table)
	}
	if k >= n {
		return userError("CREATE TABLE AS SELECT: at least one column must not be a partition column")
	}
	for i, p := range c.PartitionedBy {
		if got := strings.ToLower(res.Columns[n-k+i].Name); got != p {
			return userError("Partition keys must be the last columns in the table and in the same order as the partition specification: %v", c.PartitionedBy)
		}
	}
	writers := max(len(res.Partitions), 1) * max(c.BucketCount, 1)
	if writers > 100 {
		return userError("HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers for partitions/buckets (%d partitions × %d buckets)", max(len(res.Partitions), 1), max(c.BucketCount, 1))
	}
	cols := func(cs []Column) []types.Column {
		out := []types.Column{}
		for _, col := range cs {
			out = append(out, types.Column{Name: aws.String(strings.ToLower(col.Name)), Type: aws.String(col.Type)})
		}
		return out
	}
	loc := c.ExternalLocation
	if loc == "" {
		loc = strings.TrimSuffix(q.OutputLocation, "/") + "/tables/" + q.ID + "/"
	}
	buckets := int32(-1)
	if c.BucketCount > 0 {
		buckets = int32(c.BucketCount)
	}
	sd := func(loc string) *types.StorageDescriptor {
		return &types.StorageDescriptor{
			Columns: cols(res.Columns[:n-k]), Location: aws.String(loc),
			InputFormat: aws.String(cls[0]), OutputFormat: aws.String(cls[1]),
			SerdeInfo:       &types.SerDeInfo{SerializationLibrary: aws.String(cls[2]), Parameters: map[string]string{"serialization.format": "1"}},
			NumberOfBuckets: buckets, BucketColumns: slices.Clone(c.BucketedBy), SortColumns: []types.Order{},
		}
	}
	params := map[string]string{"EXTERNAL": "TRUE", "has_encrypted_data": "false"}
	if c.WriteCompression != "" {
		params[strings.ToLower(c.Format)+".compression"] = c.WriteCompression
	}
	if c.BucketCount > 0 {
		// [inference] research/athena-compat.md §2.1: Trino writes it.
		params["bucketing_version"] = "1"
	}
	t := &types.TableInput{
		Name: aws.String(c.Table), TableType: aws.String("EXTERNAL_TABLE"), Parameters: params,
		PartitionKeys: cols(res.Columns[n-k:]), StorageDescriptor: sd(loc),
	}
	var parts []types.PartitionInput
	for _, vals := range res.Partitions {
		if len(vals) != k {
			return userError("awsfake: executor reported partition %q for %d partition keys", vals, k)
		}
		var dirs []string
		for i, v := range vals {
			dirs = append(dirs, c.PartitionedBy[i]+"="+v)
		}
		parts = append(parts, types.PartitionInput{Values: vals, StorageDescriptor: sd(strings.TrimSuffix(loc, "/") + "/" + strings.Join(dirs, "/") + "/")})
	}
	if err := a.registerTable(ctx, c.Database, t, parts); err != nil {
		return userError("%v", err)
	}
	return nil
}

// finish moves a finished query to its final state. Callers hold a.mu.
func (a *Athena) finish(q *query) {
	q.completed = time.Now()
	if q.err == nil {
		q.state = "SUCCEEDED"
		return
	}
	var qe *QueryError
	if !errors.As(q.err, &qe) {
		qe = userError("%v", q.err)
	}
	q.state, q.reason, q.aerr = "FAILED", qe.Message, qe
}

// describe renders GetQueryExecution's answer. Callers hold a.mu.
func (a *Athena) describe(q *query) map[string]any {
	status := map[string]any{"State": q.state, "SubmissionDateTime": epoch(q.submitted)}
	if q.reason != "" {
		status["StateChangeReason"] = q.reason
	}
	if q.aerr != nil {
		status["AthenaError"] = map[string]any{
			"ErrorCategory": q.aerr.Category, "ErrorType": q.aerr.Type,
			"Retryable": q.aerr.Retryable, "ErrorMessage": q.aerr.Message,
		}
	}
	stats := map[string]any{"DataScannedInBytes": 0, "EngineExecutionTimeInMillis": 0, "TotalExecutionTimeInMillis": 0}
	if !q.started.IsZero() {
		stats["QueryQueueTimeInMillis"] = q.started.Sub(q.submitted).Milliseconds()
	}
	terminal := q.state == "SUCCEEDED" || q.state == "FAILED" || q.state == "CANCELLED"
	if terminal {
		status["CompletionDateTime"] = epoch(q.completed)
		engine := q.res.EngineMillis
		stats["DataScannedInBytes"] = q.res.DataScannedBytes
		stats["EngineExecutionTimeInMillis"] = engine
		stats["QueryPlanningTimeInMillis"] = engine / 10
		stats["ServicePreProcessingTimeInMillis"] = 5
		stats["ServiceProcessingTimeInMillis"] = 5
		queue := int64(0)
		if !q.started.IsZero() {
			queue = q.started.Sub(q.submitted).Milliseconds()
		}
		stats["TotalExecutionTimeInMillis"] = queue + 5 + engine + 5
		stats["ResultReuseInformation"] = map[string]any{"ReusedPreviousResult": false}
	}
	rc := map[string]any{"OutputLocation": strings.TrimSuffix(q.q.OutputLocation, "/") + "/" + q.id + ".csv"}
	if q.encrypt != nil {
		rc["EncryptionConfiguration"] = q.encrypt
	}
	ctx := map[string]any{"Database": q.q.Database, "Catalog": q.q.Catalog}
	stmt := "DML"
	if q.q.CTAS != nil {
		stmt = "DDL"
		if terminal && q.state == "SUCCEEDED" {
			stats["DataManifestLocation"] = strings.TrimSuffix(q.q.OutputLocation, "/") + "/tables/" + q.id + "-manifest.csv"
		}
	}
	return map[string]any{"QueryExecution": map[string]any{
		"QueryExecutionId":      q.id,
		"Query":                 q.q.SQL,
		"StatementType":         stmt,
		"ResultConfiguration":   rc,
		"QueryExecutionContext": ctx,
		"Status":                status,
		"Statistics":            stats,
		"WorkGroup":             q.q.WorkGroup,
		"EngineVersion":         map[string]any{"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
	}}
}

func (a *Athena) stop(c *Call) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q, e := a.decodeID(c)
	if e != nil {
		return nil, e
	}
	switch q.state {
	case "QUEUED", "RUNNING":
		if q.cancel != nil {
			q.cancel()
		}
		q.state, q.reason, q.completed = "CANCELLED", "Query was cancelled by user", time.Now()
	}
	return struct{}{}, nil
}

func (a *Athena) results(c *Call) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q, e := a.decodeID(c)
	if e != nil {
		return nil, e
	}
	switch q.state {
	case "SUCCEEDED":
	case "FAILED", "CANCELLED":
		return nil, invalidRequest("INVALID_INPUT", "Query did not finish successfully. Final query state: %s", q.state)
	default:
		return nil, invalidRequest("INVALID_INPUT", "Query has not yet finished. Current state: %s", q.state)
	}
	info := []map[string]any{}
	rows := []map[string]any{}
	out := map[string]any{}
	if q.q.CTAS != nil {
		out["UpdateCount"] = q.res.Rows
	} else {
		header := []map[string]any{}
		for _, col := range q.res.Columns {
			info = append(info, map[string]any{
				"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": col.Name, "Label": col.Name,
				"Type": col.Type, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": false,
			})
			header = append(header, map[string]any{"VarCharValue": col.Name})
		}
		rows = append(rows, map[string]any{"Data": header})
		for _, r := range q.res.ResultRows {
			data := []map[string]any{}
			for _, v := range r {
				data = append(data, map[string]any{"VarCharValue": v})
			}
			rows = append(rows, map[string]any{"Data": data})
		}
	}
	out["ResultSet"] = map[string]any{"Rows": rows, "ResultSetMetadata": map[string]any{"ColumnInfo": info}}
	return out, nil
}
