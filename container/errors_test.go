package container

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const hdr = "ID,State,Name,Age,Score,Active,Born,Seen,AMOUNT,BIG,HUGE,Note\n"

func goodLine(id int) string {
	return strings.Join([]string{itoa(id), "CA", "Secret Name", "30", "1.5", "true", "1980-02-29", "2020-01-01 00:00:00", "1.25", "-3.5", "12345.6789", "ok"}, ",") + "\n"
}

func itoa(i int) string { return strconv.Itoa(i) }

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// readRejects parses the rejects sidecar.
func readRejects(t *testing.T, e *env) [][]string {
	t.Helper()
	b, err := os.ReadFile(e.dst.path("meta/part-0001.rejects.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "part,line,offset,column,reason,raw" {
		t.Fatalf("rejects header %q", recs[0])
	}
	return recs[1:]
}

func TestRejectsSidecar(t *testing.T) {
	lines := []string{
		goodLine(1),
		"2,CA,Secret Name,30\n", // wrong field count
		strings.Replace(goodLine(3), "30", "2147483648", 1),         // int overflow
		strings.Replace(goodLine(4), "1980-02-29", "1981-02-29", 1), // bad date
		strings.Replace(goodLine(5), "ok", "bad\xff\xfeutf8", 1),    // invalid UTF-8
		strings.Replace(goodLine(6), "1.25", "1.255", 1),            // more decimals than the scale
		strings.Replace(goodLine(7), "Secret Name", "Sec\"ret", 1),  // bare quote
		goodLine(8),
		strings.Replace(goodLine(9), "true", "maybe", 1),
		"\"Secret\nName\",x\n", // field count, spans two lines
		goodLine(0),
	}
	data := hdr + strings.Join(lines, "")
	e := newEnv(t)
	spec := testSpec()
	spec.Rejects.MaxFraction = 0.9
	m, err := e.convert(t, spec, gz([]byte(data), 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.RowsRead != 11 || m.RowsWritten != 3 || m.RowsRejected != 8 || m.RejectsCount != 8 || m.RowsNotProcessed != 0 {
		t.Fatalf("read %d written %d rejected %d", m.RowsRead, m.RowsWritten, m.RowsRejected)
	}
	rej := readRejects(t, e)
	type want struct {
		line, column, reason string
	}
	wants := []want{
		{"3", "", "wrong field count: 4, want 12"},
		{"4", "age", "int out of range"},
		{"5", "born", "invalid calendar date"},
		{"6", "note", "invalid UTF-8"},
		{"7", "amount", "more decimal places than the scale"},
		{"8", "", "bare quote in unquoted field"},
		{"10", "active", "not a boolean"},
		{"11", "", "wrong field count: 2, want 12"},
	}
	if len(rej) != len(wants) {
		t.Fatalf("rejects %q", rej)
	}
	for i, w := range wants {
		r := rej[i]
		if r[0] != "part-0001" || r[1] != w.line || r[3] != w.column || r[4] != w.reason {
			t.Errorf("reject %d = %q, want %+v", i, r, w)
		}
		off := strings.Index(data, strings.Join(strings.SplitAfter(data, "\n")[atoi(w.line)-1:atoi(w.line)], ""))
		if r[2] != strconv.Itoa(off) {
			t.Errorf("reject %d offset %s, want %d", i, r[2], off)
		}
		if strings.Contains(r[5], "Secret") || strings.Contains(r[5], "Sec") {
			t.Errorf("reject %d leaks PII: %q", i, r[5])
		}
	}
	if !strings.Contains(rej[1][5], "<name>") || !strings.Contains(rej[1][5], "2147483648") {
		t.Errorf("value reject raw should show non-PII fields and redact PII: %q", rej[1][5])
	}
}

func TestRejectThresholds(t *testing.T) {
	data := hdr + goodLine(1) + strings.Replace(goodLine(2), "30", "x", 1) + strings.Replace(goodLine(3), "30", "y", 1) + goodLine(4)
	t.Run("max_rows", func(t *testing.T) {
		e := newEnv(t)
		spec := testSpec()
		spec.Rejects.MaxRows = 1
		m, err := e.convert(t, spec, gz([]byte(data), 1), nil)
		var re *RejectsError
		// Text: Convert's message names the part (RejectsError has no part).
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "part-0001") || re.Rejected != 2 || re.Checked != 3 || re.Line != 3 || re.Column != "age" {
			t.Fatalf("err = %v, want 2 rejects of the first 3 rows, the first at line 3 in age", err)
		}
		if m.RowsRead != 4 || m.RowsRejected != 2 || m.RowsWritten != 0 || m.RowsNotProcessed != 2 {
			t.Fatalf("manifest read %d rejected %d written %d not processed %d", m.RowsRead, m.RowsRejected, m.RowsWritten, m.RowsNotProcessed)
		}
		if keys := e.dst.keys("data/"); len(keys) != 0 {
			t.Fatalf("data files left behind: %v", keys)
		}
		if m.Error == "" || len(readRejects(t, e)) != 2 {
			t.Fatalf("manifest error %q / rejects", m.Error)
		}
		// Text: the message must not quote the rejected values or PII.
		if strings.Contains(err.Error(), "x") && strings.Contains(err.Error(), "Secret") {
			t.Fatalf("error leaks values: %v", err)
		}
	})
	t.Run("max_fraction", func(t *testing.T) {
		e := newEnv(t)
		spec := testSpec()
		spec.Rejects.MaxFraction = 0.25
		_, err := e.convert(t, spec, gz([]byte(data), 1), nil)
		var re *RejectsError
		if !errors.As(err, &re) || re.Rejected != 2 || re.Checked != 4 || re.MaxFraction != 0.25 {
			t.Fatalf("err = %v, want 2 rejects of 4 rows over max_fraction 0.25", err)
		}
		if keys := e.dst.keys("data/"); len(keys) != 0 {
			t.Fatalf("data files left behind: %v", keys)
		}
	})
}

func TestHeaderMismatch(t *testing.T) {
	for _, c := range []struct {
		name, header string
		wants        []string
	}{
		{"missing", "ID,State,Name,Age,Score,Active,Born,Seen,AMOUNT,BIG,HUGE\n", []string{"missing: \"Note\""}},
		{"extra", "ID,State,Name,Age,Score,Active,Born,Seen,AMOUNT,BIG,HUGE,Note,Extra\n", []string{"extra: \"Extra\""}},
		{"renamed", "ID,Province,Name,Age,Score,Active,Born,Seen,AMOUNT,BIG,HUGE,Note\n", []string{"renamed: #2 \"State\" → \"Province\""}},
		{"moved", "State,ID,Name,Age,Score,Active,Born,Seen,AMOUNT,BIG,HUGE,Note\n", []string{"moved: \"ID\" #1 → #2", "\"State\" #2 → #1"}},
		// One column missing near the front: the rest is one shift, not
		// a line per column.
		{"shifted", "ID,Name,Age,Score,Active,Born,Seen,AMOUNT,BIG,HUGE,Note\n", []string{"missing: \"State\" (#2)", "moved: 10 columns shifted by -1 from #3 (\"Name\" … \"Note\")"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			m, err := e.convert(t, testSpec(), gz([]byte(c.header+goodLine(1)), 1), nil)
			if err == nil {
				t.Fatal("header mismatch accepted")
			}
			var pe *ParseError
			if !errors.Is(err, ErrHeaderMismatch) || !errors.As(err, &pe) || pe.Part != "part-0001" || pe.Line != 1 || pe.Offset != 0 {
				t.Fatalf("err = %v, want ErrHeaderMismatch at line 1, byte offset 0 of part-0001", err)
			}
			// Text: how the header differs only the message tells.
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if keys := e.dst.keys("data/"); len(keys) != 0 {
				t.Fatalf("data written despite header mismatch: %v", keys)
			}
			if m.Error == "" || m.RowsWritten != 0 {
				t.Fatalf("manifest %+v", m)
			}
			if _, err := os.Stat(e.dst.path("meta/part-0001.manifest.json")); err != nil {
				t.Fatal("no manifest written on failure")
			}
		})
	}
}

// TestMalformedHeader: a header record that does not parse fails the part
// with a ParseError at line 1, byte offset 0.
func TestMalformedHeader(t *testing.T) {
	e := newEnv(t)
	_, err := e.convert(t, testSpec(), gz([]byte(strings.Replace(hdr, "State", "St\"ate", 1)+goodLine(1)), 1), nil)
	var pe *ParseError
	if !errors.Is(err, ErrMalformedHeader) || !errors.As(err, &pe) || pe.Line != 1 || pe.Offset != 0 || pe.Input == "" {
		t.Fatalf("err = %v, want ErrMalformedHeader at line 1, byte offset 0 of the input", err)
	}
	if keys := e.dst.keys("data/"); len(keys) != 0 {
		t.Fatalf("data written despite a malformed header: %v", keys)
	}
}

func TestGzipFailures(t *testing.T) {
	csvData, _ := genCSV(5, 2000, false)
	good := gz(csvData, 1)
	t.Run("truncated", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.convert(t, testSpec(), good[:len(good)/2], func(o *Options) { o.chunkSize = 4096 })
		var pe *ParseError
		if !errors.Is(err, ErrTruncatedGzip) || !errors.As(err, &pe) || pe.Line != 0 || pe.Offset <= 0 || pe.Offset > int64(len(good)/2) {
			t.Fatalf("err = %v, want ErrTruncatedGzip at a compressed byte offset within the input", err)
		}
		if keys := e.dst.keys("data/"); len(keys) != 0 {
			t.Fatalf("data files left: %v", keys)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		bad := bytes.Clone(good)
		for i := len(bad) / 3; i < len(bad)/3+64; i++ {
			bad[i] ^= 0x5a
		}
		e := newEnv(t)
		_, err := e.convert(t, testSpec(), bad, func(o *Options) { o.chunkSize = 4096 })
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 0 || pe.Offset <= 0 || pe.Offset > int64(len(bad)) {
			t.Fatalf("err = %v, want a gzip error at a compressed byte offset within the input", err)
		}
		if keys := e.dst.keys("data/"); len(keys) != 0 {
			t.Fatalf("data files left: %v", keys)
		}
	})
	t.Run("not gzip", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.convert(t, testSpec(), csvData, nil)
		if !errors.Is(err, ErrNotGzip) {
			t.Fatalf("err = %v, want ErrNotGzip", err)
		}
	})
	t.Run("empty object", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.convert(t, testSpec(), nil, nil)
		if !errors.Is(err, ErrNotGzip) {
			t.Fatalf("err = %v, want ErrNotGzip", err)
		}
	})
}

// TestMultistreamBOMCRLF: concatenated gzip members, a UTF-8 BOM and CRLF
// line ends convert exactly like the plain input.
func TestMultistreamBOMCRLF(t *testing.T) {
	plain, _ := genCSV(7, 1500, false)
	crlf, _ := genCSV(7, 1500, true)
	e1 := newEnv(t)
	m1, err := e1.convert(t, testSpec(), gz(plain, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t)
	m2, err := e2.convert(t, testSpec(), gz(append([]byte("\xef\xbb\xbf"), crlf...), 5), func(o *Options) { o.chunkSize = 3000 })
	if err != nil {
		t.Fatal(err)
	}
	if m1.RowsWritten != 1500 || m2.RowsWritten != 1500 {
		t.Fatalf("rows %d / %d", m1.RowsWritten, m2.RowsWritten)
	}
	// Values differ only where a quoted field holds CRLF, so compare the
	// per-bucket row counts, which must agree exactly.
	for i := range m1.RowsPerBucket {
		if m1.RowsPerBucket[i] != m2.RowsPerBucket[i] {
			t.Fatalf("bucket %d: %d vs %d rows", i, m1.RowsPerBucket[i], m2.RowsPerBucket[i])
		}
	}
}

func TestHeaderOnlyPart(t *testing.T) {
	for _, empty := range []bool{false, true} {
		e := newEnv(t)
		spec := testSpec()
		spec.Output.EmptyBuckets = empty
		m, err := e.convert(t, spec, gz([]byte(hdr), 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.RowsRead != 0 || m.RowsWritten != 0 {
			t.Fatalf("rows %d", m.RowsRead)
		}
		keys := e.dst.keys("data/")
		if !empty && len(keys) != 0 {
			t.Fatalf("files for a header-only part: %v", keys)
		}
		if empty {
			if len(keys) != 60 {
				t.Fatalf("empty_buckets: %d files, want 60", len(keys))
			}
			db := openDuck(t)
			var n int
			if err := db.QueryRow("SELECT count(*) FROM read_parquet('" + e.dst.path("data/000059_0_part-0001.snappy.parquet") + "')").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 || keys[0] != "data/000000_0_part-0001.snappy.parquet" {
				t.Fatalf("zero-row file: %d rows, first key %s", n, keys[0])
			}
		}
	}
}

func TestEmptyBucketsWithRows(t *testing.T) {
	e := newEnv(t)
	spec := testSpec()
	spec.Output.EmptyBuckets = true
	m, err := e.convert(t, spec, gz([]byte(hdr+goodLine(1)+goodLine(2)), 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 60 || m.RowsWritten != 2 {
		t.Fatalf("%d files, %d rows", len(m.Files), m.RowsWritten)
	}
}

func TestNullMarkers(t *testing.T) {
	line := "1,\\N,NULL,\\N,NULL,,\\N,NULL,\\N,NULL,,\\N\n"
	e := newEnv(t)
	m, err := e.convert(t, testSpec(), gz([]byte(hdr+line), 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	db := openDuck(t)
	var state, name, note string
	var nulls int
	q := "SELECT state, name, note, (age IS NULL)::INT + (score IS NULL)::INT + (active IS NULL)::INT + (born IS NULL)::INT + (seen IS NULL)::INT + (amount IS NULL)::INT + (big IS NULL)::INT + (huge IS NULL)::INT FROM read_parquet('" + e.dst.path(m.Files[0].Key) + "')"
	if err := db.QueryRow(q).Scan(&state, &name, &note, &nulls); err != nil {
		t.Fatal(err)
	}
	if state != `\N` || name != "NULL" || note != `\N` || nulls != 8 {
		t.Fatalf("state %q name %q note %q nulls %d: markers apply to non-string columns only", state, name, note, nulls)
	}
}

// TestBucketAllRejected: a bucket whose every row is rejected in pass 2
// (a value that does not parse) gets no file.
func TestBucketAllRejected(t *testing.T) {
	e := newEnv(t)
	bad := strings.Replace(strings.Replace(goodLine(2), ",CA,", ",TX,", 1), ",30,", ",x,", 1)
	m, err := e.convert(t, testSpec(), gz([]byte(hdr+goodLine(1)+bad), 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 1 || m.Files[0].Rows != 1 || m.RowsRejected != 1 || len(e.dst.keys("data/")) != 1 {
		t.Fatalf("files %+v (on storage %v), rejected %d: want one file of one row", m.Files, e.dst.keys("data/"), m.RowsRejected)
	}
}

// TestDigitNullMarker: a marker made of digits makes an int NULL (the
// converter's all-digits fast path must not take it for a number).
func TestDigitNullMarker(t *testing.T) {
	e := newEnv(t)
	spec := testSpec()
	spec.Source.NullMarkers = append(spec.Source.NullMarkers, "30")
	m, err := e.convert(t, spec, gz([]byte(hdr+goodLine(1)+strings.Replace(goodLine(2), ",30,", ",31,", 1)), 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	db := openDuck(t)
	var nulls, ages int
	q := "SELECT count(*) FILTER (WHERE age IS NULL), sum(age) FROM read_parquet('" + e.dst.path(m.Files[0].Key) + "')"
	if err := db.QueryRow(q).Scan(&nulls, &ages); err != nil {
		t.Fatal(err)
	}
	if nulls != 1 || ages != 31 {
		t.Fatalf("%d NULL ages, sum %d: want 1 and 31", nulls, ages)
	}
}

func TestBadOptions(t *testing.T) {
	e := newEnv(t)
	_, err := e.convert(t, testSpec(), gz([]byte(hdr), 1), func(o *Options) { o.Part = "../evil" })
	if !errors.Is(err, ErrPartName) {
		t.Fatalf("err = %v, want ErrPartName", err)
	}
	spec := testSpec()
	spec.Output.BucketedBy = []string{"nope"}
	_, err = e.convert(t, spec, gz([]byte(hdr), 1), nil)
	// Text: the message names the column the spec got wrong (no error
	// type carries a spec problem).
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("err = %v", err)
	}
}

// TestReapStaleSpills: spill directories a killed converter left behind
// are removed once stale; fresh ones (a converter at work) and other
// directories stay.
func TestReapStaleSpills(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(p, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "000001-000000.run"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk(spillPrefix+"1", 48*time.Hour)
	fresh := mk(spillPrefix+"2", time.Minute)
	other := mk("something-else", 48*time.Hour)
	if n := reapStaleSpills(base, time.Now().Add(-staleSpill)); n != 1 {
		t.Fatalf("reaped %d, want 1", n)
	}
	for p, want := range map[string]bool{stale: false, fresh: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists %v, want %v", p, err == nil, want)
		}
	}
}

// TestStatsIgnoreRejectedRows: a row rejected in pass 2 (a bad int) had
// its other values converted already; its string must neither widen the
// file's min/max statistics nor stay in the column's dictionary.
func TestStatsIgnoreRejectedRows(t *testing.T) {
	e := newEnv(t)
	keep := strings.Replace(goodLine(1), ",ok\n", ",mmm\n", 1)
	bad := strings.Replace(strings.Replace(goodLine(2), ",ok\n", ",zzz-rejected\n", 1), ",30,", ",x,", 1)
	low := strings.Replace(strings.Replace(goodLine(3), ",ok\n", ",aaa-rejected\n", 1), ",30,", ",y,", 1)
	m, err := e.convert(t, testSpec(), gz([]byte(hdr+low+keep+bad+keep), 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.RowsRejected != 2 || len(m.Files) != 1 {
		t.Fatalf("%d rejected, %d files", m.RowsRejected, len(m.Files))
	}
	db := openDuck(t)
	var lo, hi string
	q := "SELECT stats_min_value, stats_max_value FROM parquet_metadata('" + e.dst.path(m.Files[0].Key) + "') WHERE path_in_schema = 'note'"
	if err := db.QueryRow(q).Scan(&lo, &hi); err != nil {
		t.Fatal(err)
	}
	if lo != "mmm" || hi != "mmm" {
		t.Fatalf("note statistics [%q, %q], want [mmm, mmm]: rejected rows' values leaked in", lo, hi)
	}
	b, err := os.ReadFile(e.dst.path(m.Files[0].Key))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("-rejected")) {
		t.Fatal("a rejected row's value is in the file (its column's dictionary)")
	}
}
