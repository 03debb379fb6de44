//go:build ignore

// gen writes tierflow's bad-input corpus: one small gzip CSV part per kind
// of bad input, for the job in job.yaml, and expected.json, which says for
// each file what the converter must do with it (succeed, or fail with an
// error of a given kind, saying where) and which records it must reject, by line
// and byte offset. Every data record's ID is the physical line it starts
// on, so a reader of the outputs can match every input record to its row
// in the Parquet or its line in the rejects sidecar.
//
// It is deterministic: running it again rewrites the same bytes.
//
//	go run testdata/bad/gen.go            # from the repository root
//	go test ./container/ -run BadInput    # runs the converter on every file
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// header is the agreed header sample (header.csv).
var header = []string{"ID", "State", "Name", "Age", "Amount", "Born", "Note"}

// Reject is a record the converter must reject.
type Reject struct {
	Line   int64  `json:"line"`   // physical line the record starts on (header = 1)
	Offset int64  `json:"offset"` // byte offset of its first byte in the decompressed stream
	Reason string `json:"reason"` // a word the converter's reason must contain
}

// Case is one corpus file and what must happen to it.
type Case struct {
	File    string `json:"file"`
	What    string `json:"what"`
	Outcome string `json:"outcome"` // "ok" or "fail"
	// Error is the kind of error (fail): the name of a container error
	// variable or type, e.g. "ErrTruncatedGzip" or "RejectsError".
	Error string `json:"error,omitempty"`
	// Says are substrings the error's message must hold: what only the
	// text tells a user (how a header differs from the sample).
	Says    []string `json:"says,omitempty"`
	Records int      `json:"records"` // data records in the input
	Rejects []Reject `json:"rejects"` // records to reject, in input order
	// GoodIDs is the SHA-256 of the IDs of the records that must be in the
	// Parquet, sorted, one decimal per line.
	GoodIDs string `json:"good_ids_sha256,omitempty"`
	// CompressedOffset bounds the compressed offset a gzip error reports.
	CompressedOffset *Range `json:"compressed_offset,omitempty"`
	// LongestValue is the length of the longest Note that must be read
	// back intact (0: not checked).
	LongestValue int `json:"longest_value,omitempty"`
	// KnownBug says why the converter does not do what this case expects
	// yet; the test skips the case with this message.
	KnownBug string `json:"known_bug,omitempty"`
}

// Range is an inclusive byte range.
type Range struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// Expected is expected.json.
type Expected struct {
	Job   string `json:"job"`
	Cases []Case `json:"cases"`
}

// part builds one decompressed part, tracking lines and offsets.
type part struct {
	rng     *rand.Rand
	buf     bytes.Buffer
	line    int64 // physical line the next record starts on
	records int
	good    []int64
	rejects []Reject
}

func newPart(seed uint64) *part {
	return &part{rng: rand.New(rand.NewPCG(seed, 0x7ff)), line: 1}
}

// raw appends bytes that are not a data record (the header, a BOM).
func (p *part) raw(s string) {
	p.buf.WriteString(s)
	p.line += int64(strings.Count(s, "\n"))
}

// record appends one data record; fields[0] is replaced by its line.
func (p *part) record(fields []string, eol string, reject string) {
	fields[0] = strconv.FormatInt(p.line, 10)
	if reject != "" {
		p.rejects = append(p.rejects, Reject{Line: p.line, Offset: int64(p.buf.Len()), Reason: reject})
	} else {
		p.good = append(p.good, p.line)
	}
	p.raw(strings.Join(fields, ",") + eol)
	p.records++
}

var (
	states = []string{"CA", "TX", "NY", "FL", "PR", "WY", "AA", "DC"}
	names  = []string{"Ana", "Bo", `"Smith, Jr."`, `"O""Brien"`, "Zoë", "Łukasz", "山田", `"two
lines"`, ""}
)

// goodFields returns a valid record (ID left to record).
func (p *part) goodFields() []string {
	r := p.rng
	age := strconv.Itoa(r.IntN(100))
	if r.IntN(10) == 0 {
		age = "" // NULL
	}
	return []string{"", states[r.IntN(len(states))], names[r.IntN(len(names))], age,
		fmt.Sprintf("%d.%02d", r.IntN(100000), r.IntN(100)),
		fmt.Sprintf("%04d-%02d-%02d", 1920+r.IntN(90), 1+r.IntN(12), 1+r.IntN(28)),
		"note " + strconv.Itoa(r.IntN(1000))}
}

func (p *part) goods(n int, eol string) {
	for range n {
		p.record(p.goodFields(), eol, "")
	}
}

// with returns a valid record with field i set to v.
func (p *part) with(i int, v string) []string {
	f := p.goodFields()
	f[i] = v
	return f
}

// standard is the header and n good records.
func standard(seed uint64, n int) *part {
	p := newPart(seed)
	p.raw(strings.Join(header, ",") + "\n")
	p.goods(n, "\n")
	return p
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// finish fills the record bookkeeping of c from p.
func (c Case) from(p *part) Case {
	c.Records = p.records
	c.Rejects = p.rejects
	if c.Rejects == nil {
		c.Rejects = []Reject{}
	}
	ids := slices.Clone(p.good)
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		fmt.Fprintf(h, "%d\n", id)
	}
	c.GoodIDs = hex.EncodeToString(h.Sum(nil))
	return c
}

// corpus is the files and cases being written.
type corpus struct {
	files map[string][]byte
	cases []Case
}

func (c *corpus) add(cs Case, data []byte) {
	c.files[cs.File] = data
	c.cases = append(c.cases, cs)
}

// n is the number of good records of most files: one reject stays below
// max_fraction 0.001.
const n = 1500

func main() {
	dir := flag.String("dir", "testdata/bad", "where to write the corpus")
	flag.Parse()
	c := &corpus{files: map[string][]byte{}}
	c.gzipFaults()
	c.headerProblems()
	c.encodings()
	c.badRecords()
	c.thresholdsAndMembers()

	for name, data := range c.files {
		if err := os.WriteFile(filepath.Join(*dir, name), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(*dir, "header.csv"), []byte(strings.Join(header, ",")+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	js, err := json.MarshalIndent(Expected{Job: "job.yaml", Cases: c.cases}, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*dir, "expected.json"), append(js, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

// gzipFaults adds the gzip-level faults.
func (c *corpus) gzipFaults() {
	p := standard(1, n)
	full := gz(p.buf.Bytes())
	cut := full[:len(full)*6/10]
	c.add(Case{File: "truncated.csv.gz", What: "gzip stream cut off at 60% of its bytes", Outcome: "fail",
		Error:            "ErrTruncatedGzip",
		CompressedOffset: &Range{int64(len(cut)), int64(len(cut))}}.from(p), cut)
	bad := slices.Clone(full)
	at := len(bad) / 2
	for i := at; i < at+32; i++ {
		bad[i] ^= 0xa5
	}
	c.add(Case{File: "corrupt.csv.gz", What: "32 bytes of the deflate stream flipped at its middle", Outcome: "fail",
		Error:            "ErrCorruptGzip",
		CompressedOffset: &Range{int64(at), int64(len(bad))}}.from(p), bad)
	c.add(Case{File: "not-gzip.csv.gz", What: "a plain CSV named .csv.gz", Outcome: "fail",
		Error: "ErrNotGzip"}.from(p), p.buf.Bytes())
	c.add(Case{File: "empty.csv.gz", What: "an empty (0-byte) file", Outcome: "fail",
		Error: "ErrNotGzip", Rejects: []Reject{}}, nil)
	c.add(Case{File: "empty-stream.csv.gz", What: "a valid gzip stream holding nothing (no header line)", Outcome: "fail",
		Error: "ErrNoHeader", Rejects: []Reject{}}, gz(nil))
}

// headerProblems adds the header-level problems.
func (c *corpus) headerProblems() {
	p := standard(2, 0)
	c.add(Case{File: "header-only.csv.gz", What: "the header and no record", Outcome: "ok"}.from(p), gz(p.buf.Bytes()))
	for _, h := range []struct{ file, what, line, want string }{
		{"header-missing.csv.gz", "the header lacks the Note column", "ID,State,Name,Age,Amount,Born", `missing: "Note"`},
		{"header-renamed.csv.gz", "the State column is called Province", "ID,Province,Name,Age,Amount,Born,Note", `renamed: #2 "State" → "Province"`},
		{"header-moved.csv.gz", "the State column comes first", "State,ID,Name,Age,Amount,Born,Note", `moved: "ID" #1 → #2`},
	} {
		p := newPart(3)
		p.raw(h.line + "\n")
		p.goods(10, "\n")
		c.add(Case{File: h.file, What: h.what, Outcome: "fail", Error: "ErrHeaderMismatch", Says: []string{h.want}}.from(p), gz(p.buf.Bytes()))
	}
}

// encodings adds encodings and line ends.
func (c *corpus) encodings() {
	p := newPart(4)
	p.raw("\xef\xbb\xbf" + strings.Join(header, ",") + "\n")
	p.goods(n, "\n")
	c.add(Case{File: "bom.csv.gz", What: "a UTF-8 byte-order mark before the header", Outcome: "ok"}.from(p), gz(p.buf.Bytes()))
	p = newPart(5)
	p.raw(strings.Join(header, ",") + "\r\n")
	p.goods(n, "\r\n")
	c.add(Case{File: "crlf.csv.gz", What: "CRLF line ends throughout", Outcome: "ok"}.from(p), gz(p.buf.Bytes()))
	p = newPart(6)
	p.raw(strings.Join(header, ",") + "\r\n")
	for i := range n {
		p.record(p.goodFields(), []string{"\n", "\r\n"}[i%2], "")
	}
	c.add(Case{File: "mixed-eol.csv.gz", What: "LF and CRLF line ends alternating", Outcome: "ok"}.from(p), gz(p.buf.Bytes()))
}

// badRecords adds bad records among good ones, and a field over 1 MB.
func (c *corpus) badRecords() {
	one := func(seed uint64, file, what, reason string, fields func(p *part) []string) {
		p := standard(seed, n/2)
		p.record(fields(p), "\n", reason)
		p.goods(n/2, "\n")
		c.add(Case{File: file, What: what, Outcome: "ok"}.from(p), gz(p.buf.Bytes()))
	}
	one(7, "bare-quote.csv.gz", `a quote inside an unquoted field (Jo"hn)`, "quote", func(p *part) []string { return p.with(2, `Jo"hn`) })
	one(8, "invalid-utf8.csv.gz", "invalid UTF-8 bytes in a string field", "UTF-8", func(p *part) []string { return p.with(6, "caf\xe9 \xff\xfe") })
	// NUL is valid UTF-8: the record is kept, the value intact.
	p := standard(9, n/2)
	p.record(p.with(6, "Jo\x00hn\x00"), "\n", "")
	p.goods(n/2, "\n")
	c.add(Case{File: "nul-bytes.csv.gz", What: "NUL bytes inside a string field: kept as they are", Outcome: "ok"}.from(p), gz(p.buf.Bytes()))
	one(10, "wide-line.csv.gz", "a line of 10,000 fields", "field count", func(p *part) []string {
		f := make([]string, 10000)
		for i := range f {
			f[i] = "x"
		}
		return f
	})
	one(11, "short-line.csv.gz", "a line of 3 fields", "field count", func(p *part) []string { return []string{"", "CA", "Ana"} })
	one(12, "bad-int.csv.gz", "a non-integer in an int column", "Age", func(p *part) []string { return p.with(3, "forty") })

	// A field over 1 MB (compressible, so the file stays small): kept.
	p = standard(13, n/2)
	big := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_", (1<<20)/64+1000)
	p.record(p.with(6, big), "\n", "")
	p.goods(n/2, "\n")
	c.add(Case{File: "big-field.csv.gz", What: fmt.Sprintf("a %d-byte field", len(big)), Outcome: "ok", LongestValue: len(big)}.from(p), gz(p.buf.Bytes()))
}

// thresholdsAndMembers adds the reject thresholds (job: max_rows 1000,
// max_fraction 0.001), and several gzip members one after the other.
func (c *corpus) thresholdsAndMembers() {
	p := standard(14, 0)
	for i := range 2000 {
		if i%20 == 7 {
			p.record(p.with(3, "x"+strconv.Itoa(i)), "\n", "Age")
		} else {
			p.record(p.goodFields(), "\n", "")
		}
	}
	c.add(Case{File: "rejects-5pct.csv.gz", What: "5% bad records: above max_fraction 0.001", Outcome: "fail",
		Error: "RejectsError"}.from(p), gz(p.buf.Bytes()))
	p = standard(15, 0)
	for i := range 10000 {
		if i == 4321 {
			p.record(p.with(3, "x"), "\n", "Age")
		} else {
			p.record(p.goodFields(), "\n", "")
		}
	}
	c.add(Case{File: "rejects-0.01pct.csv.gz", What: "0.01% bad records: below max_fraction 0.001", Outcome: "ok"}.from(p), gz(p.buf.Bytes()))

	// Several gzip members one after the other (what pigz and cat produce).
	p = standard(16, n)
	b := p.buf.Bytes()
	multi := append(gz(b[:len(b)/3]), gz(b[len(b)/3:])...)
	c.add(Case{File: "multi-member.csv.gz", What: "two concatenated gzip members, split mid-record", Outcome: "ok"}.from(p), multi)
}
