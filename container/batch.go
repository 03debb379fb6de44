package container

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tierflow/tierflow/container/csvparse"
	"github.com/tierflow/tierflow/container/hive"
	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/jobs"
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

// rawCap bounds the raw line kept for a reject.
const rawCap = 4096

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
		if data[pos] == '\n' {
			b.blank++
			pos++
			line++
			continue
		}
		if data[pos] == '\r' && (pos+1 == n || data[pos+1] == '\n') {
			b.blank++
			pos += 2
			if pos > n {
				pos = n
			} else {
				line++
			}
			continue
		}
		if ch.Seq == 0 && b.header == nil {
			recs.Reset()
			next, lines := recs.ParseRecord(data, pos, p.delim, line)
			if recs.Recs[0].Err != csvparse.OK {
				b.err = fmt.Errorf("header record (line 1, byte offset 0): %v", recs.Recs[0].Err)
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

func cmpInt64(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// hotField is the per-field state pass 2 touches for every value, packed
// so that a record's 406 fields stay in the first-level cache (the columns
// themselves are 250-byte structs): the column's dictionary indices and
// the last value's key while the column is in dictionary form.
type hotField struct {
	idx     []uint16
	lastKey uint64
	dict    *pqwrite.StringDict
	col     int32
	kind    uint8
	last    uint16
}

// Kinds of hotField.
const (
	hotOther = iota // every other type: p.convert
	hotDict         // string in dictionary form
	hotPlain        // string, PLAIN
	hotInt          // int: the small-int fast path first
	hotFixed        // string normalised or checked first (colPlan.fix), no shortcut
)

// loadHot fills hot from the columns, before a sub-chunk is converted.
func (p *plan) loadHot(hot []hotField, cols []pqwrite.Column) {
	for f := range hot {
		h := &hot[f]
		c := p.fieldCol[f]
		col := &cols[c]
		*h = hotField{col: int32(c), lastKey: ^uint64(0)}
		switch {
		case p.cols[c].fixed:
			h.kind = hotFixed
		case p.cols[c].kind == jobs.String && col.Dict != nil:
			h.kind, h.dict, h.idx = hotDict, col.Dict, col.Idx
		case p.cols[c].kind == jobs.String:
			h.kind = hotPlain
		case p.cols[c].kind == jobs.Int:
			h.kind = hotInt
		}
	}
}

// storeHot writes hot back into the columns.
func storeHot(hot []hotField, cols []pqwrite.Column) {
	for f := range hot {
		if h := &hot[f]; h.kind == hotDict {
			cols[h.col].Idx = h.idx
		}
	}
}

// convertLine converts one record without quotes (body: its bytes
// without the terminator) into cols, through hot (see loadHot). It splits
// the record eight bytes at a time, then converts field by field; it
// returns false, appending nothing, when the record does not have the
// expected number of fields (bounds then holds the field count found).
func (p *plan) convertLine(body []byte, hot []hotField, cols []pqwrite.Column, bounds *[]uint32, scratch *[]byte, onBad func(c int, why string)) bool {
	const lo7 = 0x7f7f7f7f7f7f7f7f
	pat := uint64(p.delim) * 0x0101010101010101
	ends := (*bounds)[:0]
	i := 0
	for ; i+8 <= len(body); i += 8 {
		x := binary.LittleEndian.Uint64(body[i:]) ^ pat
		m := ^((x&lo7 + lo7) | x | lo7)
		for m != 0 {
			ends = append(ends, uint32(i+bits.TrailingZeros64(m)>>3))
			m &= m - 1
		}
	}
	for ; i < len(body); i++ {
		if body[i] == p.delim {
			ends = append(ends, uint32(i))
		}
	}
	ends = append(ends, uint32(len(body)))
	*bounds = ends
	if len(ends) != len(hot) {
		return false
	}
	start := uint32(0)
	for f, end := range ends {
		v := body[start:end]
		start = end + 1
		h := &hot[f]
		switch h.kind {
		case hotDict:
			if key, short := pqwrite.ShortKey(v); short && key == h.lastKey && len(h.idx) != pqwrite.DictProbe {
				h.idx = append(h.idx, h.last)
				continue
			}
		case hotInt:
			if x, ok := p.smallInt(v); ok {
				col := &cols[h.col]
				if len(col.Def) > 0 {
					col.Def = append(col.Def, 1)
				}
				col.I32 = append(col.I32, x)
				continue
			}
		}
		p.convertField(h, cols, v, scratch, onBad)
	}
	return true
}

// smallInt parses an unsigned int of at most 9 digits (it fits an int32)
// that is not a NULL marker: the common case, without the general
// parser's checks.
func (p *plan) smallInt(v []byte) (int32, bool) {
	if len(v) == 0 || len(v) > 9 || (p.markerLens>>len(v)&1 != 0 && p.isNullMarker(v)) {
		return 0, false
	}
	x, ok := digits(v)
	return int32(x), ok
}

// convertField appends value v of a record to its field's column
// (scratch: room for a normalised value).
func (p *plan) convertField(h *hotField, cols []pqwrite.Column, v []byte, scratch *[]byte, onBad func(c int, why string)) {
	col := &cols[h.col]
	switch h.kind {
	case hotFixed:
		v, why := p.cols[h.col].fix(v, scratch)
		if why != "" {
			// The value is still appended, as a placeholder: the row is
			// removed with its values, dictionary entries included.
			onBad(int(h.col), why)
		}
		if col.Dict != nil {
			if idx, ok := col.Dict.Add(col.Idx, v); ok {
				col.Idx = idx
				return
			}
			materialize(col)
		}
		appendString(col, v)
		return
	case hotDict:
		idx, ok := h.dict.Add(h.idx, v)
		if ok {
			h.idx = idx
			if key, short := pqwrite.ShortKey(v); short {
				h.lastKey, h.last = key, idx[len(idx)-1]
			}
			return
		}
		// The dictionary does not pay: PLAIN from now on.
		col.Idx = h.idx
		materialize(col)
		h.kind, h.idx, h.dict = hotPlain, nil, nil
		fallthrough
	case hotPlain:
		appendString(col, v)
		return
	}
	cp := &p.cols[h.col]
	if why := p.convert(cp, v, col); why != "" {
		onBad(int(h.col), why)
		p.appendNull(cp, col)
	}
}

// colMark is where a column's vectors ended before a block of rows was
// appended.
type colMark struct {
	rows, data, long int
	dict             bool
}

func markOf(cp *colPlan, col *pqwrite.Column) colMark {
	return colMark{rows: col.Len(cp.phys, cp.flba), data: len(col.Data), long: len(col.Long), dict: col.Dict != nil}
}

// compactTail removes the rows appended after mark m whose keep is false
// (keep has one entry per appended row).
func compactTail(cp *colPlan, col *pqwrite.Column, m colMark, keep []bool) {
	view := pqwrite.Column{}
	if len(col.Def) > 0 {
		view.Def = col.Def[m.rows:]
	}
	switch cp.phys {
	case pqwrite.Int32:
		view.I32 = col.I32[m.rows:]
	case pqwrite.Int64:
		view.I64 = col.I64[m.rows:]
	case pqwrite.Double:
		view.F64 = col.F64[m.rows:]
	case pqwrite.Boolean:
		view.Bool = col.Bool[m.rows:]
	case pqwrite.FixedLenByteArray:
		view.Data = col.Data[m.rows*cp.flba:]
	case pqwrite.ByteArray:
		if col.Dict != nil {
			view.Dict, view.Idx = col.Dict, col.Idx[m.rows:]
			col.DictSparse = true
			break
		}
		if m.dict {
			// The column left its dictionary after the mark: find where
			// the marked rows end in Data and Long.
			m.data, m.long = 0, 0
			for _, l := range col.Lens[:m.rows] {
				if l == pqwrite.LongLen {
					m.data += int(col.Long[m.long])
					m.long++
					continue
				}
				m.data += int(l)
			}
		}
		view.Data, view.Lens, view.Long = col.Data[m.data:], col.Lens[m.rows:], col.Long[m.long:]
	}
	compact(cp, &view, keep)
	if len(col.Def) > 0 {
		col.Def = col.Def[:m.rows+len(view.Def)]
	}
	switch cp.phys {
	case pqwrite.Int32:
		col.I32 = col.I32[:m.rows+len(view.I32)]
	case pqwrite.Int64:
		col.I64 = col.I64[:m.rows+len(view.I64)]
	case pqwrite.Double:
		col.F64 = col.F64[:m.rows+len(view.F64)]
	case pqwrite.Boolean:
		col.Bool = col.Bool[:m.rows+len(view.Bool)]
	case pqwrite.FixedLenByteArray:
		col.Data = col.Data[:m.rows*cp.flba+len(view.Data)]
	case pqwrite.ByteArray:
		if col.Dict != nil {
			col.Idx = col.Idx[:m.rows+len(view.Idx)]
			break
		}
		col.Data = col.Data[:m.data+len(view.Data)]
		col.Lens = col.Lens[:m.rows+len(view.Lens)]
		col.Long = col.Long[:m.long+len(view.Long)]
	}
}

// compact keeps the rows of col whose keep is true, in place.
func compact(cp *colPlan, col *pqwrite.Column, keep []bool) {
	if col.Dict != nil {
		w := 0
		for j, k := range keep {
			if k {
				if len(col.Def) > 0 {
					col.Def[w] = col.Def[j]
				}
				col.Idx[w] = col.Idx[j]
				w++
			}
		}
		col.Idx = col.Idx[:w]
		if len(col.Def) > 0 {
			col.Def = col.Def[:w]
		}
		return
	}
	if cp.phys == pqwrite.ByteArray {
		// Rebuild Data, Lens and Long from the kept rows (in place: the
		// write positions never pass the read positions).
		var s, dpos, lw, lr int
		w := 0
		for j, k := range keep {
			l := int(col.Lens[j])
			long := l == pqwrite.LongLen
			if long {
				l = int(col.Long[lr])
				lr++
			}
			if k {
				copy(col.Data[dpos:], col.Data[s:s+l])
				dpos += l
				col.Lens[w] = col.Lens[j]
				if long {
					col.Long[lw] = uint32(l)
					lw++
				}
				w++
			}
			s += l
		}
		col.Data, col.Lens, col.Long = col.Data[:dpos], col.Lens[:w], col.Long[:lw]
		return
	}
	w := 0
	for j, k := range keep {
		if !k {
			continue
		}
		if len(col.Def) > 0 {
			col.Def[w] = col.Def[j]
		}
		switch cp.phys {
		case pqwrite.Int32:
			col.I32[w] = col.I32[j]
		case pqwrite.Int64:
			col.I64[w] = col.I64[j]
		case pqwrite.Double:
			col.F64[w] = col.F64[j]
		case pqwrite.Boolean:
			col.Bool[w] = col.Bool[j]
		case pqwrite.FixedLenByteArray:
			copy(col.Data[w*cp.flba:], col.Data[j*cp.flba:(j+1)*cp.flba])
		}
		w++
	}
	if len(col.Def) > 0 {
		col.Def = col.Def[:w]
	}
	switch cp.phys {
	case pqwrite.Int32:
		col.I32 = col.I32[:w]
	case pqwrite.Int64:
		col.I64 = col.I64[:w]
	case pqwrite.Double:
		col.F64 = col.F64[:w]
	case pqwrite.Boolean:
		col.Bool = col.Bool[:w]
	case pqwrite.FixedLenByteArray:
		col.Data = col.Data[:w*cp.flba]
	}
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

// setDef records the definition level of the row being appended to a
// column holding rows rows; the first NULL materialises Def.
func setDef(col *pqwrite.Column, rows int, present bool) {
	if present {
		if len(col.Def) > 0 {
			col.Def = append(col.Def, 1)
		}
		return
	}
	if len(col.Def) == 0 {
		col.Def = slices.Grow(col.Def[:0], max(rows+1, 64))[:rows]
		for i := range col.Def {
			col.Def[i] = 1
		}
	}
	col.Def = append(col.Def, 0)
}

// appendNull appends a NULL (a placeholder for a rejected row).
func (p *plan) appendNull(cp *colPlan, col *pqwrite.Column) {
	n := col.Len(cp.phys, cp.flba)
	setDef(col, n, false)
	switch cp.phys {
	case pqwrite.Int32:
		col.I32 = append(col.I32, 0)
	case pqwrite.Int64:
		col.I64 = append(col.I64, 0)
	case pqwrite.Double:
		col.F64 = append(col.F64, 0)
	case pqwrite.Boolean:
		col.Bool = append(col.Bool, 0)
	case pqwrite.ByteArray:
		col.AppendLen(0)
	case pqwrite.FixedLenByteArray:
		col.Data = append(col.Data, make([]byte, cp.flba)...)
	}
}

// materialize turns a column in dictionary form into Data and Lens, for
// a dictionary that does not pay.
func materialize(col *pqwrite.Column) {
	d := col.Dict
	col.Data, col.Lens, col.Long = col.Data[:0], col.Lens[:0], col.Long[:0]
	for _, i := range col.Idx {
		v := d.Entry(int(i))
		col.Data = append(col.Data, v...)
		col.AppendLen(len(v))
	}
	col.Idx, col.Dict, col.DictFailed = col.Idx[:0], nil, true
}

// appendString appends v to a string column; short values (the common
// case) are copied inline rather than through memmove.
func appendString(col *pqwrite.Column, v []byte) {
	n := len(col.Data)
	if cap(col.Data)-n < len(v) {
		col.Data = slices.Grow(col.Data, max(len(v), cap(col.Data)))
	}
	if len(v) <= 8 && cap(v) >= 8 && cap(col.Data)-n >= 8 {
		// One 8-byte move; the bytes past len(v) land in spare capacity
		// and are overwritten by the next value.
		binary.LittleEndian.PutUint64(col.Data[n:n+8], binary.LittleEndian.Uint64(v[:8]))
		col.Data = col.Data[:n+len(v)]
	} else {
		col.Data = append(col.Data, v...)
	}
	col.AppendLen(len(v))
}

// convert parses field v as column cp and appends it to col. On failure it
// appends nothing and returns the reason.
func (p *plan) convert(cp *colPlan, v []byte, col *pqwrite.Column) string {
	if cp.kind == jobs.String {
		appendString(col, v)
		return ""
	}
	if len(v) == 0 || (p.markerLens>>min(len(v), 63)&1 != 0 && p.isNullMarker(v)) {
		p.appendNull(cp, col)
		return ""
	}
	switch cp.kind {
	case jobs.Int:
		x, why := parseInt32(v)
		if why != "" {
			return why
		}
		setDef(col, len(col.I32), true)
		col.I32 = append(col.I32, x)
	case jobs.Date:
		x, why := parseDate(v)
		if why != "" {
			return why
		}
		setDef(col, len(col.I32), true)
		col.I32 = append(col.I32, x)
	case jobs.Bigint:
		x, why := parseInt64(v)
		if why != "" {
			return why
		}
		setDef(col, len(col.I64), true)
		col.I64 = append(col.I64, x)
	case jobs.Timestamp:
		x, why := parseTimestamp(v)
		if why != "" {
			return why
		}
		setDef(col, len(col.I64), true)
		col.I64 = append(col.I64, x)
	case jobs.Double:
		x, why := parseDouble(v)
		if why != "" {
			return why
		}
		setDef(col, len(col.F64), true)
		col.F64 = append(col.F64, x)
	case jobs.Boolean:
		x, why := parseBool(v)
		if why != "" {
			return why
		}
		setDef(col, len(col.Bool), true)
		var bv byte
		if x {
			bv = 1
		}
		col.Bool = append(col.Bool, bv)
	case jobs.Decimal:
		hi, lo, why := parseDecimal(v, cp.typ.Precision, cp.typ.Scale)
		if why != "" {
			return why
		}
		switch cp.phys {
		case pqwrite.Int32:
			setDef(col, len(col.I32), true)
			col.I32 = append(col.I32, int32(lo))
		case pqwrite.Int64:
			setDef(col, len(col.I64), true)
			col.I64 = append(col.I64, int64(lo))
		default:
			setDef(col, len(col.Data)/cp.flba, true)
			var be [16]byte
			for k := 0; k < 8; k++ {
				be[7-k] = byte(uint64(hi) >> (8 * k))
				be[15-k] = byte(lo >> (8 * k))
			}
			col.Data = append(col.Data, be[16-cp.flba:]...)
		}
	default:
		return fmt.Sprintf("unsupported type %v", cp.typ)
	}
	return ""
}
