package pqwrite

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// The encoder against parquet-go's, on the same work: 40 OPTIONAL columns
// by 100,000 rows, one row group, Snappy, into io.Discard. The columns are
// the converter's mix: 10 low-cardinality strings (states), 10
// high-cardinality strings, 10 small ints, 5 bigints, 5 doubles, no
// NULLs. Both get their input columnar and ready (typed vectors here,
// parquet.Value slices there), so only encoding is timed:
//
//	go test ./container/pqwrite -run '^$' -bench 'Encode40x100k' -benchmem
//
// Dictionary encoding is asked of parquet-go for the low-cardinality
// strings and the small ints; pqwrite decides by itself (it tries a
// dictionary on every column and keeps it where it pays).
const (
	cmpRows = 100_000
	cmpCols = 40
)

// cmpKind is the type of comparison column c.
func cmpKind(c int) string {
	switch {
	case c < 10:
		return "state"
	case c < 20:
		return "name"
	case c < 30:
		return "int"
	case c < 35:
		return "bigint"
	}
	return "double"
}

// cmpColumns generates the comparison columns as pqwrite vectors.
func cmpColumns() ([]ColumnSpec, []*Column) {
	rng := rand.New(rand.NewPCG(7, 8))
	states := []string{"AK", "AL", "AZ", "CA", "CO", "FL", "GA", "IL", "NY", "OH", "PA", "TX", "WA"}
	specs := make([]ColumnSpec, cmpCols)
	cols := make([]*Column, cmpCols)
	for c := range cols {
		col := &Column{}
		name := fmt.Sprintf("c%02d", c)
		switch cmpKind(c) {
		case "state", "name":
			specs[c] = ColumnSpec{Name: name, Physical: ByteArray, Logical: String}
			for range cmpRows {
				if cmpKind(c) == "state" {
					col.Data = append(col.Data, states[rng.IntN(len(states))]...)
				} else {
					col.Data = fmt.Appendf(col.Data, "%x", rng.Uint64()>>rng.IntN(32))
				}
				col.Ends = append(col.Ends, uint32(len(col.Data)))
			}
		case "int":
			specs[c] = ColumnSpec{Name: name, Physical: Int32}
			for range cmpRows {
				col.I32 = append(col.I32, int32(rng.IntN(100)))
			}
		case "bigint":
			specs[c] = ColumnSpec{Name: name, Physical: Int64}
			for range cmpRows {
				col.I64 = append(col.I64, rng.Int64N(1e12))
			}
		case "double":
			specs[c] = ColumnSpec{Name: name, Physical: Double}
			for range cmpRows {
				col.F64 = append(col.F64, rng.NormFloat64()*1e3)
			}
		}
		cols[c] = col
	}
	return specs, cols
}

// cmpRun times write, into io.Discard, after checking once that the file
// it writes holds the comparison's rows and columns: both writers are
// timed on the same, complete work.
func cmpRun(b *testing.B, write func(io.Writer) error) {
	b.Helper()
	var file bytes.Buffer
	if err := write(&file); err != nil {
		b.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(file.Bytes()), int64(file.Len()))
	if err != nil {
		b.Fatal(err)
	}
	if f.NumRows() != cmpRows || len(f.Schema().Columns()) != cmpCols {
		b.Fatalf("%d rows, %d columns: want %d, %d", f.NumRows(), len(f.Schema().Columns()), cmpRows, cmpCols)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(file.Len()), "file-bytes")
}

func BenchmarkEncode40x100k(b *testing.B) {
	specs, cols := cmpColumns()
	b.Run("pqwrite", func(b *testing.B) {
		schema, err := NewSchema(specs)
		if err != nil {
			b.Fatal(err)
		}
		enc := &Encoder{}
		write := func(out io.Writer) error {
			w, err := NewWriter(out, schema, Options{})
			if err != nil {
				return err
			}
			if err := w.WriteRowGroup([]*Encoder{enc}, cols, nil, cmpRows, nil); err != nil {
				return err
			}
			return w.Close()
		}
		cmpRun(b, write)
	})
	b.Run("parquet-go", func(b *testing.B) {
		group := parquet.Group{}
		for c, s := range specs {
			var n parquet.Node
			switch cmpKind(c) {
			case "state":
				n = parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
			case "name":
				n = parquet.String()
			case "int":
				n = parquet.Encoded(parquet.Leaf(parquet.Int32Type), &parquet.RLEDictionary)
			case "bigint":
				n = parquet.Leaf(parquet.Int64Type)
			case "double":
				n = parquet.Leaf(parquet.DoubleType)
			}
			group[s.Name] = parquet.Optional(n)
		}
		schema := parquet.NewSchema("cmp", group)
		// Group orders its fields by name: c00 … c39, as specs.
		values := make([][]parquet.Value, cmpCols)
		for c, col := range cols {
			vs := make([]parquet.Value, cmpRows)
			for r := range vs {
				var v parquet.Value
				switch {
				case col.Ends != nil:
					start := uint32(0)
					if r > 0 {
						start = col.Ends[r-1]
					}
					v = parquet.ByteArrayValue(col.Data[start:col.Ends[r]])
				case col.I32 != nil:
					v = parquet.Int32Value(col.I32[r])
				case col.I64 != nil:
					v = parquet.Int64Value(col.I64[r])
				default:
					v = parquet.DoubleValue(col.F64[r])
				}
				vs[r] = v.Level(0, 1, c)
			}
			values[c] = vs
		}
		write := func(out io.Writer) error {
			w := parquet.NewWriter(out, schema, parquet.Compression(&parquet.Snappy))
			for c, cw := range w.ColumnWriters() {
				if _, err := cw.WriteRowValues(values[c]); err != nil {
					return err
				}
			}
			return w.Close()
		}
		cmpRun(b, write)
	})
}
