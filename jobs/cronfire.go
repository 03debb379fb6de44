package jobs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PrevFire returns the latest time at or before at (UTC, to the minute)
// when the EventBridge cron expression fires, looking back at most about
// two years. The late-data check uses it to know which month a monthly
// schedule last asked for.
func PrevFire(expr string, at time.Time) (time.Time, error) {
	if err := checkCron(expr); err != nil {
		return time.Time{}, err
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(expr), "cron("), ")")
	f := strings.Fields(inner)
	minutes, hours := cronSet(f[0], 0, 59, nil), cronSet(f[1], 0, 23, nil)
	months, years := cronSet(f[3], 1, 12, monthNames), cronSet(f[5], 1970, 2199, nil)
	at = at.UTC().Truncate(time.Minute)
	day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
	for range 800 {
		if years[day.Year()] && months[int(day.Month())] && dayMatches(f[2], f[4], day) {
			for h := 23; h >= 0; h-- {
				for m := 59; m >= 0; m-- {
					t := day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
					if hours[h] && minutes[m] && !t.After(at) {
						return t, nil
					}
				}
			}
		}
		day = day.AddDate(0, 0, -1)
	}
	return time.Time{}, fmt.Errorf("%q does not fire in the two years before %s", expr, at.Format(time.RFC3339))
}

// cronSet is the values a field (already checked) allows.
func cronSet(s string, lo, hi int, names []string) map[int]bool {
	set := map[int]bool{}
	for _, item := range strings.Split(s, ",") {
		base, step, hasStep := strings.Cut(item, "/")
		n := 1
		if hasStep {
			n, _ = strconv.Atoi(step)
		}
		a, b := lo, hi
		if base != "*" {
			x, y, isRange := strings.Cut(base, "-")
			a = cronValue(x, names)
			b = a
			if isRange {
				b = cronValue(y, names)
			} else if hasStep {
				b = hi
			}
		}
		for v := a; v <= b; v += n {
			set[v] = true
		}
	}
	return set
}

// cronValue reads a number or a name (JAN = 1, SUN = 1).
func cronValue(s string, names []string) int {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return i + 1
		}
	}
	v, _ := strconv.Atoi(s)
	return v
}

// dayMatches applies the day-of-month and day-of-week fields (one is '?').
func dayMatches(dom, dow string, day time.Time) bool {
	last := time.Date(day.Year(), day.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if dom != "?" {
		for _, item := range strings.Split(dom, ",") {
			switch {
			case item == "L":
				if day.Day() == last {
					return true
				}
			case item == "LW":
				if day.Day() == nearestWeekday(day, last) {
					return true
				}
			case strings.HasSuffix(item, "W"):
				n, _ := strconv.Atoi(strings.TrimSuffix(item, "W"))
				if day.Day() == nearestWeekday(day, min(n, last)) {
					return true
				}
			default:
				if cronSet(item, 1, 31, nil)[day.Day()] {
					return true
				}
			}
		}
		return false
	}
	wd := int(day.Weekday()) + 1 // SUN = 1
	for _, item := range strings.Split(dow, ",") {
		switch {
		case item == "L":
			if wd == 7 {
				return true
			}
		case strings.Contains(item, "#"):
			d, k, _ := strings.Cut(item, "#")
			n, _ := strconv.Atoi(k)
			if wd == cronValue(d, dayNames) && (day.Day()-1)/7+1 == n {
				return true
			}
		case strings.HasSuffix(item, "L"):
			if wd == cronValue(strings.TrimSuffix(item, "L"), dayNames) && day.Day()+7 > last {
				return true
			}
		default:
			if cronSet(item, 1, 7, dayNames)[wd] {
				return true
			}
		}
	}
	return false
}

// nearestWeekday is the weekday (Mon-Fri) of day's month nearest to day n,
// never crossing into another month (Quartz's nW).
func nearestWeekday(day time.Time, n int) int {
	t := time.Date(day.Year(), day.Month(), n, 0, 0, 0, 0, time.UTC)
	last := time.Date(day.Year(), day.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	switch t.Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}
