package jobs

import (
	"fmt"
	"time"
)

// ParseMonth parses a month written YYYY-MM (exactly: four-digit year,
// two-digit month) and returns its first day, 00:00 UTC.
func ParseMonth(s string) (time.Time, error) {
	if len(s) != 7 || s[4] != '-' {
		return time.Time{}, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	n := 0
	for i, c := range []byte(s) {
		if i == 4 {
			continue
		}
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("month %q: want YYYY-MM", s)
		}
		n = n*10 + int(c-'0')
	}
	year, mon := n/100, n%100
	if mon < 1 || mon > 12 {
		return time.Time{}, fmt.Errorf("month %q: month must be 01..12", s)
	}
	if year < 1 {
		return time.Time{}, fmt.Errorf("month %q: year must be 0001..9999", s)
	}
	return time.Date(year, time.Month(mon), 1, 0, 0, 0, 0, time.UTC), nil
}
