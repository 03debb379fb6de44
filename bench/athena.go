package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tierflow/tierflow/runner"
)

// AthenaResults is section 3: the case study's Athena CTAS conversion next
// to tierflow's, measured on AWS or projected from the conversion section.
type AthenaResults struct {
	Mode       string             `json:"mode"` // "projection" or "measured"
	CaseStudy  []CaseCTAS         `json:"case_study"`
	Projection *FargateProjection `json:"projection,omitempty"`
	Measured   *AthenaComparison  `json:"measured,omitempty"`
}

// CaseCTAS is one CTAS of the case study, as printed there.
type CaseCTAS struct {
	Name         string  `json:"name"`
	Seconds      float64 `json:"seconds"`
	ScannedBytes int64   `json:"scanned_bytes"`
	Scanned      string  `json:"scanned"`
	USD          float64 `json:"usd"`
	USDPrinted   bool    `json:"usd_printed"` // false: computed from Scanned at $5/TB
}

// caseCTAS are the case study's two conversion steps to bucketed Parquet.
var caseCTAS = []CaseCTAS{
	{Name: "Athena CTAS gz CSV → Parquet (SNAPPY)", Seconds: 80*60 + 46, Scanned: "30.85 GB", ScannedBytes: gib(30.85), USD: 0.15, USDPrinted: true},
	{Name: "Athena CTAS Parquet → Parquet bucketed by state (60)", Seconds: 103*60 + 50, Scanned: "30.33 GB", ScannedBytes: gib(30.33), USD: runner.AthenaQueryUSD(gib(30.33))},
}

// FargateTask is the ECS Fargate task the projection assumes.
type FargateTask struct {
	VCPU           float64 `json:"vcpu"`
	MemoryGB       float64 `json:"memory_gb"`
	MaxConcurrency int     `json:"max_concurrency"`
	// StartupSeconds is billed per task before the converter runs (image
	// pull and start); an assumption, not a measurement.
	StartupSeconds float64 `json:"startup_seconds"`
}

// Prices used by the projection.
const (
	fargatePriceSource = "AWS Fargate on-demand, us-east-1, Linux/x86: $0.04048 per vCPU-hour, $0.004445 per GB-hour, per-second billing with a 1-minute minimum, 20 GB ephemeral storage included (https://aws.amazon.com/fargate/pricing/ as quoted by wring.co's Fargate pricing guide of 10 March 2026 and vantage.sh; not re-checked on AWS's page from this machine)"
	// caseMonthPartBytes is the case study's "roughly 7.5 GB" per part.
	caseMonthPartBytes = 7.5 * (1 << 30)
)

// FargateProjection is tierflow's projected wall time and cost for the
// case study's month (30.85 GB of gzip CSV) on Fargate, from the measured
// throughput of this machine.
type FargateProjection struct {
	MonthBytes int64       `json:"month_bytes"`
	Parts      int         `json:"parts"`
	PartBytes  int64       `json:"part_bytes"`
	Task       FargateTask `json:"task"`
	Tasks      int         `json:"parallel_tasks"`
	Waves      int         `json:"waves"`

	MeasuredOn string `json:"measured_on"`
	// Model names the model applied: "two-pass" (pass 1 then pass 2, each
	// at its own rate) or "one-rate fallback" (the converter reported no
	// pass timings).
	Model string `json:"model"`
	// Measured rates, compressed MB (10^6) per second.
	PerCoreMBps    float64 `json:"per_core_mb_per_s"`      // gzip bytes per CPU-second of the whole converter (the fallback's per-core rate)
	DecompressMBps float64 `json:"decompress_mb_per_s"`    // the converter's decompressor alone, one stream: pass 1's floor
	MeasuredMBps   float64 `json:"measured_wall_mb_per_s"` // the converter's wall rate on this machine

	// Pass 1 (read, decompress, route, spill) on a task: the slowest of
	// one-stream decompression, its serial accumulator and its CPU.
	Pass1SerialMBps  float64 `json:"pass1_accumulator_mb_per_s,omitempty"` // gzip MB ÷ the accumulator's busy seconds; 0 = unknown
	Pass1PerCoreMBps float64 `json:"pass1_per_core_mb_per_s,omitempty"`    // gzip MB ÷ (pass-1 wall × workers)
	Pass1MBps        float64 `json:"pass1_mb_per_s,omitempty"`
	Pass1Bound       string  `json:"pass1_bound,omitempty"` // decompression, serial accumulator or CPU
	Pass1PartSeconds float64 `json:"pass1_part_seconds,omitempty"`
	// Pass1BusyVCPU is the vCPU pass 1 keeps busy: its measured CPU per MB
	// × its projected rate, at most the task's; 0 = pass-1 CPU not measured.
	Pass1BusyVCPU float64 `json:"pass1_busy_vcpu,omitempty"`

	// Pass 2 (per bucket: merge, convert, encode) on a task: buckets are
	// independent, so it scales with vCPU up to one per bucket.
	Pass2PerCoreMBps float64 `json:"pass2_per_core_mb_per_s,omitempty"` // gzip MB ÷ (pass-2 wall × workers)
	Pass2VCPU        float64 `json:"pass2_vcpu,omitempty"`              // min(task vCPU, buckets)
	Pass2MBps        float64 `json:"pass2_mb_per_s,omitempty"`
	Pass2PartSeconds float64 `json:"pass2_part_seconds,omitempty"`

	// TaskMBps is a task's overall rate: part MB ÷ PartSeconds.
	TaskMBps float64 `json:"task_mb_per_s"`
	Bound    string  `json:"bound"` // what limits a task, pass by pass
	// BusyVCPU is how many vCPU a task keeps busy on average over
	// PartSeconds (time-weighted over the passes): a smaller task would
	// convert nearly as fast for less when it is well below Task.VCPU.
	BusyVCPU    float64 `json:"busy_vcpu"`
	PartSeconds float64 `json:"part_seconds"`
	WallSeconds float64 `json:"wall_seconds"`
	TaskSeconds float64 `json:"billed_task_seconds"`
	USD         float64 `json:"usd"`

	// Conservative: no speed-up beyond what this machine measured.
	ConservativeWallSeconds float64 `json:"conservative_wall_seconds"`
	ConservativeUSD         float64 `json:"conservative_usd"`

	VCPUHourUSD float64  `json:"vcpu_hour_usd"`
	GBHourUSD   float64  `json:"gb_hour_usd"`
	PriceSource string   `json:"price_source"`
	Assumptions []string `json:"assumptions"`
}

// athenaSection runs section 3.
func (b *bencher) athenaSection(ctx context.Context) error {
	ar := &AthenaResults{Mode: "projection", CaseStudy: caseCTAS}
	if b.opts.Athena {
		ar.Mode = "measured"
		setup, err := b.athenaSetup(ctx)
		if err != nil {
			return err
		}
		cmp, err := CompareAthena(ctx, setup)
		if cmp != nil {
			ar.Measured = cmp
		}
		if err != nil {
			b.res.Athena = ar
			return err
		}
	}
	cr := b.res.Convert
	if cr == nil || decompressEngine(cr) == nil || tierflowEngine(cr) == nil {
		// Only the projection's inputs: the decompressor and the busiest converter.
		in, err := b.ensureIntake(ctx, 1)
		if err != nil {
			return err
		}
		b.single = in
		specs := b.engineSpecs(in.Files[0].Path, b.opts.Dir+"/convert", false)
		samples, err := b.measure(ctx, specs)
		if err != nil {
			return err
		}
		cr = &ConvertResults{Part: in.Files[0].Path, Rows: in.Rows, GzipBytes: in.GzBytes}
		b.fillConvert(cr, specs, samples)
	}
	p, err := projectFargate(cr, b.fargateTask())
	if err != nil {
		return err
	}
	ar.Projection = p
	b.res.Athena = ar
	printAthena(b.w, ar)
	return nil
}

func (b *bencher) fargateTask() FargateTask {
	t := b.opts.Fargate
	if t.VCPU <= 0 {
		t.VCPU = float64(b.spec.AWS.TaskCPU) / 1024
		if t.VCPU <= 0 {
			t.VCPU = 4
		}
	}
	if t.MemoryGB <= 0 {
		t.MemoryGB = float64(b.spec.AWS.TaskMemoryMiB) / 1024
		if t.MemoryGB <= 0 {
			t.MemoryGB = 16
		}
	}
	if t.MaxConcurrency <= 0 {
		t.MaxConcurrency = max(b.spec.AWS.MaxConcurrency, 1)
	}
	if t.StartupSeconds <= 0 {
		t.StartupSeconds = 60
	}
	return t
}

// decompressEngine is the converter's own decompressor alone (pgzip's
// measurement in reports from before it had one): pass 1's floor.
func decompressEngine(cr *ConvertResults) *Engine {
	if e := cr.engine(gunzipKey); e != nil {
		return e
	}
	return cr.engine(pgzipKey)
}

// tierflowEngine is the converter run with the most workers.
func tierflowEngine(cr *ConvertResults) *Engine {
	var best *Engine
	for i := range cr.Engines {
		e := &cr.Engines[i]
		if e.Tierflow && (best == nil || e.Workers > best.Workers) {
			best = e
		}
	}
	return best
}

// caseBuckets is the case study's bucket count (the shipped job's too):
// pass 2 converts one bucket per core at most.
const caseBuckets = 60

// projectFargate applies the model of docs/benchmarks.md: the month is
// split into parts of about 7.5 GB, one task per part, at most
// MaxConcurrency at once. A task of V vCPU runs the converter's two passes
// one after the other; measured here with W workers on mb gzip MB:
//
//	pass 1 = min(one-stream decompression, mb ÷ accumulator busy s, V × mb ÷ (pass-1 s × W))
//	pass 2 = min(V, 60 buckets) × mb ÷ (pass-2 s × W)
//	part s = part MB ÷ pass 1 + part MB ÷ pass 2
//
// and is billed for startup + part seconds at its full size. Without pass
// timings it falls back to one rate, min(V × per-core, decompression).
func projectFargate(cr *ConvertResults, task FargateTask) (*FargateProjection, error) {
	tf, pg := tierflowEngine(cr), decompressEngine(cr)
	if tf == nil || pg == nil || tf.CPUSeconds <= 0 || pg.WallSeconds <= 0 || tf.WallSeconds <= 0 {
		return nil, errors.New("projection needs the converter's and its decompressor's measurements")
	}
	mb := float64(cr.GzipBytes) / 1e6
	w := float64(max(tf.Workers, 1))
	v := task.VCPU
	p := &FargateProjection{
		MonthBytes: gib(30.85), Task: task,
		MeasuredOn:     fmt.Sprintf("%s on %d rows (%.1f MB gzip), this machine", tf.Name, cr.Rows, mb),
		PerCoreMBps:    mb / tf.CPUSeconds,
		DecompressMBps: mb / pg.WallSeconds,
		MeasuredMBps:   mb / tf.WallSeconds,
		VCPUHourUSD:    runner.FargateVCPUHourUSD,
		GBHourUSD:      runner.FargateGBHourUSD,
		PriceSource:    fargatePriceSource,
	}
	p.Parts = max(1, int(math.Round(float64(p.MonthBytes)/caseMonthPartBytes)))
	p.PartBytes = p.MonthBytes / int64(p.Parts)
	p.Tasks = min(p.Parts, task.MaxConcurrency)
	p.Waves = (p.Parts + p.Tasks - 1) / p.Tasks
	partMB := float64(p.PartBytes) / 1e6

	if tf.Pass1Seconds > 0 && tf.Pass2Seconds > 0 {
		p.Model = "two-pass"
		p.Pass1PerCoreMBps = mb / (tf.Pass1Seconds * w)
		p.Pass1MBps, p.Pass1Bound = v*p.Pass1PerCoreMBps, fmt.Sprintf("CPU (%g vCPU × pass-1 per-core rate)", v)
		if p.DecompressMBps < p.Pass1MBps {
			p.Pass1MBps, p.Pass1Bound = p.DecompressMBps, "one-stream gzip decompression"
		}
		if tf.Pass1BusySeconds > 0 { // 0: unknown, no bound
			p.Pass1SerialMBps = mb / tf.Pass1BusySeconds
			if p.Pass1SerialMBps < p.Pass1MBps {
				p.Pass1MBps, p.Pass1Bound = p.Pass1SerialMBps, "the serial accumulator"
			}
		}
		p.Pass2VCPU = min(v, caseBuckets)
		p.Pass2PerCoreMBps = mb / (tf.Pass2Seconds * w)
		p.Pass2MBps = p.Pass2VCPU * p.Pass2PerCoreMBps
		p.Pass1PartSeconds, p.Pass2PartSeconds = partMB/p.Pass1MBps, partMB/p.Pass2MBps
		p.PartSeconds = p.Pass1PartSeconds + p.Pass2PartSeconds
		p.Bound = fmt.Sprintf("pass 1 by %s, pass 2 by CPU (%g of %d buckets at once)", p.Pass1Bound, p.Pass2VCPU, caseBuckets)
		if tf.Pass1CPUSeconds > 0 {
			p.Pass1BusyVCPU = min(v, tf.Pass1CPUSeconds/mb*p.Pass1MBps)
			p.BusyVCPU = (p.Pass1PartSeconds*p.Pass1BusyVCPU + p.Pass2PartSeconds*p.Pass2VCPU) / p.PartSeconds
		} else {
			// Pass 1 runs mostly on one core, so this overstates the average.
			p.BusyVCPU = p.Pass2VCPU
			p.Bound += "; pass-1 CPU not measured: busy vCPU is pass 2's, pass 1 runs mostly on one core"
		}
	} else {
		p.Model = "one-rate fallback"
		p.TaskMBps, p.Bound = v*p.PerCoreMBps, fmt.Sprintf("CPU (%g vCPU × per-core rate)", v)
		if p.DecompressMBps < p.TaskMBps {
			p.TaskMBps, p.Bound = p.DecompressMBps, "gzip decompression of one stream"
		}
		p.Bound += " — fallback: the converter reported no pass timings, so the passes and the serial accumulator are not modelled"
		p.BusyVCPU = p.TaskMBps / p.PerCoreMBps
		p.PartSeconds = partMB / p.TaskMBps
	}
	p.TaskMBps = partMB / p.PartSeconds
	price := (task.VCPU*runner.FargateVCPUHourUSD + task.MemoryGB*runner.FargateGBHourUSD) / 3600 // per task-second
	p.WallSeconds = float64(p.Waves) * (task.StartupSeconds + p.PartSeconds)
	p.TaskSeconds = float64(p.Parts) * (task.StartupSeconds + p.PartSeconds)
	p.USD = p.TaskSeconds * price
	cons := partMB / p.MeasuredMBps
	p.ConservativeWallSeconds = float64(p.Waves) * (task.StartupSeconds + cons)
	p.ConservativeUSD = float64(p.Parts) * (task.StartupSeconds + cons) * price
	p.Assumptions = []string{
		fmt.Sprintf("month = 30.85 GB (2^30) of gzip CSV, the case study's CSV bytes scanned, in %d parts of %.2f GB (\"roughly 7.5 GB each\")", p.Parts, float64(p.PartBytes)/(1<<30)),
		fmt.Sprintf("one Fargate task per part, %.0f vCPU / %.0f GB, at most %d at once (the job's aws settings)", task.VCPU, task.MemoryGB, task.MaxConcurrency),
		fmt.Sprintf("%.0f s billed per task before converting (image pull, start) — assumed", task.StartupSeconds),
		"a Fargate vCPU does the work of one of this machine's cores; pass 1 cannot beat one-stream decompression nor its serial accumulator, pass 2 converts at most one bucket per vCPU",
		"the synthetic part's compressed bytes cost as much CPU as the vendor's (the real file compresses to ≈107 B/row, the synthetic one to more; rows with more empty fields are cheaper per byte)",
		"S3 requests, Step Functions transitions and data transfer are not included (cents)",
		"conservative variant: a task converts no faster than this machine did (its measured wall rate), at the same task size",
	}
	return p, nil
}

// AthenaClient runs SQL on Athena to completion.
type AthenaClient interface {
	Run(ctx context.Context, sql string) (AthenaRun, error)
}

// AthenaRun is a finished Athena query.
type AthenaRun struct {
	QueryID          string
	DataScannedBytes int64
	EngineMillis     int64
	TotalMillis      int64
	Rows             [][]string // data rows of a SELECT (no header)
}

// AthenaSetup says what the measured comparison reads and where it writes.
type AthenaSetup struct {
	Client   AthenaClient
	Database string
	// RawTable is the month's gz CSV table (the case study's consumer_raw),
	// Tier2Table tierflow's published bucketed table; Where, if set, selects
	// the month in both (e.g. month = '2024-01').
	RawTable   string
	Tier2Table string
	Where      string
	Columns    []string // data columns in order; default: the job schema's
	// Location is an empty s3:// prefix the two CTAS write under.
	Location string
	// Suffix makes the CTAS table names unique; default: a timestamp.
	Suffix string
	// TierflowSeconds and TierflowUSD are tierflow's conversion of the same
	// month (the run's convert stage and its cost ledger); 0 = unknown.
	TierflowSeconds float64
	TierflowUSD     float64
}

// AthenaComparison is the measured section 3.
type AthenaComparison struct {
	CTAS      []AthenaStep `json:"ctas"`
	Checksums []AthenaStep `json:"checksums"`
	Rows      int64        `json:"rows"`
	Columns   int          `json:"columns"`
	Equal     bool         `json:"equal"`

	TierflowSeconds float64 `json:"tierflow_seconds,omitempty"`
	TierflowUSD     float64 `json:"tierflow_usd,omitempty"`
}

// AthenaStep is one statement's statistics.
type AthenaStep struct {
	Name         string  `json:"name"`
	Table        string  `json:"table"`
	QueryID      string  `json:"query_id"`
	Seconds      float64 `json:"seconds"` // TotalExecutionTimeInMillis
	ScannedBytes int64   `json:"scanned_bytes"`
	USD          float64 `json:"usd"`
	SQL          string  `json:"sql"`
}

// CompareAthena runs the case study's two CTAS (gz CSV → Parquet, then
// Parquet → bucketed by state) on Athena and proves that their output and
// tierflow's table hold the same rows: the same count and the same
// order-independent checksum (Trino's checksum()) of every column. The
// returned comparison is filled as far as it got.
func CompareAthena(ctx context.Context, s AthenaSetup) (*AthenaComparison, error) {
	if s.Client == nil || s.Database == "" || s.RawTable == "" || s.Tier2Table == "" || len(s.Columns) == 0 || !strings.HasPrefix(s.Location, "s3://") {
		return nil, errors.New("athena comparison needs a client, the database, the raw and tier-2 tables, the columns and an s3:// location")
	}
	suffix := s.Suffix
	if suffix == "" {
		suffix = time.Now().UTC().Format("20060102t150405")
	}
	loc := strings.TrimSuffix(s.Location, "/") + "/" + suffix
	q := func(t string) string { return quoteIdent(s.Database) + "." + quoteIdent(t) }
	var cols []string
	for _, c := range s.Columns {
		cols = append(cols, quoteIdent(c))
	}
	list := strings.Join(cols, ", ")
	where := ""
	if s.Where != "" {
		where = " WHERE " + s.Where
	}
	pqTable, bkTable := "tierflow_bench_parquet_"+suffix, "tierflow_bench_bucketed_"+suffix
	out := &AthenaComparison{Columns: len(s.Columns), TierflowSeconds: s.TierflowSeconds, TierflowUSD: s.TierflowUSD}
	run := func(name, table, sql string) (AthenaRun, error) {
		r, err := s.Client.Run(ctx, sql)
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		return r, nil
	}
	step := func(name, table, sql string, r AthenaRun) AthenaStep {
		return AthenaStep{Name: name, Table: table, QueryID: r.QueryID, Seconds: float64(r.TotalMillis) / 1000,
			ScannedBytes: r.DataScannedBytes, USD: runner.AthenaQueryUSD(r.DataScannedBytes), SQL: sql}
	}
	for _, c := range []struct{ name, table, sql string }{
		{"CTAS gz CSV → Parquet", pqTable, fmt.Sprintf("CREATE TABLE %s WITH (format='PARQUET', external_location='%s/parquet/', parquet_compression='SNAPPY') AS SELECT %s FROM %s%s",
			q(pqTable), loc, list, q(s.RawTable), where)},
		{"CTAS Parquet → bucketed by state (60)", bkTable, fmt.Sprintf("CREATE TABLE %s WITH (format='PARQUET', external_location='%s/bucketed/', parquet_compression='SNAPPY', bucketed_by=ARRAY['state'], bucket_count=60) AS SELECT %s FROM %s",
			q(bkTable), loc, list, q(pqTable))},
	} {
		r, err := run(c.name, c.table, c.sql)
		if err != nil {
			return out, err
		}
		out.CTAS = append(out.CTAS, step(c.name, c.table, c.sql, r))
	}

	var sums []string
	for _, c := range cols {
		sums = append(sums, "checksum("+c+")")
	}
	sel := "count(*), " + strings.Join(sums, ", ")
	type got struct {
		table string
		row   []string
	}
	var rows []got
	for _, t := range []struct{ name, table, where string }{
		{"checksums of tierflow's table", s.Tier2Table, where},
		{"checksums of the Parquet CTAS", pqTable, ""},
		{"checksums of the bucketed CTAS", bkTable, ""},
	} {
		sql := fmt.Sprintf("SELECT %s FROM %s%s", sel, q(t.table), t.where)
		r, err := run(t.name, t.table, sql)
		if err != nil {
			return out, err
		}
		out.Checksums = append(out.Checksums, step(t.name, t.table, sql, r))
		if len(r.Rows) != 1 || len(r.Rows[0]) != 1+len(cols) {
			return out, fmt.Errorf("%s: want 1 row of %d values, got %d rows", t.name, 1+len(cols), len(r.Rows))
		}
		rows = append(rows, got{t.table, r.Rows[0]})
	}
	if _, err := fmt.Sscan(rows[0].row[0], &out.Rows); err != nil {
		return out, fmt.Errorf("row count %q: %w", rows[0].row[0], err)
	}
	var diffs []string
	for _, g := range rows[1:] {
		if g.row[0] != rows[0].row[0] {
			diffs = append(diffs, fmt.Sprintf("%s has %s rows, %s %s", g.table, g.row[0], s.Tier2Table, rows[0].row[0]))
		}
		for i, c := range s.Columns {
			if g.row[i+1] != rows[0].row[i+1] {
				diffs = append(diffs, fmt.Sprintf("column %s differs between %s and %s", c, g.table, s.Tier2Table))
			}
		}
	}
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("… %d more", len(diffs)-10))
		}
		return out, fmt.Errorf("tierflow's table and Athena's CTAS output differ: %s", strings.Join(diffs, "; "))
	}
	out.Equal = true
	return out, nil
}

// quoteIdent quotes a Trino identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
