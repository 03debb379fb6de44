package pqwrite

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// indexSpecs covers every physical type and every boundary order.
var indexSpecs = []ColumnSpec{
	{Name: "state", Physical: ByteArray, Logical: String}, // sorted: ASCENDING
	{Name: "down", Physical: Int64},                       // decreasing: DESCENDING
	{Name: "long", Physical: ByteArray, Logical: String},  // 40-300 bytes, multibyte, truncated
	{Name: "i", Physical: Int32},                          // NULL runs: null pages
	{Name: "d", Physical: Double},                         // some NaN, ±0
	{Name: "flag", Physical: Boolean},                     //
	{Name: "dec", Physical: FixedLenByteArray, Length: DecimalBytes(25), Logical: Decimal, Precision: 25, Scale: 2},
	{Name: "zip", Physical: ByteArray, Logical: String}, // built as a StringDict
	{Name: "small", Physical: Int32},                    // dictionary-encoded ints
}

// indexColumns builds n rows of indexSpecs, in sorted state order.
func indexColumns(rng *rand.Rand, n int) []*Column {
	cols := make([]*Column, len(indexSpecs))
	for i := range cols {
		cols[i] = &Column{}
	}
	states := []string{"AK", "CA", "NY", "TX", "ü€"}
	zipDict := &StringDict{}
	zipDict.Reset()
	cols[7].Dict = zipDict
	pieces := []string{"a", "z", "é", "€", "\U0010FFFF", "\U0001F600", "\u007f", "\uD7FF"}
	for r := range n {
		st := states[r*len(states)/n]
		cols[0].Data = append(cols[0].Data, st...)
		cols[0].Ends = append(cols[0].Ends, uint32(len(cols[0].Data)))
		cols[1].I64 = append(cols[1].I64, int64(n-r)*1000-int64(rng.IntN(3)))
		var sb strings.Builder
		for sb.Len() < 40+rng.IntN(260) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		cols[2].Data = append(cols[2].Data, sb.String()...)
		cols[2].Ends = append(cols[2].Ends, uint32(len(cols[2].Data)))
		// Rows 3000-8999 of column i are NULL: whole null pages with
		// small pages.
		null := (r >= 3000 && r < 9000) || rng.IntN(9) == 0
		cols[3].Def = append(cols[3].Def, b2u(!null))
		cols[3].I32 = append(cols[3].I32, int32(rng.IntN(2000))-1000)
		x := rng.NormFloat64()
		switch rng.IntN(50) {
		case 0:
			x = math.NaN()
		case 1:
			x = 0
		case 2:
			x = math.Copysign(0, -1)
		}
		cols[4].F64 = append(cols[4].F64, x)
		cols[5].Bool = append(cols[5].Bool, byte(rng.IntN(2)))
		dec := make([]byte, DecimalBytes(25))
		for k := range dec {
			dec[k] = byte(rng.IntN(256))
		}
		dec[0] = byte(int8(rng.IntN(8) - 4))
		cols[6].Data = append(cols[6].Data, dec...)
		var ok bool
		cols[7].Idx, ok = zipDict.Add(cols[7].Idx, fmt.Appendf(nil, "%05d", 90000+rng.IntN(400)))
		if !ok {
			panic("zip dictionary full")
		}
		cols[8].I32 = append(cols[8].I32, int32(rng.IntN(30))-15)
	}
	return cols
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// rowValue is row r of column c PLAIN-encoded (strings without length),
// nil for NULL.
func rowValue(cols []*Column, c, r int) []byte {
	col := cols[c]
	if !col.Present(r) {
		return nil
	}
	p, w := indexSpecs[c].Physical, indexSpecs[c].Length
	switch {
	case col.Dict != nil:
		return col.Dict.Entry(int(col.Idx[r]))
	case p == ByteArray:
		return col.Bytes(r)
	case p == Int32:
		return binary.LittleEndian.AppendUint32(nil, uint32(col.I32[r]))
	case p == Int64:
		return binary.LittleEndian.AppendUint64(nil, uint64(col.I64[r]))
	case p == Double:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(col.F64[r]))
	case p == Boolean:
		return []byte{col.Bool[r]}
	}
	return col.Data[r*w : (r+1)*w]
}

// readValues reads column c of row group rg with arrow-go, one entry per
// row (nil for NULL), PLAIN-encoded.
func readValues(t *testing.T, rdr *file.Reader, rg, c int) [][]byte {
	t.Helper()
	cr, err := rdr.RowGroup(rg).Column(c)
	if err != nil {
		t.Fatal(err)
	}
	n := rdr.RowGroup(rg).NumRows()
	def := make([]int16, n)
	var out [][]byte
	var vals [][]byte
	var read int
	switch r := cr.(type) {
	case *file.ByteArrayColumnChunkReader:
		v := make([]parquet.ByteArray, n)
		_, read, err = r.ReadBatch(n, v, def, nil)
		for _, x := range v[:read] {
			vals = append(vals, x)
		}
	case *file.FixedLenByteArrayColumnChunkReader:
		v := make([]parquet.FixedLenByteArray, n)
		_, read, err = r.ReadBatch(n, v, def, nil)
		for _, x := range v[:read] {
			vals = append(vals, x)
		}
	case *file.Int32ColumnChunkReader:
		v := make([]int32, n)
		_, read, err = r.ReadBatch(n, v, def, nil)
		for _, x := range v[:read] {
			vals = append(vals, binary.LittleEndian.AppendUint32(nil, uint32(x)))
		}
	case *file.Int64ColumnChunkReader:
		v := make([]int64, n)
		_, read, err = r.ReadBatch(n, v, def, nil)
		for _, x := range v[:read] {
			vals = append(vals, binary.LittleEndian.AppendUint64(nil, uint64(x)))
		}
	case *file.Float64ColumnChunkReader:
		v := make([]float64, n)
		_, read, err = r.ReadBatch(n, v, def, nil)
		for _, x := range v[:read] {
			vals = append(vals, binary.LittleEndian.AppendUint64(nil, math.Float64bits(x)))
		}
	case *file.BooleanColumnChunkReader:
		v := make([]bool, n)
		_, read, err = r.ReadBatch(n, v, def, nil)
		for _, x := range v[:read] {
			vals = append(vals, []byte{b2u(x)})
		}
	default:
		t.Fatalf("column %d: reader %T", c, cr)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range def {
		if d == 0 {
			out = append(out, nil)
			continue
		}
		out = append(out, vals[0])
		vals = vals[1:]
	}
	return out
}

// order compares PLAIN values of column c in the column's sort order,
// written independently of the writer's.
func order(c int, a, b []byte) int {
	p := indexSpecs[c].Physical
	switch p {
	case Int32:
		return cmp.Compare(int32(binary.LittleEndian.Uint32(a)), int32(binary.LittleEndian.Uint32(b)))
	case Int64:
		return cmp.Compare(int64(binary.LittleEndian.Uint64(a)), int64(binary.LittleEndian.Uint64(b)))
	case Double:
		return cmp.Compare(math.Float64frombits(binary.LittleEndian.Uint64(a)), math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case FixedLenByteArray:
		if int8(a[0]) != int8(b[0]) {
			return cmp.Compare(int8(a[0]), int8(b[0]))
		}
		return bytes.Compare(a[1:], b[1:])
	}
	return bytes.Compare(a, b)
}

func isNaN(c int, v []byte) bool {
	p := indexSpecs[c].Physical
	return p == Double && math.IsNaN(math.Float64frombits(binary.LittleEndian.Uint64(v)))
}

// writeIndexed writes rows in two row groups (the second a permutation)
// with opts and returns the file.
func writeIndexed(t *testing.T, cols []*Column, n int, opts Options) []byte {
	t.Helper()
	schema, err := NewSchema(indexSpecs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, schema, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRowGroup([]*Encoder{{}}, cols, nil, n, []SortingColumn{{Column: 0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRowGroup([]*Encoder{{}, {}}, cols, nil, n, []SortingColumn{{Column: 0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPageIndex checks the page index, the chunk statistics and encoding
// stats of a file with arrow-go as the reader: every page's column-index
// bounds against the page's values as arrow-go decodes them, the offset
// index against arrow-go's walk of the pages, truncated bounds against the
// values they must bound, and the boundary order against the bounds.
func TestPageIndex(t *testing.T) {
	const n = 23_456
	cols := indexColumns(rand.New(rand.NewPCG(7, 8)), n)
	for _, o := range []Options{{}, {PageRows: 1000, PageBytes: 64 << 10, ColumnIndexTruncate: 16}} {
		t.Run(fmt.Sprintf("rows%d-bytes%d-truncate%d", o.PageRows, o.PageBytes, o.ColumnIndexTruncate), func(t *testing.T) {
			checkPageIndex(t, cols, n, o)
		})
	}
}

func checkPageIndex(t *testing.T, cols []*Column, n int, opts Options) {
	data := writeIndexed(t, cols, n, opts)
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	lim := pageLimits{rows: cmp.Or(opts.PageRows, 20_000), bytes: cmp.Or(opts.PageBytes, 1<<20), trunc: cmp.Or(opts.ColumnIndexTruncate, 64)}
	md := rdr.MetaData()
	pix := rdr.GetPageIndexReader()
	lastRowGroupEnd := int64(0)
	for rg := range rdr.NumRowGroups() {
		rgi, err := pix.RowGroup(rg)
		if err != nil {
			t.Fatal(err)
		}
		for c := range indexSpecs {
			name := indexSpecs[c].Name
			cc := md.RowGroups[rg].Columns[c]
			lastRowGroupEnd = max(lastRowGroupEnd, cc.FileOffset+cc.MetaData.TotalCompressedSize)
			// The index lies between the last row group and the footer.
			if cc.ColumnIndexOffset == nil || cc.OffsetIndexOffset == nil {
				t.Fatalf("rg %d %s: no page index", rg, name)
			}
			rows := readValues(t, rdr, rg, c)
			if len(rows) != n {
				t.Fatalf("rg %d %s: %d rows", rg, name, len(rows))
			}
			for r, v := range rows {
				if want := rowValue(cols, c, r); !bytes.Equal(v, want) && !(v != nil && want != nil && isNaN(c, v) && isNaN(c, want)) {
					t.Fatalf("rg %d %s row %d: read %x, wrote %x", rg, name, r, v, want)
				}
			}
			k := chunkCheck{t: t, rdr: rdr, rgi: rgi, rg: rg, c: c, name: name, rows: rows}
			locs := k.offsetIndex(lim)
			k.columnIndex(locs, lim)
			k.statistics()
		}
		if got := md.RowGroups[rg].SortingColumns; len(got) != 1 || got[0].ColumnIdx != 0 || got[0].Descending || !got[0].NullsFirst {
			t.Errorf("rg %d: sorting_columns %v", rg, got)
		}
	}
	// Every index lies after the row groups.
	for rg := range md.RowGroups {
		for _, cc := range md.RowGroups[rg].Columns {
			if *cc.ColumnIndexOffset < lastRowGroupEnd || *cc.OffsetIndexOffset < lastRowGroupEnd {
				t.Fatalf("page index at %d/%d, before the end of the row groups %d", *cc.ColumnIndexOffset, *cc.OffsetIndexOffset, lastRowGroupEnd)
			}
		}
	}
}

// pageLimits are the writer's page limits and column index truncation.
type pageLimits struct{ rows, bytes, trunc int }

// chunkCheck is one column chunk checkPageIndex reads back, with its
// values (rows, nil for NULL).
type chunkCheck struct {
	t     *testing.T
	rdr   *file.Reader
	rgi   *metadata.RowGroupPageIndexReader
	rg, c int
	name  string
	rows  [][]byte
}

// offsetIndex checks the chunk's offset index against its pages, walked
// with arrow-go, and its encoding_stats; it returns the page locations.
func (k chunkCheck) offsetIndex(lim pageLimits) []*metadata.PageLocation {
	t, rg, name, n := k.t, k.rg, k.name, len(k.rows)
	cm := k.rdr.MetaData().RowGroups[rg].Columns[k.c].MetaData
	oi, err := k.rgi.GetOffsetIndex(k.c)
	if err != nil {
		t.Fatal(err)
	}
	locs := oi.GetPageLocations()
	// Walk the pages with arrow-go: data pages and their
	// encodings, in order.
	pr, err := k.rdr.RowGroup(rg).GetColumnPageReader(k.c)
	if err != nil {
		t.Fatal(err)
	}
	var dataPages []int32
	encCount := map[string]int32{}
	for pr.Next() {
		p := pr.Page()
		encCount[fmt.Sprint(int32(p.Type()), "/", int32(p.Encoding()))]++
		if p.Type() == 0 { // DATA_PAGE
			dataPages = append(dataPages, p.NumValues())
		}
	}
	if err := pr.Err(); err != nil {
		t.Fatal(err)
	}
	if len(locs) != len(dataPages) {
		t.Fatalf("rg %d %s: offset index has %d pages, the chunk %d", rg, name, len(locs), len(dataPages))
	}
	stats := map[string]int32{}
	for _, s := range cm.EncodingStats {
		stats[fmt.Sprint(int32(s.PageType), "/", int32(s.Encoding))] += s.Count
	}
	if fmt.Sprint(stats) != fmt.Sprint(encCount) {
		t.Errorf("rg %d %s: encoding_stats %v, pages %v", rg, name, stats, encCount)
	}
	// Locations: the first data page at data_page_offset, each
	// page right after the previous, the last ending the chunk;
	// first_row_index the sum of the rows before.
	start := cm.DataPageOffset
	if cm.DictionaryPageOffset != nil {
		start = *cm.DictionaryPageOffset
	}
	next, row := cm.DataPageOffset, int64(0)
	for p, l := range locs {
		if l.Offset != next || l.FirstRowIndex != row {
			t.Fatalf("rg %d %s page %d: offset %d first row %d, want %d and %d", rg, name, p, l.Offset, l.FirstRowIndex, next, row)
		}
		next += int64(l.CompressedPageSize)
		row += int64(dataPages[p])
		if dataPages[p] > int32(lim.rows) {
			t.Errorf("rg %d %s page %d: %d rows, limit %d", rg, name, p, dataPages[p], lim.rows)
		}
	}
	if next != start+cm.TotalCompressedSize || row != int64(n) {
		t.Fatalf("rg %d %s: pages end at %d with %d rows, chunk at %d with %d", rg, name, next, row, start+cm.TotalCompressedSize, n)
	}
	return locs
}

// columnIndex checks the chunk's column index against the values of each
// page at locs: null pages and counts, bounds, boundary order.
func (k chunkCheck) columnIndex(locs []*metadata.PageLocation, lim pageLimits) {
	t, rg, name, c, n := k.t, k.rg, k.name, k.c, int64(len(k.rows))
	ci, err := k.rgi.GetColumnIndex(c)
	if err != nil {
		t.Fatal(err)
	}
	nullPages, mins, maxs, nullCounts := ci.GetNullPages(), ci.GetMinValues(), ci.GetMaxValues(), ci.GetNullCounts()
	if len(nullPages) != len(locs) || len(mins) != len(locs) || len(maxs) != len(locs) || len(nullCounts) != len(locs) {
		t.Fatalf("rg %d %s: column index of %d/%d/%d/%d pages, offset index %d", rg, name, len(nullPages), len(mins), len(maxs), len(nullCounts), len(locs))
	}
	sawNullPage := false
	for p, l := range locs {
		end := n
		if p+1 < len(locs) {
			end = locs[p+1].FirstRowIndex
		}
		var lo, hi []byte
		nulls, size := int64(0), 0
		for _, v := range k.rows[l.FirstRowIndex:end] {
			if v == nil {
				nulls++
				continue
			}
			size += len(v)
			if isNaN(c, v) {
				continue
			}
			if lo == nil || order(c, v, lo) < 0 {
				lo = v
			}
			if hi == nil || order(c, v, hi) > 0 {
				hi = v
			}
		}
		if ph := indexSpecs[c].Physical; ph == ByteArray && size > lim.bytes+300+int(end-l.FirstRowIndex)*4 {
			t.Errorf("rg %d %s page %d: %d bytes of values, limit %d", rg, name, p, size, lim.bytes)
		}
		if nullCounts[p] != nulls {
			t.Errorf("rg %d %s page %d: null count %d, page has %d", rg, name, p, nullCounts[p], nulls)
		}
		if nullPages[p] != (nulls == end-l.FirstRowIndex) {
			t.Errorf("rg %d %s page %d: null page %v with %d of %d NULL", rg, name, p, nullPages[p], nulls, end-l.FirstRowIndex)
		}
		if nullPages[p] {
			sawNullPage = true
			continue
		}
		checkBounds(t, fmt.Sprintf("rg %d %s page %d", rg, name, p), c, mins[p], maxs[p], lo, hi, lim.trunc)
	}
	if name == "i" && lim.rows <= 3000 && !sawNullPage {
		t.Errorf("rg %d %s: no null page", rg, name)
	}
	wantOrder := map[string]metadata.BoundaryOrder{"state": 1, "down": 2}[name]
	if got := ci.GetBoundaryOrder(); got != boundaryOrderOf(c, mins, maxs, nullPages) || (wantOrder != 0 && got != wantOrder) {
		t.Errorf("rg %d %s: boundary order %v, bounds are %v", rg, name, got, boundaryOrderOf(c, mins, maxs, nullPages))
	}
}

// statistics checks the chunk statistics: whole, exact, the chunk's min
// and max.
func (k chunkCheck) statistics() {
	t, rg, name, c := k.t, k.rg, k.name, k.c
	var lo, hi []byte
	nulls := int64(0)
	for _, v := range k.rows {
		switch {
		case v == nil:
			nulls++
		case isNaN(c, v):
		case lo == nil || order(c, v, lo) < 0:
			lo = v
			if hi == nil {
				hi = v
			}
		case order(c, v, hi) > 0:
			hi = v
		}
	}
	st := k.rdr.MetaData().RowGroups[rg].Columns[c].MetaData.Statistics
	if st == nil || st.NullCount == nil || *st.NullCount != nulls {
		t.Fatalf("rg %d %s: statistics %v, want %d NULLs", rg, name, st, nulls)
	}
	if !bytes.Equal(st.MinValue, lo) || !bytes.Equal(st.MaxValue, hi) && order(c, st.MaxValue, hi) != 0 {
		t.Errorf("rg %d %s: chunk min/max %x/%x, values %x/%x", rg, name, st.MinValue, st.MaxValue, lo, hi)
	}
	if st.IsMinValueExact == nil || !*st.IsMinValueExact || st.IsMaxValueExact == nil || !*st.IsMaxValueExact {
		t.Errorf("rg %d %s: chunk min/max not marked exact", rg, name)
	}
}

// checkBounds checks a page's column-index bounds against its values' min
// lo and max hi: equal when they are short enough, else a truncated lower
// bound (a prefix, at most trunc bytes) and a greater upper bound of about
// trunc bytes, or the whole max when it cannot be incremented.
func checkBounds(t *testing.T, where string, c int, min, max, lo, hi []byte, trunc int) {
	t.Helper()
	if lo == nil {
		t.Errorf("%s: no value but not a null page", where)
		return
	}
	if order(c, min, lo) > 0 || order(c, max, hi) < 0 {
		t.Errorf("%s: bounds %q..%q do not bound the values %q..%q", where, min, max, lo, hi)
	}
	p := indexSpecs[c].Physical
	if p != ByteArray || len(lo) <= trunc {
		if !bytes.Equal(min, lo) && order(c, min, lo) != 0 {
			t.Errorf("%s: min %x, page min %x", where, min, lo)
		}
	} else if len(min) > trunc || !bytes.HasPrefix(lo, min) || !utf8.Valid(min) {
		t.Errorf("%s: min %q (%d bytes) is not a UTF-8 prefix of %q of at most %d bytes", where, min, len(min), lo, trunc)
	}
	if p != ByteArray || len(hi) <= trunc {
		if !bytes.Equal(max, hi) && order(c, max, hi) != 0 {
			t.Errorf("%s: max %x, page max %x", where, max, hi)
		}
	} else if !bytes.Equal(max, hi) && (len(max) > trunc+3 || !utf8.Valid(max) || bytes.Compare(max, hi) <= 0) {
		t.Errorf("%s: max %q (%d bytes) is not a valid UTF-8 upper bound of %q of about %d bytes", where, max, len(max), hi, trunc)
	}
}

// boundaryOrderOf computes the boundary order of the bounds of the
// non-null pages the way the spec defines it.
func boundaryOrderOf(c int, mins, maxs [][]byte, nullPages []bool) metadata.BoundaryOrder {
	var idx []int
	for k, null := range nullPages {
		if !null {
			idx = append(idx, k)
		}
	}
	asc, desc := true, true
	for j := 1; j < len(idx); j++ {
		a, b := idx[j-1], idx[j]
		asc = asc && order(c, mins[a], mins[b]) <= 0 && order(c, maxs[a], maxs[b]) <= 0
		desc = desc && order(c, mins[a], mins[b]) >= 0 && order(c, maxs[a], maxs[b]) >= 0
	}
	switch {
	case asc:
		return 1
	case desc:
		return 2
	}
	return 0
}

// TestBloomFilter reads the bloom filters with arrow-go: every value
// written is found, and few that were not are.
func TestBloomFilter(t *testing.T) {
	const n = 30_000
	cols := indexColumns(rand.New(rand.NewPCG(9, 10)), n)
	bloomCols := []int{0, 1, 2, 3, 4, 6, 7, 8}
	data := writeIndexed(t, cols, n, Options{BloomFilter: bloomCols})
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	bfr := rdr.GetBloomFilterReader()
	for rg := range rdr.NumRowGroups() {
		rbf, err := bfr.RowGroup(rg)
		if err != nil {
			t.Fatal(err)
		}
		for c := range indexSpecs {
			bf, err := rbf.GetColumnBloomFilter(c)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(bloomCols, c) {
				if bf != nil {
					t.Errorf("rg %d %s: a bloom filter was not asked for", rg, indexSpecs[c].Name)
				}
				continue
			}
			if bf == nil {
				t.Fatalf("rg %d %s: no bloom filter", rg, indexSpecs[c].Name)
			}
			if bf.Size() > MaxBloomBytes || bf.Size()&(bf.Size()-1) != 0 {
				t.Errorf("rg %d %s: filter of %d bytes", rg, indexSpecs[c].Name, bf.Size())
			}
			seen := map[string]bool{}
			for _, v := range readValues(t, rdr, rg, c) {
				if v == nil {
					continue
				}
				seen[string(v)] = true
				if !bf.CheckHash(bf.Hasher().Sum64(v)) {
					t.Fatalf("rg %d %s: value %x not in its bloom filter", rg, indexSpecs[c].Name, v)
				}
			}
			// Values not written: 8-byte strings and numbers far out of
			// range, in each type's width.
			p, w := indexSpecs[c].Physical, indexSpecs[c].Length
			fp, tries := 0, 2000
			for k := range tries {
				var v []byte
				switch p {
				case Int32:
					v = binary.LittleEndian.AppendUint32(nil, uint32(1e8+k))
				case Int64, Double:
					v = binary.LittleEndian.AppendUint64(nil, uint64(1e15)+uint64(k))
				case FixedLenByteArray:
					v = make([]byte, w)
					binary.BigEndian.PutUint32(v[w-4:], uint32(k))
					v[0] = 0x7f
				default:
					v = fmt.Appendf(nil, "absent%04d", k)
				}
				if seen[string(v)] {
					continue
				}
				if bf.CheckHash(bf.Hasher().Sum64(v)) {
					fp++
				}
			}
			if fp > tries/20 {
				t.Errorf("rg %d %s: %d of %d absent values pass the filter", rg, indexSpecs[c].Name, fp, tries)
			}
		}
	}
}

// TestStatsTruncate: with StatsTruncate set, long string bounds in the
// chunk statistics are truncated and marked inexact; short ones stay
// exact. arrow-go decodes the flags.
func TestStatsTruncate(t *testing.T) {
	const n = 5000
	cols := indexColumns(rand.New(rand.NewPCG(11, 12)), n)
	data := writeIndexed(t, cols, n, Options{StatsTruncate: 16, CreatedBy: CreatedBy("tierflow", "1.2.3", "abc123")})
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := rdr.MetaData().GetCreatedBy(); got != "tierflow version 1.2.3 (build abc123)" {
		t.Errorf("created_by %q", got)
	}
	if v := rdr.MetaData().WriterVersion(); v.App != "tierflow" || v.Version.Major != 1 || v.Version.Minor != 2 || v.Version.Patch != 3 || v.Build != "abc123" {
		t.Errorf("arrow-go parses created_by as %+v", v)
	}
	for c, name := range map[int]string{2: "long", 0: "state"} {
		var lo, hi []byte
		for r := range n {
			v := rowValue(cols, c, r)
			if lo == nil || bytes.Compare(v, lo) < 0 {
				lo = v
			}
			if hi == nil || bytes.Compare(v, hi) > 0 {
				hi = v
			}
		}
		st := rdr.MetaData().RowGroups[0].Columns[c].MetaData.Statistics
		minExact, maxExact := *st.IsMinValueExact, *st.IsMaxValueExact
		if minExact != (len(lo) <= 16) || maxExact != (len(hi) <= 16) {
			t.Errorf("%s: exact %v/%v for values of %d/%d bytes", name, minExact, maxExact, len(lo), len(hi))
		}
		if bytes.Compare(st.MinValue, lo) > 0 || bytes.Compare(st.MaxValue, hi) < 0 || len(st.MinValue) > 16 || len(st.MaxValue) > 16+3 {
			t.Errorf("%s: chunk bounds %q..%q for values %q..%q", name, st.MinValue, st.MaxValue, lo, hi)
		}
		if minExact && !bytes.Equal(st.MinValue, lo) || maxExact && !bytes.Equal(st.MaxValue, hi) {
			t.Errorf("%s: exact bounds %q..%q for values %q..%q", name, st.MinValue, st.MaxValue, lo, hi)
		}
	}
}

// TestLargeStatsLeftOut: as parquet-mr, chunk min and max of 4 KiB or
// more together are left out; the column index still bounds the pages.
func TestLargeStatsLeftOut(t *testing.T) {
	schema, err := NewSchema([]ColumnSpec{{Name: "s", Physical: ByteArray, Logical: String}})
	if err != nil {
		t.Fatal(err)
	}
	col := &Column{}
	for _, v := range []string{"a", strings.Repeat("z", 5000), "m"} {
		col.Data = append(col.Data, v...)
		col.Ends = append(col.Ends, uint32(len(col.Data)))
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, schema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRowGroup([]*Encoder{{}}, []*Column{col}, nil, 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	st := rdr.MetaData().RowGroups[0].Columns[0].MetaData.Statistics
	if st == nil || st.MinValue != nil || st.MaxValue != nil || st.NullCount == nil || *st.NullCount != 0 {
		t.Errorf("statistics with min %d bytes, max %d bytes: want the null count alone", len(st.MinValue), len(st.MaxValue))
	}
	rgi, err := rdr.GetPageIndexReader().RowGroup(0)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := rgi.GetColumnIndex(0)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := ci.GetMinValues()[0], ci.GetMaxValues()[0]; string(lo) != "a" || string(hi) != strings.Repeat("z", 63)+"{" {
		t.Errorf("column index bounds %q..%q", lo, hi)
	}
}
