package synth

import "math/bits"

// rng is wyrand: tiny, fast and good enough for synthetic data. It lives on
// the stack of the row loop, so drawing a number never allocates.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a number in [0, n) for 0 < n < 2^32.
func (r *rng) intn(n int) int {
	return int((r.next() >> 32) * uint64(n) >> 32)
}

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int64) int64 {
	span := uint64(hi - lo + 1)
	h, _ := bits.Mul64(r.next(), span)
	return lo + int64(h)
}

// chance is true with probability p (0..1, resolution 2^-32).
func (r *rng) chance(p float64) bool {
	return float64(r.next()>>32) < p*(1<<32)
}

// u16 returns 16 random bits, the index into a 65536-entry weighted table.
func (r *rng) u16() int { return int(r.next() >> 48) }

// splitmix64 is the finaliser used to derive independent seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// mix derives the seed of stream salt at index i from the month's seed.
func mix(seed uint64, salt uint64, i int64) uint64 {
	return splitmix64(seed ^ splitmix64(salt^splitmix64(uint64(i))))
}

// Stream salts: each decision gets its own stream so that, e.g., which
// rows are bad does not depend on how a row's values are drawn.
const (
	saltPerson    = 0x7065_7273_6f6e // per row (person)
	saltHousehold = 0x686f_7573_6568 // per household
	saltBad       = 0x6261_6420_726f // bad-row selection
	saltNewline   = 0x6e65_776c_696e // multi-line AddressLine2 selection
	saltTemplates = 0x7465_6d70_6c61 // attribute templates
	saltPick      = 0x7069_636b_7320 // template choice per row
)

// appendPad appends v (≥ 0) in decimal, zero-padded to width digits.
func appendPad(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// appendFixed appends units/10^scale with exactly scale decimals, e.g.
// (-1234567, 6) → "-1.234567".
func appendFixed(b []byte, units int64, scale int) []byte {
	if units < 0 {
		b = append(b, '-')
		units = -units
	}
	if scale == 0 {
		return appendPad(b, units, 1)
	}
	p := int64(1)
	for range scale {
		p *= 10
	}
	b = appendPad(b, units/p, 1)
	b = append(b, '.')
	return appendPad(b, units%p, scale)
}

// appendDate appends YYYY-MM-DD.
func appendDate(b []byte, y, m, d int) []byte {
	b = appendPad(b, int64(y), 4)
	b = append(b, '-')
	b = appendPad(b, int64(m), 2)
	b = append(b, '-')
	return appendPad(b, int64(d), 2)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
