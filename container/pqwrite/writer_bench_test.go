package pqwrite

import (
	"io"
	"math/rand/v2"
	"testing"
)

// BenchmarkWriteRowGroup encodes one 100,000-row row group of every
// physical type (a high-cardinality string, a low-cardinality one, NULLs
// in the rest) and closes the file: the writer's whole per-file cost.
func BenchmarkWriteRowGroup(b *testing.B) {
	schema, err := NewSchema(testSpecs)
	if err != nil {
		b.Fatal(err)
	}
	cols := genColumns(rand.New(rand.NewPCG(5, 6)), 100_000)
	var size int64
	for _, c := range cols {
		size += int64(len(c.Data) + 4*len(c.I32) + 8*len(c.I64) + 8*len(c.F64) + len(c.Bool))
	}
	enc := &Encoder{}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewWriter(io.Discard, schema, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.WriteRowGroup([]*Encoder{enc}, cols, nil, 100_000, []SortingColumn{{Column: 1}}); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
