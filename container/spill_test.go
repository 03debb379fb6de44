package container

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPartitionByKey checks the counting sort of index against the
// stable comparison sort it stands in for, with few and with too many
// distinct keys.
func TestPartitionByKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, distinct := range []int{1, 2, 3, maxPartitionKeys, maxPartitionKeys + 1, 40} {
		keys := make([][]byte, distinct)
		for k := range keys {
			keys[k] = []byte(fmt.Sprintf("\x01%c%d", 'Z'-k, k)) // not in byte order of k
		}
		keys[0] = []byte{} // an empty key sorts first
		idx := make([]runRec, 5000)
		for i := range idx {
			idx[i] = runRec{off: int32(i), key: keys[rng.IntN(distinct)]}
		}
		want := slices.Clone(idx)
		slices.SortStableFunc(want, func(x, y runRec) int { return bytes.Compare(x.key, y.key) })
		got := slices.Clone(idx)
		ok := partitionByKey(got)
		if ok != (distinct <= maxPartitionKeys) {
			t.Fatalf("%d keys: partitioned %v", distinct, ok)
		}
		if !ok {
			if !slices.EqualFunc(got, idx, func(a, b runRec) bool { return a.off == b.off }) {
				t.Fatalf("%d keys: not partitioned, yet changed", distinct)
			}
			continue
		}
		if !slices.EqualFunc(got, want, func(a, b runRec) bool { return a.off == b.off && bytes.Equal(a.key, b.key) }) {
			t.Fatalf("%d keys: the order differs from a stable sort by key", distinct)
		}
	}
}
