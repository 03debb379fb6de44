package container

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/jobs"
)

// hotField is the per-field state pass 2 touches for every value, packed
// so that a record's 406 fields stay in the first-level cache (the columns
// themselves are 250-byte structs): the column's dictionary indices and,
// while the column is in dictionary form, the entries of its recent short
// values.
type hotField struct {
	idx  []uint16
	dict *pqwrite.StringDict
	// keys and ents cache short values' dictionary entries, direct-mapped
	// by the low bits of the value's first byte (hotWay): a column of a
	// few codes ("Y", "N", "") finds each value here instead of hashing
	// it. ^0 marks an empty way (no short key has it).
	keys [hotWays]uint64
	ents [hotWays]uint16
	col  int32
	kind uint8
}

// hotWays is the number of cached values per field.
const hotWays = 4

// hotWay is the way of a short key.
func hotWay(key uint64) uint64 { return key & (hotWays - 1) }

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
		*h = hotField{col: int32(c)}
		for k := range h.keys {
			h.keys[k] = ^uint64(0)
		}
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
			if key, short := pqwrite.ShortKey(v); short && h.keys[hotWay(key)] == key && len(h.idx) != pqwrite.DictProbe {
				h.idx = append(h.idx, h.ents[hotWay(key)])
				continue
			}
		case hotInt:
			col := &cols[h.col]
			if x, ok := p.smallInt(v); ok {
				if len(col.Def) > 0 {
					col.Def = append(col.Def, 1)
				}
				col.I32 = append(col.I32, x)
				continue
			}
			if len(v) == 0 {
				// An empty int is NULL (a quarter of the values of the
				// shipped job's int columns).
				setDef(col, len(col.I32), false)
				col.I32 = append(col.I32, 0)
				continue
			}
		case hotOther:
			// Not through convertField: one call less for a third of
			// the values that miss the fast paths above.
			cp := &p.cols[h.col]
			if why := p.convert(cp, v, &cols[h.col]); why != "" {
				onBad(int(h.col), why)
				p.appendNull(cp, &cols[h.col])
			}
			continue
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
				h.keys[hotWay(key)], h.ents[hotWay(key)] = key, idx[len(idx)-1]
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
