package gunzip

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/klauspost/pgzip"
)

// benchInput is the part tierflow bench generates, when it is there (a
// million rows, 161 MiB of gzip), else 32 MiB of CSV-like text.
func benchInput(b *testing.B) []byte {
	if data, err := os.ReadFile(os.Getenv("TIERFLOW_BENCH_GZ")); err == nil && len(data) > 0 {
		return data
	}
	return gz(b, csvLike(32<<20, 7), 6)
}

// BenchmarkInflate compares this package with pgzip (klauspost's
// compress/flate on a read-ahead goroutine) on the same gzip input.
func BenchmarkInflate(b *testing.B) {
	src := benchInput(b)
	buf := make([]byte, 4<<20)
	run := func(b *testing.B, open func(io.Reader) (io.Reader, func(), error)) {
		b.SetBytes(int64(len(src)))
		for i := 0; i < b.N; i++ {
			zr, done, err := open(bytes.NewReader(src))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, zr, buf); err != nil {
				b.Fatal(err)
			}
			done()
		}
	}
	b.Run("gunzip", func(b *testing.B) {
		run(b, func(r io.Reader) (io.Reader, func(), error) {
			z, err := NewReader(r)
			if err != nil {
				return nil, nil, err
			}
			return z, func() { z.Close() }, nil
		})
	})
	b.Run("pgzip", func(b *testing.B) {
		run(b, func(r io.Reader) (io.Reader, func(), error) {
			z, err := pgzip.NewReader(r)
			if err != nil {
				return nil, nil, err
			}
			return z, func() { z.Close() }, nil
		})
	})
}
