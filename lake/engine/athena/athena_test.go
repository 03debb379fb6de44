package athena_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/glue"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/athena"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

const (
	results = "s3://tierflow-results/athena/"
	kmsKey  = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// env is an engine on the fake Athena with moto's Glue catalog (a fresh
// account) holding the source table consumer.consumer_header
// (partitioned by month, 4 buckets).
type env struct {
	srv    *awsfake.Server
	athena *awsfake.Athena
	cat    *glue.Catalog // the engine's, through srv
	moto   *glue.Catalog // the same catalog, reached directly: what the test reads is not logged
	eng    *athena.Engine
	sleeps []time.Duration
	mu     sync.Mutex
}

func newEnv(t *testing.T, opts athena.Options) *env {
	t.Helper()
	srv, acct := awsfake.OnMoto(t)
	e := &env{srv: srv, athena: awsfake.NewAthena(srv, awsglue.NewFromConfig(acct.Config)), moto: glue.New(acct.Config, glue.Options{})}
	e.cat = glue.New(e.srv.Config(), glue.Options{})
	ctx := t.Context()
	if err := e.cat.EnsureDatabase(ctx, "consumer"); err != nil {
		t.Fatal(err)
	}
	if err := e.cat.PutTable(ctx, sourceTable()); err != nil {
		t.Fatal(err)
	}
	if opts.OutputLocation == "" {
		opts.OutputLocation = results
	}
	if opts.PollMin == 0 {
		opts.PollMin, opts.PollMax = 100*time.Millisecond, 400*time.Millisecond
	}
	e.eng = athena.New(e.srv.Config(), e.cat, opts)
	athena.SetSleep(e.eng, func(ctx context.Context, d time.Duration) error {
		e.mu.Lock()
		e.sleeps = append(e.sleeps, d)
		e.mu.Unlock()
		return ctx.Err()
	})
	return e
}

// tables lists the database consumer's tables, sorted.
func (e *env) tables(t *testing.T) []string {
	t.Helper()
	names, err := e.athena.TableNames(context.Background(), "consumer")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// partitionValues lists the values of a table's partitions.
func (e *env) partitionValues(t *testing.T, table string) [][]string {
	t.Helper()
	ps, err := e.moto.ListPartitions(context.Background(), "consumer", table)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, p := range ps {
		out = append(out, p.Values)
	}
	return out
}

func sourceTable() catalog.Table {
	return catalog.Table{
		Database: "consumer", Name: "consumer_header", TableType: "EXTERNAL_TABLE",
		Parameters:    map[string]string{"EXTERNAL": "TRUE", "classification": "parquet"},
		PartitionKeys: []catalog.Column{{Name: "month", Type: "string"}},
		StorageDescriptor: catalog.StorageDescriptor{
			Columns:         []catalog.Column{{Name: "firstname", Type: "string"}, {Name: "state", Type: "string"}, {Name: "zipcode", Type: "string"}},
			Location:        "s3://lake/tier2/consumer_header/",
			NumberOfBuckets: 4, BucketColumns: []string{"state"},
		},
	}
}

func sourcePartition(month, run string) catalog.Partition {
	sd := sourceTable().StorageDescriptor
	sd.Location = "s3://lake/tier2/consumer_header/month=" + month + "/run=" + run + "/"
	return catalog.Partition{Database: "consumer", Table: "consumer_header", Values: []string{month}, StorageDescriptor: sd}
}

// derived is a representative CTAS: consumer_ca, partitioned by month,
// bucketed 4 ways by state.
func derived() engine.CTAS {
	return engine.CTAS{
		Database:      "Consumer",
		Table:         "consumer_ca",
		SQL:           "SELECT firstname, state, month\nFROM consumer_header\nWHERE state = 'CA';",
		Location:      "s3://lake/tier3/consumer_ca/month=2020-03/run=r1/",
		PartitionedBy: []string{"month"},
		BucketedBy:    []string{"State"},
		BucketCount:   4,
		Sources:       []string{"consumer_header"},
	}
}

// okResult is what the executor answers for derived().
var okResult = awsfake.AthenaResult{
	DataScannedBytes: 1_879_048_192, // 1.75 GiB, the seed's Parquet row
	EngineMillis:     28_320,
	Rows:             1234,
	Columns:          []awsfake.Column{{Name: "firstname", Type: "string"}, {Name: "state", Type: "string"}, {Name: "month", Type: "string"}},
	Partitions:       [][]string{{"2020-03"}},
}

var scratchName = regexp.MustCompile(`"consumer"\."(consumer_ca__tf_[0-9a-f]{10})"`)

// TestCTASGolden checks the exact statement, the StartQueryExecution body
// and every field of the result.
func TestCTASGolden(t *testing.T) {
	e := newEnv(t, athena.Options{Workgroup: "etl", KMSKey: kmsKey})
	e.athena.AddWorkGroup(awsfake.WorkGroup{Name: "etl"})
	var seen []string
	var during map[string]any
	e.athena.SetExecutor(func(ctx context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		seen = append(seen, q.SQL)
		m := scratchName.FindStringSubmatch(q.SQL)
		if m == nil {
			return awsfake.AthenaResult{}, fmt.Errorf("no scratch table name in %q", q.SQL)
		}
		during = map[string]any{"ctas": q.CTAS, "db": q.Database, "out": q.OutputLocation}
		return okResult, nil
	})
	res, err := e.eng.CreateTableAs(t.Context(), derived())
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 {
		t.Fatalf("executor ran %d times", len(seen))
	}
	sql := seen[0]
	scratch := scratchName.FindStringSubmatch(sql)[1]
	golden := `CREATE TABLE "consumer"."` + scratch + `" WITH (format = 'PARQUET', write_compression = 'SNAPPY', ` +
		`external_location = 's3://lake/tier3/consumer_ca/month=2020-03/run=r1/', partitioned_by = ARRAY['month'], ` +
		`bucketed_by = ARRAY['state'], bucket_count = 4) AS` + "\n" +
		"SELECT firstname, state, month\nFROM consumer_header\nWHERE state = 'CA'"
	if sql != golden {
		t.Errorf("statement\n got  %q\n want %q", sql, golden)
	}
	for _, prop := range []string{"format = 'PARQUET'", "write_compression = 'SNAPPY'", "external_location = 's3://lake/tier3/consumer_ca/month=2020-03/run=r1/'",
		"partitioned_by = ARRAY['month']", "bucketed_by = ARRAY['state']", "bucket_count = 4"} {
		if !strings.Contains(sql, prop) {
			t.Errorf("statement lacks %s", prop)
		}
	}
	// The fake parsed it back the same way Athena would.
	c := during["ctas"].(*awsfake.CTAS)
	if c.Table != scratch || c.Database != "consumer" || c.BucketCount != 4 || c.ExternalLocation != derived().Location ||
		strings.Join(c.PartitionedBy, ",") != "month" || strings.Join(c.BucketedBy, ",") != "state" {
		t.Errorf("fake parsed the CTAS as %+v", c)
	}
	if during["db"] != "consumer" || during["out"] != results {
		t.Errorf("query context %v", during)
	}

	starts := e.srv.RequestsTo("AmazonAthena.StartQueryExecution")
	if len(starts) != 1 {
		t.Fatalf("%d StartQueryExecution calls", len(starts))
	}
	b := starts[0].Body
	if starts[0].Service != "athena" {
		t.Errorf("signed for %q", starts[0].Service)
	}
	if b["QueryString"] != golden {
		t.Errorf("QueryString %q", b["QueryString"])
	}
	if tok, _ := b["ClientRequestToken"].(string); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Errorf("ClientRequestToken %q is not derived (64 hex digits)", tok)
	}
	if b["WorkGroup"] != "etl" {
		t.Errorf("WorkGroup %v", b["WorkGroup"])
	}
	if fmt.Sprint(b["QueryExecutionContext"]) != "map[Catalog:AwsDataCatalog Database:consumer]" {
		t.Errorf("QueryExecutionContext %v", b["QueryExecutionContext"])
	}
	if fmt.Sprint(b["ResultConfiguration"]) != "map[EncryptionConfiguration:map[EncryptionOption:SSE_KMS KmsKey:"+kmsKey+"] OutputLocation:"+results+"]" {
		t.Errorf("ResultConfiguration %v", b["ResultConfiguration"])
	}

	if res.QueryID == "" || res.SQL != golden {
		t.Errorf("QueryID %q, SQL %q", res.QueryID, res.SQL)
	}
	if res.Rows != 1234 || res.DataScannedBytes != 1_879_048_192 || res.EngineMillis != 28_320 {
		t.Errorf("Rows %d, DataScannedBytes %d, EngineMillis %d", res.Rows, res.DataScannedBytes, res.EngineMillis)
	}
	if math.Abs(res.CostUSD-0.008544921875) > 1e-12 {
		t.Errorf("CostUSD %v, want 1792 MB × $5/2^20 MB = 0.008544921875", res.CostUSD)
	}
	if got := fmt.Sprint(res.Columns); got != "[{firstname string  map[]} {state string  map[]} {month string  map[]}]" {
		t.Errorf("Columns %s", got)
	}
	if fmt.Sprint(res.InputTables) != "[consumer.consumer_header]" {
		t.Errorf("InputTables %v", res.InputTables)
	}
	if _, err := e.moto.GetTable(t.Context(), "consumer", scratch); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("scratch table not dropped: %v", err)
	}
	var drops []string
	for _, r := range e.srv.RequestsTo("AWSGlue.DeleteTable") {
		drops = append(drops, fmt.Sprint(r.Body["Name"])+":"+r.ErrorType)
	}
	// Before (nothing left over) and after.
	if want := []string{scratch + ":EntityNotFoundException", scratch + ":"}; fmt.Sprint(drops) != fmt.Sprint(want) {
		t.Errorf("DeleteTable calls %v, want %v", drops, want)
	}
}

// TestPollingBackoff: GetQueryExecution is polled until the query ends,
// waiting PollMin, doubling to PollMax, each ±25%.
func TestPollingBackoff(t *testing.T) {
	e := newEnv(t, athena.Options{PollMin: 100 * time.Millisecond, PollMax: 400 * time.Millisecond})
	e.athena.SetRunningPolls(5)
	e.athena.SetExecutor(func(context.Context, awsfake.AthenaQuery) (awsfake.AthenaResult, error) { return okResult, nil })
	if _, err := e.eng.CreateTableAs(t.Context(), derived()); err != nil {
		t.Fatal(err)
	}
	// QUEUED, 5 × RUNNING, SUCCEEDED.
	if n := len(e.srv.RequestsTo("AmazonAthena.GetQueryExecution")); n != 7 {
		t.Errorf("%d GetQueryExecution calls, want 7", n)
	}
	base := []time.Duration{100, 200, 400, 400, 400, 400}
	if len(e.sleeps) != len(base) {
		t.Fatalf("slept %v, want %d sleeps", e.sleeps, len(base))
	}
	distinct := map[time.Duration]bool{}
	for i, d := range e.sleeps {
		b := base[i] * time.Millisecond
		if d < b*3/4 || d > b*5/4 {
			t.Errorf("sleep %d = %v, want %v ±25%%", i, d, b)
		}
		distinct[d] = true
	}
	if len(distinct) < 3 {
		t.Errorf("sleeps %v are not jittered", e.sleeps)
	}
}

// TestFailurePropagated: FAILED carries Athena's reason and error details;
// scratch tables are dropped.
func TestFailurePropagated(t *testing.T) {
	e := newEnv(t, athena.Options{})
	e.athena.SetExecutor(func(context.Context, awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		return awsfake.AthenaResult{}, &awsfake.QueryError{Category: 2, Type: 1000, Message: "line 3:7: Column 'stat' cannot be resolved"}
	})
	c := derived()
	c.Inputs = []engine.Input{{Table: sourceTable(), Partitions: []catalog.Partition{sourcePartition("2020-03", "r2")}}}
	_, err := e.eng.CreateTableAs(t.Context(), c)
	var qe *athena.QueryError
	if !errors.As(err, &qe) {
		t.Fatalf("error %v is not a *athena.QueryError", err)
	}
	if qe.State != "FAILED" || qe.Reason != "line 3:7: Column 'stat' cannot be resolved" || qe.Category != 2 || qe.Type != 1000 || qe.QueryID == "" {
		t.Errorf("QueryError %+v", qe)
	}
	// Text: the message a user reads spells out the state, Athena's reason,
	// category and type.
	for _, want := range []string{"FAILED", "Column 'stat' cannot be resolved", "category 2 USER", "type 1000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if names := e.tables(t); fmt.Sprint(names) != "[consumer_header]" {
		t.Errorf("tables after a failed CTAS: %v, want only the source", names)
	}
}

// TestTooManyWriters: more than 100 bucket writers are refused before any
// call; too many partitions × buckets, known only when the query runs, come
// back as Athena's HIVE_TOO_MANY_OPEN_PARTITIONS with advice.
func TestTooManyWriters(t *testing.T) {
	e := newEnv(t, athena.Options{})
	e.srv.ResetRequests()
	c := derived()
	c.BucketCount = 101
	_, err := e.eng.CreateTableAs(t.Context(), c)
	if !errors.Is(err, engine.ErrUnsupported) {
		t.Fatalf("101 buckets: %v", err)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d calls made for a refused CTAS", n)
	}

	e.athena.SetExecutor(func(context.Context, awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		r := okResult
		r.Partitions = [][]string{{"2020-02"}, {"2020-03"}}
		return r, nil
	})
	c = derived()
	c.BucketCount = 60
	_, err = e.eng.CreateTableAs(t.Context(), c)
	var qe *athena.QueryError
	// Text: Athena's error name, and the advice QueryError adds for it.
	if !errors.As(err, &qe) || !strings.Contains(qe.Reason, "HIVE_TOO_MANY_OPEN_PARTITIONS") || !strings.Contains(err.Error(), "fewer partitions per statement") {
		t.Fatalf("2 partitions × 60 buckets: %v", err)
	}
}

// TestTokenIdempotent: the same CTAS gets the same ClientRequestToken, so
// a start repeated by another process (a restarted runner) finds the
// earlier query instead of running it again; a different CTAS gets another
// token; a failure this engine saw, or one older than the call, does not
// stand in for a new run.
func TestTokenIdempotent(t *testing.T) {
	e := newEnv(t, athena.Options{})
	runs := 0
	fail := true
	e.athena.SetExecutor(func(context.Context, awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		runs++
		if fail {
			return awsfake.AthenaResult{}, errors.New("HIVE_BAD_DATA: boom")
		}
		return okResult, nil
	})
	tokens := func() []string {
		var out []string
		for _, r := range e.srv.RequestsTo("AmazonAthena.StartQueryExecution") {
			out = append(out, r.Body["ClientRequestToken"].(string))
		}
		return out
	}
	ctx := t.Context()
	restarted := athena.New(e.srv.Config(), e.cat, athena.Options{OutputLocation: results, PollMin: time.Millisecond, PollMax: time.Millisecond})
	_, err1 := e.eng.CreateTableAs(ctx, derived())
	_, err2 := restarted.CreateTableAs(ctx, derived())
	var qe *athena.QueryError
	if err1 == nil || !errors.As(err2, &qe) || qe.Reason != "HIVE_BAD_DATA: boom" {
		t.Fatalf("errors %v, %v", err1, err2)
	}
	tk := tokens()
	if len(tk) != 2 || tk[0] != tk[1] {
		t.Fatalf("tokens %v: want the same token twice", tk)
	}
	if runs != 1 {
		t.Errorf("executor ran %d times; the second start should have found the first query", runs)
	}
	other := derived()
	other.Location = "s3://lake/tier3/consumer_ca/month=2020-03/run=r2/"
	_, _ = e.eng.CreateTableAs(ctx, other)
	if tk = tokens(); tk[2] == tk[0] {
		t.Errorf("a different location reused token %s", tk[0])
	}

	// The engine that saw the failure retries under the next token.
	fail = false
	runs = 0
	e.srv.ResetRequests()
	if _, err := e.eng.CreateTableAs(ctx, derived()); err != nil {
		t.Fatalf("retry by the engine that saw the failure: %v", err)
	}
	if tk = tokens(); runs != 1 || len(tk) != 2 || tk[0] == tk[1] {
		t.Errorf("retry: %d runs, tokens %v; want the old token, then a new one that runs", runs, tk)
	}

	// Another process an hour later: the old failure is not its own.
	fail = true
	fresh := derived()
	fresh.SQL += " AND zipcode <> ''"
	_, _ = e.eng.CreateTableAs(ctx, fresh)
	fail = false
	runs = 0
	later := athena.New(e.srv.Config(), e.cat, athena.Options{OutputLocation: results, PollMin: time.Millisecond, PollMax: time.Millisecond})
	athena.SetNow(later, func() time.Time { return time.Now().Add(time.Hour) })
	e.srv.ResetRequests()
	if _, err := later.CreateTableAs(ctx, fresh); err != nil {
		t.Fatalf("retry an hour after a failure: %v", err)
	}
	if tk = tokens(); runs != 1 || len(tk) != 2 || tk[0] == tk[1] {
		t.Errorf("an hour later: %d runs, tokens %v; want a second start under a new token", runs, tk)
	}
}

// TestInputsStaged: inputs become scratch tables holding exactly the
// staged partitions, the SQL reads them, and they are dropped afterwards.
func TestInputsStaged(t *testing.T) {
	e := newEnv(t, athena.Options{})
	ctx := t.Context()
	// The published month points elsewhere.
	if err := e.cat.PutPartition(ctx, sourcePartition("2020-03", "r1")); err != nil {
		t.Fatal(err)
	}
	var sql string
	var parts [][]string
	var loc any
	e.athena.SetExecutor(func(_ context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		sql = q.SQL
		for _, n := range e.tables(t) {
			if strings.HasPrefix(n, "consumer_header__tf_") {
				parts = e.partitionValues(t, n)
				p, err := e.moto.GetPartition(ctx, "consumer", n, []string{"2020-03"})
				if err == nil {
					loc = p.StorageDescriptor.Location
				}
			}
		}
		return okResult, nil
	})
	c := derived()
	c.SQL = `SELECT firstname, state, month FROM consumer_header h WHERE NOT EXISTS (SELECT 1 FROM "consumer"."consumer_header" x WHERE x.state = h.state AND x.month < h.month)`
	c.Inputs = []engine.Input{{Table: sourceTable(), Partitions: []catalog.Partition{sourcePartition("2020-03", "r2")}}}
	res, err := e.eng.CreateTableAs(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	in := regexp.MustCompile(`consumer_header__tf_[0-9a-f]{10}`).FindString(sql)
	if in == "" {
		t.Fatalf("statement does not read an input scratch table: %q", sql)
	}
	want := `WITH "consumer_header" AS (SELECT * FROM "consumer"."` + in + `")` + "\n" +
		`SELECT firstname, state, month FROM consumer_header h WHERE NOT EXISTS (SELECT 1 FROM "consumer"."` + in + `" x WHERE x.state = h.state AND x.month < h.month)`
	if body := sql[strings.Index(sql, " AS\n")+4:]; body != want {
		t.Errorf("query\n got  %q\n want %q", body, want)
	}
	if fmt.Sprint(parts) != "[[2020-03]]" || loc != "s3://lake/tier2/consumer_header/month=2020-03/run=r2/" {
		t.Errorf("input scratch table held partitions %v at %v, want the staged one only", parts, loc)
	}
	if names := e.tables(t); fmt.Sprint(names) != "[consumer_header]" {
		t.Errorf("tables after the CTAS: %v", names)
	}
	if fmt.Sprint(res.InputTables) != "[consumer.consumer_header]" {
		t.Errorf("InputTables %v", res.InputTables)
	}
	// The staged partitions went in one batch call, checked against the
	// scratch table.
	if n := len(e.srv.RequestsTo("AWSGlue.BatchCreatePartition")); n != 1 {
		t.Errorf("%d BatchCreatePartition calls, want 1", n)
	}
}

// TestCancelStopsQuery: a caller that gives up stops the query.
func TestCancelStopsQuery(t *testing.T) {
	e := newEnv(t, athena.Options{})
	e.athena.SetRunningPolls(1000)
	e.athena.SetExecutor(func(context.Context, awsfake.AthenaQuery) (awsfake.AthenaResult, error) { return okResult, nil })
	ctx, cancel := context.WithCancel(t.Context())
	athena.SetSleep(e.eng, func(ctx context.Context, d time.Duration) error {
		if len(e.srv.RequestsTo("AmazonAthena.GetQueryExecution")) >= 3 {
			cancel()
		}
		return ctx.Err()
	})
	_, err := e.eng.CreateTableAs(ctx, derived())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	stops := e.srv.RequestsTo("AmazonAthena.StopQueryExecution")
	if len(stops) != 1 || stops[0].ErrorType != "" {
		t.Fatalf("StopQueryExecution calls %v", stops)
	}
	if names := e.tables(t); fmt.Sprint(names) != "[consumer_header]" {
		t.Errorf("tables after a cancelled CTAS: %v", names)
	}
}

// TestLocationChecks: with a Storage the location must be empty and below
// the lake; files written are listed, and a failed query's partial output
// is removed.
func TestLocationChecks(t *testing.T) {
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, athena.Options{Storage: st})
	e.athena.AllowLocationSchemes("file")
	ctx := t.Context()
	c := derived()
	c.Location = st.ObjectURI("tier3/consumer_ca/month=2020-03/run=r1") + "/"
	put := func(key, body string) {
		if err := storage.Put(ctx, st, key, strings.NewReader(body), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fail := true
	e.athena.SetExecutor(func(context.Context, awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		put("tier3/consumer_ca/month=2020-03/run=r1/month=2020-03/000000_0_x", "partial")
		if fail {
			return awsfake.AthenaResult{}, &awsfake.QueryError{Category: 1, Type: 401, Message: "failed to write results"}
		}
		return okResult, nil
	})
	if _, err := e.eng.CreateTableAs(ctx, c); err == nil {
		t.Fatal("failing query succeeded")
	}
	var left []string
	_ = st.List(ctx, "tier3/", func(o storage.Object) error { left = append(left, o.Key); return nil })
	if len(left) != 0 {
		t.Fatalf("failed query left %v", left)
	}
	fail = false
	res, err := e.eng.CreateTableAs(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	want := st.ObjectURI("tier3/consumer_ca/month=2020-03/run=r1/month=2020-03/000000_0_x")
	if fmt.Sprint(res.Files) != "["+want+"]" || res.Bytes != int64(len("partial")) {
		t.Errorf("Files %v, Bytes %d", res.Files, res.Bytes)
	}
	e.srv.ResetRequests()
	if _, err := e.eng.CreateTableAs(ctx, c); !errors.Is(err, engine.ErrNotEmpty) {
		t.Fatalf("non-empty location: %v", err)
	}
	c.Location = "s3://elsewhere/x/"
	if _, err := e.eng.CreateTableAs(ctx, c); !errors.Is(err, engine.ErrOutsideLake) {
		t.Fatalf("location outside the lake: %v", err)
	}
	if n := len(e.srv.RequestsTo("AmazonAthena.StartQueryExecution")); n != 0 {
		t.Errorf("%d queries started for refused locations", n)
	}
}

// TestCost: $5 per 2^40 bytes, rounded up to 2^20, 10 MB minimum; the
// seed's figures (DESIGN.md) come out to the cent fraction it printed.
func TestCost(t *testing.T) {
	gib := func(g float64) int64 { return int64(g * (1 << 30)) }
	cases := []struct {
		bytes int64
		want  float64
		tol   float64
	}{
		{0, 10 * 5.0 / (1 << 20), 1e-15},
		{1, 10 * 5.0 / (1 << 20), 1e-15},
		{10<<20 + 1, 11 * 5.0 / (1 << 20), 1e-15},
		{1 << 40, 5, 1e-15},
		// The seed's table printed 5 decimals of GB/1024 × $5.
		{gib(30.85), 0.15063, 1e-5},
		{gib(1.75), 0.00854, 1e-5},
		{gib(0.18), 0.00088, 1e-5},
	}
	for _, c := range cases {
		if got := athena.Cost(c.bytes); math.Abs(got-c.want) > c.tol {
			t.Errorf("Cost(%d) = %v, want %v ± %v", c.bytes, got, c.want, c.tol)
		}
	}
}

// TestPlanRefusals: what the engine refuses before calling Athena.
func TestPlanRefusals(t *testing.T) {
	e := newEnv(t, athena.Options{})
	cases := map[string]func(*engine.CTAS){
		"NoLocation":          func(c *engine.CTAS) { c.Location = "" },
		"NoSQL":               func(c *engine.CTAS) { c.SQL = " ; " },
		"ORC":                 func(c *engine.CTAS) { c.Format = "orc" },
		"LZO":                 func(c *engine.CTAS) { c.Compression = "lzo" },
		"BucketsWithoutCount": func(c *engine.CTAS) { c.BucketCount = 0 },
		"BucketOnPartition":   func(c *engine.CTAS) { c.BucketedBy = []string{"month"} },
		"InputTwice": func(c *engine.CTAS) {
			c.Inputs = []engine.Input{{Table: sourceTable()}, {Table: sourceTable()}}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := derived()
			mutate(&c)
			e.srv.ResetRequests()
			if _, err := e.eng.CreateTableAs(t.Context(), c); err == nil {
				t.Fatal("accepted")
			} else {
				t.Log(err)
			}
			if n := len(e.srv.Requests()); n != 0 {
				t.Errorf("%d calls made", n)
			}
		})
	}
}

// TestThrottlingRetried: Athena's TooManyRequestsException on start and
// poll is retried by the SDK's retryer.
func TestThrottlingRetried(t *testing.T) {
	e := newEnv(t, athena.Options{})
	e.athena.SetExecutor(func(context.Context, awsfake.AthenaQuery) (awsfake.AthenaResult, error) { return okResult, nil })
	e.srv.FailNext("AmazonAthena.StartQueryExecution", awsfake.Errorf("TooManyRequestsException", "Rate exceeded"))
	e.srv.FailNext("AmazonAthena.GetQueryExecution", awsfake.Errorf("TooManyRequestsException", "Rate exceeded"),
		awsfake.Errorf("TooManyRequestsException", "Rate exceeded"))
	if _, err := e.eng.CreateTableAs(t.Context(), derived()); err != nil {
		t.Fatal(err)
	}
	starts := e.srv.RequestsTo("AmazonAthena.StartQueryExecution")
	if len(starts) != 2 || starts[0].ErrorType != "TooManyRequestsException" ||
		starts[0].Body["ClientRequestToken"] != starts[1].Body["ClientRequestToken"] {
		t.Errorf("starts %+v: want a throttled one and its retry under the same token", starts)
	}
}
