package container

import (
	"encoding/binary"
	"math"

	"github.com/tierflow/tierflow/container/pqwrite"
)

// appendSortKey appends row 0 of col, a typed value of column cp, to key
// in a byte-comparable form: comparing two keys with bytes.Compare orders
// them as compareValues orders the values (NULLs first, strings by bytes,
// numbers by value). Several columns appended one after the other still
// compare column by column, because strings are escaped and terminated.
func appendSortKey(key []byte, cp *colPlan, col *pqwrite.Column) []byte {
	if !col.Present(0) {
		return append(key, 0)
	}
	key = append(key, 1)
	switch cp.phys {
	case pqwrite.ByteArray:
		// 0x00 → 0x00 0xFF; end → 0x00 0x00: a prefix sorts first.
		for _, c := range col.Data {
			if c == 0 {
				key = append(key, 0, 0xFF)
				continue
			}
			key = append(key, c)
		}
		return append(key, 0, 0)
	case pqwrite.Int32:
		return binary.BigEndian.AppendUint32(key, uint32(col.I32[0])^(1<<31))
	case pqwrite.Int64:
		return binary.BigEndian.AppendUint64(key, uint64(col.I64[0])^(1<<63))
	case pqwrite.Double:
		f := col.F64[0]
		if math.IsNaN(f) { // cmp.Compare: NaN before every number
			return binary.BigEndian.AppendUint64(key, 0)
		}
		b := math.Float64bits(f)
		if b>>63 != 0 {
			b = ^b
		} else {
			b ^= 1 << 63
		}
		return binary.BigEndian.AppendUint64(key, b)
	case pqwrite.Boolean:
		return append(key, col.Bool[0])
	case pqwrite.FixedLenByteArray:
		// Big-endian two's complement: flip the sign bit of the first byte.
		v := col.Data[:cp.flba]
		key = append(key, v[0]^0x80)
		return append(key, v[1:]...)
	}
	return key
}
