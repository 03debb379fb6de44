package pii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"math/big"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// julianUnixEpoch is the Julian day number of 1970-01-01 (INT96 timestamps
// count days from the Julian epoch).
const julianUnixEpoch = 2440588

// Canonical appends the text HMAC hashes for v, a non-NULL value of a
// column of type t, to b. Strings and binary are their bytes; integers
// base 10; booleans true/false; floats the shortest text that reads back
// to the same value (strconv 'g'); dates YYYY-MM-DD; timestamps (any unit,
// INT96 included) "YYYY-MM-DD hh:mm:ss" plus a fraction with trailing
// zeros removed, as UTC wall time, so the same instant gives the same text
// whichever unit a writer chose; decimals their digits with exactly
// `scale` fraction digits (so 1.50 and 1.5 in columns of different scale
// hash differently); UUIDs the lowercase 8-4-4-4-12 form.
func Canonical(b []byte, t parquet.Type, v parquet.Value) []byte {
	lt := t.LogicalType()
	var logical format.LogicalTypeValue
	if lt != nil {
		logical = lt.Value
	}
	if d, ok := logical.(*format.DecimalType); ok {
		return appendDecimal(b, unscaled(v), int(d.Scale))
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.AppendBool(b, v.Boolean())
	case parquet.Int32:
		switch l := logical.(type) {
		case *format.DateType:
			return time.Unix(int64(v.Int32())*86400, 0).UTC().AppendFormat(b, "2006-01-02")
		case *format.IntType:
			if !l.IsSigned {
				return strconv.AppendUint(b, uint64(uint32(v.Int32())), 10)
			}
		}
		return strconv.AppendInt(b, int64(v.Int32()), 10)
	case parquet.Int64:
		switch l := logical.(type) {
		case *format.TimestampType:
			return appendTime(b, timestampOf(v.Int64(), l.Unit.Value))
		case *format.IntType:
			if !l.IsSigned {
				return strconv.AppendUint(b, v.Uint64(), 10)
			}
		}
		return strconv.AppendInt(b, v.Int64(), 10)
	case parquet.Int96:
		i := v.Int96()
		nanos := int64(i[1])<<32 | int64(i[0])
		days := int64(i[2]) - julianUnixEpoch
		return appendTime(b, time.Unix(days*86400, nanos).UTC())
	case parquet.Float:
		return strconv.AppendFloat(b, float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		return strconv.AppendFloat(b, v.Double(), 'g', -1, 64)
	case parquet.FixedLenByteArray:
		if _, ok := logical.(*format.UUIDType); ok && len(v.ByteArray()) == 16 {
			u := v.ByteArray()
			b = hex.AppendEncode(b, u[0:4])
			b = append(b, '-')
			b = hex.AppendEncode(b, u[4:6])
			b = append(b, '-')
			b = hex.AppendEncode(b, u[6:8])
			b = append(b, '-')
			b = hex.AppendEncode(b, u[8:10])
			b = append(b, '-')
			return hex.AppendEncode(b, u[10:16])
		}
		return append(b, v.ByteArray()...)
	default: // ByteArray
		return append(b, v.ByteArray()...)
	}
}

func timestampOf(n int64, unit format.TimeUnitValue) time.Time {
	switch unit.(type) {
	case *format.MilliSeconds:
		return time.UnixMilli(n).UTC()
	case *format.NanoSeconds:
		return time.Unix(0, n).UTC()
	default:
		return time.UnixMicro(n).UTC()
	}
}

func appendTime(b []byte, t time.Time) []byte {
	return t.AppendFormat(b, "2006-01-02 15:04:05.999999999")
}

// unscaled returns a decimal's unscaled integer, whatever its physical
// type (big-endian two's complement for byte arrays).
func unscaled(v parquet.Value) *big.Int {
	switch v.Kind() {
	case parquet.Int32:
		return big.NewInt(int64(v.Int32()))
	case parquet.Int64:
		return big.NewInt(v.Int64())
	}
	raw := v.ByteArray()
	n := new(big.Int).SetBytes(raw)
	if len(raw) > 0 && raw[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	return n
}

func appendDecimal(b []byte, n *big.Int, scale int) []byte {
	if n.Sign() < 0 {
		b = append(b, '-')
		n = new(big.Int).Neg(n)
	}
	digits := n.String()
	if scale <= 0 {
		return append(b, digits...)
	}
	for len(digits) <= scale {
		digits = "0" + digits
	}
	b = append(b, digits[:len(digits)-scale]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-scale:]...)
}

// hasher computes HMAC tokens; one per goroutine.
type hasher struct {
	mac   hash.Hash
	canon []byte
	sum   []byte
}

func newHasher(key []byte) *hasher {
	return &hasher{mac: hmac.New(sha256.New, key)}
}

// token appends the HMAC token of v (a non-NULL value of type t) to dst.
func (h *hasher) token(dst []byte, t parquet.Type, v parquet.Value) []byte {
	h.canon = Canonical(h.canon[:0], t, v)
	return h.tokenOf(dst, h.canon)
}

// tokenOf appends the HMAC token of canonical text to dst.
func (h *hasher) tokenOf(dst, text []byte) []byte {
	h.mac.Reset()
	h.mac.Write(text)
	h.sum = h.mac.Sum(h.sum[:0])
	return hex.AppendEncode(dst, h.sum[:TokenHexDigits/2])
}

// Token returns the HMAC token of a string value under key, exactly as
// Apply writes it: callers can compute the token of a known value to look
// it up in a de-identified table.
func Token(key []byte, value string) string {
	return string(newHasher(key).tokenOf(nil, []byte(value)))
}

// isString reports whether a leaf of type t holds text (masks keep a mask
// in it rather than NULL).
func isString(t parquet.Type) bool {
	if t.Kind() != parquet.ByteArray {
		return false
	}
	lt := t.LogicalType()
	if lt == nil {
		return false
	}
	switch lt.Value.(type) {
	case *format.StringType, *format.EnumType, *format.JsonType:
		return true
	}
	return false
}
