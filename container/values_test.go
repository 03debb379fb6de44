package container

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseInts(t *testing.T) {
	for _, c := range []string{"0", "-0", "+7", "2147483647", "-2147483648", "2147483648", "-2147483649",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
		"99999999999999999999", "", "-", "+", "1a", " 1", "1 ", "0x10", "1_000", "007"} {
		want64, err64 := strconv.ParseInt(c, 10, 64)
		got64, why := parseInt64([]byte(c))
		if (err64 != nil) != (why != "") || (err64 == nil && got64 != want64) {
			t.Errorf("parseInt64(%q) = %d %q, strconv %d %v", c, got64, why, want64, err64)
		}
		want32, err32 := strconv.ParseInt(c, 10, 32)
		got32, why := parseInt32([]byte(c))
		if (err32 != nil) != (why != "") || (err32 == nil && int64(got32) != want32) {
			t.Errorf("parseInt32(%q) = %d %q, strconv %d %v", c, got32, why, want32, err32)
		}
	}
}

func checkDouble(t *testing.T, s string) {
	got, why := parseDouble([]byte(s))
	want, err := strconv.ParseFloat(s, 64)
	hex := strings.ContainsAny(s, "xX_")
	if hex {
		if why == "" {
			t.Errorf("parseDouble(%q) accepted hex/underscore", s)
		}
		return
	}
	if (err != nil) != (why != "") {
		t.Errorf("parseDouble(%q) = %v %q, strconv %v %v", s, got, why, want, err)
		return
	}
	if err == nil && math.Float64bits(got) != math.Float64bits(want) && !(got != got && want != want) {
		t.Errorf("parseDouble(%q) = %v, strconv %v", s, got, want)
	}
}

func TestParseDouble(t *testing.T) {
	for _, c := range []string{"0", "-0", "1.5", "-1.5", ".5", "5.", "0.1", "0.3", "123456789012345", "1234567890123456",
		"0.000000000000000000001", "1e10", "-2.5E-3", "NaN", "inf", "-Infinity", "1e400", "", ".", "-", "1.2.3", "0x1p-2", "1_0",
		"9007199254740993", "3.141592653589793", "00012.500"} {
		checkDouble(t, c)
	}
}

// FuzzParseDouble compares the fast path with strconv.
func FuzzParseDouble(f *testing.F) {
	for _, c := range []string{"1.5", "-0.001", "123456789.123456", "1e5"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) { checkDouble(t, s) })
}

func TestParseDate(t *testing.T) {
	for _, c := range []string{"1970-01-01", "2015-11-19", "1950-11-19", "2000-02-29", "1900-02-29", "2024-02-29", "0001-01-01",
		"9999-12-31", "2023-02-29", "2023-13-01", "2023-00-10", "2023-01-32", "2023-1-01", "20230101", "2023/01/01", ""} {
		tm, err := time.Parse("2006-01-02", c)
		got, why := parseDate([]byte(c))
		if (err != nil) != (why != "") {
			t.Errorf("parseDate(%q) = %d %q, time.Parse err %v", c, got, why, err)
			continue
		}
		if err == nil && int64(got) != tm.Unix()/86400 && !(tm.Unix() < 0 && int64(got) == (tm.Unix()-86399)/86400) {
			t.Errorf("parseDate(%q) = %d, want %d", c, got, tm.Unix()/86400)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // RFC3339Nano in UTC, "" = reject
	}{
		{"2020-01-02 03:04:05", "2020-01-02T03:04:05Z"},
		{"2020-01-02T03:04:05.123", "2020-01-02T03:04:05.123Z"},
		{"2020-01-02 03:04:05.1", "2020-01-02T03:04:05.1Z"},
		{"2020-01-02 03:04:05.123999", "2020-01-02T03:04:05.123Z"},
		{"2020-01-02 03:04:05Z", "2020-01-02T03:04:05Z"},
		{"2020-01-02 03:04:05+02:00", "2020-01-02T01:04:05Z"},
		{"2020-01-02 03:04:05-05:30", "2020-01-02T08:34:05Z"},
		{"1960-06-30 23:59:59.999", "1960-06-30T23:59:59.999Z"},
		{"2020-01-02", "2020-01-02T00:00:00Z"},
		{"2020-01-02 24:00:00", ""},
		{"2020-01-02 03:04", ""},
		{"2020-01-02 03:04:05.", ""},
		{"2020-01-02 03:04:05 PM", ""},
		{"2020-02-30 00:00:00", ""},
	} {
		got, why := parseTimestamp([]byte(c.in))
		if c.want == "" {
			if why == "" {
				t.Errorf("parseTimestamp(%q) accepted", c.in)
			}
			continue
		}
		w, _ := time.Parse(time.RFC3339Nano, c.want)
		if why != "" || got != w.UnixMilli() {
			t.Errorf("parseTimestamp(%q) = %d %q, want %d", c.in, got, why, w.UnixMilli())
		}
	}
}

func TestParseDecimal(t *testing.T) {
	for _, c := range []struct {
		in   string
		p, s int
		want string // unscaled, "" = reject
	}{
		{"1.25", 9, 2, "125"},
		{"-1.2", 9, 2, "-120"},
		{"1234567", 9, 2, "123456700"},
		{"12345678", 9, 2, ""},
		{"0.001", 9, 2, ""},
		{"1.250", 9, 2, "125"},
		{"007.5", 9, 2, "750"},
		{"-99999999999999999999999.99999", 30, 5, "-9999999999999999999999999999"},
		{"12345678901234567890123456.1", 30, 5, ""},
		{"-0.00001", 38, 5, "-1"},
		{"99999999999999999999999999999999999999", 38, 0, "99999999999999999999999999999999999999"},
		{"-99999999999999999999999999999999999999", 38, 0, "-99999999999999999999999999999999999999"},
		{"1e5", 9, 2, ""},
		{".", 9, 2, ""},
		{"", 9, 2, ""},
		{"1.2.3", 9, 2, ""},
	} {
		hi, lo, why := parseDecimal([]byte(c.in), c.p, c.s)
		if c.want == "" {
			if why == "" {
				t.Errorf("parseDecimal(%q,%d,%d) accepted", c.in, c.p, c.s)
			}
			continue
		}
		got := new(big.Int).Lsh(big.NewInt(hi), 64)
		got.Add(got, new(big.Int).SetUint64(lo))
		want, _ := new(big.Int).SetString(c.want, 10)
		if why != "" || got.Cmp(want) != 0 {
			t.Errorf("parseDecimal(%q,%d,%d) = %v %q, want %v", c.in, c.p, c.s, got, why, want)
		}
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]int{"true": 1, "TRUE": 1, "t": 1, "Y": 1, "yes": 1, "1": 1, "false": 0, "F": 0, "n": 0, "No": 0, "0": 0, "": -1, "2": -1, "tru": -1, "yess": -1, "q": -1} {
		got, why := parseBool([]byte(in))
		switch {
		case want < 0 && why == "":
			t.Errorf("parseBool(%q) accepted", in)
		case want >= 0 && (why != "" || got != (want == 1)):
			t.Errorf("parseBool(%q) = %v %q", in, got, why)
		}
	}
}
