package jobs

import (
	"testing"
	"time"
)

func TestPrevFire(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ expr, now, want string }{
		{"cron(0 6 2 * ? *)", "2020-04-03 12:00", "2020-04-02 06:00"},
		{"cron(0 6 2 * ? *)", "2020-04-02 06:00", "2020-04-02 06:00"}, // at the firing itself
		{"cron(0 6 2 * ? *)", "2020-04-02 05:59", "2020-03-02 06:00"},
		{"cron(0 6 2 * ? *)", "2020-01-01 00:00", "2019-12-02 06:00"},
		{"cron(30 23 L * ? *)", "2020-03-15 00:00", "2020-02-29 23:30"}, // leap year
		{"cron(0 8 LW * ? *)", "2020-06-01 00:00", "2020-05-29 08:00"},  // May 31 2020 is a Sunday
		{"cron(0 8 1W * ? *)", "2020-02-10 00:00", "2020-02-03 08:00"},  // Feb 1 2020 is a Saturday: Monday 3rd
		{"cron(0 9 ? * MON#1 *)", "2020-03-20 00:00", "2020-03-02 09:00"},
		{"cron(0 9 ? * 6L *)", "2020-03-31 00:00", "2020-03-27 09:00"}, // last Friday
		{"cron(0/15 * * * ? *)", "2020-03-05 10:07", "2020-03-05 10:00"},
		{"cron(0 6 2 JAN,JUL ? *)", "2020-05-01 00:00", "2020-01-02 06:00"},
		{"cron(0 6 2-4 * ? 2019)", "2020-05-01 00:00", "2019-12-04 06:00"},
	} {
		got, err := PrevFire(c.expr, at(c.now))
		if err != nil || !got.Equal(at(c.want)) {
			t.Errorf("PrevFire(%s, %s) = %v, %v; want %s", c.expr, c.now, got, err, c.want)
		}
	}
	if _, err := PrevFire("cron(0 6 2 * ? 1999)", at("2020-01-01 00:00")); err == nil {
		t.Error("a schedule that last fired 20 years ago was found")
	}
	if _, err := PrevFire("rate(1 day)", at("2020-01-01 00:00")); err == nil {
		t.Error("a rate expression was taken for a cron")
	}
}
