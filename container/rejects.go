package container

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/container/csvparse"
)

// reject is one bad record for the sidecar.
type reject struct {
	line   int64
	offset int64
	row    int64 // pass 1: the record's number in its chunk (1-based)
	column string
	reason string
	raw    string // PII redacted
}

// rawCap bounds the raw line kept for a reject.
const rawCap = 4096

// newReject describes record i of recs (parsed from data), which starts
// at the given line and byte offset of the part. fieldsOK says the record
// split into the expected fields, so PII fields can be redacted one by
// one; otherwise the whole line is redacted when the schema has PII.
func (p *plan) newReject(data []byte, recs *csvparse.Records, i int, line, offset int64, column, reason string, fieldsOK bool) reject {
	rec := &recs.Recs[i]
	var raw string
	switch {
	case fieldsOK:
		var sb strings.Builder
		for k, f := range recs.RecordFields(i) {
			if k > 0 {
				sb.WriteByte(p.delim)
			}
			if p.fieldPII[k] != "" {
				sb.WriteString("<" + p.fieldPII[k] + ">")
				continue
			}
			v := recs.Bytes(data, f)
			if bytes.ContainsAny(v, string([]byte{p.delim, '"', '\n', '\r'})) {
				sb.WriteByte('"')
				sb.WriteString(strings.ReplaceAll(string(v), `"`, `""`))
				sb.WriteByte('"')
			} else {
				sb.Write(v)
			}
			if sb.Len() > rawCap {
				break
			}
		}
		raw = sb.String()
	case p.anyPII:
		// Bytes without the terminator ("\n", "\r\n", or at the end of
		// the part "\r" or nothing): pass 2 sees a part's last record
		// with a "\n" added.
		n := rec.End - rec.Start
		if n > 0 && data[rec.Start+n-1] == '\n' {
			n--
		}
		if n > 0 && data[rec.Start+n-1] == '\r' {
			n--
		}
		raw = fmt.Sprintf("<redacted: %d fields, %d bytes>", rec.NumFields, n)
	default:
		raw = string(data[rec.Start:min(rec.End, rec.Start+rawCap)])
	}
	if len(raw) > rawCap {
		raw = raw[:rawCap] + "…(truncated)"
	}
	raw = strings.ToValidUTF8(strings.TrimRight(raw, "\r\n"), "\uFFFD")
	return reject{line: line, offset: offset, column: column, reason: reason, raw: raw}
}

// RejectsError is the error of a part that failed on a rejects threshold.
// Its figures are a function of the input and the job alone.
type RejectsError struct {
	Rejected int64 // rows rejected, all in the rejects sidecar
	// Checked rows: the part's first Checked rows when max_rows was
	// exceeded (the last of them is the first reject past it), every row
	// when max_fraction was.
	Checked     int64
	MaxRows     int64   // set when max_rows was exceeded
	MaxFraction float64 // set when max_fraction was exceeded
	// The first rejected row: line, byte offset, column ("" when the row
	// as a whole is bad) and reason.
	Line, Offset int64
	Column       string
	Reason       string
	RejectsURI   string
}

func (e *RejectsError) Error() string {
	limit := fmt.Sprintf("max_rows %d", e.MaxRows)
	if e.MaxFraction > 0 {
		limit = fmt.Sprintf("%.4f%% exceeds max_fraction %g", 100*float64(e.Rejected)/float64(e.Checked), e.MaxFraction)
	}
	first := fmt.Sprintf("line %d, byte offset %d", e.Line, e.Offset)
	if e.Column != "" {
		first += ", column " + e.Column
	}
	return fmt.Sprintf("too many rejected rows: %d of %d rows checked (%s); the first at %s: %s; see %s",
		e.Rejected, e.Checked, limit, first, e.Reason, e.RejectsURI)
}

// rejectsError describes a part that failed on a threshold: max_rows
// when maxFraction is 0.
func (p *plan) rejectsError(rejects []reject, checked int64, maxFraction float64, uri string) error {
	e := &RejectsError{Rejected: int64(len(rejects)), Checked: checked, MaxFraction: maxFraction, RejectsURI: uri}
	if maxFraction == 0 {
		e.MaxRows = p.maxRejects
	}
	if len(rejects) > 0 {
		r := rejects[0]
		e.Line, e.Offset, e.Column, e.Reason = r.line, r.offset, r.column, r.reason
	}
	return e
}

// writeRejects writes the rejects sidecar.
func writeRejects(w io.Writer, part string, rejects []reject) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"part", "line", "offset", "column", "reason", "raw"})
	for _, r := range rejects {
		_ = cw.Write([]string{part, strconv.FormatInt(r.line, 10), strconv.FormatInt(r.offset, 10), r.column, r.reason, r.raw})
	}
	cw.Flush()
	return cw.Error()
}

func cmpInt64(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
