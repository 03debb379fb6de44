package pqwrite

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"
)

var testSpecs = []ColumnSpec{
	{Name: "s", Physical: ByteArray, Logical: String},
	{Name: "state", Physical: ByteArray, Logical: String},
	{Name: "i", Physical: Int32},
	{Name: "b", Physical: Int64},
	{Name: "d", Physical: Double},
	{Name: "f", Physical: Boolean},
	{Name: "dt", Physical: Int32, Logical: Date},
	{Name: "ts", Physical: Int64, Logical: TimestampMillis},
	{Name: "d9", Physical: Int32, Logical: Decimal, Precision: 9, Scale: 2},
	{Name: "d25", Physical: FixedLenByteArray, Length: DecimalBytes(25), Logical: Decimal, Precision: 25, Scale: 3},
}

// genColumns builds n random rows; NULLs in every non-string column.
func genColumns(rng *rand.Rand, n int) []*Column {
	cols := make([]*Column, len(testSpecs))
	for i := range cols {
		cols[i] = &Column{}
	}
	states := []string{"CA", "TX", "NY", "", "ü€"}
	for r := 0; r < n; r++ {
		s := fmt.Sprintf("v%d-%s", rng.IntN(n*2), string(rune('a'+rng.IntN(26))))
		cols[0].Data = append(cols[0].Data, s...)
		cols[0].Ends = append(cols[0].Ends, uint32(len(cols[0].Data)))
		cols[1].Data = append(cols[1].Data, states[rng.IntN(len(states))]...)
		cols[1].Ends = append(cols[1].Ends, uint32(len(cols[1].Data)))
		for c := 2; c < len(cols); c++ {
			col := cols[c]
			null := rng.IntN(7) == 0
			if col.Def == nil {
				col.Def = []byte{}
			}
			if null {
				col.Def = append(col.Def, 0)
			} else {
				col.Def = append(col.Def, 1)
			}
			switch c {
			case 2:
				col.I32 = append(col.I32, int32(rng.IntN(20))-10)
			case 3:
				col.I64 = append(col.I64, rng.Int64()-math.MaxInt64/2)
			case 4:
				col.F64 = append(col.F64, rng.NormFloat64())
			case 5:
				col.Bool = append(col.Bool, byte(rng.IntN(2)))
			case 6:
				col.I32 = append(col.I32, int32(rng.IntN(40000))-20000)
			case 7:
				col.I64 = append(col.I64, rng.Int64N(4e12)-2e12)
			case 8:
				col.I32 = append(col.I32, int32(rng.IntN(2e6))-1e6)
			case 9:
				b := make([]byte, DecimalBytes(25))
				for k := range b {
					b[k] = byte(rng.IntN(256))
				}
				b[0] = byte(int8(rng.IntN(8) - 4)) // keep within precision
				col.Data = append(col.Data, b...)
			}
		}
	}
	return cols
}

// value returns row r of column c as a parquet.Value for comparison.
func expected(cols []*Column, c, r int) parquet.Value {
	col := cols[c]
	if !col.Present(r) {
		return parquet.NullValue()
	}
	p, w := testSpecs[c].Physical, testSpecs[c].Length
	switch p {
	case ByteArray:
		return parquet.ByteArrayValue(col.Bytes(r))
	case Int32:
		return parquet.Int32Value(col.I32[r])
	case Int64:
		return parquet.Int64Value(col.I64[r])
	case Double:
		return parquet.DoubleValue(col.F64[r])
	case Boolean:
		return parquet.BooleanValue(col.Bool[r] == 1)
	}
	return parquet.FixedLenByteArrayValue(col.Data[r*w : (r+1)*w])
}

func TestRoundTripParquetGo(t *testing.T) {
	schema, err := NewSchema(testSpecs)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	w, err := NewWriter(&buf, schema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc := &Encoder{}
	g1 := genColumns(rng, 5000)
	g2 := genColumns(rng, 300)
	perm := rng.Perm(300)
	p32 := make([]int32, len(perm))
	for i, p := range perm {
		p32[i] = int32(p)
	}
	if err := w.WriteRowGroup([]*Encoder{enc}, g1, nil, 5000, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRowGroup([]*Encoder{enc, {}, {}}, g2, p32, 300, []SortingColumn{{Column: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != 5300 {
		t.Fatalf("rows = %d", f.NumRows())
	}
	r := parquet.NewReader(f)
	rows := make([]parquet.Row, 5300)
	n, err := r.ReadRows(rows)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if n != 5300 {
		t.Fatalf("read %d rows", n)
	}
	for i := 0; i < n; i++ {
		src, ri := g1, i
		if i >= 5000 {
			src, ri = g2, int(p32[i-5000])
		}
		for c := range testSpecs {
			want := expected(src, c, ri)
			got := rows[i][c]
			if got.IsNull() != want.IsNull() || (!want.IsNull() && !bytes.Equal(got.Bytes(), want.Bytes())) {
				t.Fatalf("row %d col %s: got %v want %v", i, testSpecs[c].Name, got, want)
			}
		}
	}
	// Statistics: min/max of the int column over row group 1.
	rg := f.Metadata().RowGroups[0]
	st := rg.Columns[2].MetaData.Statistics
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	nulls := 0
	for i, v := range g1[2].I32 {
		if g1[2].Def[i] == 0 {
			nulls++
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if int64(nulls) != st.NullCount || !bytes.Equal(st.MinValue, parquet.Int32Value(lo).Bytes()) || !bytes.Equal(st.MaxValue, parquet.Int32Value(hi).Bytes()) {
		t.Fatalf("stats = %+v, want nulls %d min %d max %d", st, nulls, lo, hi)
	}
	if got := rg.Columns[1].MetaData.Encoding; len(got) != 3 {
		t.Fatalf("low-cardinality column not dictionary-encoded: %v", got)
	}
	if got := rg.Columns[0].MetaData.Encoding; len(got) != 2 {
		t.Fatalf("high-cardinality column should be plain: %v", got)
	}
}

func TestHybridRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		n := rng.IntN(300)
		w := uint(1 + rng.IntN(16))
		v := make([]int32, n)
		for i := range v {
			if rng.IntN(3) == 0 && i > 0 {
				v[i] = v[i-1]
			} else {
				v[i] = int32(rng.IntN(1 << w))
			}
		}
		enc := appendHybrid(nil, v, w)
		got := decodeHybrid(t, enc, w, n)
		for i := range v {
			if got[i] != v[i] {
				t.Fatalf("trial %d: value %d = %d want %d", trial, i, got[i], v[i])
			}
		}
	}
}

// decodeHybrid is a straightforward decoder of the RLE/bit-packed hybrid.
func decodeHybrid(t *testing.T, b []byte, w uint, n int) []int32 {
	var out []int32
	for len(out) < n {
		h, k := uvarint(b)
		if k <= 0 {
			t.Fatalf("bad header")
		}
		b = b[k:]
		if h&1 == 0 {
			cnt := int(h >> 1)
			var x int32
			for i := 0; i < int((w+7)/8); i++ {
				x |= int32(b[i]) << (8 * i)
			}
			b = b[(w+7)/8:]
			for i := 0; i < cnt; i++ {
				out = append(out, x)
			}
			continue
		}
		groups := int(h >> 1)
		var acc uint64
		var nb uint
		for i := 0; i < groups*8; i++ {
			for nb < w {
				acc |= uint64(b[0]) << nb
				b = b[1:]
				nb += 8
			}
			out = append(out, int32(acc&(1<<w-1)))
			acc >>= w
			nb -= w
		}
	}
	return out[:n]
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i, c := range b {
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}
