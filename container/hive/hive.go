// Package hive computes Hive bucket numbers exactly as Hive, Trino and Athena
// do, for bucketing version 1 (the default: Java hashCode-style hashes) and
// version 2 (Murmur3 x86_32 with Hive's signed-tail quirk).
//
// A wrong bucket is a correctness bug, not a performance bug: Trino samples
// rows of every bucket file and fails the query when one hashes elsewhere.
package hive

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Bucket maps a (combined) bucket hash to a bucket in [0, n), as Hive's
// ObjectInspectorUtils.getBucketNumber: (hash & 0x7fffffff) % n. n must be > 0.
func Bucket(hash int32, n int) int {
	return int(hash&math.MaxInt32) % n
}

// Combine folds the field hash h of the next bucket column into the running
// hash r: r*31 + h with int32 wrap-around. Start with r = 0; a NULL field has h = 0.
func Combine(r, h int32) int32 {
	return r*31 + h
}

// StringV1 is the v1 hash of a Hive string: the Java loop r = 31*r + b over
// the UTF-8 bytes taken as SIGNED bytes, starting at 0.
func StringV1(b []byte) int32 {
	var r int32
	for _, c := range b {
		r = r*31 + int32(int8(c))
	}
	return r
}

// IntV1 is the v1 hash of an int (also smallint, tinyint): the value itself.
func IntV1(v int32) int32 { return v }

// BigintV1 is the v1 hash of a bigint: int32((v >>> 32) ^ v).
func BigintV1(v int64) int32 {
	u := uint64(v)
	return int32(uint32(u>>32 ^ u))
}

// BooleanV1 is the v1 hash of a boolean: 1 for true, 0 for false.
func BooleanV1(v bool) int32 {
	if v {
		return 1
	}
	return 0
}

// DateV1 is the v1 hash of a date given as days since 1970-01-01.
func DateV1(days int32) int32 { return days }

// DoubleV1 is the v1 hash of a double: Java Double.hashCode of the canonical
// bits (doubleToLongBits folds every NaN to 0x7ff8000000000000).
func DoubleV1(v float64) int32 {
	return BigintV1(int64(javaDoubleBits(v)))
}

// FloatV1 is the v1 hash of a float: Float.floatToIntBits (canonical NaN).
func FloatV1(v float32) int32 {
	return int32(javaFloatBits(v))
}

func javaDoubleBits(v float64) uint64 {
	if v != v {
		return 0x7ff8000000000000
	}
	return math.Float64bits(v)
}

func javaFloatBits(v float32) uint32 {
	if v != v {
		return 0x7fc00000
	}
	return math.Float32bits(v)
}

// Seed is Hive's Murmur3.DEFAULT_SEED used by bucketing version 2.
const Seed = 104729

// Murmur3 is Hive's Murmur3.hash32(data, len, 104729): MurmurHash3 x86_32,
// except that tail bytes are sign-extended (Hive's quirk); for ASCII tails it
// equals the standard algorithm.
func Murmur3(data []byte) int32 {
	const (
		c1 = 0xcc9e2d51
		c2 = 0x1b873593
	)
	h := uint32(Seed)
	n := len(data)
	nblocks := n / 4
	for i := 0; i < nblocks; i++ {
		k := binary.LittleEndian.Uint32(data[i*4:])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)*5 + 0xe6546b64
	}
	tail := data[nblocks*4:]
	var k1 uint32
	switch len(tail) {
	case 3:
		k1 ^= uint32(int32(int8(tail[2])) << 16)
		fallthrough
	case 2:
		k1 ^= uint32(int32(int8(tail[1])) << 8)
		fallthrough
	case 1:
		k1 ^= uint32(int32(int8(tail[0])))
		k1 *= c1
		k1 = bits.RotateLeft32(k1, 15)
		k1 *= c2
		h ^= k1
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return int32(h)
}

// StringV2 is the v2 hash of a string or varchar: Murmur3 of its UTF-8 bytes.
func StringV2(b []byte) int32 { return Murmur3(b) }

// IntV2 is the v2 hash of an int: Murmur3 of its 4 big-endian bytes.
func IntV2(v int32) int32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return Murmur3(b[:])
}

// SmallintV2 is the v2 hash of a smallint: Murmur3 of its 2 big-endian bytes.
func SmallintV2(v int16) int32 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(v))
	return Murmur3(b[:])
}

// TinyintV2 is the v2 hash of a tinyint: the value itself.
func TinyintV2(v int8) int32 { return int32(v) }

// BigintV2 is the v2 hash of a bigint: Murmur3 of its 8 big-endian bytes.
func BigintV2(v int64) int32 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return Murmur3(b[:])
}

// BooleanV2 is the v2 hash of a boolean: 1 or 0, no Murmur.
func BooleanV2(v bool) int32 { return BooleanV1(v) }

// DateV2 is the v2 hash of a date: Murmur3 of the 4 big-endian bytes of the
// days since 1970-01-01.
func DateV2(days int32) int32 { return IntV2(days) }

// DoubleV2 is the v2 hash of a double. Hive calls ByteBuffer.putDouble with
// doubleToLongBits(v) — a long, implicitly converted back to a double — so
// the bytes hashed are those of float64(int64 bits), not of v.
func DoubleV2(v float64) int32 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], math.Float64bits(float64(int64(javaDoubleBits(v)))))
	return Murmur3(b[:])
}

// FloatV2 is the v2 hash of a float, with the same quirk as DoubleV2:
// putFloat(floatToIntBits(v)) converts the int bits back to a float.
func FloatV2(v float32) int32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], math.Float32bits(float32(int32(javaFloatBits(v)))))
	return Murmur3(b[:])
}

// VarcharV1 is the v1 hash of a varchar(n): like StringV1 but starting at 1
// (Hadoop Text.hashCode). Bucket columns should be string, not varchar.
func VarcharV1(b []byte) int32 {
	r := int32(1)
	for _, c := range b {
		r = r*31 + int32(int8(c))
	}
	return r
}
