package storage

import (
	"errors"
	"testing"
)

func TestParseURI(t *testing.T) {
	good := []struct{ in, scheme, root string }{
		{"file:///abs/lake", "file", "/abs/lake"},
		{"file:///abs/lake/", "file", "/abs/lake"},
		{"file://./lake", "file", "./lake"},
		{"file://lake", "file", "lake"},
		{"file://localhost/abs", "file", "/abs"},
		{"file:///", "file", "/"},
		{"FILE:///x", "file", "/x"},
		{"s3://bucket", "s3", "bucket"},
		{"s3://bucket/prefix/sub/", "s3", "bucket/prefix/sub"},
		{"s3://bucket/month=2020-03", "s3", "bucket/month=2020-03"},
	}
	for _, c := range good {
		s, r, err := ParseURI(c.in)
		if err != nil || s != c.scheme || r != c.root {
			t.Errorf("ParseURI(%q) = %q, %q, %v; want %q, %q", c.in, s, r, err, c.scheme, c.root)
		}
	}
	bad := []string{"", "./lake", "/abs/lake", "://x", "s3://", "s3:///key", "file://", "1s3://b", "s 3://b", "s3://b/a\\b", "file:///a\x00b"}
	for _, in := range bad {
		if s, r, err := ParseURI(in); !errors.Is(err, ErrInvalidURI) {
			t.Errorf("ParseURI(%q) = %q, %q, %v; want ErrInvalidURI", in, s, r, err)
		}
	}
}

func TestJoinKey(t *testing.T) {
	cases := []struct {
		parts []string
		want  string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"a"}, "a"},
		{[]string{"/a/", "/b"}, "a/b"},
		{[]string{"tier2", "t", "month=2020-03", "run=x"}, "tier2/t/month=2020-03/run=x"},
		{[]string{"a//b", "", "c"}, "a/b/c"},
		{[]string{"tier2", "t/"}, "tier2/t/"},
		{[]string{"tier2", "t", ""}, "tier2/t"},
		{[]string{"/"}, ""},
	}
	for _, c := range cases {
		if got := JoinKey(c.parts...); got != c.want {
			t.Errorf("JoinKey(%q) = %q, want %q", c.parts, got, c.want)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for _, k := range []string{"a", "a/b", ".hidden", "a/..b", "a b/ü+%20=x", "month=2020-03/000042_0_x.snappy.parquet"} {
		if err := CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", k, err)
		}
	}
	long := make([]byte, MaxKeyLen+1)
	for i := range long {
		long[i] = 'x'
	}
	for _, k := range []string{"", "/a", "a/../b", "..", ".", "./a", "a/.", "a\\b", "a\x00b", "a//b", "a/", string(long), "\xff"} {
		if err := CheckKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestCheckRange(t *testing.T) {
	cases := []struct{ off, length, size, want int64 }{
		{0, -1, 10, 10},
		{3, -1, 10, 7},
		{3, 4, 10, 4},
		{3, 100, 10, 7},
		{10, -1, 10, 0},
		{10, 5, 10, 0},
		{0, -1, 0, 0},
		{0, 0, 10, 0},
	}
	for _, c := range cases {
		got, err := CheckRange("k", c.off, c.length, c.size)
		if err != nil || got != c.want {
			t.Errorf("CheckRange(%d,%d,%d) = %d, %v; want %d", c.off, c.length, c.size, got, err, c.want)
		}
	}
	for _, c := range [][3]int64{{-1, 1, 10}, {11, -1, 10}, {1, -1, 0}} {
		if _, err := CheckRange("k", c[0], c[1], c[2]); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("CheckRange(%v) = %v, want ErrInvalidRange", c, err)
		}
	}
}
