package jobs

import (
	"fmt"
	"strconv"
	"strings"
)

// cronField describes one field of an EventBridge cron expression.
type cronField struct {
	name     string
	lo, hi   int
	names    []string // optional symbolic values (JAN, MON, ...)
	special  string   // day specials allowed: "L", "W", "#"
	question bool     // '?' allowed
}

var monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
var dayNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// checkCron validates an EventBridge (Scheduler) cron expression:
// cron(minutes hours day-of-month month day-of-week year), where exactly
// one of day-of-month and day-of-week is '?'.
func checkCron(expr string) error {
	inner, ok := strings.CutPrefix(strings.TrimSpace(expr), "cron(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return fmt.Errorf("%q is not of the form cron(minutes hours day-of-month month day-of-week year)", expr)
	}
	f := strings.Fields(inner)
	if len(f) != 6 {
		return fmt.Errorf("%q has %d fields, EventBridge cron needs 6 (minutes hours day-of-month month day-of-week year)", expr, len(f))
	}
	fields := []cronField{
		{name: "minutes", lo: 0, hi: 59},
		{name: "hours", lo: 0, hi: 23},
		{name: "day-of-month", lo: 1, hi: 31, special: "LW", question: true},
		{name: "month", lo: 1, hi: 12, names: monthNames},
		{name: "day-of-week", lo: 1, hi: 7, names: dayNames, special: "L#", question: true},
		{name: "year", lo: 1970, hi: 2199},
	}
	for i, cf := range fields {
		if err := cf.check(f[i]); err != nil {
			return fmt.Errorf("%q: %s %w", expr, cf.name, err)
		}
	}
	if (f[2] == "?") == (f[4] == "?") {
		return fmt.Errorf("%q: exactly one of day-of-month and day-of-week must be '?'", expr)
	}
	return nil
}

func (cf cronField) check(s string) error {
	if s == "?" {
		if !cf.question {
			return fmt.Errorf("cannot be '?'")
		}
		return nil
	}
	for _, item := range strings.Split(s, ",") {
		if err := cf.item(item); err != nil {
			return err
		}
	}
	return nil
}

// item checks one comma-separated element: *, v, a-b, with an optional /step,
// or the day specials L, LW, nW, nL, n#k.
func (cf cronField) item(s string) error {
	if s == "" {
		return fmt.Errorf("has an empty list element")
	}
	base, step, hasStep := strings.Cut(s, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > cf.hi {
			return fmt.Errorf("step %q must be 1..%d", step, cf.hi)
		}
	}
	switch {
	case base == "*":
		return nil
	case strings.Contains(cf.special, "L") && (base == "L" || (cf.name == "day-of-month" && base == "LW")):
		return nil
	case strings.Contains(cf.special, "W") && strings.HasSuffix(base, "W"):
		return cf.value(strings.TrimSuffix(base, "W"))
	case strings.Contains(cf.special, "#") && strings.Contains(base, "#"):
		d, k, _ := strings.Cut(base, "#")
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > 5 {
			return fmt.Errorf("%q: the week after '#' must be 1..5", base)
		}
		return cf.value(d)
	case cf.name == "day-of-week" && strings.HasSuffix(base, "L"):
		return cf.value(strings.TrimSuffix(base, "L"))
	}
	lo, hi, isRange := strings.Cut(base, "-")
	if err := cf.value(lo); err != nil {
		return err
	}
	if isRange {
		return cf.value(hi)
	}
	return nil
}

func (cf cronField) value(s string) error {
	for _, name := range cf.names {
		if strings.EqualFold(s, name) {
			return nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < cf.lo || n > cf.hi {
		return fmt.Errorf("value %q must be %d..%d", s, cf.lo, cf.hi)
	}
	return nil
}
