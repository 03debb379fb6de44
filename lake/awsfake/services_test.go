package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/tierflow/tierflow/lake/awsfake"
)

func glueSetup(t *testing.T, tb testing.TB) (*glue.Client, *awsfake.Server) {
	t.Helper()
	srv := awsfake.New(tb)
	cl := glue.NewFromConfig(srv.Config())
	ctx := t.Context()
	if _, err := cl.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("DB")}}); err != nil {
		t.Fatal(err)
	}
	_, err := cl.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("db"), TableInput: &types.TableInput{
		Name: aws.String("Events"), TableType: aws.String("EXTERNAL_TABLE"),
		PartitionKeys: []types.Column{{Name: aws.String("dt"), Type: aws.String("string")}},
		StorageDescriptor: &types.StorageDescriptor{
			Columns: []types.Column{{Name: aws.String("id"), Type: aws.String("bigint")}}, NumberOfBuckets: -1,
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cl, srv
}

func partition(v string) types.PartitionInput {
	return types.PartitionInput{Values: []string{v}, StorageDescriptor: &types.StorageDescriptor{
		Columns:  []types.Column{{Name: aws.String("id"), Type: aws.String("bigint")}},
		Location: aws.String("s3://b/events/dt=" + v + "/"), NumberOfBuckets: -1,
	}}
}

func TestGlueNamesFoldedAndVersions(t *testing.T) {
	cl, _ := glueSetup(t, t)
	ctx := t.Context()
	out, err := cl.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("Db"), Name: aws.String("EVENTS")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Table.Name) != "events" || aws.ToString(out.Table.DatabaseName) != "db" || aws.ToString(out.Table.VersionId) != "0" {
		t.Fatalf("stored as %s.%s version %s", aws.ToString(out.Table.DatabaseName), aws.ToString(out.Table.Name), aws.ToString(out.Table.VersionId))
	}
	if out.Table.CreateTime == nil || out.Table.CreateTime.IsZero() {
		t.Error("no CreateTime")
	}
	in := &types.TableInput{Name: aws.String("events"), PartitionKeys: []types.Column{{Name: aws.String("dt"), Type: aws.String("string")}},
		StorageDescriptor: &types.StorageDescriptor{Columns: []types.Column{{Name: aws.String("id"), Type: aws.String("bigint")}}}}
	if _, err := cl.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("db"), TableInput: in, VersionId: aws.String("0")}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String("db"), TableInput: in, VersionId: aws.String("0")})
	var cm *types.ConcurrentModificationException
	if !errors.As(err, &cm) {
		t.Fatalf("update at stale version 0: %v, want ConcurrentModificationException", err)
	}
	_, err = cl.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("db"), TableInput: in})
	var ae *types.AlreadyExistsException
	if !errors.As(err, &ae) {
		t.Fatalf("create existing: %v, want AlreadyExistsException", err)
	}
	_, err = cl.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("nodb"), TableInput: in})
	var nf *types.EntityNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "Database nodb not found") {
		t.Fatalf("create in missing database: %v", err)
	}
}

func TestGluePartitionsPagedAndBatched(t *testing.T) {
	rec := &recorder{TB: t}
	cl, srv := glueSetup(t, rec)
	srv.Glue.SetPageSize(2)
	ctx := t.Context()
	var list []types.PartitionInput
	for i := range 5 {
		list = append(list, partition(fmt.Sprintf("2020-0%d", 5-i)))
	}
	list = append(list, partition("2020-05")) // duplicate: a per-partition error
	out, err := cl.BatchCreatePartition(ctx, &glue.BatchCreatePartitionInput{DatabaseName: aws.String("db"), TableName: aws.String("events"), PartitionInputList: list})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorDetail.ErrorCode) != "AlreadyExistsException" || out.Errors[0].PartitionValues[0] != "2020-05" {
		t.Fatalf("batch errors %+v", out.Errors)
	}
	pages := glue.NewGetPartitionsPaginator(cl, &glue.GetPartitionsInput{DatabaseName: aws.String("db"), TableName: aws.String("events")})
	var got []string
	calls := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		for _, p := range page.Partitions {
			got = append(got, p.Values[0])
			if aws.ToString(p.TableName) != "events" || aws.ToString(p.StorageDescriptor.Location) != "s3://b/events/dt="+p.Values[0]+"/" {
				t.Errorf("partition %+v", p)
			}
		}
	}
	if calls != 3 || strings.Join(got, ",") != "2020-05,2020-04,2020-03,2020-02,2020-01" {
		t.Fatalf("%d pages: %v (creation order, as stored)", calls, got)
	}

	// Update switches the location; values cannot change.
	p := partition("2020-03")
	p.StorageDescriptor.Location = aws.String("s3://b/new/")
	if _, err := cl.UpdatePartition(ctx, &glue.UpdatePartitionInput{DatabaseName: aws.String("db"), TableName: aws.String("events"),
		PartitionValueList: []string{"2020-03"}, PartitionInput: &p}); err != nil {
		t.Fatal(err)
	}
	gp, err := cl.GetPartition(ctx, &glue.GetPartitionInput{DatabaseName: aws.String("db"), TableName: aws.String("events"), PartitionValues: []string{"2020-03"}})
	if err != nil || aws.ToString(gp.Partition.StorageDescriptor.Location) != "s3://b/new/" {
		t.Fatalf("after update: %v %v", gp, err)
	}
	_, err = cl.UpdatePartition(ctx, &glue.UpdatePartitionInput{DatabaseName: aws.String("db"), TableName: aws.String("events"),
		PartitionValueList: []string{"1999-01"}, PartitionInput: &p})
	var nf *types.EntityNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("update missing: %v", err)
	}
	if r := rec.reports(); len(r) != 0 {
		t.Fatalf("valid calls reported: %v", r)
	}

	// Over the batch limits: refused, and reported as the caller's bug.
	var big []types.PartitionInput
	for i := range 101 {
		big = append(big, partition(fmt.Sprintf("x%03d", i)))
	}
	if _, err := cl.BatchCreatePartition(ctx, &glue.BatchCreatePartitionInput{DatabaseName: aws.String("db"), TableName: aws.String("events"), PartitionInputList: big}); err == nil {
		t.Error("BatchCreatePartition of 101 accepted")
	}
	var del []types.PartitionValueList
	for i := range 26 {
		del = append(del, types.PartitionValueList{Values: []string{fmt.Sprint(i)}})
	}
	if _, err := cl.BatchDeletePartition(ctx, &glue.BatchDeletePartitionInput{DatabaseName: aws.String("db"), TableName: aws.String("events"), PartitionsToDelete: del}); err == nil {
		t.Error("BatchDeletePartition of 26 accepted")
	}
	if r := rec.reports(); len(r) != 2 {
		t.Fatalf("reports %q, want the two over-limit batches", r)
	}
	bd, err := cl.BatchDeletePartition(ctx, &glue.BatchDeletePartitionInput{DatabaseName: aws.String("db"), TableName: aws.String("events"),
		PartitionsToDelete: []types.PartitionValueList{{Values: []string{"2020-01"}}, {Values: []string{"1999-01"}}}})
	if err != nil || len(bd.Errors) != 1 || aws.ToString(bd.Errors[0].ErrorDetail.ErrorCode) != "EntityNotFoundException" {
		t.Fatalf("batch delete: %+v %v", bd, err)
	}
	if n := len(srv.Glue.PartitionValues("db", "events")); n != 4 {
		t.Fatalf("%d partitions left, want 4", n)
	}
	if _, err := cl.DeleteTable(ctx, &glue.DeleteTableInput{DatabaseName: aws.String("db"), Name: aws.String("events")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GetPartitions(ctx, &glue.GetPartitionsInput{DatabaseName: aws.String("db"), TableName: aws.String("events")}); !errors.As(err, &nf) {
		t.Fatalf("partitions of a deleted table: %v", err)
	}
}

func athenaClient(t *testing.T) (*athena.Client, *awsfake.Server) {
	t.Helper()
	srv := awsfake.New(t)
	if _, err := glue.NewFromConfig(srv.Config()).CreateDatabase(t.Context(), &glue.CreateDatabaseInput{
		DatabaseInput: &types.DatabaseInput{Name: aws.String("db")}}); err != nil {
		t.Fatal(err)
	}
	return athena.NewFromConfig(srv.Config()), srv
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
	cl, srv := athenaClient(t)
	ctx := t.Context()
	srv.Athena.SetRunningPolls(2)
	ran := make(chan awsfake.AthenaQuery, 1)
	srv.Athena.SetExecutor(func(_ context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
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
	tb := srv.Glue.Table("db", "t")
	sd, _ := tb["StorageDescriptor"].(map[string]any)
	if tb == nil || fmt.Sprint(sd["Columns"]) != "[map[Name:id Type:bigint] map[Name:state Type:string]]" ||
		fmt.Sprint(tb["PartitionKeys"]) != "[map[Name:dt Type:string]]" || sd["NumberOfBuckets"] != 4.0 ||
		fmt.Sprint(sd["BucketColumns"]) != "[state]" || sd["Location"] != "s3://b/t/" {
		t.Fatalf("registered table %v", tb)
	}
	if fmt.Sprint(srv.Glue.PartitionValues("db", "t")) != "[[2020-01] [2020-02]]" {
		t.Errorf("registered partitions %v", srv.Glue.PartitionValues("db", "t"))
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
	cl, srv := athenaClient(t)
	ctx := t.Context()
	block := make(chan struct{})
	srv.Athena.SetExecutor(func(ctx context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
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
	srv.Athena.AddWorkGroup(awsfake.WorkGroup{Name: "etl", OutputLocation: "s3://wg/", Enforce: true})
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
