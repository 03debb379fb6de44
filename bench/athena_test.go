package bench

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/runner"
)

// fakeAthena answers CTAS with fixed statistics and checksum SELECTs with
// the row configured per table.
type fakeAthena struct {
	mu    sync.Mutex
	sqls  []string
	rows  map[string][]string // table → checksum row
	stats map[string]AthenaRun
}

var fromTable = regexp.MustCompile(`FROM "[^"]+"\."([^"]+)"`)
var createTable = regexp.MustCompile(`^CREATE TABLE "[^"]+"\."([^"]+)"`)

func (f *fakeAthena) Run(_ context.Context, sql string) (AthenaRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sqls = append(f.sqls, sql)
	id := fmt.Sprintf("q%d", len(f.sqls))
	if m := createTable.FindStringSubmatch(sql); m != nil {
		for prefix, st := range f.stats {
			if strings.HasPrefix(m[1], prefix) {
				st.QueryID = id
				return st, nil
			}
		}
		return AthenaRun{}, fmt.Errorf("unexpected CTAS %s", m[1])
	}
	m := fromTable.FindStringSubmatch(sql)
	if m == nil {
		return AthenaRun{}, fmt.Errorf("unexpected SQL %s", sql)
	}
	for prefix, row := range f.rows {
		if strings.HasPrefix(m[1], prefix) {
			return AthenaRun{QueryID: id, DataScannedBytes: 1 << 30, TotalMillis: 2000, Rows: [][]string{row}}, nil
		}
	}
	return AthenaRun{}, fmt.Errorf("no such table %s", m[1])
}

func newFake(tier2, pq, bk []string) *fakeAthena {
	return &fakeAthena{
		rows: map[string][]string{"consumer_header": tier2, "tierflow_bench_parquet_": pq, "tierflow_bench_bucketed_": bk},
		stats: map[string]AthenaRun{
			"tierflow_bench_parquet_":  {DataScannedBytes: gib(30.85), TotalMillis: 4_846_000},
			"tierflow_bench_bucketed_": {DataScannedBytes: gib(30.33), TotalMillis: 6_230_000},
		},
	}
}

func setup(c AthenaClient) AthenaSetup {
	return AthenaSetup{Client: c, Database: "consumer", RawTable: "consumer_raw", Tier2Table: "consumer_header",
		Where: "month = '2020-03'", Columns: []string{"householdid", "state", "zipcode"}, Location: "s3://lake/bench/", Suffix: "t1",
		TierflowSeconds: 900, TierflowUSD: 0.5}
}

func TestCompareAthenaEqual(t *testing.T) {
	row := []string{"309062253", "0a1b", "ffee", "1234"}
	f := newFake(row, row, row)
	cmp, err := CompareAthena(context.Background(), setup(f))
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal || cmp.Rows != 309062253 || len(cmp.CTAS) != 2 || len(cmp.Checksums) != 3 || cmp.TierflowSeconds != 900 {
		t.Fatalf("%+v", cmp)
	}
	if cmp.CTAS[0].Seconds != 4846 || cmp.CTAS[1].ScannedBytes != gib(30.33) || cmp.CTAS[0].USD != runner.AthenaQueryUSD(gib(30.85)) {
		t.Fatalf("CTAS steps %+v", cmp.CTAS)
	}
	// The case study's statements, over the raw table, then the bucketed
	// one from the Parquet one; checksums of every column in each table.
	ctas1, ctas2 := f.sqls[0], f.sqls[1]
	for _, want := range []string{`CREATE TABLE "consumer"."tierflow_bench_parquet_t1"`, "format='PARQUET'", "external_location='s3://lake/bench/t1/parquet/'",
		"parquet_compression='SNAPPY'", `SELECT "householdid", "state", "zipcode" FROM "consumer"."consumer_raw" WHERE month = '2020-03'`} {
		if !strings.Contains(ctas1, want) {
			t.Errorf("first CTAS lacks %q: %s", want, ctas1)
		}
	}
	for _, want := range []string{"bucketed_by=ARRAY['state']", "bucket_count=60", `FROM "consumer"."tierflow_bench_parquet_t1"`, "s3://lake/bench/t1/bucketed/"} {
		if !strings.Contains(ctas2, want) {
			t.Errorf("second CTAS lacks %q: %s", want, ctas2)
		}
	}
	if !strings.Contains(f.sqls[2], `SELECT count(*), checksum("householdid"), checksum("state"), checksum("zipcode") FROM "consumer"."consumer_header" WHERE month = '2020-03'`) {
		t.Errorf("checksum query: %s", f.sqls[2])
	}
}

func TestCompareAthenaDiffers(t *testing.T) {
	row := []string{"100", "0a1b", "ffee", "1234"}
	for name, tc := range map[string]struct {
		pq, bk []string
		want   string
	}{
		"a column differs": {row, []string{"100", "0a1b", "ffef", "1234"}, "column state differs between tierflow_bench_bucketed_t1"},
		"rows lost":        {[]string{"99", "0a1b", "ffee", "1234"}, row, "tierflow_bench_parquet_t1 has 99 rows"},
	} {
		t.Run(name, func(t *testing.T) {
			cmp, err := CompareAthena(context.Background(), setup(newFake(row, tc.pq, tc.bk)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if cmp == nil || cmp.Equal || len(cmp.Checksums) != 3 {
				t.Fatalf("%+v", cmp)
			}
		})
	}
	if _, err := CompareAthena(context.Background(), AthenaSetup{Client: newFake(row, row, row)}); err == nil {
		t.Error("incomplete setup accepted")
	}
}

// TestSDKAthenaOnFake runs the comparison through the SDK client against
// the in-process Athena/Glue fake (SigV4, JSON protocol, polling).
func TestSDKAthenaOnFake(t *testing.T) {
	srv := awsfake.New(t)
	cfg := srv.Config()
	ctx := context.Background()
	if _, err := glue.NewFromConfig(cfg).CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String("consumer")}}); err != nil {
		t.Fatal(err)
	}
	row := []string{"42", "x1", "x2", "x3"}
	srv.Athena.SetExecutor(func(_ context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		if q.CTAS != nil {
			return awsfake.AthenaResult{DataScannedBytes: 5 << 30, EngineMillis: 1500, Rows: 42,
				Columns: []awsfake.Column{{Name: "householdid", Type: "bigint"}, {Name: "state", Type: "string"}, {Name: "zipcode", Type: "string"}}}, nil
		}
		if !strings.HasPrefix(q.SQL, "SELECT count(*), checksum(") {
			return awsfake.AthenaResult{}, fmt.Errorf("unexpected %s", q.SQL)
		}
		return awsfake.AthenaResult{DataScannedBytes: 3 << 20, EngineMillis: 200, ResultRows: [][]string{row},
			Columns: []awsfake.Column{{Name: "_col0", Type: "bigint"}, {Name: "_col1", Type: "varbinary"}, {Name: "_col2", Type: "varbinary"}, {Name: "_col3", Type: "varbinary"}}}, nil
	})
	client := &SDKAthena{Client: awsathena.NewFromConfig(cfg), Database: "consumer", OutputLocation: "s3://results/", PollMin: 1, PollMax: 2}
	cmp, err := CompareAthena(ctx, setup(client))
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal || cmp.Rows != 42 || cmp.CTAS[0].ScannedBytes != 5<<30 || cmp.CTAS[0].QueryID == "" || cmp.CTAS[0].Seconds <= 0 {
		t.Fatalf("%+v", cmp)
	}
	// 3 MiB scanned pays the 10 MB minimum.
	if got := cmp.Checksums[0].USD; got != runner.AthenaQueryUSD(10<<20) {
		t.Errorf("checksum query cost $%v", got)
	}
}

func TestProjectFargate(t *testing.T) {
	// 100 MB of gzip: the converter used 20 CPU-s in 12 s of wall, its
	// serial stage was busy 5 s; pgzip alone took 1 s.
	cr := &ConvertResults{Rows: 1000, GzipBytes: 100e6, Engines: []Engine{
		{Key: pgzipKey, WallSeconds: 1, CPUSeconds: 1},
		{Key: tierflowKey(1), Tierflow: true, Workers: 1, WallSeconds: 30, CPUSeconds: 25},
		{Key: tierflowKey(2), Tierflow: true, Workers: 2, WallSeconds: 12, CPUSeconds: 20, AccumulatorSeconds: 5},
	}}
	task := FargateTask{VCPU: 4, MemoryGB: 16, MaxConcurrency: 8, StartupSeconds: 60}
	p, err := projectFargate(cr, task)
	if err != nil {
		t.Fatal(err)
	}
	// Per core 100/20 = 5 MB/s → 4 vCPU 20 MB/s; decompression 100 MB/s;
	// serial stage 100/5 = 20 MB/s: a tie, CPU named first.
	if p.PerCoreMBps != 5 || p.DecompressMBps != 100 || p.AccumulatorMBps != 20 || p.TaskMBps != 20 || !strings.HasPrefix(p.Bound, "CPU") {
		t.Fatalf("rates %+v", p)
	}
	if p.BusyVCPU != 4 {
		t.Fatalf("busy vCPU %v", p.BusyVCPU)
	}
	if p.Parts != 4 || p.Tasks != 4 || p.Waves != 1 || p.PartBytes != gib(30.85)/4 {
		t.Fatalf("parts %d tasks %d waves %d part %d", p.Parts, p.Tasks, p.Waves, p.PartBytes)
	}
	partSecs := float64(gib(30.85)/4) / 1e6 / 20
	if math.Abs(p.PartSeconds-partSecs) > 1e-9 || math.Abs(p.WallSeconds-(60+partSecs)) > 1e-9 {
		t.Fatalf("part %v wall %v, want %v", p.PartSeconds, p.WallSeconds, partSecs)
	}
	perSec := (4*0.04048 + 16*0.004445) / 3600
	if want := 4 * (60 + partSecs) * perSec; math.Abs(p.USD-want) > 1e-9 {
		t.Fatalf("USD %v, want %v", p.USD, want)
	}
	cons := float64(gib(30.85)/4) / 1e6 / (100.0 / 12)
	if math.Abs(p.ConservativeWallSeconds-(60+cons)) > 1e-9 {
		t.Fatalf("conservative wall %v", p.ConservativeWallSeconds)
	}

	// A slower serial stage, then a slow decompressor, take over.
	cr.Engines[2].AccumulatorSeconds = 10
	if p, _ := projectFargate(cr, task); p.TaskMBps != 10 || !strings.Contains(p.Bound, "serial") {
		t.Fatalf("serial bound: %v %s", p.TaskMBps, p.Bound)
	}
	cr.Engines[0].WallSeconds = 20
	if p, _ := projectFargate(cr, task); p.TaskMBps != 5 || !strings.Contains(p.Bound, "decompression") {
		t.Fatalf("decompression bound: %v %s", p.TaskMBps, p.Bound)
	}
	// Fewer tasks at once than parts: two waves.
	task.MaxConcurrency = 3
	if p, _ := projectFargate(cr, task); p.Waves != 2 || math.Abs(p.WallSeconds-2*(60+p.PartSeconds)) > 1e-9 {
		t.Fatalf("waves %d wall %v", p.Waves, p.WallSeconds)
	}
	// Without the serial stage's timing there is no such bound.
	cr.Engines[2].AccumulatorSeconds = 0
	if p, _ := projectFargate(cr, task); p.AccumulatorMBps != 0 || p.TaskMBps != 5 {
		t.Fatalf("unknown serial stage: %+v", p)
	}
	if _, err := projectFargate(&ConvertResults{GzipBytes: 1}, task); err == nil {
		t.Error("projection without measurements")
	}
}
