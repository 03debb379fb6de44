package pqwrite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

const (
	// dictMaxEntries and dictMaxBytes bound a column chunk's dictionary;
	// past them the chunk falls back to PLAIN.
	dictMaxEntries = 1 << 15
	dictMaxBytes   = 1 << 20
	// dictProbe values are looked at before deciding whether a dictionary
	// pays: more than half of them distinct means it does not.
	dictProbe = 1024
)

// Encoder holds scratch buffers reused from column chunk to column chunk.
// It is not safe for concurrent use; give each goroutine its own.
type Encoder struct {
	def []byte
	// The present values of the chunk being encoded: the column's own
	// vectors when it is taken whole, in order and without NULLs (read
	// only), else copies in the scratch below.
	i32   []int32
	i64   []int64
	f64   []float64
	bools []byte
	data  []byte // FixedLenByteArray values
	// scratch for the copies
	i32s   []int32
	i64s   []int64
	f64s   []float64
	boolS  []byte
	dataS  []byte
	src    *Column // ByteArray source column
	rows   []int32 // ByteArray: source row of each present value (nil = identity)
	idx    []int32
	idx16  []uint16   // instead of idx: a NULL-free dictionary column's own indices
	srcIdx []int32    // dictionary index by source row (see buildDict)
	ends   []uint32   // Ends of a Lens-only ByteArray column, while it is encoded
	dict   *bytesDict // the ByteArray dictionary of the chunk being encoded
	used   []bool     // per entry of a sparse dictionary: used by a row
	remap  []int32    // per entry of a sparse dictionary: its new index
	spare  bytesDict  // a sparse dictionary's used entries
	nvals  int        // present values of the chunk being encoded

	pages   []pageStat // data pages of the chunk being encoded
	statBuf []byte     // the pages' bounds
	order   []int32    // dictionary entries in the column's order
	rank    []int32    // position of each dictionary entry in order
	hashes  []uint64   // bloom filter: hashes of the distinct values

	body []byte
	comp []byte
	out  []byte

	u64  u64Dict
	byts bytesDict
	prot thrift.CompactProtocol
}

// chunk is one encoded column chunk: its bytes and metadata with offsets
// relative to the chunk start.
type chunk struct {
	bytes       []byte
	meta        format.ColumnMetaData
	stats       statistics // the footer's: bounds maybe truncated, with their exactness
	hasDict     bool
	dictFailed  bool  // a dictionary was tried and did not pay
	dataOffset  int64 // relative
	pages       []pageStat
	columnIndex []byte // serialized; nil when the chunk has none
	bloom       []byte // header and bitset; nil when the column has none
}

// gather copies rows perm (or 0..n-1) of col into the encoder's contiguous
// scratch: def levels for every row, values for present rows only. A
// column taken whole (no perm) without NULLs is not copied: its values are
// read where they are. It returns the number of NULLs.
func (e *Encoder) gather(p Physical, flba int, col *Column, perm []int32, n int) int {
	e.def = grow(e.def[:0], n)
	nulls := 0
	row := func(j int) int {
		if perm == nil {
			return j
		}
		return int(perm[j])
	}
	for j := 0; j < n; j++ {
		d := byte(1)
		if len(col.Def) > 0 {
			d = col.Def[row(j)]
			if d == 0 {
				nulls++
			}
		}
		e.def[j] = d
	}
	whole := perm == nil && nulls == 0
	switch p {
	case Int32:
		if whole {
			e.i32 = col.I32[:n]
			break
		}
		e.i32s = e.i32s[:0]
		for j := 0; j < n; j++ {
			if e.def[j] != 0 {
				e.i32s = append(e.i32s, col.I32[row(j)])
			}
		}
		e.i32 = e.i32s
	case Int64:
		if whole {
			e.i64 = col.I64[:n]
			break
		}
		e.i64s = e.i64s[:0]
		for j := 0; j < n; j++ {
			if e.def[j] != 0 {
				e.i64s = append(e.i64s, col.I64[row(j)])
			}
		}
		e.i64 = e.i64s
	case Double:
		if whole {
			e.f64 = col.F64[:n]
			break
		}
		e.f64s = e.f64s[:0]
		for j := 0; j < n; j++ {
			if e.def[j] != 0 {
				e.f64s = append(e.f64s, col.F64[row(j)])
			}
		}
		e.f64 = e.f64s
	case Boolean:
		if whole {
			e.bools = col.Bool[:n]
			break
		}
		e.boolS = e.boolS[:0]
		for j := 0; j < n; j++ {
			if e.def[j] != 0 {
				e.boolS = append(e.boolS, col.Bool[row(j)])
			}
		}
		e.bools = e.boolS
	case ByteArray:
		// Strings are not copied: values are read from the source column
		// through e.rows (nil: row k is value k).
		e.src = col
		e.rows = e.rows[:0]
		if perm == nil && nulls == 0 {
			e.rows = nil
			break
		}
		for j := 0; j < n; j++ {
			if e.def[j] != 0 {
				e.rows = append(e.rows, int32(row(j)))
			}
		}
	case FixedLenByteArray:
		if whole {
			e.data = col.Data[:n*flba]
			break
		}
		e.dataS = e.dataS[:0]
		for j := 0; j < n; j++ {
			if e.def[j] != 0 {
				r := row(j)
				e.dataS = append(e.dataS, col.Data[r*flba:(r+1)*flba]...)
			}
		}
		e.data = e.dataS
	}
	return nulls
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// encodeChunk encodes rows perm (or 0..n-1) of col as one column chunk,
// with its page index and, when bloom is set, its bloom filter.
func (e *Encoder) encodeChunk(spec *colInfo, col *Column, perm []int32, n int, tryDict bool, o *Options, bloom bool) (*chunk, error) {
	if col.Dict != nil {
		if spec.phys != ByteArray || perm != nil || len(col.Idx) < n {
			return nil, errors.New("dictionary column: ByteArray, in row order, with a value per row")
		}
		return e.encodeDictChunk(spec, col, n, o, bloom)
	}
	if spec.phys == ByteArray && len(col.Ends) < len(col.Lens) {
		// Ends only while this column is encoded: for a whole row group
		// they would cost 4 bytes per value.
		col.FillEnds(e.ends)
		e.ends = col.Ends
		defer func() { col.Ends = nil }()
	}
	nulls := e.gather(spec.phys, spec.flba, col, perm, n)
	nvals := n - nulls
	ch := e.newChunk(spec, n, nulls)
	ndict := 0
	if tryDict && nvals >= 16 && spec.phys != Boolean && spec.phys != FixedLenByteArray {
		e.dict = &e.byts
		ndict = e.buildDict(spec, nvals)
		ch.dictFailed = ndict == 0
	}
	return e.encodePages(spec, ch, n, nulls, ndict, o, bloom)
}

// useDict makes a column's own dictionary the chunk's and returns its
// size. When rows were removed after their values entered it, the unused
// entries are dropped (in order) and e.idx renumbered: no value of a
// rejected row reaches the file, not even its dictionary or statistics.
func (e *Encoder) useDict(col *Column) int {
	d := &col.Dict.d
	e.dict = d
	if !col.DictSparse {
		return d.len()
	}
	e.used = slices.Grow(e.used[:0], d.len())[:d.len()]
	clear(e.used)
	for _, k := range e.idx {
		e.used[k] = true
	}
	e.remap = slices.Grow(e.remap[:0], d.len())[:d.len()]
	e.spare.data, e.spare.ends = e.spare.data[:0], e.spare.ends[:0]
	for i, u := range e.used {
		if u {
			e.remap[i] = int32(len(e.spare.ends))
			e.spare.data = append(e.spare.data, d.entry(int32(i))...)
			e.spare.ends = append(e.spare.ends, uint32(len(e.spare.data)))
		}
	}
	for j, k := range e.idx {
		e.idx[j] = e.remap[k]
	}
	e.dict = &e.spare
	return e.spare.len()
}

// newChunk starts a column chunk of n rows.
func (e *Encoder) newChunk(spec *colInfo, n, nulls int) *chunk {
	e.out = e.out[:0]
	ch := &chunk{}
	meta := &ch.meta
	meta.Type = spec.ftype
	meta.PathInSchema = thrift.Slice[string]{spec.name}
	meta.Codec = format.Snappy
	meta.NumValues = int64(n)
	meta.Statistics.NullCount = int64(nulls)
	return ch
}

// encodeDictChunk encodes a column that arrives in dictionary form.
func (e *Encoder) encodeDictChunk(spec *colInfo, col *Column, n int, o *Options, bloom bool) (*chunk, error) {
	e.def = grow(e.def[:0], n)
	nulls := 0
	if len(col.Def) == 0 {
		// No NULLs (strings never are): the levels are one RLE run, so
		// e.def is not read, and the pages take the column's own indices
		// (unless useDict renumbers them).
		if !col.DictSparse {
			e.idx16 = col.Idx[:n]
			defer func() { e.idx16 = nil }()
			return e.encodePages(spec, e.newChunk(spec, n, 0), n, 0, e.useDict(col), o, bloom)
		}
		e.idx = slices.Grow(e.idx[:0], n)[:n]
		for j, k := range col.Idx[:n] {
			e.idx[j] = int32(k)
		}
		return e.encodePages(spec, e.newChunk(spec, n, 0), n, 0, e.useDict(col), o, bloom)
	}
	e.idx = e.idx[:0]
	for j, k := range col.Idx[:n] {
		d := byte(1)
		if len(col.Def) > 0 && col.Def[j] == 0 {
			d = 0
			nulls++
		} else {
			e.idx = append(e.idx, int32(k))
		}
		e.def[j] = d
	}
	ndict := e.useDict(col)
	ch := e.newChunk(spec, n, nulls)
	return e.encodePages(spec, ch, n, nulls, ndict, o, bloom)
}

// encodePages writes the dictionary page when ndict > 0 and the data
// pages of a gathered column chunk, then its statistics and indexes.
// Pages are cut at o.PageRows rows or o.PageBytes of values, whichever
// comes first, so that the page index can skip within a row group.
func (e *Encoder) encodePages(spec *colInfo, ch *chunk, n, nulls, ndict int, o *Options, bloom bool) (*chunk, error) {
	meta := &ch.meta
	e.nvals = n - nulls
	e.pages, e.statBuf = e.pages[:0], e.statBuf[:0]
	var uncompressed int64
	// page writes the data page in e.body of rows [r0, r1), values
	// [v0, v1), and records it.
	page := func(r0, r1, v0, v1 int, enc format.Encoding) error {
		at := len(e.out)
		u, err := e.writeDataPage(r1-r0, r1-r0-(v1-v0), enc)
		if err != nil {
			return err
		}
		uncompressed += u
		p := pageStat{off: int64(at), size: int32(len(e.out) - at), first: int64(r0), rows: r1 - r0, nulls: r1 - r0 - (v1 - v0)}
		e.pageBounds(spec, &p, v0, v1, ndict)
		e.pages = append(e.pages, p)
		return nil
	}
	if ndict > 0 {
		ch.hasDict = true
		meta.Encoding = thrift.Slice[format.Encoding]{format.Plain, format.RLE, format.RLEDictionary}
		e.body = e.appendDictValues(spec, e.body[:0])
		hdr := format.PageHeader{
			Type:                 format.DictionaryPage,
			DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: int32(ndict), Encoding: format.Plain}),
		}
		u, err := e.writePage(&hdr)
		if err != nil {
			return nil, err
		}
		uncompressed += u
		ch.dataOffset = int64(len(e.out))
		e.rankDict(spec, ndict)
		width := bits.Len(uint(ndict - 1))
		if width == 0 {
			width = 1
		}
		rowsPerPage := min(o.PageRows, 8*o.PageBytes/width)
		v := 0
		for r0 := 0; r0 < n; r0 += rowsPerPage {
			r1 := min(n, r0+rowsPerPage)
			cnt := r1 - r0
			if nulls > 0 {
				cnt = countPresent(e.def[r0:r1])
			}
			e.body = appendDefLevels(e.body[:0], e.def[r0:r1], cnt)
			e.body = append(e.body, byte(width))
			if e.idx16 != nil {
				e.body = appendHybrid(e.body, e.idx16[v:v+cnt], uint(width))
			} else {
				e.body = appendHybrid(e.body, e.idx[v:v+cnt], uint(width))
			}
			if err := page(r0, r1, v, v+cnt, format.RLEDictionary); err != nil {
				return nil, err
			}
			v += cnt
		}
	} else {
		meta.Encoding = thrift.Slice[format.Encoding]{format.Plain, format.RLE}
		ch.dataOffset = 0
		v := 0
		r0 := 0
		for r0 < n {
			r1, v1 := e.plainPageEnd(spec, r0, v, n, o)
			e.body = appendDefLevels(e.body[:0], e.def[r0:r1], v1-v)
			e.body = e.appendPlain(spec, e.body, v, v1)
			if err := page(r0, r1, v, v1, format.Plain); err != nil {
				return nil, err
			}
			r0, v = r1, v1
		}
	}
	meta.TotalUncompressedSize = uncompressed
	meta.TotalCompressedSize = int64(len(e.out))
	ch.bytes = e.out
	if err := e.finishStats(spec, ch, o, ndict, bloom); err != nil {
		return nil, err
	}
	return ch, nil
}

func countPresent(def []byte) int {
	c := 0
	for _, d := range def {
		c += int(d)
	}
	return c
}

// plainPageEnd picks the rows [r0, r1) of the next PLAIN page (values
// [v0, v1)): at most o.PageRows rows, and values of at most o.PageBytes
// unless one value alone is larger.
func (e *Encoder) plainPageEnd(spec *colInfo, r0, v0, n int, o *Options) (r1, v1 int) {
	r1, v1 = r0, v0
	last := min(n, r0+o.PageRows)
	width := 8
	switch spec.phys {
	case Boolean:
		width = 1 // counted generously: 1 bit per value
	case Int32:
		width = 4
	case FixedLenByteArray:
		width = spec.flba
	case ByteArray:
		size := 0
		for ; r1 < last; r1++ {
			if e.def[r1] != 0 {
				s := 4 + len(e.val(v1))
				if size+s > o.PageBytes && size > 0 {
					break
				}
				size += s
				v1++
			}
		}
		return r1, v1
	}
	// Fixed width: as many values as fit.
	room := max(1, o.PageBytes/width)
	for ; r1 < last && v1-v0 < room; r1++ {
		if e.def[r1] != 0 {
			v1++
		}
	}
	return r1, v1
}

// appendPlain appends present values [v0, v1) PLAIN-encoded.
func (e *Encoder) appendPlain(spec *colInfo, dst []byte, v0, v1 int) []byte {
	switch spec.phys {
	case Int32:
		for _, x := range e.i32[v0:v1] {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(x))
		}
	case Int64:
		for _, x := range e.i64[v0:v1] {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(x))
		}
	case Double:
		for _, x := range e.f64[v0:v1] {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
		}
	case Boolean:
		var acc byte
		k := 0
		for _, b := range e.bools[v0:v1] {
			acc |= (b & 1) << k
			k++
			if k == 8 {
				dst = append(dst, acc)
				acc, k = 0, 0
			}
		}
		if k > 0 {
			dst = append(dst, acc)
		}
	case ByteArray:
		for k := v0; k < v1; k++ {
			v := e.val(k)
			n := len(dst)
			if cap(dst)-n < 12+len(v) {
				dst = slices.Grow(dst, max(12+len(v), cap(dst)))
			}
			binary.LittleEndian.PutUint32(dst[n:n+4], uint32(len(v)))
			if len(v) <= 8 && cap(v) >= 8 {
				// One 8-byte move for short values; the spare bytes land
				// past the end and are overwritten next.
				binary.LittleEndian.PutUint64(dst[n+4:n+12], binary.LittleEndian.Uint64(v[:8]))
				dst = dst[:n+4+len(v)]
			} else {
				dst = append(dst[:n+4], v...)
			}
		}
	case FixedLenByteArray:
		dst = append(dst, e.data[v0*spec.flba:v1*spec.flba]...)
	}
	return dst
}

// appendDefLevels appends the 4-byte length and the RLE/bit-packed hybrid
// definition levels (bit width 1).
func appendDefLevels(dst []byte, def []byte, present int) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if present == len(def) {
		dst = binary.AppendUvarint(dst, uint64(len(def))<<1)
		dst = append(dst, 1)
	} else {
		dst = appendHybrid(dst, def, 1)
	}
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// appendHybrid appends v with the RLE/bit-packing hybrid encoding at bit
// width w (no length prefix): runs of 8 or more equal values become RLE
// runs, the rest bit-packed groups of 8.
func appendHybrid[T byte | uint16 | int32](dst []byte, v []T, w uint) []byte {
	n := len(v)
	i := 0
	vb := int((w + 7) / 8)
	for i < n {
		j := i + 1
		for j < n && v[j] == v[i] {
			j++
		}
		if j-i >= 8 {
			dst = binary.AppendUvarint(dst, uint64(j-i)<<1)
			x := uint32(v[i])
			for k := 0; k < vb; k++ {
				dst = append(dst, byte(x>>(8*k)))
			}
			i = j
			continue
		}
		start := i
		groups := 0
		for i < n {
			i += 8
			groups++
			if i >= n {
				break
			}
			k := i + 1
			for k < n && k-i < 8 && v[k] == v[i] {
				k++
			}
			if k-i >= 8 {
				break
			}
		}
		if i > n {
			i = n
		}
		dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
		if w <= 8 {
			// Eight values of at most 8 bits fill at most one uint64,
			// appended whole and the slice cut back to w bytes.
			for g := 0; g < groups; g++ {
				var acc uint64
				base := start + 8*g
				if base+8 <= n {
					vs := v[base : base+8 : base+8]
					acc = uint64(uint32(vs[0])) | uint64(uint32(vs[1]))<<w | uint64(uint32(vs[2]))<<(2*w) | uint64(uint32(vs[3]))<<(3*w) |
						uint64(uint32(vs[4]))<<(4*w) | uint64(uint32(vs[5]))<<(5*w) | uint64(uint32(vs[6]))<<(6*w) | uint64(uint32(vs[7]))<<(7*w)
				} else {
					for k := 0; base+k < n; k++ {
						acc |= uint64(uint32(v[base+k])) << (uint(k) * w)
					}
				}
				m := len(dst)
				dst = binary.LittleEndian.AppendUint64(dst, acc)[:m+int(w)]
			}
			continue
		}
		if w <= 16 {
			// Eight values of at most 16 bits fill at most two uint64s.
			for g := 0; g < groups; g++ {
				var lo, hi uint64
				base := start + 8*g
				for k := 0; k < 8 && base+k < n; k++ {
					x := uint64(uint32(v[base+k]))
					p := uint(k) * w
					if p < 64 {
						lo |= x << p
						if p+w > 64 {
							hi |= x >> (64 - p)
						}
					} else {
						hi |= x << (p - 64)
					}
				}
				m := len(dst)
				dst = binary.LittleEndian.AppendUint64(dst, lo)
				dst = binary.LittleEndian.AppendUint64(dst, hi)[:m+int(w)]
			}
			continue
		}
		var acc uint64
		var nb uint
		for k := start; k < start+8*groups; k++ {
			var x uint64
			if k < n {
				x = uint64(uint32(v[k]))
			}
			acc |= x << nb
			nb += w
			for nb >= 8 {
				dst = append(dst, byte(acc))
				acc >>= 8
				nb -= 8
			}
		}
	}
	return dst
}

// val returns present ByteArray value k.
func (e *Encoder) val(k int) []byte {
	if e.rows != nil {
		k = int(e.rows[k])
	}
	return e.src.Bytes(k)
}

// writeDataPage compresses e.body as a v1 data page and appends it to e.out.
func (e *Encoder) writeDataPage(rows, nulls int, enc format.Encoding) (int64, error) {
	hdr := format.PageHeader{
		Type: format.DataPage,
		DataPageHeader: thrift.New(format.DataPageHeader{
			NumValues:               int32(rows),
			Encoding:                enc,
			DefinitionLevelEncoding: format.RLE,
			RepetitionLevelEncoding: format.RLE,
			Statistics:              format.Statistics{NullCount: int64(nulls)},
		}),
	}
	return e.writePage(&hdr)
}

// writePage compresses e.body and appends header and page to e.out. It
// returns the uncompressed size (header included), as Parquet counts it.
func (e *Encoder) writePage(hdr *format.PageHeader) (int64, error) {
	need := s2.MaxEncodedLen(len(e.body))
	if cap(e.comp) < need {
		e.comp = make([]byte, need)
	}
	e.comp = s2.EncodeSnappy(e.comp[:need], e.body)
	hdr.UncompressedPageSize = int32(len(e.body))
	hdr.CompressedPageSize = int32(len(e.comp))
	h, err := thrift.Marshal(&e.prot, hdr)
	if err != nil {
		return 0, err
	}
	e.out = append(e.out, h...)
	e.out = append(e.out, e.comp...)
	return int64(len(h) + len(e.body)), nil
}

// compareSignedBE compares big-endian two's complement integers of equal length.
func compareSignedBE(a, b []byte) int {
	if a[0] != b[0] {
		if int8(a[0]) < int8(b[0]) {
			return -1
		}
		return 1
	}
	return bytes.Compare(a[1:], b[1:])
}

// buildDict tries to dictionary-encode the present values into e.idx; it
// returns the number of dictionary entries, or 0 when PLAIN is better.
func (e *Encoder) buildDict(spec *colInfo, nvals int) int {
	e.idx = e.idx[:0]
	probe := min(nvals, dictProbe)
	ok := true
	switch spec.phys {
	case ByteArray:
		d := &e.byts
		d.reset()
		data, ends := e.src.Data, e.src.Ends
		// When the values are a permutation of every source row (a sorted
		// row group without NULLs), build the dictionary in source order
		// — sequential, cache-friendly reads — and permute the small
		// indices afterwards. The dictionary order is still a function of
		// the data alone.
		srcOrder := e.rows != nil && len(e.rows) == len(ends) && len(e.src.Def) == 0
		idx := e.idx[:0]
		// Sorted row groups and sparse columns repeat the previous value
		// often: reuse its index without a lookup.
		lastKey, lastK := uint64(1<<64-1), int32(0)
		for i := 0; i < nvals; i++ {
			if i == probe && d.len() > probe/2 {
				return 0
			}
			r := i
			if e.rows != nil && !srcOrder {
				r = int(e.rows[i])
			}
			var s uint32
			if r > 0 {
				s = ends[r-1]
			}
			end := ends[r]
			var k int32
			var full bool
			if l := end - s; l <= 7 && int(s)+8 <= len(data) {
				// One 8-byte load instead of a byte loop.
				key := binary.LittleEndian.Uint64(data[s:])&(1<<(8*l)-1) | uint64(l)<<56
				if key == lastKey {
					idx = append(idx, lastK)
					continue
				}
				k, full = d.indexShortKey(data[s:end], key)
				lastKey, lastK = key, k
			} else {
				k, full = d.index(data[s:end])
			}
			if full {
				return 0
			}
			idx = append(idx, k)
		}
		if srcOrder {
			e.srcIdx = append(e.srcIdx[:0], idx...)
			for i, r := range e.rows {
				idx[i] = e.srcIdx[r]
			}
		}
		e.idx = idx
		return d.len()
	case FixedLenByteArray:
		// Decimals wider than 18 digits are rare; keep them PLAIN.
		return 0
	default:
		d := &e.u64
		d.reset()
		var lastKey uint64
		lastK := int32(-1)
		for i := 0; i < nvals && ok; i++ {
			if i == probe && d.len() > probe/2 {
				return 0
			}
			var key uint64
			switch spec.phys {
			case Int32:
				key = uint64(uint32(e.i32[i]))
			case Int64:
				key = uint64(e.i64[i])
			case Double:
				key = math.Float64bits(e.f64[i])
			}
			if lastK >= 0 && key == lastKey {
				e.idx = append(e.idx, lastK)
				continue
			}
			k, full := d.index(key)
			if full {
				return 0
			}
			e.idx = append(e.idx, k)
			lastKey, lastK = key, k
		}
		return d.len()
	}
}

// appendDictValues appends the dictionary entries PLAIN-encoded.
func (e *Encoder) appendDictValues(spec *colInfo, dst []byte) []byte {
	switch spec.phys {
	case ByteArray:
		d := e.dict
		var s uint32
		for _, end := range d.ends {
			dst = binary.LittleEndian.AppendUint32(dst, end-s)
			dst = append(dst, d.data[s:end]...)
			s = end
		}
	case Int32:
		for _, k := range e.u64.vals {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(k))
		}
	default:
		for _, k := range e.u64.vals {
			dst = binary.LittleEndian.AppendUint64(dst, k)
		}
	}
	return dst
}

// u64Dict is an open-addressing hash table from 64-bit keys to dictionary
// indices in insertion order.
type u64Dict struct {
	slots []int32 // -1 = empty, else index into vals
	vals  []uint64
}

func (d *u64Dict) reset() {
	if cap(d.slots) < 256 {
		d.slots = make([]int32, 256)
	}
	d.slots = d.slots[:256]
	for i := range d.slots {
		d.slots[i] = -1
	}
	d.vals = d.vals[:0]
}

func (d *u64Dict) len() int { return len(d.vals) }

func hash64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	return k
}

func (d *u64Dict) index(k uint64) (int32, bool) {
	mask := uint64(len(d.slots) - 1)
	for i := hash64(k) & mask; ; i = (i + 1) & mask {
		s := d.slots[i]
		if s < 0 {
			if len(d.vals) >= dictMaxEntries || 8*len(d.vals) >= dictMaxBytes {
				return 0, true
			}
			n := int32(len(d.vals))
			d.vals = append(d.vals, k)
			d.slots[i] = n
			if 2*len(d.vals) > len(d.slots) {
				d.rehash()
			}
			return n, false
		}
		if d.vals[s] == k {
			return s, false
		}
	}
}

func (d *u64Dict) rehash() {
	n := 2 * len(d.slots)
	d.slots = make([]int32, n)
	for i := range d.slots {
		d.slots[i] = -1
	}
	mask := uint64(n - 1)
	for idx, k := range d.vals {
		i := hash64(k) & mask
		for d.slots[i] >= 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = int32(idx)
	}
}

// bytesDict is an open-addressing hash table from byte strings to
// dictionary indices in insertion order.
type bytesDict struct {
	seed   maphash.Seed
	seeded bool
	// Values of up to 7 bytes (most CSV attributes) are looked up by a
	// 64-bit key (bytes | length<<56) in their own table: no byte hashing
	// or comparison.
	short  []shortSlot // key and entry side by side: one cache line per probe
	slots  []int32
	hashes []uint64
	data   []byte
	ends   []uint32
	nshort int
	nlong  int
}

func (d *bytesDict) reset() {
	if !d.seeded {
		d.seed = maphash.MakeSeed()
		d.seeded = true
	}
	if cap(d.slots) < 256 {
		d.slots = make([]int32, 256)
	}
	d.slots = d.slots[:256]
	for i := range d.slots {
		d.slots[i] = -1
	}
	d.hashes, d.data, d.ends = d.hashes[:0], d.data[:0], d.ends[:0]
	if cap(d.short) < 256 {
		d.short = make([]shortSlot, 256)
	}
	d.short = d.short[:256]
	for i := range d.short {
		d.short[i].idx = -1
	}
	d.nshort, d.nlong = 0, 0
}

// shortKey packs a value of at most 7 bytes and its length into a uint64.
func shortKey(b []byte) uint64 {
	k := uint64(len(b)) << 56
	for i, c := range b {
		k |= uint64(c) << (8 * i)
	}
	return k
}

// add appends a new entry and returns its index, or full=true.
func (d *bytesDict) add(b []byte, h uint64) (int32, bool) {
	if len(d.ends) >= dictMaxEntries || len(d.data)+len(b)+4*len(d.ends) > dictMaxBytes {
		return 0, true
	}
	n := int32(len(d.ends))
	d.data = append(d.data, b...)
	d.ends = append(d.ends, uint32(len(d.data)))
	d.hashes = append(d.hashes, h)
	return n, false
}

func (d *bytesDict) indexShort(b []byte) (int32, bool) {
	return d.indexShortKey(b, shortKey(b))
}

// indexShortKey looks up b (at most 7 bytes) whose shortKey is key.
func (d *bytesDict) indexShortKey(b []byte, key uint64) (int32, bool) {
	mask := uint64(len(d.short) - 1)
	for i := hash64(key) & mask; ; i = (i + 1) & mask {
		slot := &d.short[i]
		s := slot.idx
		if s < 0 {
			n, full := d.add(b, 0)
			if full {
				return 0, true
			}
			slot.idx, slot.key = n, key
			d.nshort++
			if 2*d.nshort > len(d.short) {
				d.rehashShort()
			}
			return n, false
		}
		if slot.key == key {
			return s, false
		}
	}
}

func (d *bytesDict) rehashShort() {
	old := d.short
	d.short = make([]shortSlot, 2*len(old))
	for i := range d.short {
		d.short[i].idx = -1
	}
	mask := uint64(len(d.short) - 1)
	for _, o := range old {
		if o.idx < 0 {
			continue
		}
		i := hash64(o.key) & mask
		for d.short[i].idx >= 0 {
			i = (i + 1) & mask
		}
		d.short[i] = o
	}
}

// shortSlot is one entry of the table of short values.
type shortSlot struct {
	key uint64
	idx int32 // -1 = empty
}

func (d *bytesDict) len() int { return len(d.ends) }

func (d *bytesDict) entry(i int32) []byte {
	var s uint32
	if i > 0 {
		s = d.ends[i-1]
	}
	return d.data[s:d.ends[i]]
}

func (d *bytesDict) index(b []byte) (int32, bool) {
	if len(b) <= 7 {
		return d.indexShort(b)
	}
	h := maphash.Bytes(d.seed, b)
	mask := uint64(len(d.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := d.slots[i]
		if s < 0 {
			n, full := d.add(b, h)
			if full {
				return 0, true
			}
			d.slots[i] = n
			d.nlong++
			if 2*d.nlong > len(d.slots) {
				d.rehash()
			}
			return n, false
		}
		if d.hashes[s] == h && bytes.Equal(d.entry(s), b) {
			return s, false
		}
	}
}

func (d *bytesDict) rehash() {
	n := 2 * len(d.slots)
	d.slots = make([]int32, n)
	for i := range d.slots {
		d.slots[i] = -1
	}
	mask := uint64(n - 1)
	for idx, h := range d.hashes {
		if len(d.entry(int32(idx))) <= 7 {
			continue // in the short table
		}
		i := h & mask
		for d.slots[i] >= 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = int32(idx)
	}
}
