package hive

import (
	"testing"
	"time"
)

// vector is one row of research §8.1/§8.2: v1 and v2 hashes and buckets @60.
type vector struct {
	name           string
	v1, v2         int32
	b1, b2         int
	hashV1, hashV2 func() int32
}

func str(s string) (func() int32, func() int32) {
	return func() int32 { return StringV1([]byte(s)) }, func() int32 { return StringV2([]byte(s)) }
}

func varchar(s string) (func() int32, func() int32) {
	return func() int32 { return VarcharV1([]byte(s)) }, func() int32 { return StringV2([]byte(s)) }
}

func date(s string) (func() int32, func() int32) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	d := int32(t.Unix() / 86400)
	if t.Unix()%86400 != 0 {
		panic("not midnight")
	}
	return func() int32 { return DateV1(d) }, func() int32 { return DateV2(d) }
}

func mk(name string, f1, f2 func() int32, v1, v2 int32, b1, b2 int) vector {
	return vector{name: name, v1: v1, v2: v2, b1: b1, b2: b2, hashV1: f1, hashV2: f2}
}

func TestTrinoVectors(t *testing.T) {
	var vs []vector
	add := func(name string, f [2]func() int32, v1, v2 int32, b1, b2 int) {
		vs = append(vs, mk(name, f[0], f[1], v1, v2, b1, b2))
	}
	pair := func(a, b func() int32) [2]func() int32 { return [2]func() int32{a, b} }
	i32 := func(v int32) [2]func() int32 {
		return pair(func() int32 { return IntV1(v) }, func() int32 { return IntV2(v) })
	}
	i64 := func(v int64) [2]func() int32 {
		return pair(func() int32 { return BigintV1(v) }, func() int32 { return BigintV2(v) })
	}
	i16 := func(v int16) [2]func() int32 {
		return pair(func() int32 { return IntV1(int32(v)) }, func() int32 { return SmallintV2(v) })
	}
	add("string Trino rocks", pair(str("Trino rocks")), 1132136730, -399107423, 30, 45)
	add("string empty", pair(str("")), 0, -965378730, 0, 38)
	add("string test string", pair(str("test string")), -318923937, -138301454, 11, 54)
	add("string chinese", pair(str("\u5f3a\u5927\u7684Trino\u5f15\u64ce")), 1688501507, 1784416344, 47, 24)
	add("string supplementary", pair(str("\U00020FFC\U00020FFD\U00020FFE\U00020FFF")), -1810797254, -697348811, 54, 57)
	add("varchar empty", pair(varchar("")), 1, -965378730, 1, 38)
	add("varchar test string", pair(varchar("test string")), -189841218, -138301454, 50, 54)
	add("varchar chinese", pair(varchar("\u5f3a\u5927\u7684Trino\u5f15\u64ce")), 1899852420, 1784416344, 0, 24)
	add("varchar supplementary", pair(varchar("\U00020FFC\U00020FFD\U00020FFE\U00020FFF")), -457487557, -697348811, 31, 57)
	add("null", pair(func() int32 { return 0 }, func() int32 { return 0 }), 0, 0, 0, 0)
	add("int 300000", i32(300000), 300000, -678663480, 0, 8)
	add("int min", i32(-2147483648), -2147483648, 1194881028, 0, 48)
	add("int max", i32(2147483647), 2147483647, 1133859967, 7, 7)
	add("bigint 300000000000", i64(300000000000), -647710651, -888935297, 37, 51)
	add("bigint min", i64(-9223372036854775808), -2147483648, 1728983947, 0, 7)
	add("bigint max", i64(9223372036854775807), -2147483648, -536577852, 0, 56)
	add("smallint 300", i16(300), 300, 2107031704, 0, 4)
	add("smallint min", i16(-32768), -32768, 1342976838, 0, 18)
	add("smallint max", i16(32767), 32767, -684075052, 7, 16)
	add("tinyint 5", pair(func() int32 { return IntV1(5) }, func() int32 { return TinyintV2(5) }), 5, 5, 5, 5)
	add("boolean true", pair(func() int32 { return BooleanV1(true) }, func() int32 { return BooleanV2(true) }), 1, 1, 1, 1)
	add("date 1970-01-01", pair(date("1970-01-01")), 0, 1362653161, 0, 1)
	add("date 2015-11-19", pair(date("2015-11-19")), 16758, 8542395, 18, 15)
	add("date 1950-11-19", pair(date("1950-11-19")), -6983, -431619185, 45, 3)
	arr := func(h func([]byte) int32) func() int32 {
		return func() int32 {
			var r int32
			for _, e := range []string{"test1", "test2", "test3", "test4"} {
				r = Combine(r, h([]byte(e)))
			}
			return r
		}
	}
	add("array<string>", pair(arr(StringV1), arr(StringV2)), 957612994, 1305539282, 34, 2)

	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			if got := v.hashV1(); got != v.v1 {
				t.Errorf("v1 hash = %d, want %d", got, v.v1)
			}
			if got := v.hashV2(); got != v.v2 {
				t.Errorf("v2 hash = %d, want %d", got, v.v2)
			}
			if got := Bucket(v.v1, 60); got != v.b1 {
				t.Errorf("v1 bucket@60 = %d, want %d", got, v.b1)
			}
			if got := Bucket(v.v2, 60); got != v.b2 {
				t.Errorf("v2 bucket@60 = %d, want %d", got, v.b2)
			}
		})
	}
}

// TestTrinoOtherVectors covers the float, double, map and multi-column
// vectors quoted in research §8.1.
func TestTrinoOtherVectors(t *testing.T) {
	check := func(name string, got, want int32) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	check("float v1", FloatV1(12.34), 1095069860)
	check("float v2", FloatV2(12.34), -381747602)
	check("double v1", DoubleV1(12.34), 986311098)
	check("double v2", DoubleV2(12.34), -2070733568)

	type kv struct {
		k string
		v int64
	}
	mapHash := func(m []kv, v2 bool) int32 {
		var r int32
		for _, e := range m {
			if v2 {
				// Hive quirk: keys hashed with v2, values with v1.
				r += StringV2([]byte(e.k)) ^ BigintV1(e.v)
			} else {
				r += StringV1([]byte(e.k)) ^ BigintV1(e.v)
			}
		}
		return r
	}
	m := []kv{{"key", 123}, {"key2", 123456789}, {"key3", -123456}}
	check("map v1", mapHash(m, false), 127880789)
	check("map v2", mapHash(m, true), -1910999650)

	arr := func(h func(int16) int32) int32 {
		var r int32
		for _, e := range []int16{5, 8, 13} {
			r = Combine(r, h(e))
		}
		return r
	}
	m1 := []kv{{"key", 123}}
	multi1 := Combine(Combine(Combine(0, FloatV1(12.34)), arr(func(v int16) int32 { return int32(v) })), mapHash(m1, false))
	multi2 := Combine(Combine(Combine(0, FloatV2(12.34)), arr(SmallintV2)), mapHash(m1, true))
	check("multi-column v1", multi1, 95411006)
	check("multi-column v2", multi2, 932898434)
}

func TestTrinoBucketNumbers(t *testing.T) {
	if got := Bucket(1132136730, 4); got != 2 {
		t.Errorf("Bucket(1132136730, 4) = %d, want 2", got)
	}
	if got := Bucket(-399107423, 4); got != 1 {
		t.Errorf("Bucket(-399107423, 4) = %d, want 1", got)
	}
}

// TestSparkVectors is research §8.2 (Spark HashExpressionsSuite, hive-hash).
func TestSparkVectors(t *testing.T) {
	for _, c := range []struct {
		in     string
		hash   int32
		bucket int
	}{
		{"apache spark", 1142704523, 23},
		{"!@#$%^&*()_+=-", -613724358, 50},
		{"abcdefghijklmnopqrstuvwxyz", 958031277, 57},
		{"AbCdEfGhIjKlMnOpQrStUvWxYz012", -648013852, 16},
		{"数据砖头", -898686242, 6},
		{"नमस्ते", 2006045948, 8},
	} {
		if got := StringV1([]byte(c.in)); got != c.hash {
			t.Errorf("StringV1(%q) = %d, want %d", c.in, got, c.hash)
		}
		if got := Bucket(c.hash, 60); got != c.bucket {
			t.Errorf("bucket@60(%q) = %d, want %d", c.in, got, c.bucket)
		}
	}
	for _, c := range []struct {
		in   int64
		want int32
	}{{1, 1}, {0, 0}, {-1, 0}, {9223372036854775807, -2147483648}, {-9223372036854775808, -2147483648}} {
		if got := BigintV1(c.in); got != c.want {
			t.Errorf("BigintV1(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestCombineWraps checks the int32 wrap-around of r*31 + h.
func TestCombineWraps(t *testing.T) {
	r := Combine(Combine(0, 2147483647), 5)
	big := int64(2147483647)*31 + 5
	want := int32(big) // truncation to 32 bits is the Java semantics
	if r != want {
		t.Fatalf("Combine wrap = %d, want %d", r, want)
	}
	if Combine(Combine(0, 0), 0) != 0 {
		t.Fatal("null columns must combine to 0")
	}
}

// TestMurmur3SignedTail checks the quirk: a non-ASCII tail differs from the
// standard unsigned-tail Murmur3 while ASCII tails agree with it.
func TestMurmur3SignedTail(t *testing.T) {
	ascii := []byte("abcde")
	if Murmur3(ascii) != standardMurmur3(ascii) {
		t.Fatal("ASCII input must match standard Murmur3")
	}
	hi := []byte{'a', 'b', 'c', 'd', 0xc3}
	if Murmur3(hi) == standardMurmur3(hi) {
		t.Fatal("non-ASCII tail must differ from standard Murmur3 (Hive signed-tail quirk)")
	}
}

func standardMurmur3(data []byte) int32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := uint32(Seed)
	n := len(data)
	rotl := func(x uint32, r uint) uint32 { return x<<r | x>>(32-r) }
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= c1
		k = rotl(k, 15)
		k *= c2
		h ^= k
		h = rotl(h, 13)*5 + 0xe6546b64
	}
	var k uint32
	tail := data[n/4*4:]
	for i := len(tail) - 1; i >= 0; i-- {
		k ^= uint32(tail[i]) << (8 * uint(i))
	}
	if len(tail) > 0 {
		k *= c1
		k = rotl(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return int32(h)
}
