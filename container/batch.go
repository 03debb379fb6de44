package container

import (
	"bytes"
	"encoding/binary"
	"fmt"
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
	column string
	reason string
	raw    string // PII redacted
}

// batch is one parsed chunk: typed column vectors with rows grouped by
// bucket (bucket b owns rows [starts[b], starts[b+1])), in input order
// within a bucket.
type batch struct {
	seq     int
	rows    int64 // records read (header excluded), good and bad
	blank   int
	header  []string // chunk 0 only
	noHead  bool     // chunk 0 only: the part has no header record
	cols    []pqwrite.Column
	starts  []int
	rejects []reject
	err     error

	// scratch
	recs    csvparse.Records
	bucket  []int32 // per record: bucket, or -1 when rejected
	order   []int32 // record indices grouped by bucket
	bad     []int32 // per grouped position: schema column that failed +1, 0 = ok
	badWhy  []string
	counts  []int
	hashCol pqwrite.Column
	// per string column: bucket bk's rows start at byte dataStart[c][bk]
	// of Data and at entry longStart[c][bk] of Long
	dataStart [][]uint32
	longStart [][]uint32
}

func newBatch(p *plan) *batch {
	return &batch{cols: make([]pqwrite.Column, len(p.cols)), starts: make([]int, p.bucketCount+1), counts: make([]int, p.bucketCount)}
}

func (b *batch) reset() {
	for i := range b.cols {
		b.cols[i].Reset()
	}
	b.rows, b.blank, b.header, b.noHead, b.err = 0, 0, nil, false, nil
	b.rejects = b.rejects[:0]
}

// rawCap bounds the raw line kept for a reject.
const rawCap = 4096

// parseChunk converts chunk ch into b.
func (p *plan) parseChunk(ch *csvparse.Chunk, b *batch) {
	b.reset()
	b.seq = ch.Seq
	data := ch.Data
	recs := &b.recs
	csvparse.Parse(data, p.delim, recs)
	b.blank = recs.Blank
	first := 0
	if ch.Seq == 0 {
		if len(recs.Recs) == 0 {
			b.noHead = true
			return
		}
		r0 := &recs.Recs[0]
		if r0.Err != csvparse.OK {
			b.err = fmt.Errorf("header record (line 1): %v", r0.Err)
			return
		}
		for _, f := range recs.RecordFields(0) {
			b.header = append(b.header, string(recs.Bytes(data, f)))
		}
		first = 1
	}
	nrec := len(recs.Recs)
	b.rows = int64(nrec - first)
	allUTF8 := utf8.Valid(data)
	nf := len(p.header)

	// Pass 1: structure and bucket of every record.
	b.bucket = slices.Grow(b.bucket[:0], nrec)[:nrec]
	for i := range b.counts {
		b.counts[i] = 0
	}
	hc := &b.hashCol
	for i := first; i < nrec; i++ {
		rec := &recs.Recs[i]
		b.bucket[i] = -1
		if rec.Err != csvparse.OK {
			b.addReject(p, ch, i, "", rec.Err.String(), false)
			continue
		}
		if rec.NumFields != nf {
			b.addReject(p, ch, i, "", fmt.Sprintf("wrong field count: %d, want %d", rec.NumFields, nf), false)
			continue
		}
		fields := recs.RecordFields(i)
		if !allUTF8 {
			if col := p.invalidUTF8(data, recs, fields); col >= 0 {
				b.addReject(p, ch, i, p.cols[col].name, "invalid UTF-8", true)
				continue
			}
		}
		var h int32
		ok := true
		for _, c := range p.bucketCols {
			cp := &p.cols[c]
			hc.Reset()
			if why := p.convert(cp, recs.Bytes(data, fields[cp.source]), hc); why != "" {
				b.addReject(p, ch, i, cp.name, why, true)
				ok = false
				break
			}
			h = hive.Combine(h, fieldHash(p.version, cp.kind, hc, 0))
		}
		if !ok {
			continue
		}
		bk := int32(0)
		if len(p.bucketCols) > 0 {
			bk = int32(hive.Bucket(h, p.bucketCount))
		}
		b.bucket[i] = bk
		b.counts[bk]++
	}
	// Group record indices by bucket (stable counting sort).
	total := 0
	for bk, c := range b.counts {
		b.starts[bk] = total
		total += c
	}
	b.starts[p.bucketCount] = total
	b.order = slices.Grow(b.order[:0], total)[:total]
	next := b.counts // reuse as running positions
	for bk := range next {
		next[bk] = b.starts[bk]
	}
	for i := first; i < nrec; i++ {
		if bk := b.bucket[i]; bk >= 0 {
			b.order[next[bk]] = int32(i)
			next[bk]++
		}
	}

	// Pass 2: convert in grouped order, in blocks of rows: within a block,
	// column by column, so each column vector is appended to as one stream
	// while the block's field offsets stay in cache.
	b.bad = slices.Grow(b.bad[:0], total)[:total]
	clear(b.bad)
	b.badWhy = b.badWhy[:0]
	anyBad := false
	for c := range p.cols {
		p.reserve(&p.cols[c], &b.cols[c], total)
	}
	const rowBlock = 128
	var firsts [rowBlock]int
	fields := recs.Fields
	for j0 := 0; j0 < total; j0 += rowBlock {
		blk := b.order[j0:min(total, j0+rowBlock)]
		for k, ri := range blk {
			firsts[k] = recs.Recs[ri].FirstField
		}
		fi := firsts[:len(blk)]
		onBad := func(k int, c int, why string) {
			j := j0 + k
			if b.bad[j] == 0 {
				b.bad[j] = int32(len(b.badWhy) + 1)
				b.badWhy = append(b.badWhy, p.cols[c].name+"\x00"+why)
			}
			anyBad = true
		}
		for c := range p.cols {
			cp := &p.cols[c]
			col := &b.cols[c]
			src := cp.source
			switch cp.kind {
			case jobs.String:
				appendStrings(col, recs, data, fields, fi, src)
				continue
			case jobs.Int:
				p.appendInts(c, col, recs, data, fields, fi, src, onBad)
				continue
			}
			for k, first := range fi {
				v := recs.Bytes(data, fields[first+src])
				if why := p.convert(cp, v, col); why != "" {
					onBad(k, c, why)
					p.appendNull(cp, col)
				}
			}
		}
	}
	if anyBad {
		b.dropBad(p, ch)
	}
	b.stringStarts(p)
	// Rejects in input order.
	slices.SortFunc(b.rejects, func(x, y reject) int {
		if x.offset < y.offset {
			return -1
		}
		if x.offset > y.offset {
			return 1
		}
		return 0
	})
}

// dropBad moves rows that failed conversion to the rejects and compacts
// the column vectors.
func (b *batch) dropBad(p *plan, ch *csvparse.Chunk) {
	keep := make([]bool, len(b.order))
	for j, ri := range b.order {
		if k := b.bad[j]; k != 0 {
			col, why, _ := strings.Cut(b.badWhy[k-1], "\x00")
			b.addReject(p, ch, int(ri), col, why, true)
			continue
		}
		keep[j] = true
	}
	for c := range p.cols {
		compact(&p.cols[c], &b.cols[c], keep)
	}
	// New bucket ranges.
	pos := 0
	for bk := 0; bk < p.bucketCount; bk++ {
		lo, hi := b.starts[bk], b.starts[bk+1]
		b.starts[bk] = pos
		for j := lo; j < hi; j++ {
			if keep[j] {
				pos++
			}
		}
	}
	b.starts[p.bucketCount] = pos
}

func compact(cp *colPlan, col *pqwrite.Column, keep []bool) {
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

// stringStarts records, for every string column, where each bucket's rows
// start in Data and in Long, so the accumulator can copy a bucket's range
// without scanning.
func (b *batch) stringStarts(p *plan) {
	nb := p.bucketCount
	if b.dataStart == nil {
		b.dataStart = make([][]uint32, len(p.cols))
		b.longStart = make([][]uint32, len(p.cols))
	}
	for c := range p.cols {
		if p.cols[c].phys != pqwrite.ByteArray {
			continue
		}
		ds := slices.Grow(b.dataStart[c][:0], nb+1)[:nb+1]
		ls := slices.Grow(b.longStart[c][:0], nb+1)[:nb+1]
		col := &b.cols[c]
		var off, nlong uint32
		long := col.Long
		for bk := 0; bk < nb; bk++ {
			ds[bk], ls[bk] = off, nlong
			for _, l := range col.Lens[b.starts[bk]:b.starts[bk+1]] {
				if l == pqwrite.LongLen {
					off += long[nlong]
					nlong++
					continue
				}
				off += uint32(l)
			}
		}
		ds[nb], ls[nb] = off, nlong
		b.dataStart[c], b.longStart[c] = ds, ls
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

// addReject records record i of the chunk as rejected. fieldsOK says the
// record split into the expected fields, so PII fields can be redacted one
// by one; otherwise the whole line is redacted when the schema has PII.
func (b *batch) addReject(p *plan, ch *csvparse.Chunk, i int, column, reason string, fieldsOK bool) {
	recs := &b.recs
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
			v := recs.Bytes(ch.Data, f)
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
		raw = fmt.Sprintf("<redacted: %d fields, %d bytes>", rec.NumFields, rec.End-rec.Start)
	default:
		raw = string(ch.Data[rec.Start:min(rec.End, rec.Start+rawCap)])
	}
	if len(raw) > rawCap {
		raw = raw[:rawCap] + "…(truncated)"
	}
	raw = strings.ToValidUTF8(strings.TrimRight(raw, "\r\n"), "\uFFFD")
	b.rejects = append(b.rejects, reject{
		line:   ch.Line + rec.Line,
		offset: ch.Offset + int64(rec.Start),
		column: column,
		reason: reason,
		raw:    raw,
	})
}

// reserve grows col's buffers for n more rows.
func (p *plan) reserve(cp *colPlan, col *pqwrite.Column, n int) {
	switch cp.phys {
	case pqwrite.Int32:
		col.I32 = slices.Grow(col.I32, n)
	case pqwrite.Int64:
		col.I64 = slices.Grow(col.I64, n)
	case pqwrite.Double:
		col.F64 = slices.Grow(col.F64, n)
	case pqwrite.Boolean:
		col.Bool = slices.Grow(col.Bool, n)
	case pqwrite.ByteArray:
		col.Lens = slices.Grow(col.Lens, n)
	case pqwrite.FixedLenByteArray:
		col.Data = slices.Grow(col.Data, n*cp.flba)
	}
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

// appendStrings appends field src of a block of records (fi: their first
// field) to a string column (Data and Lens). The slice headers live in
// locals for the loop, and short values move as one 8-byte word.
func appendStrings(col *pqwrite.Column, recs *csvparse.Records, data []byte, fields []csvparse.Field, fi []int, src int) {
	d, lens := col.Data, slices.Grow(col.Lens, len(fi))
	for _, first := range fi {
		v := recs.Bytes(data, fields[first+src])
		n := len(d)
		if cap(d)-n < len(v)+8 {
			d = slices.Grow(d, max(len(v)+8, cap(d)))
		}
		if len(v) <= 8 && cap(v) >= 8 {
			// The bytes past len(v) land in spare capacity and are
			// overwritten by the next value.
			binary.LittleEndian.PutUint64(d[n:n+8], binary.LittleEndian.Uint64(v[:8]))
			d = d[:n+len(v)]
		} else {
			d = append(d, v...)
		}
		if len(v) >= pqwrite.LongLen {
			col.Lens = lens
			col.AppendLen(len(v))
			lens = col.Lens
			continue
		}
		lens = append(lens, uint16(len(v)))
	}
	col.Data, col.Lens = d, lens
}

// appendInts is the int (INT32) counterpart of appendStrings: NULLs,
// markers and parse failures handled inline, failures reported to onBad.
func (p *plan) appendInts(c int, col *pqwrite.Column, recs *csvparse.Records, data []byte, fields []csvparse.Field, fi []int, src int, onBad func(k, c int, why string)) {
	vals, def := col.I32, col.Def
	for k, first := range fi {
		v := recs.Bytes(data, fields[first+src])
		if len(v) != 0 && (p.markerLens>>min(len(v), 63)&1 == 0 || !p.isNullMarker(v)) {
			x, why := parseInt32(v)
			if why == "" {
				if len(def) > 0 {
					def = append(def, 1)
				}
				vals = append(vals, x)
				continue
			}
			onBad(k, c, why)
		}
		// NULL (or a placeholder for a rejected row).
		if len(def) == 0 {
			def = slices.Grow(def[:0], max(len(vals)+1, 64))[:len(vals)]
			for i := range def {
				def[i] = 1
			}
		}
		def = append(def, 0)
		vals = append(vals, 0)
	}
	col.I32, col.Def = vals, def
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
