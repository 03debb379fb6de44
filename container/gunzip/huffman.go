package gunzip

import "errors"

// A table entry packs what decoding one Huffman code needs:
//
//	bits 0-4    the code's length in bits (of a subtable entry: beyond the primary bits)
//	bits 5-9    extra bits that follow the code (of a subtable pointer: the subtable's index bits)
//	bits 10-12  kind
//	bits 16-31  value: a literal byte, a length or distance base, or a subtable's offset
const (
	kindLiteral = 0 << 10 // value: the byte (in a distance table: a distance base)
	kindLength  = 1 << 10 // value: the length base
	kindEnd     = 2 << 10 // end of block
	kindSub     = 3 << 10 // value: offset of the subtable
	kindInvalid = 4 << 10 // a code no symbol has, or a symbol deflate does not use
	kindMask    = 7 << 10
)

func entry(nbits, extra, kind, value uint32) uint32 {
	return nbits | extra<<5 | kind | value<<16
}

// Primary table bits: codes up to this length resolve in one lookup.
const (
	litBits  = 10
	distBits = 8
	clBits   = 7 // code length codes are at most 7 bits
)

// Table sizes: the primary table and room for the subtables of any
// complete code (zlib's ENOUGH bound, computed for these primary bits).
const (
	litTableSize  = 1 << 12 // 1<<litBits + room: a power of two, so masked indexes need no bounds check
	distTableSize = 1 << 11
)

var (
	errOversubscribed = errors.New("gunzip: invalid Huffman code: over-subscribed")
	errIncomplete     = errors.New("gunzip: invalid Huffman code: incomplete")
)

// symbolEntry gives a symbol's entry without its length.
type symbolEntry func(sym int) uint32

// build fills table from the code lengths lens (0: unused symbol), with
// primary bits pb. Incomplete codes are allowed only when allowIncomplete
// and the longest code has one bit (zlib's rule: one code of length 1),
// or there is no code at all; their unused entries decode as invalid.
func build(table []uint32, lens []uint8, pb uint, sym symbolEntry, allowIncomplete bool) ([]uint32, error) {
	var count [16]int
	maxLen := 0
	for _, l := range lens {
		count[l]++
		if int(l) > maxLen {
			maxLen = int(l)
		}
	}
	count[0] = 0
	invalid := entry(0, 0, kindInvalid, 0)
	table = table[:1<<pb]
	for i := range table {
		table[i] = invalid
	}
	if maxLen == 0 {
		if !allowIncomplete {
			return nil, errIncomplete
		}
		return table, nil
	}
	left := 1
	for l := 1; l <= 15; l++ {
		left <<= 1
		left -= count[l]
		if left < 0 {
			return nil, errOversubscribed
		}
	}
	if left > 0 && (!allowIncomplete || maxLen != 1) {
		return nil, errIncomplete
	}
	// Symbols sorted by (length, symbol): the canonical order.
	var offs [16]int
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	var sorted [288]uint16
	for s, l := range lens {
		if l != 0 {
			sorted[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	remaining := count
	pmask := 1<<pb - 1
	code := 0 // canonical code, most significant bit first
	k := 0
	curPrefix, subStart, subBits := -1, 0, uint(0)
	for l := 1; l <= maxLen; l++ {
		for n := 0; n < count[l]; n++ {
			s := int(sorted[k])
			k++
			rev := reverse(code, l)
			e := sym(s)
			if uint(l) <= pb {
				for i := rev; i < 1<<pb; i += 1 << l {
					table[i] = e | uint32(l)
				}
			} else {
				if prefix := rev & pmask; prefix != curPrefix {
					// A new subtable, as large as the codes sharing this
					// prefix need (zlib's inflate_table).
					curr := uint(l) - pb
					room := 1 << curr
					for int(curr+pb) < maxLen {
						room -= remaining[curr+pb]
						if room <= 0 {
							break
						}
						curr++
						room <<= 1
					}
					curPrefix, subStart, subBits = prefix, len(table), curr
					if len(table)+1<<curr > cap(table) {
						return nil, errOversubscribed
					}
					table = table[:len(table)+1<<curr]
					for i := subStart; i < len(table); i++ {
						table[i] = invalid
					}
					table[prefix] = entry(uint32(pb), uint32(subBits), kindSub, uint32(subStart))
				}
				for i := rev >> pb; i < 1<<subBits; i += 1 << (uint(l) - pb) {
					table[subStart+i] = e | uint32(uint(l)-pb)
				}
			}
			remaining[l]--
			code++
		}
		code <<= 1
	}
	return table, nil
}

// reverse reverses the low n bits of x: deflate sends Huffman codes most
// significant bit first into a least-significant-first bit stream.
func reverse(x, n int) int {
	r := 0
	for i := 0; i < n; i++ {
		r = r<<1 | x&1
		x >>= 1
	}
	return r
}

// Length and distance symbols: base values and extra bits (RFC 1951 3.2.5).
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

func litSymbol(s int) uint32 {
	switch {
	case s < 256:
		return entry(0, 0, kindLiteral, uint32(s))
	case s == 256:
		return entry(0, 0, kindEnd, 0)
	case s < 286:
		return entry(0, uint32(lengthExtra[s-257]), kindLength, uint32(lengthBase[s-257]))
	}
	return entry(0, 0, kindInvalid, 0)
}

func distSymbol(s int) uint32 {
	if s < 30 {
		return entry(0, uint32(distExtra[s]), kindLiteral, uint32(distBase[s]))
	}
	return entry(0, 0, kindInvalid, 0)
}

func clSymbol(s int) uint32 { return entry(0, 0, kindLiteral, uint32(s)) }

// The fixed Huffman code's tables (RFC 1951 3.2.6), built once.
var fixedLit, fixedDist = func() ([]uint32, []uint32) {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	lit, err := build(make([]uint32, 0, litTableSize), lens[:], litBits, litSymbol, false)
	if err != nil {
		panic(err)
	}
	var dl [32]uint8
	for i := range dl {
		dl[i] = 5
	}
	dist, err := build(make([]uint32, 0, distTableSize), dl[:], distBits, distSymbol, false)
	if err != nil {
		panic(err)
	}
	return lit, dist
}()
