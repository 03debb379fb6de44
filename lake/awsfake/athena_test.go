package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/tierflow/tierflow/lake/awsfake"
)

// athenaClient reaches a fake Athena whose CTAS tables land in moto's
// Glue, in a fresh account holding the database db.
func athenaClient(t *testing.T) (*athena.Client, *awsfake.Athena, *glue.Client) {
	t.Helper()
	srv, acct := awsfake.OnMoto(t)
	cat := glue.NewFromConfig(acct.Config)
	if _, err := cat.CreateDatabase(t.Context(), &glue.CreateDatabaseInput{
		DatabaseInput: &types.DatabaseInput{Name: aws.String("db")}}); err != nil {
		t.Fatal(err)
	}
	return athena.NewFromConfig(srv.Config()), awsfake.NewAthena(srv, cat), cat
}

func start(t *testing.T, cl *athena.Client, sql string) string {
	t.Helper()
	out, err := cl.StartQueryExecution(t.Context(), &athena.StartQueryExecutionInput{
		QueryString: aws.String(sql), QueryExecutionContext: &athenatypes.QueryExecutionContext{Database: aws.String("db")},
		ResultConfiguration: &athenatypes.ResultConfiguration{OutputLocation: aws.String("s3://results/")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueryExecutionId)
}

// states polls a query until it ends and returns the states seen.
func states(t *testing.T, cl *athena.Client, id string) ([]string, *athenatypes.QueryExecution) {
	t.Helper()
	var seen []string
	for range 20 {
		out, err := cl.GetQueryExecution(t.Context(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		st := string(out.QueryExecution.Status.State)
		seen = append(seen, st)
		if st == "SUCCEEDED" || st == "FAILED" || st == "CANCELLED" {
			return seen, out.QueryExecution
		}
	}
	t.Fatalf("query %s did not end: %v", id, seen)
	return nil, nil
}

func TestAthenaCTASLifecycle(t *testing.T) {
	cl, fake, cat := athenaClient(t)
	ctx := t.Context()
	fake.SetRunningPolls(2)
	ran := make(chan awsfake.AthenaQuery, 1)
	fake.SetExecutor(func(_ context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		ran <- q
		return awsfake.AthenaResult{DataScannedBytes: 12345, EngineMillis: 678, Rows: 42,
			Columns:    []awsfake.Column{{Name: "id", Type: "bigint"}, {Name: "State", Type: "string"}, {Name: "dt", Type: "string"}},
			Partitions: [][]string{{"2020-01"}, {"2020-02"}}}, nil
	})
	id := start(t, cl, `CREATE TABLE db.t WITH (format = 'PARQUET', external_location = 's3://b/t/', partitioned_by = ARRAY['dt'], bucketed_by = ARRAY['state'], bucket_count = 4) AS SELECT 1`)
	seen, qe := states(t, cl, id)
	if strings.Join(seen, ",") != "QUEUED,RUNNING,RUNNING,SUCCEEDED" {
		t.Errorf("states %v", seen)
	}
	q := <-ran
	if q.CTAS == nil || q.CTAS.Select != "SELECT 1" || q.Database != "db" || q.OutputLocation != "s3://results/" {
		t.Errorf("executor got %+v (CTAS %+v)", q, q.CTAS)
	}
	st := qe.Statistics
	if aws.ToInt64(st.DataScannedInBytes) != 12345 || aws.ToInt64(st.EngineExecutionTimeInMillis) != 678 || aws.ToInt64(st.TotalExecutionTimeInMillis) < 678 {
		t.Errorf("statistics %+v", st)
	}
	if qe.Status.CompletionDateTime == nil || qe.Status.SubmissionDateTime == nil || aws.ToString(qe.WorkGroup) != "primary" {
		t.Errorf("status %+v", qe.Status)
	}
	res, err := cl.GetQueryResults(ctx, &athena.GetQueryResultsInput{QueryExecutionId: aws.String(id)})
	if err != nil || aws.ToInt64(res.UpdateCount) != 42 {
		t.Fatalf("results: %v %v", res, err)
	}
	// Registered like Athena does: data columns, partition key, bucketing,
	// and the partitions written.
	got, err := cat.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("db"), Name: aws.String("t")})
	if err != nil {
		t.Fatalf("registered table: %v", err)
	}
	tb, sd := got.Table, got.Table.StorageDescriptor
	if fmt.Sprint(columns(sd.Columns)) != "[id bigint state string]" || fmt.Sprint(columns(tb.PartitionKeys)) != "[dt string]" ||
		sd.NumberOfBuckets != 4 || fmt.Sprint(sd.BucketColumns) != "[state]" || aws.ToString(sd.Location) != "s3://b/t/" {
		t.Fatalf("registered table %+v, storage %+v", tb, sd)
	}
	parts, err := cat.GetPartitions(ctx, &glue.GetPartitionsInput{DatabaseName: aws.String("db"), TableName: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	var vals [][]string
	for _, p := range parts.Partitions {
		vals = append(vals, p.Values)
		if want := "s3://b/t/dt=" + p.Values[0] + "/"; aws.ToString(p.StorageDescriptor.Location) != want || p.StorageDescriptor.NumberOfBuckets != 4 {
			t.Errorf("partition %q at %s with %d buckets, want %s with 4", p.Values, aws.ToString(p.StorageDescriptor.Location), p.StorageDescriptor.NumberOfBuckets, want)
		}
	}
	slices.SortFunc(vals, slices.Compare)
	if fmt.Sprint(vals) != "[[2020-01] [2020-02]]" {
		t.Errorf("registered partitions %v", vals)
	}

	// The same CTAS again fails: the table exists; the executor is not run.
	id = start(t, cl, `CREATE TABLE db.t WITH (format = 'PARQUET') AS SELECT 1`)
	seen, qe = states(t, cl, id)
	if seen[len(seen)-1] != "FAILED" || !strings.Contains(aws.ToString(qe.Status.StateChangeReason), "already exists") {
		t.Errorf("CTAS over an existing table: %v %v", seen, aws.ToString(qe.Status.StateChangeReason))
	}
	select {
	case q := <-ran:
		t.Errorf("executor ran for %s", q.SQL)
	default:
	}
	for sql, want := range map[string]string{
		`CREATE TABLE db.u WITH (bucketing_version = 2) AS SELECT 1`:                        "table property 'bucketing_version' does not exist",
		`CREATE TABLE db.u WITH (bucket_count = 4) AS SELECT 1`:                             "must be specified together",
		`CREATE TABLE db.u WITH (external_location = '/tmp/x') AS SELECT 1`:                 "must be an Amazon S3 path",
		`CREATE TABLE db.u WITH (bucketed_by = ARRAY['a'], bucket_count = 200) AS SELECT 1`: "HIVE_TOO_MANY_OPEN_PARTITIONS",
		`CREATE TABLE nodb.u AS SELECT 1`:                                                   "Schema 'nodb' does not exist",
	} {
		id := start(t, cl, sql)
		_, qe := states(t, cl, id)
		if !strings.Contains(aws.ToString(qe.Status.StateChangeReason), want) || qe.Status.AthenaError == nil ||
			aws.ToInt32(qe.Status.AthenaError.ErrorCategory) != 2 {
			t.Errorf("%s: %v %+v, want a USER error with %q", sql, aws.ToString(qe.Status.StateChangeReason), qe.Status.AthenaError, want)
		}
	}
}

func TestAthenaFailureStopAndErrors(t *testing.T) {
	cl, fake, _ := athenaClient(t)
	ctx := t.Context()
	block := make(chan struct{})
	fake.SetExecutor(func(ctx context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		if strings.Contains(q.SQL, "slow") {
			<-ctx.Done()
			close(block)
			return awsfake.AthenaResult{}, ctx.Err()
		}
		return awsfake.AthenaResult{}, &awsfake.QueryError{Category: 2, Type: 1001, Retryable: false, Message: "HIVE_BAD_DATA: bad row"}
	})
	id := start(t, cl, "SELECT bad")
	_, qe := states(t, cl, id)
	ae := qe.Status.AthenaError
	if aws.ToString(qe.Status.StateChangeReason) != "HIVE_BAD_DATA: bad row" || ae == nil ||
		aws.ToInt32(ae.ErrorCategory) != 2 || aws.ToInt32(ae.ErrorType) != 1001 || aws.ToString(ae.ErrorMessage) != "HIVE_BAD_DATA: bad row" {
		t.Fatalf("failed query: %v %+v", aws.ToString(qe.Status.StateChangeReason), ae)
	}
	_, err := cl.GetQueryResults(ctx, &athena.GetQueryResultsInput{QueryExecutionId: aws.String(id)})
	var ir *athenatypes.InvalidRequestException
	if !errors.As(err, &ir) || aws.ToString(ir.AthenaErrorCode) != "INVALID_INPUT" {
		t.Fatalf("results of a failed query: %v", err)
	}

	id = start(t, cl, "SELECT slow")
	if _, err := cl.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GetQueryResults(ctx, &athena.GetQueryResultsInput{QueryExecutionId: aws.String(id)}); !errors.As(err, &ir) {
		t.Fatalf("results of a running query: %v", err)
	}
	if _, err := cl.StopQueryExecution(ctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	<-block // the executor saw its context cancelled
	seen, _ := states(t, cl, id)
	if seen[0] != "CANCELLED" {
		t.Errorf("after stop: %v", seen)
	}

	// Idempotency: the same token and request give the same id; the same
	// token with another request is refused.
	tok := strings.Repeat("a", 40)
	in := func(sql string) *athena.StartQueryExecutionInput {
		return &athena.StartQueryExecutionInput{QueryString: aws.String(sql), ClientRequestToken: aws.String(tok),
			ResultConfiguration: &athenatypes.ResultConfiguration{OutputLocation: aws.String("s3://results/")}}
	}
	a, err := cl.StartQueryExecution(ctx, in("SELECT 1"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cl.StartQueryExecution(ctx, in("SELECT 1"))
	if err != nil || aws.ToString(a.QueryExecutionId) != aws.ToString(b.QueryExecutionId) {
		t.Fatalf("same token: %v %v, %v", aws.ToString(a.QueryExecutionId), aws.ToString(b.QueryExecutionId), err)
	}
	if _, err := cl.StartQueryExecution(ctx, in("SELECT 2")); !errors.As(err, &ir) {
		t.Fatalf("same token, other query: %v", err)
	}
	// No result location anywhere; an unknown workgroup.
	if _, err := cl.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1")}); !errors.As(err, &ir) ||
		!strings.Contains(err.Error(), "No output location") {
		t.Fatalf("no output location: %v", err)
	}
	fake.AddWorkGroup(awsfake.WorkGroup{Name: "etl", OutputLocation: "s3://wg/", Enforce: true})
	out, err := cl.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1"), WorkGroup: aws.String("etl"),
		ResultConfiguration: &athenatypes.ResultConfiguration{OutputLocation: aws.String("s3://mine/")}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := cl.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: out.QueryExecutionId})
	if loc := aws.ToString(got.QueryExecution.ResultConfiguration.OutputLocation); !strings.HasPrefix(loc, "s3://wg/") {
		t.Errorf("enforced workgroup location: results at %s", loc)
	}
	if _, err := cl.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1"), WorkGroup: aws.String("nope"),
		ResultConfiguration: &athenatypes.ResultConfiguration{OutputLocation: aws.String("s3://mine/")}}); !errors.As(err, &ir) {
		t.Fatalf("unknown workgroup: %v", err)
	}
}

// columns renders Glue columns as name, type pairs.
func columns(cs []types.Column) []string {
	var out []string
	for _, c := range cs {
		out = append(out, aws.ToString(c.Name), aws.ToString(c.Type))
	}
	return out
}
