package glue_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/glue"
)

// consumerHeader is the table of research/athena-compat.md §5, bucketed 60
// ways by state (only a few columns).
func consumerHeader() catalog.Table {
	return catalog.Table{
		Database:  "consumer",
		Name:      "Consumer_Header",
		TableType: "EXTERNAL_TABLE",
		Parameters: map[string]string{
			"EXTERNAL": "TRUE", "classification": "parquet", "parquet.compression": "SNAPPY", "bucketing_version": "1",
		},
		PartitionKeys: []catalog.Column{{Name: "month", Type: "string"}},
		StorageDescriptor: catalog.StorageDescriptor{
			Columns:         []catalog.Column{{Name: "State", Type: "string"}, {Name: "zipcode", Type: "string"}},
			Location:        "s3://bucket/tier2/consumer_header/",
			InputFormat:     catalog.ParquetInputFormat,
			OutputFormat:    catalog.ParquetOutputFormat,
			SerdeLibrary:    catalog.ParquetSerDe,
			SerdeParameters: map[string]string{"serialization.format": "1"},
			NumberOfBuckets: 60,
			BucketColumns:   []string{"STATE"},
		},
	}
}

func month(m string) catalog.Partition {
	sd := consumerHeader().StorageDescriptor
	sd.Location = "s3://bucket/tier2/consumer_header/month=" + m + "/run=r1/"
	return catalog.Partition{Database: "consumer", Table: "consumer_header", Values: []string{m}, StorageDescriptor: sd}
}

// newCatalog is a catalog on moto's Glue, in a fresh account holding the
// database consumer, reached through awsfake, which checks every
// request's signature and logs it.
func newCatalog(t *testing.T) (*glue.Catalog, *awsfake.Server) {
	t.Helper()
	srv, acct := awsfake.OnMoto(t)
	c := glue.New(srv.Config(), glue.Options{CatalogID: acct.ID})
	if err := c.EnsureDatabase(t.Context(), "consumer"); err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// get walks a decoded JSON body along keys and indexes.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: %T is not an object", k, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("member %q absent (have %v)", k, keys(m))
			}
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at [%d]: %v is not a long enough list", k, v)
			}
			v = l[k]
		}
	}
	return v
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func want(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestCreateTableRequest checks the exact CreateTable body.
func TestCreateTableRequest(t *testing.T) {
	c, srv := newCatalog(t)
	if err := c.PutTable(t.Context(), consumerHeader()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.RequestsTo("AWSGlue.CreateTable")
	if len(reqs) != 1 {
		t.Fatalf("%d CreateTable calls, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Service != "glue" {
		t.Errorf("signed for service %q", r.Service)
	}
	b := r.Body
	want(t, "CatalogId", get(t, b, "CatalogId"), catalogID(t, srv))
	want(t, "DatabaseName", get(t, b, "DatabaseName"), "consumer")
	ti := get(t, b, "TableInput")
	want(t, "Name", get(t, ti, "Name"), "consumer_header")
	want(t, "TableType", get(t, ti, "TableType"), "EXTERNAL_TABLE")
	want(t, "Parameters", get(t, ti, "Parameters"), map[string]any{
		"EXTERNAL": "TRUE", "classification": "parquet", "parquet.compression": "SNAPPY", "bucketing_version": "1",
	})
	want(t, "PartitionKeys", get(t, ti, "PartitionKeys"), []any{map[string]any{"Name": "month", "Type": "string"}})
	sd := get(t, ti, "StorageDescriptor")
	want(t, "Columns", get(t, sd, "Columns"), []any{
		map[string]any{"Name": "state", "Type": "string"}, map[string]any{"Name": "zipcode", "Type": "string"},
	})
	want(t, "InputFormat", get(t, sd, "InputFormat"), catalog.ParquetInputFormat)
	want(t, "OutputFormat", get(t, sd, "OutputFormat"), catalog.ParquetOutputFormat)
	want(t, "SerdeInfo", get(t, sd, "SerdeInfo"), map[string]any{
		"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
		"Parameters":           map[string]any{"serialization.format": "1"},
	})
	want(t, "Location", get(t, sd, "Location"), "s3://bucket/tier2/consumer_header/")
	want(t, "NumberOfBuckets", get(t, sd, "NumberOfBuckets"), 60.0)
	want(t, "BucketColumns", get(t, sd, "BucketColumns"), []any{"state"})
	want(t, "SortColumns", get(t, sd, "SortColumns"), []any{})
	for k := range get(t, ti, "Parameters").(map[string]any) {
		if len(k) >= 10 && k[:10] == "spark.sql." {
			t.Errorf("Spark parameter %q sent", k)
		}
	}
}

// TestUnbucketedTableRequest: no partition keys is an empty list, not an
// absent member; not bucketed is NumberOfBuckets -1.
func TestUnbucketedTableRequest(t *testing.T) {
	c, srv := newCatalog(t)
	tb := consumerHeader()
	tb.PartitionKeys = nil
	tb.StorageDescriptor.NumberOfBuckets, tb.StorageDescriptor.BucketColumns = 0, nil
	if err := c.PutTable(t.Context(), tb); err != nil {
		t.Fatal(err)
	}
	ti := get(t, srv.RequestsTo("AWSGlue.CreateTable")[0].Body, "TableInput")
	want(t, "PartitionKeys", get(t, ti, "PartitionKeys"), []any{})
	want(t, "NumberOfBuckets", get(t, ti, "StorageDescriptor", "NumberOfBuckets"), -1.0)
	want(t, "BucketColumns", get(t, ti, "StorageDescriptor", "BucketColumns"), []any{})
}

// TestPutTableReplaces: the second PutTable is CreateTable (refused) then
// UpdateTable, without VersionId; a conditional one sends VersionId.
func TestPutTableReplaces(t *testing.T) {
	c, srv := newCatalog(t)
	ctx := t.Context()
	if err := c.PutTable(ctx, consumerHeader()); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	if err := c.PutTable(ctx, consumerHeader()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.Operation()+":"+r.ErrorType)
	}
	want(t, "calls", got, []string{"CreateTable:AlreadyExistsException", "UpdateTable:"})
	if _, ok := srv.RequestsTo("AWSGlue.UpdateTable")[0].Body["VersionId"]; ok {
		t.Error("unconditional replace sent a VersionId")
	}

	tb, err := c.GetTable(ctx, "consumer", "CONSUMER_HEADER")
	if err != nil {
		t.Fatal(err)
	}
	// The API leaves version ids opaque (Glue starts at "0", moto at "1"):
	// the client passes back the one it read.
	if tb.Version == "" {
		t.Fatal("GetTable read no VersionId")
	}
	srv.ResetRequests()
	if err := c.PutTable(ctx, tb); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Target != "AWSGlue.UpdateTable" {
		t.Fatalf("conditional put made calls %v, want one UpdateTable", reqs)
	}
	want(t, "VersionId", get(t, reqs[0].Body, "VersionId"), tb.Version)
	// Now stale. moto ignores VersionId (TestMotoIgnoresVersionID), so
	// Glue's answer to a stale one is played here: the client must report
	// it as a conflict.
	srv.FailNext("AWSGlue.UpdateTable", awsfake.Errorf("ConcurrentModificationException", "Update table failed due to concurrent modifications."))
	err = c.PutTable(ctx, tb)
	if !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("stale put: %v, want ErrConflict", err)
	}
	var cm *types.ConcurrentModificationException
	if !errors.As(err, &cm) {
		t.Errorf("stale put error %v does not carry Glue's ConcurrentModificationException", err)
	}
}

// TestPutPartitionSwitch: a new partition is one CreatePartition; an
// existing one is switched by one UpdatePartition carrying the whole
// partition, bucketing included.
func TestPutPartitionSwitch(t *testing.T) {
	c, srv := newCatalog(t)
	ctx := t.Context()
	if err := c.PutTable(ctx, consumerHeader()); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	if err := c.PutPartition(ctx, month("2020-03")); err != nil {
		t.Fatal(err)
	}
	p := month("2020-03")
	p.StorageDescriptor.Location = "s3://bucket/tier2/consumer_header/month=2020-03/run=r2/"
	if err := c.PutPartition(ctx, p); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, r.Operation()+":"+r.ErrorType)
	}
	want(t, "calls", got, []string{
		"GetTable:", "CreatePartition:",
		"GetTable:", "CreatePartition:AlreadyExistsException", "UpdatePartition:",
	})
	up := srv.RequestsTo("AWSGlue.UpdatePartition")[0].Body
	want(t, "PartitionValueList", get(t, up, "PartitionValueList"), []any{"2020-03"})
	pi := get(t, up, "PartitionInput")
	want(t, "Values", get(t, pi, "Values"), []any{"2020-03"})
	want(t, "Location", get(t, pi, "StorageDescriptor", "Location"), "s3://bucket/tier2/consumer_header/month=2020-03/run=r2/")
	want(t, "NumberOfBuckets", get(t, pi, "StorageDescriptor", "NumberOfBuckets"), 60.0)
	want(t, "BucketColumns", get(t, pi, "StorageDescriptor", "BucketColumns"), []any{"state"})
	want(t, "SerializationLibrary", get(t, pi, "StorageDescriptor", "SerdeInfo", "SerializationLibrary"), catalog.ParquetSerDe)

	got2, err := c.GetPartition(ctx, "consumer", "consumer_header", []string{"2020-03"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "location after switch", got2.StorageDescriptor.Location, p.StorageDescriptor.Location)
}

// TestPartitionInheritsTableSchema: a partition given without columns or
// formats gets the table's, since Athena reads partitions by their own
// storage descriptor.
func TestPartitionInheritsTableSchema(t *testing.T) {
	c, srv := newCatalog(t)
	ctx := t.Context()
	if err := c.PutTable(ctx, consumerHeader()); err != nil {
		t.Fatal(err)
	}
	p := catalog.Partition{Database: "consumer", Table: "consumer_header", Values: []string{"2020-04"},
		StorageDescriptor: catalog.StorageDescriptor{Location: "s3://x/", NumberOfBuckets: 60, BucketColumns: []string{"state"}}}
	if err := c.PutPartition(ctx, p); err != nil {
		t.Fatal(err)
	}
	sd := get(t, srv.RequestsTo("AWSGlue.CreatePartition")[0].Body, "PartitionInput", "StorageDescriptor")
	want(t, "Columns", len(get(t, sd, "Columns").([]any)), 2)
	want(t, "InputFormat", get(t, sd, "InputFormat"), catalog.ParquetInputFormat)
}

// TestPutPartitionsBatches: 250 partitions are 3 BatchCreatePartition calls
// (100, 100, 50); putting them again switches all 250 with 3
// BatchUpdatePartition calls.
func TestPutPartitionsBatches(t *testing.T) {
	c, srv := newCatalog(t)
	ctx := t.Context()
	if err := c.PutTable(ctx, consumerHeader()); err != nil {
		t.Fatal(err)
	}
	var ps []catalog.Partition
	for i := range 250 {
		ps = append(ps, month(fmt.Sprintf("%04d-01", 1800+i)))
	}
	srv.ResetRequests()
	if err := c.PutPartitions(ctx, ps); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range srv.RequestsTo("AWSGlue.BatchCreatePartition") {
		sizes = append(sizes, len(get(t, r.Body, "PartitionInputList").([]any)))
	}
	want(t, "BatchCreatePartition sizes", sizes, []int{100, 100, 50})
	if n := len(listPartitions(t, c)); n != 250 {
		t.Fatalf("%d partitions stored, want 250", n)
	}

	for i := range ps {
		ps[i].StorageDescriptor.Location += "run=r2/"
	}
	srv.ResetRequests()
	if err := c.PutPartitions(ctx, ps); err != nil {
		t.Fatal(err)
	}
	sizes = nil
	for _, r := range srv.RequestsTo("AWSGlue.BatchUpdatePartition") {
		sizes = append(sizes, len(get(t, r.Body, "Entries").([]any)))
	}
	want(t, "BatchUpdatePartition sizes", sizes, []int{100, 100, 50})
	all, err := c.ListPartitions(ctx, "consumer", "consumer_header")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 250 || all[249].StorageDescriptor.Location != ps[249].StorageDescriptor.Location {
		t.Fatalf("after batch switch: %d partitions, last at %q", len(all), all[len(all)-1].StorageDescriptor.Location)
	}

	// Deleting goes 25 at a time.
	var vals [][]string
	for _, p := range ps[:60] {
		vals = append(vals, p.Values)
	}
	vals = append(vals, []string{"1700-01"}) // missing: not an error
	srv.ResetRequests()
	if err := c.DeletePartitions(ctx, "consumer", "consumer_header", vals); err != nil {
		t.Fatal(err)
	}
	want(t, "BatchDeletePartition calls", len(srv.RequestsTo("AWSGlue.BatchDeletePartition")), 3)
	if n := len(listPartitions(t, c)); n != 190 {
		t.Fatalf("%d partitions left, want 190", n)
	}
}

// TestPutPartitionsValidatesFirst: one bad partition means nothing is sent.
func TestPutPartitionsValidatesFirst(t *testing.T) {
	c, srv := newCatalog(t)
	ctx := t.Context()
	if err := c.PutTable(ctx, consumerHeader()); err != nil {
		t.Fatal(err)
	}
	bad := month("2020-02")
	bad.StorageDescriptor.NumberOfBuckets = 30
	srv.ResetRequests()
	if err := c.PutPartitions(ctx, []catalog.Partition{month("2020-01"), bad}); err == nil {
		t.Fatal("batch with a mis-bucketed partition accepted")
	}
	if n := len(srv.RequestsTo("AWSGlue.BatchCreatePartition")); n != 0 {
		t.Fatalf("%d BatchCreatePartition calls for a batch that failed validation", n)
	}
}

// TestThrottlingRetried: Glue's ThrottlingException is retried by the SDK
// retryer and the call succeeds.
func TestThrottlingRetried(t *testing.T) {
	c, srv := newCatalog(t)
	ctx := t.Context()
	srv.FailNext("AWSGlue.CreateTable",
		awsfake.Errorf("ThrottlingException", "Rate exceeded"),
		awsfake.Errorf("ThrottlingException", "Rate exceeded"))
	if err := c.PutTable(ctx, consumerHeader()); err != nil {
		t.Fatalf("PutTable with 2 throttled attempts: %v", err)
	}
	var got []string
	for _, r := range srv.RequestsTo("AWSGlue.CreateTable") {
		got = append(got, r.ErrorType)
	}
	want(t, "CreateTable answers", got, []string{"ThrottlingException", "ThrottlingException", ""})

	// More throttling than attempts: the error surfaces.
	srv.FailNext("AWSGlue.GetTable", awsfake.Errorf("ThrottlingException", "Rate exceeded"),
		awsfake.Errorf("ThrottlingException", "Rate exceeded"), awsfake.Errorf("ThrottlingException", "Rate exceeded"))
	if _, err := c.GetTable(ctx, "consumer", "consumer_header"); err == nil {
		t.Fatal("GetTable succeeded through 3 throttled attempts (SDK default is 3 attempts)")
	}
	more := glue.New(srv.Config(), glue.Options{MaxAttempts: 5})
	srv.FailNext("AWSGlue.GetTable", awsfake.Errorf("ThrottlingException", "Rate exceeded"),
		awsfake.Errorf("ThrottlingException", "Rate exceeded"), awsfake.Errorf("ThrottlingException", "Rate exceeded"))
	if _, err := more.GetTable(ctx, "consumer", "consumer_header"); err != nil {
		t.Fatalf("GetTable with MaxAttempts 5 through 3 throttled attempts: %v", err)
	}
}

// TestClientRefusesWhatAthenaCannotRead: the catalog refuses, without
// calling Glue, tables Athena would mis-read.
func TestClientRefusesWhatAthenaCannotRead(t *testing.T) {
	c, srv := newCatalog(t)
	cases := map[string]func(*catalog.Table){
		"SparkProvider":   func(tb *catalog.Table) { tb.Parameters["spark.sql.sources.provider"] = "parquet" },
		"SparkBucketing":  func(tb *catalog.Table) { tb.Parameters["bucketing_format"] = "spark" },
		"BucketOnPartKey": func(tb *catalog.Table) { tb.StorageDescriptor.BucketColumns = []string{"month"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			tb := consumerHeader()
			mutate(&tb)
			srv.ResetRequests()
			if err := c.PutTable(t.Context(), tb); err == nil {
				t.Fatal("accepted")
			}
			if n := len(srv.RequestsTo("AWSGlue.CreateTable")); n != 0 {
				t.Fatalf("%d CreateTable calls for a refused table", n)
			}
		})
	}
}

func listPartitions(t *testing.T, c *glue.Catalog) []catalog.Partition {
	t.Helper()
	ps, err := c.ListPartitions(t.Context(), "consumer", "consumer_header")
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// catalogID is the account the catalog's requests land in.
func catalogID(t *testing.T, srv *awsfake.Server) string {
	t.Helper()
	id, err := sts.NewFromConfig(srv.Config()).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(id.Account)
}
