package dynamo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/lineage/dynamo"
	"github.com/tierflow/tierflow/lake/lineage/lineagetest"
)

func config(t *testing.T) aws.Config {
	t.Helper()
	endpoint := os.Getenv("TIERFLOW_TEST_DYNAMODB_ENDPOINT")
	if endpoint == "" {
		t.Skip("TIERFLOW_TEST_DYNAMODB_ENDPOINT is unset: no DynamoDB server to test against. .ci/run starts dynalite and sets it " +
			"(or: source .ci/services.sh; see that script)")
	}
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{
		Region: "us-east-1", Endpoint: endpoint, MaxBackoff: 200 * time.Millisecond,
		// Local servers accept any key; DynamoDB Local namespaces tables by it.
		Credentials: credentials.NewStaticCredentialsProvider("test", "testsecret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// localOpts silences the SDK's warning about response checksums that
// DynamoDB Local gets wrong on error responses.
func localOpts(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }

var tableSeq atomic.Int64

// newTable returns a store on a fresh table, deleted when the test ends.
func newTable(t *testing.T) (*dynamo.Store, *dynamodb.Client, string) {
	t.Helper()
	cfg := config(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	table := fmt.Sprintf("tierflow-test-%x-%d", rnd, tableSeq.Add(1))
	s := dynamo.New(cfg, table, localOpts)
	if err := s.CreateTable(t.Context()); err != nil {
		t.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg, localOpts)
	t.Cleanup(func() {
		s.Close()
		if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
			t.Errorf("delete table %s: %v", table, err)
		}
	})
	return s, client, table
}

func TestConformance(t *testing.T) {
	config(t)
	lineagetest.Run(t, func(t *testing.T) lineage.Store {
		s, _, _ := newTable(t)
		return s
	})
}

func TestCreateTableIdempotentAndOnDemand(t *testing.T) {
	s, client, table := newTable(t)
	if err := s.CreateTable(t.Context()); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	d, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	tb := d.Table
	if tb.TableStatus != types.TableStatusActive {
		t.Fatalf("status %s", tb.TableStatus)
	}
	if tb.BillingModeSummary == nil || tb.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("billing mode %+v, want PAY_PER_REQUEST", tb.BillingModeSummary)
	}
	if len(tb.GlobalSecondaryIndexes) != 1 || aws.ToString(tb.GlobalSecondaryIndexes[0].IndexName) != dynamo.GSI1 ||
		tb.GlobalSecondaryIndexes[0].Projection.ProjectionType != types.ProjectionTypeAll {
		t.Fatalf("indexes %+v, want GSI1 projecting ALL", tb.GlobalSecondaryIndexes)
	}
}

func TestCreateTableRefusesOtherSchema(t *testing.T) {
	cfg := config(t)
	client := dynamodb.NewFromConfig(cfg, localOpts)
	table := fmt.Sprintf("tierflow-test-other-%d", time.Now().UnixNano())
	_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName: &table, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	if err := dynamo.New(cfg, table, localOpts).CreateTable(t.Context()); !errors.Is(err, dynamo.ErrSchema) {
		t.Fatalf("CreateTable on a table with another schema: %v", err)
	}
}

func item(t *testing.T, client *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func attr(it map[string]types.AttributeValue, name string) string {
	switch v := it[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

// TestItemLayout pins the single-table keys documented in the package doc
// and docs/lineage-dynamodb.md: other tools (and people) read them.
func TestItemLayout(t *testing.T) {
	s, client, table := newTable(t)
	ctx := t.Context()
	started := time.Date(2020, 4, 2, 6, 0, 0, 5_000_000, time.UTC)
	run := lineage.Run{ID: "r1", Job: "consumer-header", Month: "2020-03", Status: lineage.StatusRunning, Started: started}
	if err := s.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	it := item(t, client, table, "JOB#consumer-header", "RUN#r1")
	if attr(it, "GSI1PK") != "JOB#consumer-header#MONTH#2020-03" || attr(it, "GSI1SK") != "2020-04-02T06:00:00.005000000Z#r1" ||
		attr(it, "status") != lineage.StatusRunning || attr(it, "doc") == "" {
		t.Fatalf("run item %v", it)
	}
	e := lineage.Edge{From: "s3://b/in#1", To: "s3://b/out", RunID: "r1", Transform: "convert"}
	if err := s.AddEdges(ctx, []lineage.Edge{e}); err != nil {
		t.Fatal(err)
	}
	if up := item(t, client, table, "DS#s3://b/out", "UP#s3://b/in%231#r1#convert"); attr(up, "from") != e.From {
		t.Fatalf("upstream item %v", up)
	}
	if down := item(t, client, table, "DS#s3://b/in#1", "DOWN#s3://b/out#r1#convert"); attr(down, "to") != e.To {
		t.Fatalf("downstream item %v", down)
	}
	c, err := s.Claim(ctx, "consumer-header", "2020-03", lineage.Claim{Owner: "r1#x", Host: "h1", PID: 7}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if m := item(t, client, table, "JOB#consumer-header#MONTH#2020-03", "MONTH"); attr(m, "owner") != "r1#x" || attr(m, "host") != "h1" ||
		attr(m, "token") != "1" || attr(m, "epoch") != "1" {
		t.Fatalf("month item after the claim %v", m)
	}
	if err := s.Commit(ctx, "consumer-header", "2020-03", "r1#x", lineage.Commit{RunID: "r1", Token: c.Token}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "consumer-header", "2020-03", "r1#x"); err != nil {
		t.Fatal(err)
	}
	if m := item(t, client, table, "JOB#consumer-header#MONTH#2020-03", "MONTH"); attr(m, "pub_run") != "r1" || attr(m, "pub_token") != "1" ||
		attr(m, "owner") != "" || attr(m, "epoch") != "1" {
		t.Fatalf("month item after commit and release %v", m)
	}
}

// TestLegacyPublishedItem: a month published by a store from before the
// month item (run id in the PUBLISHED item) is still read, and the next
// commit moves on from it.
func TestLegacyPublishedItem(t *testing.T) {
	s, client, table := newTable(t)
	ctx := t.Context()
	legacy := map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "JOB#job#MONTH#2020-03"}, "SK": &types.AttributeValueMemberS{Value: "PUBLISHED"},
		"run_id": &types.AttributeValueMemberS{Value: "old"},
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: legacy}); err != nil {
		t.Fatal(err)
	}
	if id, err := s.Published(ctx, "job", "2020-03"); err != nil || id != "old" {
		t.Fatalf("legacy published run: %q, %v", id, err)
	}
	c, err := s.Claim(ctx, "job", "2020-03", lineage.Claim{Owner: "new#x"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "job", "2020-03", "new#x", lineage.Commit{RunID: "new", Prev: "nope", Token: c.Token}); !errors.Is(err, lineage.ErrConflict) {
		t.Fatalf("commit with the wrong prev over a legacy month: %v", err)
	}
	if err := s.Commit(ctx, "job", "2020-03", "new#x", lineage.Commit{RunID: "new", Prev: "old", Token: c.Token}); err != nil {
		t.Fatalf("commit over a legacy month: %v", err)
	}
	if id, _ := s.Published(ctx, "job", "2020-03"); id != "new" {
		t.Fatalf("published after the commit: %q", id)
	}
}

// TestKeyPartsDoNotCollide: "#" inside names must not let two different
// edges or runs share a key.
func TestKeyPartsDoNotCollide(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := t.Context()
	es := []lineage.Edge{
		{From: "s3://b/a#b", To: "s3://b/x", RunID: "c", Transform: "t"},
		{From: "s3://b/a", To: "s3://b/x", RunID: "b#c", Transform: "t"},
		{From: "s3://b/a", To: "s3://b/x", RunID: "b", Transform: "c#t"},
		{From: "s3://b/a%23b", To: "s3://b/x", RunID: "c", Transform: "t"},
	}
	if err := s.AddEdges(ctx, es); err != nil {
		t.Fatal(err)
	}
	up, err := s.Upstream(ctx, "s3://b/x")
	if err != nil || len(up) != len(es) {
		t.Fatalf("upstream: %d edges (%v), want %d distinct", len(up), err, len(es))
	}
	for _, id := range []string{"x#1", "x", "x%231"} {
		if err := s.StartRun(ctx, lineage.Run{ID: id, Job: "j#k", Month: "2020-03", Started: time.Now()}); err != nil {
			t.Fatalf("start %q: %v", id, err)
		}
	}
	runs, err := s.ListRuns(ctx, "j#k", "")
	if err != nil || len(runs) != 3 {
		t.Fatalf("runs: %d, %v", len(runs), err)
	}
	if runs, err := s.ListRuns(ctx, "j", ""); err != nil || len(runs) != 0 {
		t.Fatalf("job j sees job j#k's runs: %d, %v", len(runs), err)
	}
}

func TestLongURIs(t *testing.T) {
	s, _, _ := newTable(t)
	long := "s3://bucket/" + strings.Repeat("k/", 520) + "end" // > 1,024 bytes
	e := lineage.Edge{From: long, To: long + ".parquet", RunID: "r1", Transform: "convert"}
	if err := s.AddEdges(t.Context(), []lineage.Edge{e}); err != nil {
		t.Fatal(err)
	}
	up, err := s.Upstream(t.Context(), e.To)
	if err != nil || len(up) != 1 || up[0] != e {
		t.Fatalf("upstream of a long URI: %+v, %v", up, err)
	}
	down, err := s.Downstream(t.Context(), e.From)
	if err != nil || len(down) != 1 || down[0] != e {
		t.Fatalf("downstream of a long URI: %+v, %v", down, err)
	}
}

func TestManyEdges(t *testing.T) {
	s, _, _ := newTable(t)
	var es []lineage.Edge
	for i := range 130 { // several BatchWriteItem requests, plus duplicates
		es = append(es, lineage.Edge{From: "s3://b/tier1/part-1.csv.gz", To: fmt.Sprintf("s3://b/tier2/%06d_0_part-1.snappy.parquet", i),
			RunID: "r1", Transform: "convert"})
	}
	if err := s.AddEdges(t.Context(), append(es, es[:30]...)); err != nil {
		t.Fatal(err)
	}
	down, err := s.Downstream(t.Context(), "s3://b/tier1/part-1.csv.gz")
	if err != nil || len(down) != len(es) {
		t.Fatalf("downstream: %d edges, %v; want %d", len(down), err, len(es))
	}
}

// bigRun returns a run with n outputs whose digests do not compress well.
func bigRun(id string, n int) lineage.Run {
	r := lineage.Run{ID: id, Job: "consumer-header", Month: "2020-03", Status: lineage.StatusRunning,
		Started: time.Date(2020, 4, 2, 6, 0, 0, 0, time.UTC)}
	for i := range n {
		var d [32]byte
		_, _ = rand.Read(d[:])
		r.Outputs = append(r.Outputs, lineage.Dataset{
			URI:  fmt.Sprintf("s3://lake/tier2/consumer_header/month=2020-03/run=%s/%06d_0_part-%04d.snappy.parquet", id, i%60, i/60),
			Kind: "object", Tier: 2, Size: int64(100_000_000 + i), SHA256: hex.EncodeToString(d[:]), Rows: int64(5_000_000 + i),
		})
	}
	return r
}

func sameRun(t *testing.T, what string, got, want lineage.Run) {
	t.Helper()
	got.Started, want.Started = got.Started.UTC(), want.Started.UTC()
	if len(got.Outputs) != len(want.Outputs) || !slices.Equal(got.Outputs, want.Outputs) || got.ID != want.ID ||
		got.Status != want.Status || !got.Started.Equal(want.Started) {
		t.Fatalf("%s: got %s with %d outputs, want %s with %d outputs (or outputs differ)", what, got.ID, len(got.Outputs), want.ID, len(want.Outputs))
	}
}

func countChunks(t *testing.T, client *dynamodb.Client, table string) int {
	t.Helper()
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true),
		FilterExpression:          aws.String("begins_with(SK, :c)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: "CHUNK#"}}})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Items)
}

// TestLargeRuns: a DynamoDB item holds at most 400 KB. 2,000 outputs
// (460 KB of JSON, 90 KB gzipped) are compressed into the item; 20,000
// (4.6 MB, 0.9 MB gzipped) spill into chunk items, which a smaller
// FinishRun removes again.
func TestLargeRuns(t *testing.T) {
	s, client, table := newTable(t)
	ctx := t.Context()
	for _, c := range []struct {
		id      string
		outputs int
		chunked bool
	}{{"r2000", 2000, false}, {"r20000", 20000, true}} {
		r := bigRun(c.id, c.outputs)
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatalf("start %s: %v", c.id, err)
		}
		got, err := s.GetRun(ctx, r.Job, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameRun(t, "get "+c.id, got, r)
		it := item(t, client, table, "JOB#consumer-header", "RUN#"+c.id)
		if _, chunked := it["chunks"]; chunked != c.chunked {
			t.Fatalf("%s: chunked = %v, want %v (item attributes %d)", c.id, chunked, c.chunked, len(it))
		}
	}
	if n := countChunks(t, client, table); n < 2 {
		t.Fatalf("%d chunk items for a 20,000-output run, want several", n)
	}
	runs, err := s.ListRuns(ctx, "consumer-header", "")
	if err != nil || len(runs) != 2 {
		t.Fatalf("list: %d runs, %v", len(runs), err)
	}
	// Same Started: ties order by id, descending.
	if runs[0].ID != "r20000" || len(runs[0].Outputs) != 20000 || runs[1].ID != "r2000" || len(runs[1].Outputs) != 2000 {
		t.Fatalf("listed %s with %d outputs, %s with %d", runs[0].ID, len(runs[0].Outputs), runs[1].ID, len(runs[1].Outputs))
	}
	// Finishing with a bigger, still chunked record replaces the chunks...
	r := bigRun("r20000", 25000)
	r.Status = lineage.StatusComplete
	if err := s.FinishRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, r.Job, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, "after finish", got, r)
	before := countChunks(t, client, table)
	// ...and with a small one removes them.
	small := bigRun("r20000", 3)
	small.Status = lineage.StatusFailed
	if err := s.FinishRun(ctx, small); err != nil {
		t.Fatal(err)
	}
	if n := countChunks(t, client, table); n != 0 {
		t.Fatalf("%d chunk items left after a small FinishRun (were %d)", n, before)
	}
	got, err = s.GetRun(ctx, small.Job, small.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, "after small finish", got, small)
}

func TestMonthListingUsesIndexOrder(t *testing.T) {
	s, _, _ := newTable(t)
	ctx := t.Context()
	base := time.Date(2020, 4, 2, 6, 0, 0, 0, time.UTC)
	// Started times whose RFC 3339 strings would sort wrongly without a
	// fixed width (".5" vs ".123456789").
	ids := map[string]time.Duration{"a": 500 * time.Millisecond, "b": 123456789, "c": 0, "d": time.Second}
	for id, d := range ids {
		if err := s.StartRun(ctx, lineage.Run{ID: id, Job: "j", Month: "2020-03", Started: base.Add(d)}); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.ListRuns(ctx, "j", "2020-03")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, r.ID)
	}
	if want := []string{"d", "a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestCanceledContext(t *testing.T) {
	s, _, _ := newTable(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.StartRun(ctx, lineage.Run{ID: "r", Job: "j", Started: time.Now()}); err == nil {
		t.Fatal("StartRun with a canceled context succeeded")
	}
	if _, err := s.GetRun(t.Context(), "j", "r"); err == nil {
		t.Fatal("the canceled StartRun left a run behind")
	}
}
