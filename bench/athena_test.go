package bench

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
			// Text: the report names the column or table that differs.
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
// the in-process Athena fake (SigV4, JSON protocol, polling), its CTAS
// tables registered in moto's Glue.
func TestSDKAthenaOnFake(t *testing.T) {
	srv, acct := awsfake.OnMoto(t)
	cfg := srv.Config()
	ctx := context.Background()
	if _, err := glue.NewFromConfig(cfg).CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String("consumer")}}); err != nil {
		t.Fatal(err)
	}
	row := []string{"42", "x1", "x2", "x3"}
	awsfake.NewAthena(srv, glue.NewFromConfig(acct.Config)).SetExecutor(func(_ context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
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

// near reports whether got is want to 1e-9, relatively.
func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }

// projectionInput is 100 MB of gzip: pgzip alone took 2 s (50 MB/s); the
// converter with 2 workers spent 4 s in pass 1 (12.5 MB/s per core), its
// accumulator busy 1 s of them (100 MB/s) and the process 6 CPU-s
// (0.06 CPU-s per MB), then 5 s in pass 2 (10 MB/s per core).
func projectionInput() *ConvertResults {
	return &ConvertResults{Rows: 1000, GzipBytes: 100e6, Engines: []Engine{
		{Key: pgzipKey, WallSeconds: 2, CPUSeconds: 2},
		{Key: tierflowKey(1), Tierflow: true, Workers: 1, WallSeconds: 30, CPUSeconds: 25, Pass1Seconds: 1, Pass2Seconds: 1, Pass1BusySeconds: 0.1},
		{Key: tierflowKey(2), Tierflow: true, Workers: 2, WallSeconds: 12, CPUSeconds: 20,
			Pass1Seconds: 4, Pass2Seconds: 5, Pass1BusySeconds: 1, Pass1CPUSeconds: 6},
	}}
}

func TestProjectFargateTwoPass(t *testing.T) {
	partMB := float64(gib(30.85)/4) / 1e6
	for _, tc := range []struct {
		name   string
		vcpu   float64
		edit   func(e *Engine)
		pass1  float64 // MB/s
		bound  string
		pass2  float64 // MB/s
		busy1  float64 // vCPU in pass 1
		busy2  float64 // vCPU in pass 2
		serial float64
	}{
		// 8 vCPU: CPU allows 8 × 12.5 = 100, the accumulator 100, pgzip 50.
		{name: "decompression-bound", vcpu: 8, pass1: 50, bound: "decompression", pass2: 8 * 10, busy1: 0.06 * 50, busy2: 8, serial: 100},
		// The accumulator busy 4 s: 25 MB/s, below pgzip's 50.
		{name: "accumulator-bound", vcpu: 8, edit: func(e *Engine) { e.Pass1BusySeconds = 4 }, pass1: 25, bound: "accumulator", pass2: 80, busy1: 0.06 * 25, busy2: 8, serial: 25},
		// 1 vCPU: 1 × 12.5 = 12.5 MB/s, below both.
		{name: "CPU-bound, 1 vCPU", vcpu: 1, pass1: 12.5, bound: "CPU", pass2: 10, busy1: 0.06 * 12.5, busy2: 1, serial: 100},
		// 2 vCPU: CPU-bound at 2 × 12.5 = 25 MB/s, where its measured CPU
		// (0.06 CPU-s per MB) keeps 1.5 vCPU busy.
		{name: "CPU-bound, 2 vCPU", vcpu: 2, pass1: 25, bound: "CPU", pass2: 20, busy1: 1.5, busy2: 2, serial: 100},
		// 64 vCPU: pass 2 converts 60 buckets at once, not 64.
		{name: "pass 2 capped at 60 buckets", vcpu: 64, pass1: 50, bound: "decompression", pass2: 60 * 10, busy1: 3, busy2: 60, serial: 100},
		{name: "pass 2 below the cap", vcpu: 30, pass1: 50, bound: "decompression", pass2: 30 * 10, busy1: 3, busy2: 30, serial: 100},
		// A process that used more CPU than the task has is capped at it.
		{name: "pass-1 busy capped", vcpu: 1, edit: func(e *Engine) { e.Pass1CPUSeconds = 20 }, pass1: 12.5, bound: "CPU", pass2: 10, busy1: 1, busy2: 1, serial: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := projectionInput()
			if tc.edit != nil {
				tc.edit(&cr.Engines[2])
			}
			task := FargateTask{VCPU: tc.vcpu, MemoryGB: 16, MaxConcurrency: 8, StartupSeconds: 60}
			p, err := projectFargate(cr, task)
			if err != nil {
				t.Fatal(err)
			}
			if p.Model != "two-pass" || !near(p.DecompressMBps, 50) || !near(p.Pass1PerCoreMBps, 12.5) || !near(p.Pass2PerCoreMBps, 10) || !near(p.Pass1SerialMBps, tc.serial) {
				t.Fatalf("measured rates: model %q decompress %v pass-1 per core %v pass-2 per core %v serial %v", p.Model, p.DecompressMBps, p.Pass1PerCoreMBps, p.Pass2PerCoreMBps, p.Pass1SerialMBps)
			}
			if !near(p.Pass1MBps, tc.pass1) || !strings.Contains(p.Pass1Bound, tc.bound) || !strings.Contains(p.Bound, tc.bound) {
				t.Errorf("pass 1 %v MB/s bound %q (%q), want %v by %s", p.Pass1MBps, p.Pass1Bound, p.Bound, tc.pass1, tc.bound)
			}
			if !near(p.Pass2MBps, tc.pass2) || !near(p.Pass2VCPU, tc.busy2) {
				t.Errorf("pass 2 %v MB/s on %v vCPU, want %v on %v", p.Pass2MBps, p.Pass2VCPU, tc.pass2, tc.busy2)
			}
			t1, t2 := partMB/tc.pass1, partMB/tc.pass2
			if !near(p.Pass1PartSeconds, t1) || !near(p.Pass2PartSeconds, t2) || !near(p.PartSeconds, t1+t2) || !near(p.TaskMBps, partMB/(t1+t2)) {
				t.Errorf("part %v s (%v + %v), task %v MB/s; want %v + %v", p.PartSeconds, p.Pass1PartSeconds, p.Pass2PartSeconds, p.TaskMBps, t1, t2)
			}
			if !near(p.Pass1BusyVCPU, tc.busy1) || !near(p.BusyVCPU, (t1*tc.busy1+t2*tc.busy2)/(t1+t2)) {
				t.Errorf("busy vCPU %v (pass 1 %v), want pass 1 %v", p.BusyVCPU, p.Pass1BusyVCPU, tc.busy1)
			}
			perSec := (tc.vcpu*0.04048 + 16*0.004445) / 3600
			if !near(p.WallSeconds, 60+t1+t2) || !near(p.USD, 4*(60+t1+t2)*perSec) {
				t.Errorf("wall %v USD %v, want %v %v", p.WallSeconds, p.USD, 60+t1+t2, 4*(60+t1+t2)*perSec)
			}
		})
	}
}

func TestProjectFargate(t *testing.T) {
	cr := projectionInput()
	task := FargateTask{VCPU: 4, MemoryGB: 16, MaxConcurrency: 8, StartupSeconds: 60}
	p, err := projectFargate(cr, task)
	if err != nil {
		t.Fatal(err)
	}
	if p.Parts != 4 || p.Tasks != 4 || p.Waves != 1 || p.PartBytes != gib(30.85)/4 {
		t.Fatalf("parts %d tasks %d waves %d part %d", p.Parts, p.Tasks, p.Waves, p.PartBytes)
	}
	// The converter with the most workers is measured: 100 / 20 CPU-s.
	if !near(p.PerCoreMBps, 5) || !near(p.MeasuredMBps, 100.0/12) || !strings.Contains(p.MeasuredOn, "100.0 MB") {
		t.Fatalf("per core %v, measured %v, on %q", p.PerCoreMBps, p.MeasuredMBps, p.MeasuredOn)
	}
	partMB := float64(gib(30.85)/4) / 1e6
	cons := partMB / (100.0 / 12)
	perSec := (4*0.04048 + 16*0.004445) / 3600
	if !near(p.ConservativeWallSeconds, 60+cons) || !near(p.ConservativeUSD, 4*(60+cons)*perSec) {
		t.Fatalf("conservative wall %v USD %v", p.ConservativeWallSeconds, p.ConservativeUSD)
	}
	// Fewer tasks at once than parts: two waves, every part billed.
	task.MaxConcurrency = 3
	if p, _ := projectFargate(cr, task); p.Waves != 2 || !near(p.WallSeconds, 2*(60+p.PartSeconds)) || !near(p.TaskSeconds, 4*(60+p.PartSeconds)) {
		t.Fatalf("waves %d wall %v billed %v", p.Waves, p.WallSeconds, p.TaskSeconds)
	}
	task.MaxConcurrency = 8

	// Pass-1 CPU not measured: busy vCPU is pass 2's, and the bound says so.
	cr.Engines[2].Pass1CPUSeconds = 0
	if p, _ := projectFargate(cr, task); p.Pass1BusyVCPU != 0 || p.BusyVCPU != 4 || !strings.Contains(p.Bound, "not measured") {
		t.Fatalf("unmeasured pass-1 CPU: busy %v (pass 1 %v), bound %q", p.BusyVCPU, p.Pass1BusyVCPU, p.Bound)
	}
	// Unknown accumulator time: no serial bound, decompression binds.
	cr.Engines[2].Pass1BusySeconds = 0
	if p, _ := projectFargate(cr, task); p.Pass1SerialMBps != 0 || !near(p.Pass1MBps, 50) {
		t.Fatalf("unknown accumulator: %v serial, pass 1 %v", p.Pass1SerialMBps, p.Pass1MBps)
	}

	// No pass timings: one rate, min(4 × 5, 50) = 20 MB/s, CPU-bound; the
	// accumulator's time, even a slow one (busy 20 s: 5 MB/s), is ignored.
	cr = projectionInput()
	cr.Engines[2].Pass1Seconds, cr.Engines[2].Pass2Seconds, cr.Engines[2].Pass1BusySeconds = 0, 0, 20
	p, err = projectFargate(cr, task)
	if err != nil {
		t.Fatal(err)
	}
	if p.Model != "one-rate fallback" || !near(p.TaskMBps, 20) || !strings.HasPrefix(p.Bound, "CPU") || !strings.Contains(p.Bound, "fallback") ||
		!near(p.PartSeconds, partMB/20) || !near(p.BusyVCPU, 4) || p.Pass1MBps != 0 || p.Pass2MBps != 0 {
		t.Fatalf("fallback, CPU-bound: %+v", p)
	}
	// pgzip at 10 MB/s: decompression binds, 2 of 4 vCPU busy.
	cr.Engines[0].WallSeconds = 10
	if p, _ := projectFargate(cr, task); !near(p.TaskMBps, 10) || !strings.Contains(p.Bound, "decompression") || !strings.Contains(p.Bound, "fallback") || !near(p.BusyVCPU, 2) {
		t.Fatalf("fallback, decompression-bound: %v MB/s, %q, %v vCPU", p.TaskMBps, p.Bound, p.BusyVCPU)
	}
	// Pass 2 alone is not enough for the two-pass model.
	cr.Engines[2].Pass2Seconds = 5
	if p, _ := projectFargate(cr, task); p.Model != "one-rate fallback" {
		t.Fatalf("model %q with pass 1 unknown", p.Model)
	}

	if _, err := projectFargate(&ConvertResults{GzipBytes: 1}, task); err == nil {
		t.Error("projection without measurements")
	}
}

func TestCPUTraceAt(t *testing.T) {
	t0 := time.Now()
	c := &cpuTrace{samples: []cpuSample{{t0, 0}, {t0.Add(time.Second), 2}, {t0.Add(2 * time.Second), 2.5}}}
	for _, tc := range []struct {
		at   time.Duration
		want float64
		ok   bool
	}{
		{0, 0, true}, {500 * time.Millisecond, 1, true}, {time.Second, 2, true}, {1500 * time.Millisecond, 2.25, true}, {2 * time.Second, 2.5, true},
		{-time.Millisecond, 0, false}, {2*time.Second + time.Millisecond, 0, false},
	} {
		got, ok := c.at(t0.Add(tc.at))
		if ok != tc.ok || !near(got, tc.want) {
			t.Errorf("at +%v = %v, %v; want %v, %v", tc.at, got, ok, tc.want, tc.ok)
		}
	}
	// A live trace samples at start and at stop, and covers what lies between.
	var n float64
	tr := startCPUTrace(time.Millisecond, func() float64 { n++; return n })
	mid := time.Now()
	time.Sleep(5 * time.Millisecond)
	tr.stop()
	if len(tr.samples) < 2 {
		t.Fatalf("%d samples", len(tr.samples))
	}
	if v, ok := tr.at(mid); !ok || v < 1 || v > n {
		t.Errorf("at the middle: %v, %v (last %v)", v, ok, n)
	}
}
