package bench

import (
	"hash/fnv"
	"slices"
	"time"
)

// medianDur is the median of ds: the middle value, or the mean of the two
// middle values for an even count; 0 for none.
func medianDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return s[m-1] + (s[m]-s[m-1])/2
}

// secs converts a duration to float seconds for the report.
func secs(d time.Duration) float64 { return d.Seconds() }

// rowSum is an order-independent checksum of a multiset of rows: the sum
// (mod 2^64) of each row's FNV-1a hash. Unlike XOR, duplicate rows count.
type rowSum struct {
	rows int64
	sum  uint64
}

// add hashes one row given as its column values' text; null marks NULLs
// (so that NULL and "" differ).
func (r *rowSum) add(vals []string, null []bool) {
	h := fnv.New64a()
	for i, v := range vals {
		if null[i] {
			h.Write([]byte{0xff, 'N'})
		} else {
			h.Write([]byte(v))
		}
		h.Write([]byte{0})
	}
	r.rows++
	r.sum += h.Sum64()
}
