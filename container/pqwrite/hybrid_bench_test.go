package pqwrite

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkHybrid bit-packs dictionary indices of several widths, half of
// them in short runs (as sorted and sparse columns have them).
func BenchmarkHybrid(b *testing.B) {
	for _, w := range []uint{1, 3, 8, 12} {
		rng := rand.New(rand.NewPCG(1, uint64(w)))
		v := make([]int32, 100_000)
		for i := range v {
			if i > 0 && rng.IntN(2) == 0 {
				v[i] = v[i-1]
			} else {
				v[i] = int32(rng.IntN(1 << w))
			}
		}
		b.Run(fmt.Sprintf("w%d", w), func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(len(v)))
			for i := 0; i < b.N; i++ {
				dst = appendHybrid(dst[:0], v, w)
			}
		})
	}
}
