package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/runner/openlineage/oltest"
)

// syncBuffer collects log lines written from many goroutines.
type syncBuffer = oltest.LogBuffer

// sample is what the generated month holds, read with encoding/csv,
// independently of the converter.
type sample struct {
	header  []string
	records [][]string
	pii     map[string]bool // every value (≥ 4 bytes) of every PII-class column
	public  map[string]bool // every value of every non-PII column
	caRows  int64
	caFirst []string // first names of CA rows
}

func readSample(t *testing.T, st storage.Storage, spec *jobs.Spec) *sample {
	t.Helper()
	ctx := context.Background()
	s := &sample{pii: map[string]bool{}, public: map[string]bool{}}
	err := st.List(ctx, spec.IntakePrefix(testMonth), func(o storage.Object) error {
		rc, err := st.Open(ctx, o.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		zr, err := gzip.NewReader(rc)
		if err != nil {
			return err
		}
		r := csv.NewReader(zr)
		r.FieldsPerRecord = -1
		header, err := r.Read()
		if err != nil {
			return err
		}
		s.header = header
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", o.Key, err)
			}
			s.records = append(s.records, rec)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	class := make([]string, len(s.header))
	for i, h := range s.header {
		c, _, ok := spec.Column(jobs.NormalizeName(h))
		if !ok {
			t.Fatalf("header field %q is no schema column", h)
		}
		class[i] = c.PII
	}
	stateAt := slices.Index(s.header, "State")
	firstAt := slices.Index(s.header, "FirstName")
	for _, rec := range s.records {
		for i, v := range rec {
			if i >= len(class) {
				continue // the extra field of a bad row ("EXTRA")
			}
			switch {
			case class[i] == "":
				s.public[v] = true
			case len(v) >= 4:
				s.pii[v] = true
			}
		}
		if len(rec) == len(s.header) && rec[stateAt] == "CA" {
			s.caRows++
			s.caFirst = append(s.caFirst, rec[firstAt])
		}
	}
	return s
}

// needles are the PII values a scan looks for, grouped by length so that
// a text is scanned once per length with map lookups.
type needles struct {
	byLen map[int]map[string]bool
}

func newNeedles(values map[string]bool, keep func(string) bool) needles {
	n := needles{byLen: map[int]map[string]bool{}}
	for v := range values {
		if !keep(v) {
			continue
		}
		if n.byLen[len(v)] == nil {
			n.byLen[len(v)] = map[string]bool{}
		}
		n.byLen[len(v)][v] = true
	}
	return n
}

func (n needles) count() int {
	c := 0
	for _, m := range n.byLen {
		c += len(m)
	}
	return c
}

var (
	hexDigits = regexp.MustCompile(`^[0-9a-f]+$`)
	decDigits = regexp.MustCompile(`^-?[0-9][0-9.]*$`) // an integer or a decimal
)

func isDecByte(c byte) bool { return '0' <= c && c <= '9' }

// find returns the needles found in text. A needle made only of hex
// digits that lies inside a run of ≥ 32 hex digits (an HMAC token, a
// SHA-256, a run id), or a number (an ID, a coordinate) that runs on into
// more digits (a byte count, a rate such as 41.104371 holding the latitude
// 41.1043, a float such as 4.1000000001 holding the ID 100000000), is a
// coincidence, not a leak: a leaked value stands as a token of its own. It
// is counted in *chance instead.
func (n needles) find(text string, chance *int) []string {
	var found []string
	for l, set := range n.byLen {
		for i := 0; i+l <= len(text); i++ {
			v := text[i : i+l]
			if !set[v] {
				continue
			}
			if hexDigits.MatchString(v) && hexRun(text, i, i+l) >= 32 ||
				decDigits.MatchString(v) && (i > 0 && isDecByte(text[i-1]) || i+l < len(text) && isDecByte(text[i+l])) {
				*chance++
				continue
			}
			found = append(found, v)
		}
	}
	return found
}

func isHexByte(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// hexRun is the length of the run of hex digits around text[i:j].
func hexRun(text string, i, j int) int {
	for i > 0 && isHexByte(text[i-1]) {
		i--
	}
	for j < len(text) && isHexByte(text[j]) {
		j++
	}
	return j - i
}

// shortNumber matches the values that logs and metadata cannot tell from
// their own counts, sizes and offsets: up to 8 digits (house numbers, zip
// codes, census tracts). IDs and phone numbers are longer.
var shortNumber = regexp.MustCompile(`^[0-9]{1,8}$`)

// TestPIINeverLeaves runs the shipped job over a generated month with bad
// rows and checks that no PII value of the sample appears in the non-PII
// derived table, in the rejects files, in any other run metadata or in a
// log line.
func TestPIINeverLeaves(t *testing.T) {
	ctx := context.Background()
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		t.Fatal(err)
	}
	di := slices.IndexFunc(spec.Derived, func(d jobs.Derived) bool { return d.Table == "consumer_ca_deid" })
	if di < 0 || spec.Derived[di].PII {
		t.Fatalf("the shipped job has no non-PII consumer_ca_deid: %+v", spec.Derived)
	}
	// The policy under test, spelled out here so that the test does not
	// silently follow changes to the shipped job.
	spec.PII = jobs.PIIPolicy{Set: true, Actions: map[string]string{
		jobs.PIIName: jobs.PIIHMAC, jobs.PIIEmail: jobs.PIIMask, jobs.PIIPhone: jobs.PIIDrop,
	}} // every other class: drop
	spec.Rejects.MaxFraction = 0.01

	logs := &syncBuffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	dir := t.TempDir()
	env, err := OpenEnv(ctx, spec, "file://"+dir, log)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	env.newEngine = func(ctx context.Context) (engine.Engine, error) { // the engine's debug lines too
		return duckdb.New(ctx, env.Catalog, env.Storage, duckdb.Options{Log: log})
	}
	const rows = 6000
	if _, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: rows, Parts: 3, Seed: 11, Month: testMonth, BadRowFraction: 0.003}); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Run.Status != lineage.StatusComplete || res.Run.RowsRejected == 0 {
		t.Fatalf("run %s with %d rejected rows; the test needs a complete run with rejects", res.Run.Status, res.Run.RowsRejected)
	}

	s := readSample(t, env.Storage, spec)
	sc, ambiguous := newPIIScan(spec, s)

	// 1. The non-PII table: its files' bytes, and every value of every
	// column, read by DuckDB.
	dp, err := env.Catalog.GetPartition(ctx, spec.Database, "consumer_ca_deid", []string{testMonth})
	if err != nil {
		t.Fatal(err)
	}
	parquetFiles := sc.deidFiles(t, dp)
	values := sc.deidValues(t, dp, s, filepath.Join(dir, "_tierflow", "keys", spec.Name+".hmac.key"))

	// 2. The rejects files: field by field.
	var rejectFiles, metaFiles []string
	filepath.WalkDir(filepath.Join(dir, "_tierflow", "runs"), func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil || d.IsDir():
		case strings.HasSuffix(p, ".rejects.csv"):
			rejectFiles = append(rejectFiles, p)
		default:
			metaFiles = append(metaFiles, p)
		}
		return err
	})
	rejects, positional := sc.rejects(t, spec, s, rejectFiles)
	if len(rejectFiles) == 0 || int64(rejects) != res.Run.RowsRejected {
		t.Errorf("%d rejects files with %d rows; the run rejected %d", len(rejectFiles), rejects, res.Run.RowsRejected)
	}

	// 3. Everything else the run wrote as metadata, the catalog and the
	// OpenLineage events.
	metaFiles = append(metaFiles, filepath.Join(dir, "_tierflow", "catalog.json"))
	events, _ := filepath.Glob(filepath.Join(dir, "_tierflow", "openlineage", "*.json"))
	if len(events) == 0 {
		t.Error("the run wrote no OpenLineage events to check")
	}
	metaFiles = append(metaFiles, events...)
	for _, p := range metaFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sc.find(p, string(b), sc.long)
	}

	// 4. Every log line, the runner's, the converter's and the engine's.
	text := logs.String()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("log line %d is not JSON: %s", i+1, l)
		}
		sc.find(fmt.Sprintf("log line %d", i+1), l, sc.long)
	}
	for _, want := range []string{`"level":"debug"`, "PII policy applied", "generated a new HMAC key", "part converted"} {
		if !strings.Contains(text, want) {
			t.Errorf("the log lacks %q; is it captured?", want)
		}
	}

	t.Logf("sample: %d records, %d PII values (≥ 4 bytes): %d checked (%d not in logs/metadata: short numbers), %d also non-PII values, not checked",
		len(s.records), len(s.pii), sc.all.count(), sc.all.count()-sc.long.count(), ambiguous)
	t.Logf("scanned: %d parquet files (%d distinct values), %d rejects files (%d rejects, %d PII fields checked by position), %d metadata files, %d log lines; %d chance matches inside hex or digit runs",
		parquetFiles, values, len(rejectFiles), rejects, positional, len(metaFiles), len(lines), sc.chance)
	if len(sc.leaks) > 0 {
		t.Errorf("%d PII values leaked:\n%s", len(sc.leaks), strings.Join(sc.leaks[:min(len(sc.leaks), 40)], "\n"))
	}
	if sc.all.count() < 1000 || positional == 0 || values == 0 {
		t.Errorf("the check checked too little: %d values, %d positional, %d table values", sc.all.count(), positional, values)
	}
}

// piiScan looks for a sample's PII values in what a run wrote and keeps
// the leaks it finds.
type piiScan struct {
	// all holds every PII value checked; long leaves out the short numbers
	// (see shortNumber): they are not looked for in logs, metadata and
	// compressed bytes, but they are in table values and reject fields.
	all, long needles
	chance    int // needles found inside hex or digit runs: not leaks
	leaks     []string
}

// newPIIScan looks for the sample's PII values, but for one that is also
// the value of a non-PII column (a city named like a county, ...), which
// may legitimately appear, or one the spec's own text holds (a schema
// comment's example); it returns how many it leaves out so.
func newPIIScan(spec *jobs.Spec, s *sample) (*piiScan, int) {
	var specText strings.Builder
	for _, c := range spec.Schema.Columns {
		fmt.Fprintln(&specText, c.Name, c.Source, c.Comment)
	}
	checked := map[string]bool{}
	ambiguous := 0
	for v := range s.pii {
		if s.public[v] || strings.Contains(specText.String(), v) {
			ambiguous++
			continue
		}
		checked[v] = true
	}
	return &piiScan{
		all:  newNeedles(checked, func(string) bool { return true }),
		long: newNeedles(checked, func(v string) bool { return !shortNumber.MatchString(v) }),
	}, ambiguous
}

// find records the needles of n found in text as leaks from where.
func (sc *piiScan) find(where, text string, n needles) {
	for _, v := range n.find(text, &sc.chance) {
		sc.leaks = append(sc.leaks, fmt.Sprintf("%s: %q", where, v))
	}
}

// deidFiles looks in the bytes of the non-PII partition's files and
// returns how many there are: each must be a rewritten file.
func (sc *piiScan) deidFiles(t *testing.T, dp catalog.Partition) int {
	t.Helper()
	loc := strings.TrimPrefix(dp.StorageDescriptor.Location, "file://")
	var parquetFiles []string
	filepath.WalkDir(loc, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			parquetFiles = append(parquetFiles, p)
		}
		return err
	})
	if len(parquetFiles) == 0 {
		t.Fatalf("no files under %s", loc)
	}
	for _, p := range parquetFiles {
		if !strings.HasSuffix(p, ".pii.parquet") {
			t.Errorf("%s is not a rewritten file", p)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// The footer (schema, statistics) is not compressed: every value is
		// looked for; the compressed rest only for the long ones.
		if len(raw) < 8 || string(raw[len(raw)-4:]) != "PAR1" {
			t.Fatalf("%s is not a Parquet file", p)
		}
		footer := int(raw[len(raw)-8]) | int(raw[len(raw)-7])<<8 | int(raw[len(raw)-6])<<16 | int(raw[len(raw)-5])<<24
		sc.find(p+" (footer)", string(raw[len(raw)-8-footer:]), sc.all)
		sc.find(p+" (bytes)", string(raw), sc.long)
	}
	return len(parquetFiles)
}

// deidValues reads every value of the non-PII partition with DuckDB: the
// names are HMAC tokens under the generated key (keyFile), the email the
// mask, the rest gone; it returns how many distinct values it read.
func (sc *piiScan) deidValues(t *testing.T, dp catalog.Partition, s *sample, keyFile string) int {
	t.Helper()
	loc := strings.TrimPrefix(dp.StorageDescriptor.Location, "file://")
	db := duck(t)
	var cols []string
	for _, c := range dp.StorageDescriptor.Columns {
		cols = append(cols, c.Name+":"+c.Type+":"+c.Parameters["tierflow.pii_policy"])
	}
	if got := strings.Join(cols, " "); got != "firstname:string:hmac lastname:string:hmac email:string:mask state:string:" {
		t.Errorf("catalog columns of consumer_ca_deid: %s", got)
	}
	from := fmt.Sprintf("read_parquet('%s**/*.parquet', hive_partitioning = false)", loc)
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM " + from).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != s.caRows {
		t.Errorf("consumer_ca_deid has %d rows, the CSV %d CA rows", n, s.caRows)
	}
	rs, err := db.Query("SELECT column_name FROM (DESCRIBE SELECT * FROM " + from + ")")
	if err != nil {
		t.Fatal(err)
	}
	var fileCols []string
	for rs.Next() {
		var c string
		rs.Scan(&c)
		fileCols = append(fileCols, c)
	}
	rs.Close()
	if strings.Join(fileCols, ",") != "firstname,lastname,email,state" {
		t.Errorf("columns in the files: %v (homephone and zipcode must be gone)", fileCols)
	}
	values := 0
	for _, c := range fileCols {
		rs, err := db.Query(fmt.Sprintf(`SELECT DISTINCT CAST("%s" AS VARCHAR) FROM %s WHERE "%s" IS NOT NULL`, c, from, c))
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var v string
			if err := rs.Scan(&v); err != nil {
				t.Fatal(err)
			}
			values++
			sc.find("consumer_ca_deid."+c, v, sc.all)
			switch c {
			case "firstname", "lastname":
				if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(v) {
					t.Errorf("%s holds %q, not a token", c, v)
				}
			case "email":
				if v != "****" {
					t.Errorf("email holds %q, not the mask", v)
				}
			}
		}
		rs.Close()
	}
	// The tokens are HMACs of the real names under the generated key: a
	// holder of the key can still join on them.
	if keyHex, err := os.ReadFile(keyFile); err != nil {
		t.Errorf("generated key: %v", err)
	} else {
		key, _ := hex.DecodeString(strings.TrimSpace(string(keyHex)))
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s.caFirst[0]))
		var hits int
		if err := db.QueryRow("SELECT count(*) FROM "+from+" WHERE firstname = ?", hex.EncodeToString(m.Sum(nil))[:32]).Scan(&hits); err != nil || hits == 0 {
			t.Errorf("no row has the token of CA first name #0 (%d, %v)", hits, err)
		}
	}
	return values
}

// rejects looks in the rejects files field by field: a raw record's PII
// fields (by position) must be redacted to "<class>", its other fields,
// the part, column and reason must hold no PII value. It returns the
// rejects read and the PII fields checked by position.
func (sc *piiScan) rejects(t *testing.T, spec *jobs.Spec, s *sample, files []string) (rejects, positional int) {
	t.Helper()
	schemaClass := make([]string, len(s.header))
	for i, h := range s.header {
		c, _, _ := spec.Column(jobs.NormalizeName(h))
		schemaClass[i] = c.PII
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i, r := range recs {
			where := fmt.Sprintf("%s:%d", filepath.Base(p), i+1)
			if len(r) != 6 {
				t.Fatalf("%s: %d fields", where, len(r))
			}
			if i == 0 {
				continue // header
			}
			rejects++
			if !regexp.MustCompile(`^[0-9]+$`).MatchString(r[1] + r[2]) {
				t.Errorf("%s: line %q / offset %q are not numbers", where, r[1], r[2])
			}
			sc.find(where+" part/column/reason", r[0]+"\n"+r[3]+"\n"+r[4], sc.all)
			raw := r[5]
			if strings.HasPrefix(raw, "<redacted: ") {
				continue
			}
			raw, truncated := strings.CutSuffix(raw, "…(truncated)")
			cr := csv.NewReader(strings.NewReader(raw))
			cr.FieldsPerRecord, cr.LazyQuotes = -1, true
			fields, err := cr.Read()
			if err != nil {
				t.Errorf("%s: raw does not parse: %v", where, err)
				continue
			}
			if !truncated && len(fields) != len(s.header) {
				t.Errorf("%s: raw has %d fields, header %d", where, len(fields), len(s.header))
			}
			for k, v := range fields {
				if k >= len(schemaClass) || truncated && k == len(fields)-1 {
					continue
				}
				if c := schemaClass[k]; c != "" {
					positional++
					if v != "<"+c+">" {
						sc.leaks = append(sc.leaks, fmt.Sprintf("%s raw field %d (%s): %q", where, k+1, s.header[k], v))
					}
					continue
				}
				if s.public[v] {
					continue // a non-PII value of the sample, shown on purpose
				}
				sc.find(fmt.Sprintf("%s raw field %d", where, k+1), v, sc.all)
			}
		}
	}
	return rejects, positional
}

// TestHeaderlessPartLeaksNothing: a part delivered without its header line
// starts with a data record. The run must fail, and neither its error, the
// recorded run nor the log may quote that record's PII fields as "header
// names".
func TestHeaderlessPartLeaksNothing(t *testing.T) {
	ctx := context.Background()
	spec, err := jobs.Shipped(DemoJob)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	dir := t.TempDir()
	env, err := OpenEnv(ctx, spec, "file://"+dir, zerolog.New(logs).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	objs, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: 300, Parts: 1, Seed: 5, Month: testMonth})
	if err != nil {
		t.Fatal(err)
	}
	s := readSample(t, env.Storage, spec)
	// Drop the header line of the only part.
	part := readAll(t, env.Storage, objs[0].Key)
	zr, err := gzip.NewReader(bytes.NewReader(part))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := bytes.Cut(plain, []byte("\n"))
	var gzBody bytes.Buffer
	zw := gzip.NewWriter(&gzBody)
	zw.Write(body)
	zw.Close()
	if err := storage.Put(ctx, env.Storage, objs[0].Key, &gzBody, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	res, runErr := Run(ctx, env, spec, Options{Month: testMonth})
	if !errors.Is(runErr, container.ErrHeaderMismatch) {
		t.Fatalf("a headerless part gave %v", runErr)
	}
	var recorded string
	if res != nil {
		recorded = res.Run.Error
	}
	first := map[string]bool{} // the record that stood in for the header
	for _, v := range s.records[0] {
		if len(v) >= 4 && s.pii[v] && !s.public[v] {
			first[v] = true
		}
	}
	n := newNeedles(first, func(v string) bool { return !shortNumber.MatchString(v) })
	if n.count() == 0 {
		t.Fatal("the first record has no PII value to look for")
	}
	chance := 0
	// Text: no message or log may quote the PII.
	for what, text := range map[string]string{"error": runErr.Error(), "recorded run error": recorded, "log": logs.String()} {
		if found := n.find(text, &chance); len(found) > 0 {
			t.Errorf("%s quotes PII of the first record %q:\n%s", what, found, text)
		}
	}
}
