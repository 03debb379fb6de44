package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/bench/scan"
	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/runner"
)

// CaseStudyRows is the row count of the seed case study's month.
const CaseStudyRows = 309_062_253

// Layout keys of the queries section.
const (
	LayoutCSV      = "csv"
	LayoutParquet  = "parquet"
	LayoutBucketed = "bucketed"
)

// QueryResults is the queries section: the case study's three queries over
// three layouts of the same month.
type QueryResults struct {
	Rows           int64        `json:"rows"`
	Parts          int          `json:"parts"`
	Layouts        []LayoutInfo `json:"layouts"`
	Queries        []QueryDef   `json:"queries"`
	Cells          []Cell       `json:"cells"`
	ScaleRows      int64        `json:"scale_rows"` // the case study's rows
	Scale          float64      `json:"scale"`      // ScaleRows / Rows
	CARows         int64        `json:"ca_rows"`
	DuckDBThreads  int          `json:"duckdb_threads"`
	DuckDBMemLimit string       `json:"duckdb_memory_limit"`
	Notes          []string     `json:"notes"`
}

// LayoutInfo describes one layout of the month.
type LayoutInfo struct {
	Key          string  `json:"key"`
	Name         string  `json:"name"`
	How          string  `json:"how"`
	Files        int     `json:"files"`
	Bytes        int64   `json:"bytes"`
	BuildSeconds float64 `json:"build_seconds,omitempty"`

	paths []string
	from  string // DuckDB table expression
	scan  *scan.Layout
}

// QueryDef is one of the case study's queries, with what it reads.
type QueryDef struct {
	Key     string   `json:"key"`
	SQL     string   `json:"sql"`
	Columns []string `json:"columns"`
	CA      bool     `json:"where_state_ca"`
	Count   bool     `json:"count"` // the result is a count, not rows
}

// Cell is one query on one layout.
type Cell struct {
	Layout      string    `json:"layout"`
	Query       string    `json:"query"`
	WallSeconds float64   `json:"wall_seconds"` // median, DuckDB, query + fetching every row
	Walls       []float64 `json:"walls"`
	// Result is the count for count queries, the rows returned otherwise;
	// Checksum is an order-independent hash of the returned rows. Both
	// must agree across layouts.
	Result   int64        `json:"result"`
	Checksum string       `json:"checksum"`
	Scanned  int64        `json:"scanned_bytes"` // as Athena bills it
	Scan     *scan.Result `json:"scan,omitempty"`
	USD      float64      `json:"usd"`
	// ScannedPages is Scanned for a reader that skips pages with the page
	// index (scan.Result.PageBytes; gz CSV: the whole objects).
	ScannedPages int64 `json:"scanned_bytes_page_index"`
	// Projected* scale Scanned linearly to the case study's rows.
	ProjectedScanned      int64       `json:"projected_scanned_bytes"`
	ProjectedScannedPages int64       `json:"projected_scanned_bytes_page_index"`
	ProjectedUSD          float64     `json:"projected_usd"`
	CaseStudy             *CaseFigure `json:"case_study,omitempty"`
}

// CaseFigure is a figure printed in the seed case study (309,062,253 rows,
// Athena): seconds, data scanned as printed (GB and MB of the Athena
// console, 2^30 and 2^20 bytes), cost as printed (0 = not printed).
type CaseFigure struct {
	Seconds      float64 `json:"seconds"`
	Scanned      string  `json:"scanned"`
	ScannedBytes int64   `json:"scanned_bytes"`
	USD          float64 `json:"usd,omitempty"`
	Results      int64   `json:"results,omitempty"`
	Note         string  `json:"note,omitempty"`
}

// caseQueries are the case study's queries, verbatim but for the table name.
var caseQueries = []QueryDef{
	{Key: "count", SQL: "SELECT count(addressid) FROM t", Columns: []string{"addressid"}, Count: true},
	{Key: "count-ca", SQL: "SELECT count(addressid) FROM t WHERE state='CA'", Columns: []string{"addressid", "state"}, CA: true, Count: true},
	{Key: "8cols-ca", SQL: "SELECT firstname, lastname, housenumber, predirection, streetname, streetsuffix, state, zipcode FROM t WHERE state='CA'",
		Columns: []string{"firstname", "lastname", "housenumber", "predirection", "streetname", "streetsuffix", "state", "zipcode"}, CA: true},
}

// caseFigures are the case study's figures by layout and query.
var caseFigures = map[string]map[string]CaseFigure{
	LayoutCSV: {
		"count":    {Seconds: 309, Scanned: "30.85 GB", ScannedBytes: gib(30.85), USD: 0.15, Results: CaseStudyRows, Note: "count(HouseholdID); every CSV query reads the whole files"},
		"8cols-ca": {Seconds: 337.36, Scanned: "30.85 GB", ScannedBytes: gib(30.85), USD: 0.15063, Results: 7_178_997},
	},
	LayoutParquet: {
		"count":    {Seconds: 4.67, Scanned: "771.12 MB", ScannedBytes: mib(771.12), USD: 0.008, Results: CaseStudyRows, Note: "the study prints $0.008; 771.12 MB at $5/TB is $0.00368"},
		"count-ca": {Seconds: 12.55, Scanned: "501.53 MB", ScannedBytes: mib(501.53), Results: 7_178_997},
		"8cols-ca": {Seconds: 28.32, Scanned: "1.75 GB", ScannedBytes: gib(1.75), USD: 0.00854, Results: 7_178_997},
	},
	LayoutBucketed: {
		"count-ca": {Seconds: 6.18, Scanned: "49.5 MB", ScannedBytes: mib(49.5), Results: 7_178_997},
		"8cols-ca": {Seconds: 25.28, Scanned: "0.18 GB", ScannedBytes: gib(0.18), USD: 0.00088, Results: 7_178_997},
	},
}

func gib(x float64) int64 { return int64(x * (1 << 30)) }
func mib(x float64) int64 { return int64(x * (1 << 20)) }

// querySection builds the three layouts, runs the queries on each with
// DuckDB and computes Athena's bytes scanned.
func (b *bencher) querySection(ctx context.Context) error {
	month, err := b.ensureIntake(ctx, b.opts.Parts)
	if err != nil {
		return err
	}
	b.month = month
	qr := &QueryResults{Rows: month.Rows, Parts: month.Parts, ScaleRows: CaseStudyRows, Scale: float64(CaseStudyRows) / float64(month.Rows)}
	qr.Queries = append(qr.Queries, caseQueries...)

	db, err := duckdb.OpenMemory()
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // views and settings live in the session
	if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", runtime.NumCPU())); err != nil {
		return err
	}
	qr.DuckDBThreads = runtime.NumCPU()
	if err := db.QueryRowContext(ctx, "SELECT current_setting('memory_limit')").Scan(&qr.DuckDBMemLimit); err != nil {
		return err
	}

	layouts, err := b.buildLayouts(ctx, db, month)
	if err != nil {
		return err
	}
	for _, l := range layouts {
		qr.Layouts = append(qr.Layouts, *l)
	}

	cells := map[[2]string]*Cell{}
	for r := 0; r < b.opts.Runs; r++ {
		for _, l := range layouts {
			if _, err := db.ExecContext(ctx, "CREATE OR REPLACE VIEW t AS SELECT * FROM "+l.from); err != nil {
				return fmt.Errorf("layout %s: view: %w", l.Key, err)
			}
			for _, q := range caseQueries {
				wall, sum, err := timeQuery(ctx, db, q)
				if err != nil {
					return fmt.Errorf("layout %s, query %s: %w", l.Key, q.Key, err)
				}
				b.log.Info().Str("layout", l.Key).Str("query", q.Key).Int("run", r+1).Float64("wall_s", wall.Seconds()).Int64("result", sum.rows).Msg("query")
				k := [2]string{l.Key, q.Key}
				c := cells[k]
				if c == nil {
					c = &Cell{Layout: l.Key, Query: q.Key}
					cells[k] = c
				}
				c.Walls = append(c.Walls, secs(wall))
				res, chk := sum.rows, fmt.Sprintf("%016x", sum.sum)
				if r > 0 && (res != c.Result || chk != c.Checksum) {
					return fmt.Errorf("layout %s, query %s: run %d returned %d/%s, run 1 %d/%s", l.Key, q.Key, r+1, res, chk, c.Result, c.Checksum)
				}
				c.Result, c.Checksum = res, chk
			}
		}
	}
	for _, l := range layouts {
		for _, q := range caseQueries {
			c := cells[[2]string{l.Key, q.Key}]
			var ds []time.Duration
			for _, w := range c.Walls {
				ds = append(ds, time.Duration(w*float64(time.Second)))
			}
			c.WallSeconds = secs(medianDur(ds))
			if err := scanned(c, l, q, month); err != nil {
				return fmt.Errorf("layout %s, query %s: %w", l.Key, q.Key, err)
			}
			c.USD = runner.AthenaQueryUSD(c.Scanned)
			c.ProjectedScanned = int64(float64(c.Scanned) * qr.Scale)
			c.ProjectedScannedPages = int64(float64(c.ScannedPages) * qr.Scale)
			c.ProjectedUSD = runner.AthenaQueryUSD(c.ProjectedScanned)
			if f, ok := caseFigures[l.Key][q.Key]; ok {
				c.CaseStudy = &f
			}
			qr.Cells = append(qr.Cells, *c)
		}
	}
	if err := checkAgreement(qr.Cells); err != nil {
		return err
	}
	for _, c := range qr.Cells {
		if c.Query == "count-ca" {
			qr.CARows = c.Result
		}
	}
	qr.Notes = []string{
		"time: DuckDB on this machine, median of the runs, query plus fetching every result row; DuckDB reads every file of the bucketed layout (it does not prune Hive buckets) but skips row groups by min/max",
		"scanned: as Athena bills it — gz CSV: the whole objects; Parquet: compressed column chunks of the referenced columns in the files bucket pruning keeps and the row groups min/max statistics keep",
		"page index: the same, reading only the pages whose column-index min/max admit 'CA' and the pages of the other referenced columns holding their rows (offset index first_row_index), plus their dictionary pages",
		fmt.Sprintf("cost: $%g per TB (2^40 bytes), rounded up to the MB, %d MB minimum per query", runner.AthenaUSDPerTB, runner.AthenaMinBytesPerQuery>>20),
		fmt.Sprintf("projection: scanned bytes × %d / %d rows (linear), NOT a measurement; GB = 2^30 bytes as in the case study", CaseStudyRows, month.Rows),
	}
	b.res.Queries = qr
	printQueries(b.w, qr)
	return nil
}

// scanned fills c.Scanned (and c.Scan) for query q on layout l.
func scanned(c *Cell, l *LayoutInfo, q QueryDef, month *intake) error {
	if l.scan == nil {
		c.Scanned, c.ScannedPages = month.GzBytes, month.GzBytes
		return nil
	}
	sq := scan.Query{Columns: q.Columns}
	if q.CA {
		sq.Where = []scan.Eq{{Column: "state", Value: "CA"}}
	}
	r, err := scan.Scanned(*l.scan, sq)
	if err != nil {
		return err
	}
	c.Scanned, c.ScannedPages, c.Scan = r.Bytes, r.PageBytes, &r
	return nil
}

// timeQuery runs q, fetches every row and checksums them.
func timeQuery(ctx context.Context, db *sql.DB, q QueryDef) (time.Duration, rowSum, error) {
	var sum rowSum
	t0 := time.Now()
	rows, err := db.QueryContext(ctx, q.SQL)
	if err != nil {
		return 0, sum, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, sum, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	text := make([]string, len(cols))
	null := make([]bool, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, sum, err
		}
		for i, v := range vals {
			text[i], null[i] = v.String, !v.Valid
		}
		sum.add(text, null)
	}
	if err := rows.Err(); err != nil {
		return 0, sum, err
	}
	wall := time.Since(t0)
	if q.Count {
		// The result of a count is its value, as the case study reports it.
		var n int64
		if _, err := fmt.Sscan(text[0], &n); err != nil {
			return 0, sum, fmt.Errorf("count result %q: %w", text[0], err)
		}
		sum.rows = n
	}
	return wall, sum, nil
}

// checkAgreement fails unless every layout returned the same result and
// checksum for each query: a layout that loses or alters rows makes every
// other figure meaningless.
func checkAgreement(cells []Cell) error {
	byQuery := map[string][]Cell{}
	var order []string
	for _, c := range cells {
		if _, ok := byQuery[c.Query]; !ok {
			order = append(order, c.Query)
		}
		byQuery[c.Query] = append(byQuery[c.Query], c)
	}
	var bad []string
	for _, q := range order {
		cs := byQuery[q]
		for _, c := range cs[1:] {
			if c.Result != cs[0].Result || c.Checksum != cs[0].Checksum {
				var parts []string
				for _, x := range cs {
					parts = append(parts, fmt.Sprintf("%s: %d rows, checksum %s", x.Layout, x.Result, x.Checksum))
				}
				bad = append(bad, fmt.Sprintf("query %s returned different rows per layout (%s)", q, strings.Join(parts, "; ")))
				break
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("layouts disagree: %s", strings.Join(bad, "; "))
	}
	return nil
}

// buildLayouts returns the gz CSV, plain Parquet and bucketed Parquet
// layouts of month, building the Parquet ones if needed.
func (b *bencher) buildLayouts(ctx context.Context, db *sql.DB, month *intake) ([]*LayoutInfo, error) {
	csvFrom := csvSource(b.spec, month.paths())
	csv := &LayoutInfo{Key: LayoutCSV, Name: "gz CSV", How: fmt.Sprintf("the intake part(s) as generated (%d), read with the schema's types", len(month.Files)),
		Files: len(month.Files), Bytes: month.GzBytes, paths: month.paths(), from: csvFrom}

	// Plain Parquet: DuckDB's COPY of the CSV, in input order, like the
	// case study's Athena CTAS (no clustering by state).
	pqDir := filepath.Join(b.opts.Dir, "layouts", fmt.Sprintf("parquet-%dp", month.Parts))
	if err := os.RemoveAll(pqDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(pqDir, 0o755); err != nil {
		return nil, err
	}
	t0 := time.Now()
	pqFile := filepath.Join(pqDir, "data.parquet")
	if _, err := db.ExecContext(ctx, fmt.Sprintf("COPY (SELECT * FROM %s) TO %s (FORMAT parquet, COMPRESSION snappy)", csvFrom, sqlString(pqFile))); err != nil {
		return nil, fmt.Errorf("building the plain Parquet layout: %w", err)
	}
	plain, err := parquetLayout(LayoutParquet, "Parquet", "DuckDB COPY (SELECT * FROM read_csv(<parts>, schema types)) TO … (FORMAT parquet, COMPRESSION snappy): input order, DuckDB's default row groups, not bucketed",
		pqDir, nil)
	if err != nil {
		return nil, err
	}
	plain.BuildSeconds = time.Since(t0).Seconds()

	// Bucketed Parquet: tierflow's tier 2.
	bkDir := b.bucketedDir
	t0 = time.Now()
	if b.month.Parts != 1 || bkDir == "" || !dirHasParquet(bkDir) {
		bkDir = filepath.Join(b.opts.Dir, "layouts", fmt.Sprintf("bucketed-%dp", month.Parts))
		if err := convertAll(ctx, b.spec, month, bkDir, b.log); err != nil {
			return nil, fmt.Errorf("building the bucketed layout: %w", err)
		}
		bkDir = filepath.Join(bkDir, "data")
	}
	bucketed, err := parquetLayout(LayoutBucketed, fmt.Sprintf("Parquet bucketed by state (%d)", b.spec.Output.BucketCount),
		fmt.Sprintf("tierflow's converter (tier 2): Hive bucketing v1 on state, %d buckets, rows sorted by state, files BBBBBB_0_<part>.snappy.parquet", b.spec.Output.BucketCount),
		bkDir, &scan.Bucketing{Column: "state", Count: b.spec.Output.BucketCount})
	if err != nil {
		return nil, err
	}
	bucketed.BuildSeconds = time.Since(t0).Seconds()
	return []*LayoutInfo{csv, plain, bucketed}, nil
}

// parquetLayout lists the Parquet files of dir and reads their footers.
func parquetLayout(key, name, how, dir string, bk *scan.Bucketing) (*LayoutInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	l := &LayoutInfo{Key: key, Name: name, How: how}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".parquet") {
			continue
		}
		l.paths = append(l.paths, filepath.Join(dir, e.Name()))
	}
	if len(l.paths) == 0 {
		return nil, fmt.Errorf("no Parquet files in %s", dir)
	}
	sort.Strings(l.paths)
	files, err := scan.OpenAll(l.paths)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		l.Bytes += f.Size
	}
	l.Files = len(files)
	l.scan = &scan.Layout{Files: files, Bucketing: bk}
	var quoted []string
	for _, p := range l.paths {
		quoted = append(quoted, sqlString(p))
	}
	l.from = "read_parquet([" + strings.Join(quoted, ", ") + "])"
	return l, nil
}

func dirHasParquet(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".parquet") {
			return true
		}
	}
	return false
}

// convertAll converts every part of month in this process into out/data.
func convertAll(ctx context.Context, spec *jobs.Spec, month *intake, out string, log zerolog.Logger) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	dst, err := file.New(out)
	if err != nil {
		return err
	}
	defer dst.Close()
	for i, p := range month.Files {
		src, err := file.New(filepath.Dir(p.Path))
		if err != nil {
			return err
		}
		_, err = container.Convert(ctx, container.Options{Spec: spec, Part: fmt.Sprintf("part-%04d", i+1), Logger: log}, src, filepath.Base(p.Path), dst, "data", "meta")
		src.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// csvSource is the DuckDB table expression reading the gzip CSV parts the
// way the converter does: the schema's types, its NULL markers for
// non-string columns, string columns never NULL. DuckDB 1.5 does not apply
// force_not_null when the scan projects a subset of the columns (a query
// reading 8 of 406 gets NULL for empty strings, SELECT * the empty
// string), so the string columns are also coalesced to the empty string.
func csvSource(spec *jobs.Spec, paths []string) string {
	var files, cols, notNull, nulls, repl []string
	for _, p := range paths {
		files = append(files, sqlString(p))
	}
	for _, c := range spec.Schema.Columns {
		cols = append(cols, sqlString(c.Source)+": "+sqlString(duckType(c.Type)))
		if c.Type.Kind == jobs.String {
			notNull = append(notNull, sqlString(c.Source))
			repl = append(repl, fmt.Sprintf("coalesce(%s, '') AS %s", quoteIdent(c.Source), quoteIdent(c.Source)))
		}
	}
	markers := spec.Source.NullMarkers
	if len(markers) == 0 {
		markers = []string{""}
	}
	for _, m := range markers {
		nulls = append(nulls, sqlString(m))
	}
	delim := spec.Source.Delimiter
	if delim == 0 {
		delim = ','
	}
	scan := fmt.Sprintf("read_csv([%s], header=true, delim=%s, quote='\"', escape='\"', columns={%s}, nullstr=[%s], force_not_null=[%s])",
		strings.Join(files, ", "), sqlString(string(delim)), strings.Join(cols, ", "), strings.Join(nulls, ", "), strings.Join(notNull, ", "))
	if len(repl) == 0 {
		return scan
	}
	return fmt.Sprintf("(SELECT * REPLACE (%s) FROM %s)", strings.Join(repl, ", "), scan)
}
