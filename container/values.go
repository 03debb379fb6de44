package container

import (
	"math"
	"math/bits"
	"strconv"
	"unsafe"
)

// Text → value parsers. They never allocate on success and report failure
// with a short reason (never the value: it may be PII).

// parseInt64 parses an optionally signed decimal integer.
func parseInt64(b []byte) (int64, string) {
	if len(b) == 0 {
		return 0, "empty"
	}
	neg := false
	i := 0
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i = 1
		if len(b) == 1 {
			return 0, "not an integer"
		}
	}
	var u uint64
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			return 0, "not an integer"
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, "integer out of range"
		}
		u = u*10 + uint64(c)
	}
	if neg {
		if u > 1<<63 {
			return 0, "integer out of range"
		}
		return -int64(u), ""
	}
	if u > math.MaxInt64 {
		return 0, "integer out of range"
	}
	return int64(u), ""
}

// parseInt32 parses an int (INT32) and rejects overflow.
func parseInt32(b []byte) (int32, string) {
	v, bad := parseInt64(b)
	if bad != "" {
		return 0, bad
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, "int out of range"
	}
	return int32(v), ""
}

// parseDouble parses a double (decimal or exponent notation, NaN, Inf).
func parseDouble(b []byte) (float64, string) {
	if len(b) == 0 {
		return 0, "empty"
	}
	// Fast path for plain decimals of up to 15 significant digits, which
	// convert exactly; strconv handles the rest.
	if f, ok := fastFloat(b); ok {
		return f, ""
	}
	// strconv also accepts hex floats (0x1p-2) and digit underscores
	// (1_0); CSV data means neither.
	for _, c := range b {
		if c == 'x' || c == 'X' || c == '_' {
			return 0, "not a double"
		}
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, "double out of range"
		}
		return 0, "not a double"
	}
	return f, ""
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastFloat converts [-+]digits[.digits] with at most 15 significant
// digits exactly (mantissa < 2^53, power of ten ≤ 22: one correctly rounded
// division, the Clinger fast path).
func fastFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i++
	}
	var mant uint64
	digits, frac := 0, 0
	dot := false
	sawDigit := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if dot {
				return 0, false
			}
			dot = true
			continue
		}
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		sawDigit = true
		if mant == 0 && d == 0 {
			if dot {
				frac++
			}
			continue
		}
		mant = mant*10 + uint64(d)
		digits++
		if dot {
			frac++
		}
		if digits > 15 {
			return 0, false
		}
	}
	if !sawDigit || frac > 22 {
		return 0, false
	}
	f := float64(mant) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// parseBool accepts true/false, t/f, yes/no, y/n and 1/0, in any case.
func parseBool(b []byte) (bool, string) {
	switch len(b) {
	case 1:
		switch b[0] | 0x20 { // lower case; digits are unchanged by | 0x20
		case 't', 'y', '1':
			return true, ""
		case 'f', 'n', '0':
			return false, ""
		}
	case 2:
		if b[0]|0x20 == 'n' && b[1]|0x20 == 'o' {
			return false, ""
		}
	case 3:
		if b[0]|0x20 == 'y' && b[1]|0x20 == 'e' && b[2]|0x20 == 's' {
			return true, ""
		}
	case 4:
		if b[0]|0x20 == 't' && b[1]|0x20 == 'r' && b[2]|0x20 == 'u' && b[3]|0x20 == 'e' {
			return true, ""
		}
	case 5:
		if b[0]|0x20 == 'f' && b[1]|0x20 == 'a' && b[2]|0x20 == 'l' && b[3]|0x20 == 's' && b[4]|0x20 == 'e' {
			return false, ""
		}
	}
	return false, "not a boolean"
}

func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + int(d)
	}
	return v, true
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDate parses YYYY-MM-DD into days since 1970-01-01.
func parseDate(b []byte) (int32, string) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, "not a date (want YYYY-MM-DD)"
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, "not a date (want YYYY-MM-DD)"
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, "invalid calendar date"
	}
	return int32(daysFromCivil(y, m, d)), ""
}

// parseTimestamp parses "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS[.fff...]" (or
// with 'T'), optionally followed by "Z" or "±HH:MM", into milliseconds
// since the epoch (UTC). Digits below the millisecond are truncated, as
// Athena's millisecond timestamps do.
func parseTimestamp(b []byte) (int64, string) {
	const bad = "not a timestamp (want YYYY-MM-DD HH:MM:SS[.fff])"
	if len(b) < 10 {
		return 0, bad
	}
	days, why := parseDate(b[:10])
	if why != "" {
		return 0, why
	}
	ms := int64(days) * 86400000
	rest := b[10:]
	if len(rest) == 0 {
		return ms, ""
	}
	if len(rest) < 9 || (rest[0] != ' ' && rest[0] != 'T') || rest[3] != ':' || rest[6] != ':' {
		return 0, bad
	}
	hh, ok1 := digits(rest[1:3])
	mm, ok2 := digits(rest[4:6])
	ss, ok3 := digits(rest[7:9])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return 0, "invalid time of day"
	}
	ms += int64(hh)*3600000 + int64(mm)*60000 + int64(ss)*1000
	rest = rest[9:]
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		frac := 0
		for ; i < len(rest) && rest[i]-'0' <= 9; i++ {
			if i <= 3 {
				frac = frac*10 + int(rest[i]-'0')
			}
		}
		if i == 1 || i > 10 {
			return 0, bad
		}
		for k := i; k <= 3; k++ {
			frac *= 10
		}
		ms += int64(frac)
		rest = rest[i:]
	}
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, bad
		}
		off := int64(oh)*3600000 + int64(om)*60000
		if rest[0] == '+' {
			ms -= off
		} else {
			ms += off
		}
	default:
		return 0, bad
	}
	return ms, ""
}

// parseDecimal parses [-+]digits[.digits] into the unscaled value at the
// given scale, as a 128-bit two's complement (hi, lo). It rejects more
// fractional digits than the scale (no silent rounding) and more integer
// digits than precision-scale.
func parseDecimal(b []byte, precision, scale int) (hi int64, lo uint64, why string) {
	if len(b) == 0 {
		return 0, 0, "empty"
	}
	i := 0
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i++
	}
	var uhi, ulo uint64
	intDigits, fracDigits := 0, 0
	dot, sawDigit := false, false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if dot {
				return 0, 0, "not a decimal"
			}
			dot = true
			continue
		}
		d := c - '0'
		if d > 9 {
			return 0, 0, "not a decimal"
		}
		sawDigit = true
		if dot {
			fracDigits++
			if fracDigits > scale {
				if d != 0 {
					return 0, 0, "more decimal places than the scale"
				}
				continue
			}
		} else if d != 0 || intDigits > 0 {
			intDigits++
			if intDigits > precision-scale {
				return 0, 0, "decimal out of range for its precision"
			}
		}
		uhi, ulo = mul10add(uhi, ulo, uint64(d))
	}
	if !sawDigit {
		return 0, 0, "not a decimal"
	}
	for k := min(fracDigits, scale); k < scale; k++ {
		uhi, ulo = mul10add(uhi, ulo, 0)
	}
	if neg {
		ulo = ^ulo + 1
		uhi = ^uhi
		if ulo == 0 {
			uhi++
		}
	}
	return int64(uhi), ulo, ""
}

func mul10add(hi, lo, d uint64) (uint64, uint64) {
	h, l := bits.Mul64(lo, 10)
	h += hi * 10
	l2, carry := bits.Add64(l, d, 0)
	return h + carry, l2
}
