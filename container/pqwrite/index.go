package pqwrite

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go/bloom"
	"github.com/parquet-go/parquet-go/bloom/xxhash"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// pageStat is one data page as the page index records it.
type pageStat struct {
	off   int64 // of the page header, from the chunk's start
	size  int32 // header and compressed page
	first int64 // first row, within the row group
	rows  int
	nulls int
	// lo and hi are the page's min and max, PLAIN (strings without their
	// length), whole; nil when the page has no value (only NULLs, or for
	// doubles only NaNs).
	lo, hi []byte
}

// compareStat compares two PLAIN-encoded values of spec's type in the
// column's order: signed for numbers and FIXED decimals, unsigned bytes
// for strings.
func compareStat(spec *colInfo, a, b []byte) int {
	switch spec.phys {
	case Int32:
		return cmp.Compare(int32(binary.LittleEndian.Uint32(a)), int32(binary.LittleEndian.Uint32(b)))
	case Int64:
		return cmp.Compare(int64(binary.LittleEndian.Uint64(a)), int64(binary.LittleEndian.Uint64(b)))
	case Double:
		return cmp.Compare(math.Float64frombits(binary.LittleEndian.Uint64(a)), math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case FixedLenByteArray:
		return compareSignedBE(a, b)
	}
	return bytes.Compare(a, b)
}

// appendStat appends value k of the chunk being encoded (present value k,
// or dictionary entry k when dict) PLAIN-encoded.
func (e *Encoder) appendStat(dst []byte, spec *colInfo, k int, dict bool) []byte {
	if dict {
		if spec.phys == ByteArray {
			return append(dst, e.dict.entry(int32(k))...)
		}
		if spec.phys == Int32 {
			return binary.LittleEndian.AppendUint32(dst, uint32(e.u64.vals[k]))
		}
		return binary.LittleEndian.AppendUint64(dst, e.u64.vals[k])
	}
	switch spec.phys {
	case Int32:
		return binary.LittleEndian.AppendUint32(dst, uint32(e.i32[k]))
	case Int64:
		return binary.LittleEndian.AppendUint64(dst, uint64(e.i64[k]))
	case Double:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(e.f64[k]))
	case Boolean:
		return append(dst, e.bools[k])
	case ByteArray:
		return append(dst, e.val(k)...)
	}
	return append(dst, e.data[k*spec.flba:(k+1)*spec.flba]...)
}

// rankDict orders the chunk's dictionary: e.rank[k] is entry k's position
// in the column's order (-1 for NaN, which no bound includes), e.order the
// entries by position.
func (e *Encoder) rankDict(spec *colInfo, ndict int) {
	e.order = slices.Grow(e.order[:0], ndict)[:ndict]
	for k := range e.order {
		e.order[k] = int32(k)
	}
	switch spec.phys {
	case ByteArray:
		slices.SortFunc(e.order, func(a, b int32) int { return bytes.Compare(e.dict.entry(a), e.dict.entry(b)) })
	case Int32:
		slices.SortFunc(e.order, func(a, b int32) int { return cmp.Compare(int32(e.u64.vals[a]), int32(e.u64.vals[b])) })
	case Int64:
		slices.SortFunc(e.order, func(a, b int32) int { return cmp.Compare(int64(e.u64.vals[a]), int64(e.u64.vals[b])) })
	case Double:
		// cmp.Compare puts NaN first.
		slices.SortFunc(e.order, func(a, b int32) int {
			return cmp.Compare(math.Float64frombits(e.u64.vals[a]), math.Float64frombits(e.u64.vals[b]))
		})
	}
	e.rank = slices.Grow(e.rank[:0], ndict)[:ndict]
	for pos, k := range e.order {
		e.rank[k] = int32(pos)
		if spec.phys == Double && math.IsNaN(math.Float64frombits(e.u64.vals[k])) {
			e.rank[k] = -1
		}
	}
}

// rankBounds returns the lowest and highest rank of the entries idx,
// leaving out ranks below 0 (NaN); rhi is -1 when none is left.
func rankBounds[T uint16 | int32](rank []int32, idx []T) (rlo, rhi int32) {
	rlo, rhi = math.MaxInt32, -1
	if len(rank) <= 64 {
		// A small dictionary (a column of codes): mark the entries the
		// page uses, then rank only those — a shift and an OR a value
		// instead of a load and two compares.
		var seen uint64
		for _, k := range idx {
			seen |= 1 << (uint(k) & 63)
		}
		for ; seen != 0; seen &= seen - 1 {
			if r := rank[bits.TrailingZeros64(seen)]; r >= 0 {
				rlo, rhi = min(rlo, r), max(rhi, r)
			}
		}
		return rlo, rhi
	}
	for _, k := range idx {
		r := rank[k]
		if r < 0 {
			continue
		}
		rlo, rhi = min(rlo, r), max(rhi, r)
	}
	return rlo, rhi
}

// pageBounds sets p.lo and p.hi to the min and max of present values
// [v0, v1) (dictionary indices e.idx[v0:v1] when ndict > 0), appending
// them to e.statBuf.
func (e *Encoder) pageBounds(spec *colInfo, p *pageStat, v0, v1, ndict int) {
	p.lo, p.hi = nil, nil
	if v0 == v1 {
		return
	}
	lo, hi := -1, -1 // value (or entry) indices of the bounds
	if ndict > 0 {
		var rlo, rhi int32
		if e.idx16 != nil {
			rlo, rhi = rankBounds(e.rank, e.idx16[v0:v1])
		} else {
			rlo, rhi = rankBounds(e.rank, e.idx[v0:v1])
		}
		if rhi >= 0 {
			lo, hi = int(e.order[rlo]), int(e.order[rhi])
		}
	} else {
		switch spec.phys {
		case Int32:
			lo, hi = argMinMax(e.i32, v0, v1)
		case Int64:
			lo, hi = argMinMax(e.i64, v0, v1)
		case Double:
			for k := v0; k < v1; k++ {
				x := e.f64[k]
				switch {
				case x != x:
				case lo < 0:
					lo, hi = k, k
				case x < e.f64[lo]:
					lo = k
				case x > e.f64[hi]:
					hi = k
				}
			}
		case Boolean:
			lo, hi = argMinMax(e.bools, v0, v1)
		case ByteArray:
			lo, hi = v0, v0
			l, h := e.val(v0), e.val(v0)
			for k := v0 + 1; k < v1; k++ {
				b := e.val(k)
				if bytes.Compare(b, l) < 0 {
					lo, l = k, b
				} else if bytes.Compare(b, h) > 0 {
					hi, h = k, b
				}
			}
		case FixedLenByteArray:
			w := spec.flba
			lo, hi = v0, v0
			for k := v0 + 1; k < v1; k++ {
				b := e.data[k*w : (k+1)*w]
				if compareSignedBE(b, e.data[lo*w:(lo+1)*w]) < 0 {
					lo = k
				} else if compareSignedBE(b, e.data[hi*w:(hi+1)*w]) > 0 {
					hi = k
				}
			}
		}
	}
	if lo < 0 {
		return // only NaNs
	}
	a := len(e.statBuf)
	e.statBuf = e.appendStat(e.statBuf, spec, lo, ndict > 0)
	b := len(e.statBuf)
	e.statBuf = e.appendStat(e.statBuf, spec, hi, ndict > 0)
	if spec.phys == Double {
		// Parquet: a zero min is written as -0.0, a zero max as +0.0.
		if math.Float64frombits(binary.LittleEndian.Uint64(e.statBuf[a:])) == 0 {
			binary.LittleEndian.PutUint64(e.statBuf[a:], math.Float64bits(math.Copysign(0, -1)))
		}
		if math.Float64frombits(binary.LittleEndian.Uint64(e.statBuf[b:])) == 0 {
			binary.LittleEndian.PutUint64(e.statBuf[b:], 0)
		}
	}
	p.lo, p.hi = e.statBuf[a:b:b], e.statBuf[b:]
}

// argMinMax returns the indices of the first min and first max of
// v[v0:v1] (v0 < v1).
func argMinMax[T int32 | int64 | byte](v []T, v0, v1 int) (lo, hi int) {
	lo, hi = v0, v0
	for k := v0 + 1; k < v1; k++ {
		if x := v[k]; x < v[lo] {
			lo = k
		} else if x > v[hi] {
			hi = k
		}
	}
	return lo, hi
}

// finishStats sets the chunk's statistics, encoding stats, column index
// and bloom filter from its pages.
func (e *Encoder) finishStats(spec *colInfo, ch *chunk, o *Options, ndict int, bloom bool) error {
	meta := &ch.meta
	pages := e.pages
	var lo, hi []byte
	for i := range pages {
		p := &pages[i]
		if p.lo == nil {
			continue
		}
		if lo == nil || compareStat(spec, p.lo, lo) < 0 {
			lo = p.lo
		}
		if hi == nil || compareStat(spec, p.hi, hi) > 0 {
			hi = p.hi
		}
	}
	if lo != nil {
		minV, maxV, minExact, maxExact := truncateBounds(spec, lo, hi, o.StatsTruncate)
		// parquet-mr's rule: too large statistics are left out rather
		// than truncated past the configured length.
		if len(minV)+len(maxV) < maxStatsSize {
			// Never nil: an empty string is a real minimum and must be
			// written (a nil slice is omitted by the thrift encoder).
			ch.stats.MinValue = append([]byte{}, minV...)
			ch.stats.MaxValue = append([]byte{}, maxV...)
			ch.stats.IsMinValueExact = thrift.New(minExact)
			ch.stats.IsMaxValueExact = thrift.New(maxExact)
		}
	}
	ch.stats.NullCount = meta.Statistics.NullCount

	dataEnc := format.Plain
	if ndict > 0 {
		dataEnc = format.RLEDictionary
		meta.EncodingStats = append(meta.EncodingStats, format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
	}
	meta.EncodingStats = append(meta.EncodingStats, format.PageEncodingStats{PageType: format.DataPage, Encoding: dataEnc, Count: int32(len(pages))})

	ci, ok := e.columnIndex(spec, o.ColumnIndexTruncate)
	if ok {
		b, err := thrift.Marshal(&e.prot, &ci)
		if err != nil {
			return err
		}
		ch.columnIndex = b
	}
	ch.pages = append(ch.pages[:0], pages...)
	for i := range ch.pages {
		ch.pages[i].lo, ch.pages[i].hi = nil, nil // in e.statBuf, reused
	}
	if bloom {
		b, err := e.bloomFilter(spec, ndict, o.BloomFPP)
		if err != nil {
			return err
		}
		ch.bloom = b
	}
	return nil
}

// columnIndex builds the chunk's column index; ok is false when a page
// with values has no bounds (only NaNs), as parquet-mr then writes none.
func (e *Encoder) columnIndex(spec *colInfo, truncate int) (ci format.ColumnIndex, ok bool) {
	n := len(e.pages)
	ci.NullPages = make([]bool, n)
	ci.MinValues = make([][]byte, n)
	ci.MaxValues = make([][]byte, n)
	ci.NullCounts = make([]int64, n)
	asc, desc := true, true
	prev := -1
	for i := range e.pages {
		p := &e.pages[i]
		ci.NullCounts[i] = int64(p.nulls)
		if p.nulls == p.rows {
			ci.NullPages[i] = true
			ci.MinValues[i], ci.MaxValues[i] = []byte{}, []byte{}
			continue
		}
		if p.lo == nil {
			return ci, false
		}
		lo, hi, _, _ := truncateBounds(spec, p.lo, p.hi, truncate)
		ci.MinValues[i], ci.MaxValues[i] = bytes.Clone(lo), bytes.Clone(hi)
		if prev >= 0 {
			// The order of the bounds as written, which is what readers
			// search.
			cl := compareStat(spec, ci.MinValues[prev], ci.MinValues[i])
			ch := compareStat(spec, ci.MaxValues[prev], ci.MaxValues[i])
			asc = asc && cl <= 0 && ch <= 0
			desc = desc && cl >= 0 && ch >= 0
		}
		prev = i
	}
	switch {
	case asc:
		ci.BoundaryOrder = format.Ascending
	case desc:
		ci.BoundaryOrder = format.Descending
	default:
		ci.BoundaryOrder = format.Unordered
	}
	return ci, true
}

// truncateBounds truncates string bounds longer than n bytes as
// parquet-mr's BinaryTruncator does: the min cut to at most n bytes (at a
// character boundary in UTF-8), the max cut and then incremented, or kept
// whole when no cut of it can be incremented. Other types are never
// truncated.
func truncateBounds(spec *colInfo, lo, hi []byte, n int) (minV, maxV []byte, minExact, maxExact bool) {
	if spec.phys != ByteArray {
		return lo, hi, true, true
	}
	minV, minExact = lo, true
	if len(lo) > n {
		minV, minExact = truncateMin(lo, n), false
	}
	maxV, maxExact = hi, true
	if len(hi) > n {
		if t := truncateMax(hi, n); t != nil {
			maxV, maxExact = t, false
		}
	}
	return minV, maxV, minExact, maxExact
}

// truncateMin returns a prefix of v of at most n bytes, which sorts at
// or before v.
func truncateMin(v []byte, n int) []byte {
	if !utf8.Valid(v) {
		return v[:n]
	}
	return v[:utf8Cut(v, n)]
}

// utf8Cut is the largest i <= n at a character boundary of valid UTF-8 v.
func utf8Cut(v []byte, n int) int {
	i := n
	for i > 0 && !utf8.RuneStart(v[i]) {
		i--
	}
	return i
}

// truncateMax returns a value of about n bytes that sorts after v, or nil
// when there is none: v cut to n bytes, then its last character (byte, for
// invalid UTF-8) incremented, dropping characters that cannot be.
func truncateMax(v []byte, n int) []byte {
	if !utf8.Valid(v) {
		for i := n - 1; i >= 0; i-- {
			if v[i] != 0xFF {
				out := bytes.Clone(v[:i+1])
				out[i]++
				return out
			}
		}
		return nil
	}
	end := utf8Cut(v, n)
	for end > 0 {
		r, size := utf8.DecodeLastRune(v[:end])
		end -= size
		next := r + 1
		if next >= 0xD800 && next <= 0xDFFF {
			next = 0xE000 // surrogates are not characters
		}
		if next <= utf8.MaxRune {
			return utf8.AppendRune(bytes.Clone(v[:end]), next)
		}
	}
	return nil
}

// bloomFilter builds the chunk's split-block bloom filter: the xxHash64
// of every distinct value's PLAIN encoding (strings without their length),
// in a filter sized for their number at fpp. It returns the filter's
// header and bitset.
func (e *Encoder) bloomFilter(spec *colInfo, ndict int, fpp float64) ([]byte, error) {
	e.hashes = e.hashes[:0]
	var scratch []byte
	if ndict > 0 {
		// The dictionary holds each distinct value once.
		for k := 0; k < ndict; k++ {
			scratch = e.appendStat(scratch[:0], spec, k, true)
			e.hashes = append(e.hashes, xxhash.Sum64(scratch))
		}
	} else {
		for k := range e.nvals {
			scratch = e.appendStat(scratch[:0], spec, k, false)
			e.hashes = append(e.hashes, xxhash.Sum64(scratch))
		}
		slices.Sort(e.hashes)
		e.hashes = slices.Compact(e.hashes)
	}
	size := bloomBytes(len(e.hashes), fpp)
	bits := make([]byte, size)
	// The bitset is little-endian 32-bit words; parquet-go's Block is
	// [8]uint32 in memory, so this holds on little-endian machines only
	// (amd64, arm64).
	bloom.MakeSplitBlockFilter(bits).InsertBulk(e.hashes)
	hdr := format.BloomFilterHeader{
		NumBytes:    int32(size),
		Algorithm:   format.BloomFilterAlgorithm{Value: &format.SplitBlockAlgorithm{}},
		Hash:        format.BloomFilterHash{Value: &format.XxHash{}},
		Compression: format.BloomFilterCompression{Value: &format.BloomFilterUncompressed{}},
	}
	h, err := thrift.Marshal(&e.prot, &hdr)
	if err != nil {
		return nil, err
	}
	return append(h, bits...), nil
}

// bloomBytes sizes a filter for ndv distinct values at false positive
// probability fpp as parquet-mr does (BlockSplitBloomFilter.optimalNumOfBits):
// rounded up to a power of two, at least one 32-byte block, at most
// MaxBloomBytes.
func bloomBytes(ndv int, fpp float64) int {
	bits := -8 * float64(ndv) / math.Log(1-math.Pow(fpp, 1.0/8))
	n := 32
	for float64(8*n) < bits && n < MaxBloomBytes {
		n *= 2
	}
	return n
}
