//go:build cgo && !noduckdb

package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/catalog"
	localcatalog "github.com/tierflow/tierflow/lake/catalog/local"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/lake/storage/s3"
	"github.com/tierflow/tierflow/runner/openlineage/oltest"
)

// awsFakes is awsfake in front of moto: its Athena, whose queries the test
// executes, and moto's Glue (a fresh account) behind it.
type awsFakes struct {
	*awsfake.Server
	Athena *awsfake.Athena
}

// awsTestEnv opens a lake on the local S3 server with DynamoDB lineage,
// moto's Glue and awsfake's Athena (which executes CTAS via
// mirrorExecutor).
func awsTestEnv(t *testing.T) (*Env, *awsFakes, string) {
	srv, bucket := awsServers(t)
	env := openAWSTestLake(t, awsSpec(t, bucket), "s3://"+bucket+"/lake", zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	srv.Athena.SetExecutor(mirrorExecutor(t, srv, env.Catalog, env.Storage))
	return env, srv, bucket
}

// awsServers points the AWS SDK at the local S3 server, DynamoDB, and
// awsfake for Athena and (forwarded to moto) Glue, and creates a fresh
// bucket.
func awsServers(t *testing.T) (*awsFakes, string) {
	s3url, ddb := os.Getenv("TIERFLOW_TEST_S3_ENDPOINT"), os.Getenv("TIERFLOW_TEST_DYNAMODB_ENDPOINT")
	if s3url == "" || ddb == "" {
		t.Skip("needs the local S3 and DynamoDB servers: .ci/run starts them (TIERFLOW_TEST_S3_ENDPOINT, TIERFLOW_TEST_DYNAMODB_ENDPOINT)")
	}
	key, secret := os.Getenv("TIERFLOW_TEST_S3_ACCESS_KEY"), os.Getenv("TIERFLOW_TEST_S3_SECRET_KEY")
	ctx := context.Background()
	fake, acct := awsfake.OnMoto(t)
	// One key pair for every service: the S3 server insists on its own;
	// awsfake re-signs what it forwards with the moto account's.
	fake.UseCredentials(key, secret)
	srv := &awsFakes{Server: fake, Athena: awsfake.NewAthena(fake, awsglue.NewFromConfig(acct.Config))}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": awsfake.Region,
		"AWS_ENDPOINT_URL_S3": s3url, "AWS_ENDPOINT_URL_DYNAMODB": ddb,
		"AWS_ENDPOINT_URL_GLUE": srv.URL(), "AWS_ENDPOINT_URL_ATHENA": srv.URL(),
		"TIERFLOW_S3_PATH_STYLE": "1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	} {
		t.Setenv(k, v)
	}
	bucket := fmt.Sprintf("tierflow-e2e-%d", time.Now().UnixNano())
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s3c := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return srv, bucket
}

// openAWSTestLake opens an s3:// lake and creates spec's lineage table.
func openAWSTestLake(t *testing.T, spec *jobs.Spec, lake string, log zerolog.Logger) *Env {
	ctx := context.Background()
	env, err := OpenEnv(ctx, spec, lake, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	if ct, ok := env.Lineage.(interface{ CreateTable(context.Context) error }); !ok {
		t.Fatalf("lineage store %T on an s3 lake is not DynamoDB", env.Lineage)
	} else if err := ct.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	return env
}

// awsSpec is the shipped job set up for a test bucket.
func awsSpec(t *testing.T, bucket string) *jobs.Spec {
	spec := shippedSpec(t)
	spec.AWS.LineageTable = bucket
	spec.AWS.AthenaOutput = "s3://" + bucket + "/athena-results/"
	spec.Convert.SpillDir = t.TempDir()
	if spec.PII.Set { // non-PII derived tables need an HMAC key off a local lake
		kf := filepath.Join(t.TempDir(), "hmac.key")
		if err := os.WriteFile(kf, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
			t.Fatal(err)
		}
		spec.PII.KeyFile, spec.PII.KeyPath = kf, kf
	}
	return spec
}

func TestEndToEndAWS(t *testing.T) {
	env, srv, bucket := awsTestEnv(t)
	ctx := context.Background()
	spec := awsSpec(t, bucket)
	const rows = 3000
	if _, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: rows, Parts: 2, Seed: 7, Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil {
		t.Fatalf("run on s3: %v", err)
	}
	if !res.Run.Published || res.Run.RowsOut != rows {
		t.Fatalf("run: published %v rows out %d", res.Run.Published, res.Run.RowsOut)
	}
	if c := res.Run.Cost; c.S3Requests <= 0 || c.AthenaScanned < 0 || c.USD <= 0 {
		t.Errorf("cost ledger of an S3 run: %+v (want S3 requests counted, dollars)", c)
	}
	if len(srv.RequestsTo("AmazonAthena.StartQueryExecution")) != len(spec.Derived) {
		t.Errorf("%d Athena CTAS for %d derived tables", len(srv.RequestsTo("AmazonAthena.StartQueryExecution")), len(spec.Derived))
	}

	// Read tier 2 back from S3 (through the catalog's partition location).
	wantStates, _ := csvStateCounts(t, env.Storage, spec)
	got := readPartitionStates(t, env, spec.Database, spec.Output.Table)
	if fmt.Sprint(sortedCounts(got)) != fmt.Sprint(sortedCounts(wantStates)) {
		t.Errorf("tier 2 on S3 per-state counts differ from the CSV:\n%v\n%v", sortedCounts(got), sortedCounts(wantStates))
	}
	d := spec.Derived[0]
	ca := readPartitionStates(t, env, spec.Database, d.Table)
	if len(ca) != 1 || ca["CA"] != wantStates["CA"] {
		t.Errorf("derived %s on S3: %v, want CA=%d", d.Table, ca, wantStates["CA"])
	}

	// Lineage in DynamoDB reaches the tier-1 objects.
	g, err := loadGraph(ctx, env, spec, TableURI(spec.Database, d.Table))
	if err != nil {
		t.Fatal(err)
	}
	t1 := 0
	for u := range upstreamSet(g, TableURI(spec.Database, d.Table)) {
		if strings.HasPrefix(u, "s3://"+bucket+"/lake/tier1/") {
			t1++
		}
	}
	if t1 != 2 {
		t.Errorf("lineage from %s reaches %d tier-1 objects on S3, want 2", d.Table, t1)
	}
	if r, err := env.Lineage.GetRun(ctx, spec.Name, res.Run.ID); err != nil || r.Status != lineage.StatusComplete {
		t.Errorf("run record in DynamoDB: %+v %v", r, err)
	}
}

// readPartitionStates downloads the files of a table's month partition
// from the lake and counts rows per state with DuckDB.
func readPartitionStates(t *testing.T, env *Env, db, table string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	p, err := env.Catalog.GetPartition(ctx, db, table, []string{testMonth})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := mirrorPrefix(t, env.Storage, keyOf(env.Storage, p.StorageDescriptor.Location), dir)
	if n == 0 {
		t.Fatalf("%s.%s month=%s: no files at %s", db, table, testMonth, p.StorageDescriptor.Location)
	}
	out := map[string]int64{}
	rs, err := duck(t).Query(fmt.Sprintf("SELECT state, count(*) FROM read_parquet('%s/**/*.parquet') GROUP BY 1", dir))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var s string
		var c int64
		if err := rs.Scan(&s, &c); err != nil {
			t.Fatal(err)
		}
		out[s] = c
	}
	return out
}

func keyOf(st storage.Storage, uri string) string {
	return strings.TrimPrefix(strings.TrimPrefix(uri, st.URI()), "/")
}

// mirrorPrefix copies every object under prefix into dir (same relative
// paths) and returns how many it copied.
func mirrorPrefix(t *testing.T, st storage.Storage, prefix, dir string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	err := st.List(ctx, prefix, func(o storage.Object) error {
		b := readAll(t, st, o.Key)
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(o.Key, prefix)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		n++
		return os.WriteFile(p, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mirrorExecutor stands in for Athena's engine: it copies the tables a
// CTAS reads from S3 into a temporary local lake, runs the SELECT with
// DuckDB, and uploads the result under the CTAS's external_location.
func mirrorExecutor(t *testing.T, srv *awsFakes, cat catalog.Catalog, st storage.Storage) awsfake.Executor {
	return func(ctx context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		if q.CTAS == nil {
			return awsfake.AthenaResult{}, &awsfake.QueryError{Category: 2, Type: 1000, Message: "only CTAS statements are executed"}
		}
		return ctasOnDuckDB(ctx, t, q.CTAS, []string{q.CTAS.Database, q.Database}, srv.Athena.TableNames, cat, st)
	}
}

// ctasOnDuckDB runs an Athena CTAS as Athena would, on DuckDB: the tables
// its SELECT names (among tableNames of dbs) are copied from the lake st
// into a local lake, the CTAS runs there, and its files are written to the
// CTAS's external location in st.
func ctasOnDuckDB(ctx context.Context, t *testing.T, c *awsfake.CTAS, dbs []string, tableNames func(ctx context.Context, db string) ([]string, error),
	cat catalog.Catalog, st storage.Storage) (awsfake.AthenaResult, error) {
	dir := t.TempDir()
	local, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		return awsfake.AthenaResult{}, err
	}
	defer local.Close()
	lcat, err := localcatalog.Open(filepath.Join(dir, "catalog.json"))
	if err != nil {
		return awsfake.AthenaResult{}, err
	}
	var sources []string
	for _, db := range dbs {
		names, err := tableNames(ctx, db)
		if err != nil {
			return awsfake.AthenaResult{}, err
		}
		for _, name := range names {
			if !regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(name) + `\b`).MatchString(c.Select) {
				continue
			}
			if err := copyTable(ctx, t, cat, lcat, st, local, db, name); err != nil {
				return awsfake.AthenaResult{}, err
			}
			sources = append(sources, db+"."+name)
		}
	}
	duck, err := duckdb.New(ctx, lcat, local, duckdb.Options{Threads: 2, MemoryLimit: "1GB"})
	if err != nil {
		return awsfake.AthenaResult{}, err
	}
	defer duck.Close()
	res, err := duck.CreateTableAs(ctx, engine.CTAS{
		Database: c.Database, Table: c.Table, SQL: c.Select, Location: local.ObjectURI("ctas-out") + "/",
		Compression: c.WriteCompression, Sources: sources,
	})
	if err != nil {
		return awsfake.AthenaResult{}, &awsfake.QueryError{Category: 2, Type: 1000, Message: err.Error()}
	}
	outKey := keyOf(st, c.ExternalLocation)
	for _, f := range res.Files {
		rel := strings.TrimPrefix(f, local.ObjectURI("ctas-out")+"/")
		rc, err := local.Open(ctx, "ctas-out/"+rel)
		if err != nil {
			return awsfake.AthenaResult{}, err
		}
		err = storage.Put(ctx, st, strings.TrimSuffix(outKey, "/")+"/"+rel, rc, storage.PutOptions{})
		rc.Close()
		if err != nil {
			return awsfake.AthenaResult{}, err
		}
	}
	out := awsfake.AthenaResult{Rows: res.Rows, EngineMillis: max(res.EngineMillis, 1)}
	for _, col := range res.Columns {
		out.Columns = append(out.Columns, awsfake.Column{Name: col.Name, Type: col.Type})
	}
	return out, nil
}

// copyTable copies a Glue table and its partitions' files from S3 into the
// local lake and catalog, rewriting locations.
func copyTable(ctx context.Context, t *testing.T, cat, lcat catalog.Catalog, st, local storage.Storage, db, name string) error {
	tb, err := cat.GetTable(ctx, db, name)
	if err != nil {
		return err
	}
	relocate := func(loc string) (string, error) {
		prefix := keyOf(st, loc)
		err := st.List(ctx, prefix, func(o storage.Object) error {
			rc, err := st.Open(ctx, o.Key)
			if err != nil {
				return err
			}
			defer rc.Close()
			return storage.Put(ctx, local, o.Key, rc, storage.PutOptions{})
		})
		return local.ObjectURI(strings.TrimSuffix(prefix, "/")) + "/", err
	}
	if tb.StorageDescriptor.Location, err = relocate(tb.StorageDescriptor.Location); err != nil {
		return err
	}
	tb.Version = ""
	if err := lcat.EnsureDatabase(ctx, db); err != nil {
		return err
	}
	if err := lcat.PutTable(ctx, tb); err != nil {
		return err
	}
	parts, err := cat.ListPartitions(ctx, db, name)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.StorageDescriptor.Location, err = relocate(p.StorageDescriptor.Location); err != nil {
			return err
		}
		if err := lcat.PutPartition(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// TestStepsAWS drives an execution the way the state machine does, one
// step (one "task") at a time, against S3, DynamoDB and Glue/Athena: plan,
// a convert per part, stage, each derive.json query run on Athena as
// athena:startQueryExecution.sync does, publish. Then a failing execution
// goes through finish (the Catch).
func TestStepsAWS(t *testing.T) {
	env, srv, bucket := awsTestEnv(t)
	ctx := context.Background()
	spec := awsSpec(t, bucket)
	for _, m := range []string{testMonth, "2020-04"} {
		if _, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: 2000, Parts: 2, Seed: 3, Month: m}); err != nil {
			t.Fatal(err)
		}
	}
	const exec = "consumer-header-2020-03-a1"
	if _, err := PlanStep(ctx, env, spec, testMonth, exec, false, time.Hour); err != nil {
		t.Fatal(err)
	}
	parts, items := convertAndStage(ctx, t, env, spec, exec)
	if len(parts) != 2 {
		t.Fatalf("parts.json: %v", parts)
	}
	if len(items) != len(spec.Derived) {
		t.Fatalf("derive.json: %d items for %d derived tables", len(items), len(spec.Derived))
	}
	if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{testMonth}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("tier 2 visible before publish: %v", err)
	}
	// The shipped job's lifecycle: tier 2 is written tagged unpublished,
	// the intake tagged verified once its tier-1 copy matched.
	ex0, _ := LoadExec(ctx, env.Storage, spec.Name, exec)
	tier2 := jobs.Layout{Spec: spec}.Tier2Prefix(testMonth, ex0.RunID)
	checkTags(t, env.Storage, tier2, jobs.TagRun, jobs.TagRunUnpublished)
	checkTags(t, env.Storage, spec.IntakePrefix(testMonth), jobs.TagTier1, jobs.TagTier1Verified)
	client := awsathena.NewFromConfig(srv.Config())
	for _, it := range items {
		runAthena(t, client, it.Query, spec)
	}
	// A task records the S3 requests it sent; publish adds them up.
	recordRequests(ctx, env, spec.Name, exec, "convert-part-0001", zerolog.Nop())
	var recorded int64
	if err := getJSON(ctx, env.Storage, ExecPrefix(spec.Name, exec)+"requests/convert-part-0001.json", &recorded); err != nil || recorded <= 0 {
		t.Fatalf("recorded requests: %d %v", recorded, err)
	}
	if err := step(ctx, env, spec, exec, func(j *job) error { _, err := j.finish(ctx, j.publishStep(ctx)); return err }); err != nil {
		t.Fatalf("publish: %v", err)
	}
	checkTags(t, env.Storage, tier2, jobs.TagRun, "") // published: kept from the expiry
	ex, _ := LoadExec(ctx, env.Storage, spec.Name, exec)
	r, err := env.Lineage.GetRun(ctx, spec.Name, ex.RunID)
	if err != nil || r.Status != lineage.StatusComplete || r.RowsOut != 2000 || r.Parent != exec {
		t.Fatalf("run after publish: %+v %v", r, err)
	}
	if r.Cost.S3Requests <= recorded || r.Cost.VCPUSeconds <= 0 {
		t.Errorf("cost ledger of a Step Functions run: %+v", r.Cost)
	}
	want, _ := csvStateCounts(t, env.Storage, spec)
	if got := readPartitionStates(t, env, spec.Database, spec.Derived[0].Table); got["CA"] != want["CA"] || len(got) != 1 {
		t.Errorf("derived table after the steps: %v, want CA=%d", got, want["CA"])
	}
	names, err := srv.Athena.TableNames(ctx, spec.Database)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.Contains(name, "__tf_") {
			t.Errorf("scratch table %s left after publish", name)
		}
	}

	// A failing execution: one part converted, then the Catch runs finish.
	const bad = "consumer-header-2020-04-a1"
	if _, err := PlanStep(ctx, env, spec, "2020-04", bad, false, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := step(ctx, env, spec, bad, func(j *job) error { return j.partStep(ctx, j.plan.Parts[0].Key, io.Discard) }); err != nil {
		t.Fatal(err)
	}
	cause := `{"Error":"States.TaskFailed","Cause":"part-0002: ECS task stopped"}`
	if err := step(ctx, env, spec, bad, func(j *job) error { return j.finishStep(ctx, cause, io.Discard) }); err != nil {
		t.Fatalf("finish: %v", err)
	}
	fx, _ := LoadExec(ctx, env.Storage, spec.Name, bad)
	fr, err := env.Lineage.GetRun(ctx, spec.Name, fx.RunID)
	if err != nil || fr.Status != lineage.StatusFailed || !strings.Contains(fr.Error, "part-0002") {
		t.Errorf("failed run: %+v %v", fr, err)
	}
	if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{"2020-04"}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("failed execution published 2020-04: %v", err)
	}
	if n := countUnder(t, env.Storage, jobs.Layout{Spec: spec}.Tier2Prefix("2020-04", fx.RunID)); n != 0 {
		t.Errorf("failed execution left %d tier-2 objects", n)
	}
	if _, err := env.Lineage.Claim(ctx, spec.Name, "2020-04", lineage.Claim{Owner: "next-run#x"}, time.Minute); err != nil {
		t.Errorf("finish did not release the month: %v", err)
	}

	// The steps' OpenLineage events, in S3: plan's START and publish's
	// COMPLETE, each derived table's run collected from Athena at publish,
	// and the failing execution's START and FAIL from finish.
	evs := lakeEvents(t, env.Storage)
	got := sequence(evs)
	slices.Sort(got)
	wantEvents := []string{
		"consumer-header COMPLETE", "consumer-header FAIL", "consumer-header START", "consumer-header START",
		"consumer-header.consumer_ca COMPLETE", "consumer-header.consumer_ca START",
		"consumer-header.consumer_ca_deid COMPLETE", "consumer-header.consumer_ca_deid START",
	}
	if !slices.Equal(got, wantEvents) {
		t.Errorf("OpenLineage events on S3: %v, want %v", got, wantEvents)
	}
	for _, ev := range evs {
		if len(ev.Inputs) > 0 && !strings.HasPrefix(ev.Inputs[0].Namespace, "s3://"+bucket) {
			t.Errorf("%s %s reads %s %s: not named as an S3 object", ev.Job.Name, ev.EventType, ev.Inputs[0].Namespace, ev.Inputs[0].Name)
		}
		if strings.Contains(ev.Job.Name, ".") && ev.EventType == "COMPLETE" && (len(ev.Outputs) != 1 || ev.Outputs[0].Facets["columnLineage"] == nil) {
			t.Errorf("%s COMPLETE: no column lineage for the table Athena built: %+v", ev.Job.Name, ev.Outputs)
		}
	}
	oltest.Validate(t, bodies(evs))
}

// runAthena runs a query the way Step Functions' .sync integration does:
// start it in the job's workgroup, poll until it ends.
func runAthena(t *testing.T, client *awsathena.Client, query string, spec *jobs.Spec) {
	t.Helper()
	ctx := context.Background()
	out, err := client.StartQueryExecution(ctx, &awsathena.StartQueryExecutionInput{
		QueryString: aws.String(query), WorkGroup: aws.String(spec.AWS.Workgroup),
		ResultConfiguration: &athenatypes.ResultConfiguration{OutputLocation: aws.String(spec.AWS.AthenaOutput)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		qe, err := client.GetQueryExecution(ctx, &awsathena.GetQueryExecutionInput{QueryExecutionId: out.QueryExecutionId})
		if err != nil {
			t.Fatal(err)
		}
		switch qe.QueryExecution.Status.State {
		case athenatypes.QueryExecutionStateSucceeded:
			return
		case athenatypes.QueryExecutionStateFailed, athenatypes.QueryExecutionStateCancelled:
			t.Fatalf("athena: %s", aws.ToString(qe.QueryExecution.Status.StateChangeReason))
		}
	}
}

// TestKilledRunS3 kills a run on an S3 lake while its tier-1 multipart
// upload is in flight: nothing is visible, gc aborts the incomplete upload,
// and the rerun's files are byte-identical to a clean run's.
func TestKilledRunS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	env, _, bucket := awsTestEnv(t)
	ctx := context.Background()
	spec := awsSpec(t, bucket)
	// One part of ≈40 MB: its tier-1 copy is a multipart upload of 16 MiB parts.
	if _, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: 250_000, Parts: 1, Seed: 5, Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	st, ok := env.Storage.(*s3.Store)
	if !ok {
		t.Fatalf("storage %T", env.Storage)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TIERFLOW_TEST_CHILD_RUN=s3://"+bucket+"/lake", "TIERFLOW_TEST_CHILD_TABLE="+bucket,
		"TIERFLOW_TEST_CHILD_SPILL="+t.TempDir(), "TIERFLOW_TEST_CHILD_KEY="+spec.PII.KeyPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ups, err := st.ListIncompleteUploads(ctx, "tier1/")
		if err != nil {
			cmd.Process.Kill()
			t.Fatal(err)
		}
		if len(ups) > 0 {
			break
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			cmd.Process.Kill()
			t.Fatal("no multipart upload seen in flight within 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if ee, ok := werr.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed mid-upload (it ended with %v)", werr)
	}
	if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{testMonth}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("partition visible after the kill: %v", err)
	}
	if ups, _ := st.ListIncompleteUploads(ctx, ""); len(ups) == 0 {
		t.Fatal("the kill left no incomplete upload: nothing for gc to prove")
	}

	time.Sleep(400 * time.Millisecond) // the dead run's lease
	if _, err := GC(ctx, env, spec, GCOptions{Keep: 0, TempAge: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	if ups, err := st.ListIncompleteUploads(ctx, ""); err != nil || len(ups) != 0 {
		t.Fatalf("incomplete uploads after gc: %v %v", ups, err)
	}
	if _, err := Run(ctx, env, spec, Options{Month: testMonth}); err != nil {
		t.Fatalf("rerun after the kill: %v", err)
	}

	// A clean run on the same intake, in a local lake.
	dir := t.TempDir()
	mirrorPrefix(t, env.Storage, spec.IntakePrefix(testMonth), filepath.Join(dir, filepath.FromSlash(spec.IntakePrefix(testMonth))))
	clean, err := OpenEnv(ctx, spec, "file://"+dir, env.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Close()
	if _, err := Run(ctx, clean, spec, Options{Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	a, b := fileSums(t, env, spec.Output.Table), fileSums(t, clean, spec.Output.Table)
	if len(a) == 0 || !equalMaps(a, b) {
		t.Errorf("rerun after the kill differs from a clean run: %d vs %d files", len(a), len(b))
	}
}

// convertAndStage runs an execution's convert tasks, one per item of its
// parts.json (each a Map item in its own task), then its stage task, as the
// state machine does; it returns the parts and derive.json's items.
func convertAndStage(ctx context.Context, t *testing.T, env *Env, spec *jobs.Spec, exec string) ([]partItem, []deriveItem) {
	t.Helper()
	var parts []partItem
	if err := getJSON(ctx, env.Storage, ExecPrefix(spec.Name, exec)+"parts.json", &parts); err != nil {
		t.Fatalf("parts.json: %v", err)
	}
	for _, p := range parts {
		if err := step(ctx, env, spec, exec, func(j *job) error { return j.partStep(ctx, p.Key, io.Discard) }); err != nil {
			t.Fatalf("convert %s: %v", p.Key, err)
		}
	}
	if err := step(ctx, env, spec, exec, func(j *job) error { return j.stageStep(ctx, io.Discard) }); err != nil {
		t.Fatal(err)
	}
	var items []deriveItem
	if err := getJSON(ctx, env.Storage, ExecPrefix(spec.Name, exec)+"derive.json", &items); err != nil {
		t.Fatalf("derive.json: %v", err)
	}
	return parts, items
}

// checkTags checks that every object under prefix has tag key = value
// ("" = no such tag), as S3 reports it (GetObjectTagging).
func checkTags(t *testing.T, st storage.Storage, prefix, key, value string) {
	t.Helper()
	s3st := st.(*s3.Store)
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	n := 0
	err = st.List(context.Background(), prefix, func(o storage.Object) error {
		out, err := client.GetObjectTagging(context.Background(), &awss3.GetObjectTaggingInput{Bucket: aws.String(s3st.Bucket()), Key: aws.String(s3st.Key(o.Key))})
		if err != nil {
			return err
		}
		got := ""
		for _, tg := range out.TagSet {
			if aws.ToString(tg.Key) == key {
				got = aws.ToString(tg.Value)
			}
		}
		if got != value {
			t.Errorf("%s: tag %s = %q, want %q", o.Key, key, got, value)
		}
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("tags under %s: %d objects, %v", prefix, n, err)
	}
}
