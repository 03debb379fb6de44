package bench

import (
	"slices"
	"testing"
	"time"
)

func TestMedianDur(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{7 * s}, 7 * s},
		{[]time.Duration{9 * s, 1 * s, 5 * s}, 5 * s},
		{[]time.Duration{4 * s, 1 * s, 3 * s, 100 * s}, 3500 * time.Millisecond},
		{[]time.Duration{2 * s, 2 * s, 1 * s, 2 * s, 50 * s}, 2 * s},
	} {
		in := slices.Clone(tc.in)
		if got := medianDur(tc.in); got != tc.want {
			t.Errorf("medianDur(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("medianDur reordered its input: %v", tc.in)
		}
	}
}

func TestRowSum(t *testing.T) {
	sum := func(rows ...[]string) rowSum {
		var r rowSum
		for _, row := range rows {
			null := make([]bool, len(row))
			for i, v := range row {
				null[i] = v == "<nil>"
			}
			r.add(row, null)
		}
		return r
	}
	a, b, c := []string{"Ann", "CA"}, []string{"Bob", "NY"}, []string{"Cy", "<nil>"}
	if sum(a, b, c) != sum(c, a, b) {
		t.Error("row order changes the checksum")
	}
	if sum(a, a, b) == sum(a, b, b) {
		t.Error("duplicates do not count")
	}
	if sum(a, b) == sum(a, b, c) || sum(a, b).rows != 2 {
		t.Error("a missing row goes unnoticed")
	}
	if sum([]string{"Cy", ""}) == sum([]string{"Cy", "<nil>"}) {
		t.Error("NULL and empty string hash alike")
	}
	if sum([]string{"ab", "c"}) == sum([]string{"a", "bc"}) {
		t.Error("field boundaries are not part of the hash")
	}
}
