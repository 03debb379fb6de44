package csvparse

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// The parser against encoding/csv on the same input: 20,000 records of
// 406 fields (the shipped schema's width), short values, one record in
// 100 with a quoted field holding a comma, a doubled quote and a newline.
// Both split every record into its fields; encoding/csv reuses its record
// slice (ReuseRecord) but must make a string per record, Parse keeps
// offsets into the input:
//
//	go test ./container/csvparse -run '^$' -bench 'Split406' -benchmem
func cmpInput() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	for r := range 20_000 {
		for f := range 406 {
			if f > 0 {
				buf.WriteByte(',')
			}
			switch {
			case f == 7 && r%100 == 0:
				buf.WriteString(`"Apt 4, ""rear""` + "\n" + `entrance"`)
			case f%3 == 0:
				fmt.Fprintf(&buf, "%d", rng.IntN(100000))
			case f%3 == 1:
				buf.WriteString([]string{"CA", "TX", "NY", "", "Main St"}[rng.IntN(5)])
			default:
				fmt.Fprintf(&buf, "%x", rng.Uint32())
			}
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkSplit406(b *testing.B) {
	data := cmpInput()
	b.Run("csvparse", func(b *testing.B) {
		var r Records
		Parse(data, ',', &r) // a worker reuses its Records: measure that
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			Parse(data, ',', &r)
			if len(r.Recs) != 20_000 || r.Recs[0].NumFields != 406 {
				b.Fatalf("%d records", len(r.Recs))
			}
		}
	})
	b.Run("encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			cr := csv.NewReader(bytes.NewReader(data))
			cr.ReuseRecord = true
			n := 0
			for {
				rec, err := cr.Read()
				if err == io.EOF {
					break
				}
				if err != nil || len(rec) != 406 {
					b.Fatalf("record %d: %v", n, err)
				}
				n++
			}
			if n != 20_000 {
				b.Fatalf("%d records", n)
			}
		}
	})
}
