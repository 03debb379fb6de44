package container_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/gzip"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// corpusDir holds the bad-input corpus written by testdata/bad/gen.go.
const corpusDir = "../testdata/bad"

// badCase mirrors one entry of testdata/bad/expected.json.
type badCase struct {
	File    string   `json:"file"`
	What    string   `json:"what"`
	Outcome string   `json:"outcome"`
	Error   string   `json:"error"`
	Says    []string `json:"says"`
	Records int      `json:"records"`
	Rejects []struct {
		Line   int64  `json:"line"`
		Offset int64  `json:"offset"`
		Reason string `json:"reason"`
	} `json:"rejects"`
	GoodIDs          string `json:"good_ids_sha256"`
	CompressedOffset *struct {
		Min int64 `json:"min"`
		Max int64 `json:"max"`
	} `json:"compressed_offset"`
	LongestValue int    `json:"longest_value"`
	KnownBug     string `json:"known_bug"`
}

// rejectRow is one record of a rejects sidecar, read back with encoding/csv.
type rejectRow struct {
	line, offset int64
	column       string
	reason       string
}

// TestBadInputCorpus converts every file of the bad-input corpus and checks
// the outcome expected.json gives for it, by reading the outputs back
// (DuckDB for the Parquet, encoding/csv for the rejects sidecar), not by
// trusting the manifest: every input record is either a Parquet row (its
// ID is its line) or a rejects line, none is lost, and the rejects name
// the right line and byte offset.
func TestBadInputCorpus(t *testing.T) {
	spec, err := jobs.Load(filepath.Join(corpusDir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var expected struct {
		Cases []badCase `json:"cases"`
	}
	b, err := os.ReadFile(filepath.Join(corpusDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	if len(expected.Cases) < 20 {
		t.Fatalf("expected.json lists %d cases", len(expected.Cases))
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var lost int
	for _, c := range expected.Cases {
		t.Run(c.File, func(t *testing.T) {
			lost += checkBadInput(t, spec, db, c)
		})
	}
	if lost != 0 {
		t.Errorf("%d input records lost over the corpus", lost)
	}
}

// badErrors are the kinds of input error expected.json names, besides
// "RejectsError".
var badErrors = map[string]error{
	"ErrNotGzip":        container.ErrNotGzip,
	"ErrTruncatedGzip":  container.ErrTruncatedGzip,
	"ErrCorruptGzip":    container.ErrCorruptGzip,
	"ErrNoHeader":       container.ErrNoHeader,
	"ErrHeaderMismatch": container.ErrHeaderMismatch,
}

// checkBadError checks that err is the kind of error c expects: a
// *RejectsError with the part's rejects of all its records, or a
// *ParseError of the part wrapping the named error, at the compressed
// offset c bounds.
func checkBadError(t *testing.T, c badCase, part string, err error) {
	t.Helper()
	if c.Error == "RejectsError" {
		var re *container.RejectsError
		if !errors.As(err, &re) || re.Rejected != int64(len(c.Rejects)) || re.Checked != int64(c.Records) || re.MaxFraction == 0 {
			t.Errorf("error %v, want a *RejectsError: %d rejected of %d rows checked, over max_fraction", err, len(c.Rejects), c.Records)
		}
		return
	}
	want, ok := badErrors[c.Error]
	if !ok {
		t.Fatalf("expected.json names an unknown error %q", c.Error)
	}
	var pe *container.ParseError
	if !errors.Is(err, want) || !errors.As(err, &pe) || pe.Part != part {
		t.Fatalf("error %v, want a *ParseError of %s wrapping %v", err, part, want)
	}
	// Text: how a header differs from the sample only the message tells.
	for _, w := range c.Says {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}
	if o := c.CompressedOffset; o != nil && (pe.Line != 0 || pe.Offset < o.Min || pe.Offset > o.Max) {
		t.Errorf("line %d, compressed offset %d: want a gzip fault within [%d, %d] (the damage starts at %d)", pe.Line, pe.Offset, o.Min, o.Max, o.Min)
	}
}

// checkBadInput converts one corpus file and checks it; it returns the
// number of input records found neither in the Parquet nor in the rejects.
func checkBadInput(t *testing.T, spec *jobs.Spec, db *sql.DB, c badCase) int {
	if c.KnownBug != "" {
		t.Skip("known bug: " + c.KnownBug)
	}
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join(corpusDir, c.File))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := storage.Put(ctx, st, "in/"+c.File, bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	part := strings.TrimSuffix(c.File, ".csv.gz")
	m, err := container.Convert(ctx, container.Options{Spec: spec, Part: part, Logger: zerolog.Nop()}, st, "in/"+c.File, st, "data/", "meta/")

	// The outcome.
	switch c.Outcome {
	case "ok":
		if err != nil {
			t.Fatalf("%s: want success, got %v", c.What, err)
		}
	case "fail":
		if err == nil {
			t.Fatalf("%s: converted without error (%d rows written, %d rejected)", c.What, m.RowsWritten, m.RowsRejected)
		}
		t.Logf("error: %v", err)
		checkBadError(t, c, part, err)
	default:
		t.Fatalf("unknown outcome %q", c.Outcome)
	}

	// The Parquet, read back.
	var files []string
	st.List(ctx, "data/", func(o storage.Object) error { files = append(files, filepath.Join(dir, o.Key)); return nil })
	ids, notes := readParquet(t, db, files)
	if c.Outcome == "fail" && len(files) > 0 {
		t.Errorf("a failed part left %d data files", len(files))
	}

	// The rejects sidecar, read back. Gzip and header failures stop before
	// any record; the rest must list every expected reject.
	rejects := readRejects(t, filepath.Join(dir, filepath.FromSlash(container.RejectsKey("meta/", part))))
	if len(c.Rejects) > 0 || c.Outcome == "ok" {
		checkRejects(t, c, rejects)
	}
	if c.Outcome == "fail" && c.Records > 0 && len(c.Rejects) == 0 && len(rejects) > 0 {
		t.Errorf("%d rejects for a part that failed as a whole", len(rejects))
	}

	// Every record accounted for: in the Parquet (by ID = line) or
	// rejected, never both, none twice; rows read = written + rejected.
	if c.Outcome != "ok" && len(c.Rejects) == 0 {
		return 0
	}
	rejected := map[int64]bool{}
	for _, r := range rejects {
		rejected[r.line] = true
	}
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] || rejected[id] {
			t.Errorf("record at line %d is in the Parquet twice or also rejected", id)
		}
		seen[id] = true
	}
	if c.Outcome == "fail" { // a threshold failure: the rejects are complete, nothing written
		if m.RowsRead != int64(c.Records) {
			t.Errorf("rows read %d, the input has %d records", m.RowsRead, c.Records)
		}
		return 0
	}
	lost := c.Records - len(ids) - len(rejects)
	if lost != 0 {
		t.Errorf("rows read %d (input), written %d (Parquet), rejected %d (sidecar): %d records lost", c.Records, len(ids), len(rejects), lost)
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	h := sha256.New()
	for _, id := range sorted {
		fmt.Fprintf(h, "%d\n", id)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != c.GoodIDs {
		t.Errorf("the Parquet does not hold exactly the good records (ID digest %.12s, want %.12s)", got, c.GoodIDs)
	}
	if m.RowsRead != int64(c.Records) || m.RowsWritten != int64(len(ids)) || m.RowsRejected != int64(len(rejects)) {
		t.Errorf("manifest says read %d written %d rejected %d; outputs hold %d + %d of %d", m.RowsRead, m.RowsWritten, m.RowsRejected, len(ids), len(rejects), c.Records)
	}
	checkValues(t, data, ids, notes, c)
	return max(lost, 0)
}

// readParquet returns the ID and Note of every row of files, read with
// DuckDB.
func readParquet(t *testing.T, db *sql.DB, files []string) ([]int64, map[int64]string) {
	t.Helper()
	notes := map[int64]string{}
	if len(files) == 0 {
		return nil, notes
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + f + "'"
	}
	rs, err := db.Query("SELECT id, note FROM read_parquet([" + strings.Join(quoted, ",") + "])")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var ids []int64
	for rs.Next() {
		var id int64
		var note sql.NullString
		if err := rs.Scan(&id, &note); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		notes[id] = note.String
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, notes
}

// readRejects parses a rejects sidecar; a missing one is empty.
func readRejects(t *testing.T, path string) []rejectRow {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(b))
	head, err := r.Read()
	if err != nil {
		t.Fatalf("rejects sidecar %s: %v", path, err)
	}
	if strings.Join(head, ",") != "part,line,offset,column,reason,raw" {
		t.Fatalf("rejects header %q", head)
	}
	var out []rejectRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("rejects sidecar %s: %v", path, err)
		}
		line, err1 := strconv.ParseInt(rec[1], 10, 64)
		off, err2 := strconv.ParseInt(rec[2], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("rejects record %q: bad line or offset", rec[:3])
		}
		out = append(out, rejectRow{line: line, offset: off, column: rec[3], reason: rec[4]})
	}
}

// checkRejects compares the sidecar with the expected rejects: same lines,
// same byte offsets, a reason that says what is wrong.
func checkRejects(t *testing.T, c badCase, got []rejectRow) {
	t.Helper()
	if len(got) != len(c.Rejects) {
		t.Errorf("%d rejects, want %d", len(got), len(c.Rejects))
	}
	for i := range min(len(got), len(c.Rejects)) {
		g, w := got[i], c.Rejects[i]
		if g.line != w.Line || g.offset != w.Offset {
			t.Errorf("reject %d at line %d offset %d, want line %d offset %d", i, g.line, g.offset, w.Line, w.Offset)
		}
		if !strings.Contains(strings.ToLower(g.column+" "+g.reason), strings.ToLower(w.Reason)) {
			t.Errorf("reject at line %d: column %q reason %q, want it to mention %q", g.line, g.column, g.reason, w.Reason)
		}
	}
}

// checkValues compares the Note of every written row with the input as
// encoding/csv reads it (lenient about bare quotes, so it reads the bad
// records too), and checks line ends never leak into values.
func checkValues(t *testing.T, data []byte, ids []int64, notes map[int64]string, c badCase) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(zr)
	r.FieldsPerRecord, r.LazyQuotes = -1, true
	want := map[int64]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("encoding/csv cannot read the input: %v", err)
		}
		if id, err := strconv.ParseInt(rec[0], 10, 64); err == nil && len(rec) == 7 {
			want[id] = rec[6]
		}
	}
	longest := 0
	for _, id := range ids {
		got := notes[id]
		if got != want[id] {
			t.Errorf("line %d: Note %.40q, input has %.40q", id, got, want[id])
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("line %d: a line end leaked into Note %q", id, got)
		}
		longest = max(longest, len(got))
	}
	if c.LongestValue > 0 && longest != c.LongestValue {
		t.Errorf("longest Note read back is %d bytes, want %d", longest, c.LongestValue)
	}
}
