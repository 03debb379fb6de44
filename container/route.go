package container

import (
	"bytes"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/tierflow/tierflow/container/csvparse"
	"github.com/tierflow/tierflow/container/hive"
	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/jobs"
)

// routed is one record of a chunk on its way to its bucket: raw bytes
// [start, end) of the chunk and its sort key keys[keyLo:keyHi].
type routed struct {
	start, end   uint32
	keyLo, keyHi uint32
	line         int64 // absolute 1-based line of the record's first byte
}

// batch is one chunk after pass 1: its good records grouped by bucket
// (bucket bk owns recs[starts[bk]:starts[bk+1]], in input order), and the
// records rejected so far. It keeps the chunk, whose bytes the records
// point into, until the accumulator has copied them.
type batch struct {
	seq     int
	ch      *csvparse.Chunk
	rows    int64 // records read (header excluded), good and bad
	blank   int
	header  []string // chunk 0 only
	noHead  bool     // chunk 0 only: the part has no header record
	recs    []routed
	keys    []byte
	starts  []int
	rejects []reject
	err     error
}

func newBatch(p *plan) *batch {
	return &batch{starts: make([]int, p.bucketCount+1)}
}

// router is one parse worker's scratch for pass 1.
type router struct {
	recs    csvparse.Records
	fields  [][2]int // fast path: byte ranges of the leading fields
	bucket  []int32  // per routed record: its bucket
	grouped []routed
	counts  []int
	hashCol pqwrite.Column
	norm    []byte // a normalised value
	// check: every record is parsed and checked whole, as pass 1 and
	// pass 2 together would (the verdict).
	check bool
}

// routeChunk is pass 1 over chunk ch: find its records, compute every
// record's bucket and sort key, and reject those whose bucket or sort key
// cannot be computed. A record without quotes in a chunk of valid UTF-8
// takes a fast path that reads only the fields up to the last bucket or
// sort column; its field count is checked in pass 2, which parses it
// fully. Any other record is parsed and checked here, as a whole.
func (p *plan) routeChunk(ch *csvparse.Chunk, rt *router, b *batch) {
	b.seq, b.ch = ch.Seq, ch
	b.rows, b.blank, b.header, b.noHead, b.err = 0, 0, nil, false, nil
	b.rejects = b.rejects[:0]
	b.recs = b.recs[:0]
	b.keys = b.keys[:0]
	data := ch.Data
	n := len(data)
	recs := &rt.recs
	allUTF8 := utf8.Valid(data)
	if rt.counts == nil {
		rt.counts = make([]int, p.bucketCount)
	}
	clear(rt.counts)
	rt.bucket = rt.bucket[:0]
	var line int64
	pos := 0
	for pos < n {
		// Blank lines, as csvparse.Parse skips them.
		if next, lines, ok := csvparse.BlankLine(data, pos); ok {
			b.blank++
			pos, line = next, line+lines
			continue
		}
		if ch.Seq == 0 && b.header == nil {
			recs.Reset()
			next, lines := recs.ParseRecord(data, pos, p.delim, line)
			if recs.Recs[0].Err != csvparse.OK {
				b.err = &ParseError{Line: 1, Offset: 0, Err: fmt.Errorf("%w: %v", ErrMalformedHeader, recs.Recs[0].Err)}
				return
			}
			for _, f := range recs.RecordFields(0) {
				b.header = append(b.header, string(recs.Bytes(data, f)))
			}
			pos, line = next, line+lines
			continue
		}
		b.rows++
		keyLo := len(b.keys)
		next, lines, bk := p.routeFast(data, pos, allUTF8, rt, b)
		if bk == -2 {
			next, lines, bk = p.routeSlow(ch, pos, line, rt, b)
		}
		if bk >= 0 {
			rt.counts[bk]++
			b.recs = append(b.recs, routed{start: uint32(pos), end: uint32(next), keyLo: uint32(keyLo), keyHi: uint32(len(b.keys)), line: ch.Line + line})
			rt.bucket = append(rt.bucket, bk)
		} else {
			b.keys = b.keys[:keyLo]
		}
		pos, line = next, line+lines
	}
	if ch.Seq == 0 && b.header == nil {
		b.noHead = true
		return
	}
	// Group by bucket (stable counting sort).
	total := 0
	for bk, c := range rt.counts {
		b.starts[bk] = total
		total += c
	}
	b.starts[p.bucketCount] = total
	next := rt.counts // reuse as running positions
	for bk := range next {
		next[bk] = b.starts[bk]
	}
	rt.grouped = slices.Grow(rt.grouped[:0], total)[:total]
	for i, bk := range rt.bucket {
		rt.grouped[next[bk]] = b.recs[i]
		next[bk]++
	}
	b.recs, rt.grouped = rt.grouped, b.recs
}

// routeFast routes the record at data[pos] if it has no quote, the chunk
// is valid UTF-8 and its bucket and sort fields parse. It returns bucket
// -2 when the record needs routeSlow.
func (p *plan) routeFast(data []byte, pos int, allUTF8 bool, rt *router, b *batch) (next int, lines int64, bk int32) {
	if !allUTF8 || p.slowPaths || rt.check {
		return 0, 0, -2
	}
	lineEnd := len(data)
	if nl := bytes.IndexByte(data[pos:], '\n'); nl >= 0 {
		lineEnd = pos + nl
	}
	if bytes.IndexByte(data[pos:lineEnd], '"') >= 0 {
		return 0, 0, -2
	}
	next = lineEnd
	if lineEnd < len(data) {
		next++
	}
	end := lineEnd
	if end > pos && data[end-1] == '\r' {
		end--
	}
	// The fields up to the last one needed.
	rt.fields = rt.fields[:0]
	start := pos
	for len(rt.fields) < p.needFields {
		k := bytes.IndexByte(data[start:end], p.delim)
		if k < 0 {
			rt.fields = append(rt.fields, [2]int{start, end})
			break
		}
		rt.fields = append(rt.fields, [2]int{start, start + k})
		start += k + 1
	}
	if len(rt.fields) < p.needFields {
		return 0, 0, -2
	}
	bk, bad, _ := p.keyOf(func(i int) []byte { return data[rt.fields[i][0]:rt.fields[i][1]] }, rt, b)
	if bad >= 0 {
		return 0, 0, -2
	}
	return next, 1, bk
}

// keyOf computes a record's bucket and appends its sort key to b.keys;
// field(i) returns the record's field i. When a bucket or sort value does
// not parse or fails its check it returns that column (else -1) and the
// reason.
func (p *plan) keyOf(field func(int) []byte, rt *router, b *batch) (bk int32, bad int, why string) {
	hc := &rt.hashCol
	var h int32
	for _, c := range p.bucketCols {
		if why := p.keyValue(&p.cols[c], field(p.cols[c].source), rt); why != "" {
			return 0, c, why
		}
		h = hive.Combine(h, fieldHash(p.version, p.cols[c].kind, hc, 0))
	}
	for _, c := range p.sortCols {
		if why := p.keyValue(&p.cols[c], field(p.cols[c].source), rt); why != "" {
			return 0, c, why
		}
		b.keys = appendSortKey(b.keys, &p.cols[c], hc)
	}
	if len(p.bucketCols) > 0 {
		bk = int32(hive.Bucket(h, p.bucketCount))
	}
	return bk, -1, ""
}

// keyValue converts value v of bucket or sort column cp, normalised and
// checked first, into rt.hashCol; it returns the reason it is bad, or "".
func (p *plan) keyValue(cp *colPlan, v []byte, rt *router) string {
	if cp.fixed {
		var why string
		if v, why = cp.fix(v, &rt.norm); why != "" {
			return why
		}
	}
	rt.hashCol.Reset()
	return p.convert(cp, v, &rt.hashCol)
}

// routeSlow parses the record at ch.Data[pos] whole and checks it as pass
// 2 would; it returns bucket -1 for a rejected record.
func (p *plan) routeSlow(ch *csvparse.Chunk, pos int, line int64, rt *router, b *batch) (next int, lines int64, bk int32) {
	data := ch.Data
	recs := &rt.recs
	recs.Reset()
	next, lines = recs.ParseRecord(data, pos, p.delim, line)
	rec := &recs.Recs[0]
	if rec.Err != csvparse.OK {
		b.addReject(p, recs, 0, ch, "", rec.Err.String(), false)
		return next, lines, -1
	}
	if rec.NumFields != len(p.header) {
		b.addReject(p, recs, 0, ch, "", fmt.Sprintf("wrong field count: %d, want %d", rec.NumFields, len(p.header)), false)
		return next, lines, -1
	}
	fields := recs.RecordFields(0)
	if col := p.invalidUTF8(data, recs, fields); col >= 0 {
		b.addReject(p, recs, 0, ch, p.cols[col].name, "invalid UTF-8", true)
		return next, lines, -1
	}
	bk, bad, why := p.keyOf(func(i int) []byte { return recs.Bytes(data, fields[i]) }, rt, b)
	if bad < 0 && rt.check {
		bad, why = p.checkFields(data, recs, fields, rt)
	}
	if bad >= 0 {
		b.addReject(p, recs, 0, ch, p.cols[bad].name, why, true)
		return next, lines, -1
	}
	return next, lines, bk
}

// checkFields converts every field of a record (parsed into recs) as
// pass 2 does, to scratch, and returns the schema column of the first, in
// field order, that is bad and the reason (-1 if none).
func (p *plan) checkFields(data []byte, recs *csvparse.Records, fields []csvparse.Field, rt *router) (int, string) {
	for f, fl := range fields {
		c := p.fieldCol[f]
		cp := &p.cols[c]
		if cp.kind == jobs.String && !cp.fixed {
			continue // any valid UTF-8 (checked) is a string
		}
		if why := p.keyValue(cp, recs.Bytes(data, fl), rt); why != "" {
			return c, why
		}
	}
	return -1, ""
}

// invalidUTF8 returns the schema column of the first field that is not
// valid UTF-8, or -1.
func (p *plan) invalidUTF8(data []byte, recs *csvparse.Records, fields []csvparse.Field) int {
	for c := range p.cols {
		if !utf8.Valid(recs.Bytes(data, fields[p.cols[c].source])) {
			return c
		}
	}
	return -1
}

// addReject records record i of chunk ch (parsed into recs) as rejected.
func (b *batch) addReject(p *plan, recs *csvparse.Records, i int, ch *csvparse.Chunk, column, reason string, fieldsOK bool) {
	rec := &recs.Recs[i]
	r := p.newReject(ch.Data, recs, i, ch.Line+rec.Line, ch.Offset+int64(rec.Start), column, reason, fieldsOK)
	r.row = b.rows
	b.rejects = append(b.rejects, r)
}

// fieldHash is the Hive field hash (bucketing version 1 or 2) of row of a
// typed column; NULL hashes to 0.
func fieldHash(version int, kind jobs.Kind, col *pqwrite.Column, row int) int32 {
	if !col.Present(row) {
		return 0
	}
	if version == 2 {
		switch kind {
		case jobs.String:
			return hive.StringV2(col.Bytes(row))
		case jobs.Int:
			return hive.IntV2(col.I32[row])
		case jobs.Date:
			return hive.DateV2(col.I32[row])
		case jobs.Bigint:
			return hive.BigintV2(col.I64[row])
		case jobs.Boolean:
			return hive.BooleanV2(col.Bool[row] != 0)
		case jobs.Double:
			return hive.DoubleV2(col.F64[row])
		}
		return 0
	}
	switch kind {
	case jobs.String:
		return hive.StringV1(col.Bytes(row))
	case jobs.Int:
		return hive.IntV1(col.I32[row])
	case jobs.Date:
		return hive.DateV1(col.I32[row])
	case jobs.Bigint:
		return hive.BigintV1(col.I64[row])
	case jobs.Boolean:
		return hive.BooleanV1(col.Bool[row] != 0)
	case jobs.Double:
		return hive.DoubleV1(col.F64[row])
	}
	return 0
}
