package csvparse

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// refRecord is one record as the slow reference parser sees it.
type refRecord struct {
	Fields []string
	Err    ErrKind
	Line   int64 // 1-based line where the record starts
	Start  int   // byte offset of the record
}

// refParse is a deliberately simple byte-at-a-time implementation of the
// package grammar, written independently of Parse.
func refParse(data []byte, delim byte) (recs []refRecord, blank int) {
	i, line := 0, int64(1)
	n := len(data)
	for i < n {
		if data[i] == '\n' {
			blank++
			i++
			line++
			continue
		}
		if data[i] == '\r' && (i+1 == n || data[i+1] == '\n') {
			blank++
			if i+1 < n {
				line++
			}
			i += 2
			continue
		}
		rec := refRecord{Line: line, Start: i}
		var field []byte
		for {
			if i < n && data[i] == '"' {
				i++
				closed := false
				for i < n {
					c := data[i]
					if c == '"' {
						if i+1 < n && data[i+1] == '"' {
							field = append(field, '"')
							i += 2
							continue
						}
						closed = true
						i++
						break
					}
					if c == '\n' {
						line++
					}
					field = append(field, c)
					i++
				}
				if !closed {
					if rec.Err == OK {
						rec.Err = ErrUnterminatedQuote
					}
					rec.Fields = append(rec.Fields, string(field))
					recs = append(recs, rec)
					return recs, blank
				}
				// after closing quote
				if i == n {
					rec.Fields = append(rec.Fields, string(field))
					break
				}
				c := data[i]
				if c == delim {
					rec.Fields = append(rec.Fields, string(field))
					field = field[:0]
					i++
					continue
				}
				if c == '\n' {
					rec.Fields = append(rec.Fields, string(field))
					i++
					line++
					break
				}
				if c == '\r' && (i+1 == n || data[i+1] == '\n') {
					rec.Fields = append(rec.Fields, string(field))
					i++
					if i < n {
						i++
						line++
					}
					break
				}
				if rec.Err == OK {
					rec.Err = ErrExtraneousQuote
				}
				for i < n && data[i] != delim && data[i] != '\n' {
					i++
				}
				rec.Fields = append(rec.Fields, string(field))
				field = field[:0]
				if i == n {
					break
				}
				if data[i] == '\n' {
					i++
					line++
					break
				}
				i++
				continue
			}
			for i < n && data[i] != delim && data[i] != '\n' {
				if data[i] == '"' && rec.Err == OK {
					rec.Err = ErrBareQuote
				}
				field = append(field, data[i])
				i++
			}
			if i < n && data[i] == delim {
				rec.Fields = append(rec.Fields, string(field))
				field = field[:0]
				i++
				continue
			}
			if len(field) > 0 && field[len(field)-1] == '\r' {
				field = field[:len(field)-1]
			}
			rec.Fields = append(rec.Fields, string(field))
			if i < n {
				i++
				line++
			}
			break
		}
		recs = append(recs, rec)
	}
	return recs, blank
}

// parsed converts Parse's output of data (starting at line firstLine and
// offset base) to reference records.
func parsed(data []byte, r *Records, firstLine int64, base int) []refRecord {
	var out []refRecord
	for i, rec := range r.Recs {
		rr := refRecord{Err: rec.Err, Line: firstLine + rec.Line, Start: base + rec.Start}
		for _, f := range r.RecordFields(i) {
			rr.Fields = append(rr.Fields, string(r.Bytes(data, f)))
		}
		out = append(out, rr)
	}
	return out
}

func checkAgainstReference(t *testing.T, data []byte, delim byte) []refRecord {
	t.Helper()
	var r Records
	Parse(data, delim, &r)
	got := parsed(data, &r, 1, 0)
	want, blank := refParse(data, delim)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse(%q):\n got %+v\nwant %+v", data, got, want)
	}
	if r.Blank != blank {
		t.Fatalf("Parse(%q): blank=%d want %d", data, r.Blank, blank)
	}
	// Record spans tile the input (apart from blank lines).
	for i, rec := range r.Recs {
		e, ok := RecordEnd(data, rec.Start, delim)
		if !ok {
			e = len(data)
		}
		if e != rec.End {
			t.Fatalf("record %d of %q: RecordEnd=%d, Parse end=%d", i, data, e, rec.End)
		}
	}
	return got
}

// checkAgainstEncodingCSV: when encoding/csv (strict quotes) accepts the
// whole input, Parse must agree on every field and flag no error.
func checkAgainstEncodingCSV(t *testing.T, data []byte, got []refRecord) {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = false
	cr.ReuseRecord = false
	var want [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// encoding/csv rejects it; Parse must flag some record, unless
			// the difference is encoding/csv's own lone-\r handling.
			return
		}
		want = append(want, rec)
	}
	var g [][]string
	for _, r := range got {
		if r.Err != OK {
			t.Fatalf("encoding/csv accepts %q but Parse flags %v", data, r.Err)
		}
		fs := make([]string, len(r.Fields))
		for i, f := range r.Fields {
			// encoding/csv turns \r\n inside quoted fields into \n.
			fs[i] = strings.ReplaceAll(f, "\r\n", "\n")
		}
		g = append(g, fs)
	}
	if len(g) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("Parse(%q) = %q, encoding/csv = %q", data, g, want)
	}
}

var parseCases = []string{
	"",
	"a,b,c\n1,2,3\n",
	"a,b,c\r\n1,2,3\r\n",
	"a,b,c\n1,2,3",
	"a,,c\n,,\n",
	"\"a,b\",\"c\"\"d\",e\n",
	"\"multi\nline\",x\ny,z\n",
	"\"multi\r\nline\",x\r\n",
	"\n\na,b\n\r\n\nc,d\n",
	"a\"b,c\n",
	"\"ab\"c,d\ne,f\n",
	"\"unterminated,x\ny,z\n",
	"\"\"\n",
	"\"\",\"\"\n",
	"a,b\r",
	"a\rb,c\n",
	"\"a\"\r,b\n",
	"\"a\"\rx,b\n",
	"ü,€,\"日本\"\n",
	",\n",
	"\"\"\"\",x\n",
}

func TestParseCases(t *testing.T) {
	for _, c := range parseCases {
		got := checkAgainstReference(t, []byte(c), ',')
		checkAgainstEncodingCSV(t, []byte(c), got)
	}
}

func TestParseExplicit(t *testing.T) {
	data := []byte("h1,h2\n\"a,\"\"b\"\"\nc\",2\r\n\nx\"y,3\n")
	var r Records
	Parse(data, ',', &r)
	got := parsed(data, &r, 1, 0)
	want := []refRecord{
		{Fields: []string{"h1", "h2"}, Line: 1, Start: 0},
		{Fields: []string{"a,\"b\"\nc", "2"}, Line: 2, Start: 6},
		{Fields: []string{"x\"y", "3"}, Line: 5, Start: 22, Err: ErrBareQuote},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if r.Blank != 1 {
		t.Fatalf("blank = %d, want 1", r.Blank)
	}
}

func TestParseTabDelimiter(t *testing.T) {
	checkAgainstReference(t, []byte("a\tb\t\"c\td\"\n1\t2\t3\n"), '\t')
}

// chunkAll runs the Chunker over data and parses every chunk, returning the
// records in stream coordinates.
func chunkAll(t *testing.T, r io.Reader, delim byte, size int) ([]refRecord, int) {
	t.Helper()
	c := NewChunker(r, delim, size)
	var out []refRecord
	var recs Records
	blank := 0
	var nextOffset int64 = -1
	var nextLine int64 = 1
	for {
		ch, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if nextOffset >= 0 && ch.Offset != nextOffset {
			t.Fatalf("chunk %d offset %d, want %d", ch.Seq, ch.Offset, nextOffset)
		}
		if ch.Line != nextLine {
			t.Fatalf("chunk %d line %d, want %d", ch.Seq, ch.Line, nextLine)
		}
		nextOffset = ch.Offset + int64(len(ch.Data))
		nextLine = ch.Line + int64(bytes.Count(ch.Data, []byte{'\n'}))
		Parse(ch.Data, delim, &recs)
		out = append(out, parsed(ch.Data, &recs, ch.Line, int(ch.Offset))...)
		blank += recs.Blank
		c.Release(ch)
	}
	return out, blank
}

func TestChunkerMatchesWholeParse(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 500; i++ {
		switch i % 7 {
		case 0:
			fmt.Fprintf(&b, "%d,\"quoted, with comma\",x\n", i)
		case 1:
			fmt.Fprintf(&b, "%d,\"multi\nline \"\"q\"\"\",y\r\n", i)
		case 2:
			fmt.Fprintf(&b, "%d,bare\"quote,z\n", i)
		case 3:
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "%d,plain,%s\n", i, strings.Repeat("w", i%50))
		}
	}
	data := []byte("\xef\xbb\xbf" + b.String())
	want, wantBlank := refParse(data[3:], ',')
	for i := range want {
		want[i].Start += 3
	}
	for _, size := range []int{64, 100, 257, 1000, 4096, 1 << 20} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(data)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, blank := chunkAll(t, r, ',', size)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("size %d: chunked parse differs from whole parse (%d vs %d records)", size, len(got), len(want))
			}
			if blank != wantBlank {
				t.Fatalf("size %d: blank %d want %d", size, blank, wantBlank)
			}
		}
	}
}

func TestChunkerLongRecordGrows(t *testing.T) {
	long := strings.Repeat("x", 5000)
	data := []byte("a,b\n\"" + long + "\n" + long + "\",c\nd,e\n")
	got, _ := chunkAll(t, bytes.NewReader(data), ',', 64)
	if len(got) != 3 || got[1].Fields[0] != long+"\n"+long || got[2].Line != 4 {
		t.Fatalf("got %d records: %+v", len(got), got)
	}
}

func TestChunkerReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("a,b\n1,2\n"), iotest.ErrReader(boom))
	c := NewChunker(r, ',', 1<<20)
	_, err := c.Next()
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}
