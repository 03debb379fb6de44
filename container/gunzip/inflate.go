package gunzip

import (
	"encoding/binary"
	"errors"
	"io"
)

// ErrCorrupt is returned for a deflate stream that breaks RFC 1951.
var ErrCorrupt = errors.New("gunzip: corrupt deflate data")

// window is the deflate history the decoder keeps before its output.
const window = 32 << 10

// maxMatch is the longest back-reference; the output buffer keeps room
// for one plus the overshoot of the word-at-a-time copy (up to 15 bytes).
const (
	maxMatch = 258
	slack    = maxMatch + 16
)

// Block states of the decoder.
const (
	stateHeader  = iota // at a block header
	stateHuffman        // inside a compressed block
	stateStored         // inside a stored block (stored bytes left)
	stateEnd            // after the final block of a member
)

// inflater decodes one deflate stream at a time from its input into out.
// Bits are read least significant first from a 64-bit buffer refilled
// with one 8-byte load (libdeflate's and ISA-L's way), where klauspost's
// compress/flate reads a byte at a time: see BenchmarkInflate.
type inflater struct {
	src   io.Reader
	buf   []byte // input buffer
	in    []byte // buf[:valid]
	pos   int    // next unread byte of in
	eof   bool   // src is exhausted
	err   error  // src's error other than EOF
	read  int64  // bytes read from src
	bits  uint64 // unread bits, least significant first
	nbits uint   // how many
	// overread counts zero bytes put in the bit buffer past the end of
	// the input: the decoder may look ahead, but using them is truncation.
	overread int

	state  int
	final  bool
	stored int // bytes left in a stored block
	lit    []uint32
	dist   []uint32
	litT   []uint32 // the dynamic tables' storage
	distT  []uint32
	clT    []uint32
	lens   [286 + 30]uint8

	out   []byte // the current output buffer: history, then output
	w     int    // next byte of out to write
	avail int    // bytes before w that back-references may use
}

func newInflater(src io.Reader) *inflater {
	return &inflater{
		src:   src,
		buf:   make([]byte, 256<<10),
		litT:  make([]uint32, 0, litTableSize),
		distT: make([]uint32, 0, distTableSize),
		clT:   make([]uint32, 0, 1<<clBits),
	}
}

// offset is the input offset of the first byte not wholly used (at most
// the input's length: a truncated stream fails at its end).
func (f *inflater) offset() int64 {
	return min(f.read, f.read-int64(len(f.in)-f.pos)-int64(f.nbits/8)+int64(f.overread))
}

// fillInput reads more input, keeping the unread bytes; it is a no-op at
// the end of the input.
func (f *inflater) fillInput() {
	if f.eof {
		return
	}
	n := copy(f.buf, f.in[f.pos:])
	for empty := 0; n < len(f.buf) && !f.eof; {
		m, err := f.src.Read(f.buf[n:])
		n += m
		f.read += int64(m)
		if err == io.EOF {
			f.eof = true
		} else if err != nil {
			f.eof, f.err = true, err
		}
		if m > 0 && n >= 64<<10 {
			break
		}
		if m == 0 && err == nil {
			if empty++; empty == 100 { // as bufio.Reader gives up
				f.eof, f.err = true, io.ErrNoProgress
			}
		}
	}
	f.in, f.pos = f.buf[:n], 0
}

// refill makes at least 56 bits available, reading input as needed; past
// the end of the input it pads with zero bytes, and fails once any of
// them has been used.
func (f *inflater) refill() error {
	if len(f.in)-f.pos < 8 {
		f.fillInput()
	}
	if len(f.in)-f.pos >= 8 {
		f.bits |= binary.LittleEndian.Uint64(f.in[f.pos:]) << f.nbits
		f.pos += int(63-f.nbits) >> 3
		f.nbits |= 56
		return nil
	}
	if err := f.checkOverread(); err != nil {
		return err
	}
	for f.nbits <= 56 {
		if f.pos < len(f.in) {
			f.bits |= uint64(f.in[f.pos]) << f.nbits
			f.pos++
		} else {
			f.overread++
		}
		f.nbits += 8
	}
	return nil
}

// checkOverread fails if the decoder has used bits past the input's end.
func (f *inflater) checkOverread() error {
	if 8*f.overread > int(f.nbits) {
		return f.endErr()
	}
	return nil
}

// endErr is the error of needing input past its end: the source's error,
// or truncation.
func (f *inflater) endErr() error {
	if f.err != nil {
		return f.err
	}
	return io.ErrUnexpectedEOF
}

// haveByte makes at least one input byte available (for byte-level
// reads, after align).
func (f *inflater) haveByte() error {
	if f.pos >= len(f.in) {
		f.fillInput()
		if f.pos >= len(f.in) {
			return f.endErr()
		}
	}
	return nil
}

// need makes n ≤ 56 bits available.
func (f *inflater) need(n uint) error {
	if f.nbits >= n {
		return nil
	}
	return f.refill()
}

// take consumes and returns n ≤ 32 bits (need(n) first).
func (f *inflater) take(n uint) uint32 {
	v := uint32(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nbits -= n
	return v
}

// align drops the bits up to the next byte boundary and gives the whole
// bytes left in the bit buffer back to the input, for byte-level reads.
func (f *inflater) align() error {
	f.take(f.nbits % 8)
	if err := f.checkOverread(); err != nil {
		return err
	}
	f.pos -= int(f.nbits/8) - f.overread
	f.bits, f.nbits, f.overread = 0, 0, 0
	return nil
}

// readBytes reads len(b) whole bytes (after align).
func (f *inflater) readBytes(b []byte) error {
	for i := range b {
		if err := f.haveByte(); err != nil {
			return err
		}
		b[i] = f.in[f.pos]
		f.pos++
	}
	return nil
}

// atEOF reports whether the input has no byte left (after align).
func (f *inflater) atEOF() bool {
	if f.pos < len(f.in) {
		return false
	}
	f.fillInput()
	return f.pos >= len(f.in)
}

// startMember resets the decoder for a new deflate stream.
func (f *inflater) startMember() {
	f.state, f.final, f.avail = stateHeader, false, 0
}

// inflate decodes into f.out from f.w until the output buffer is full
// (f.w ≥ len(f.out)-slack) or the stream ends (state stateEnd).
func (f *inflater) inflate() error {
	for f.w < len(f.out)-slack {
		switch f.state {
		case stateHeader:
			if f.final {
				f.state = stateEnd
				return nil
			}
			if err := f.blockHeader(); err != nil {
				return err
			}
		case stateStored:
			if err := f.copyStored(); err != nil {
				return err
			}
		case stateHuffman:
			if err := f.huffman(); err != nil {
				return err
			}
		case stateEnd:
			return nil
		}
	}
	return nil
}

func (f *inflater) blockHeader() error {
	if err := f.need(3); err != nil {
		return err
	}
	f.final = f.take(1) == 1
	switch f.take(2) {
	case 0:
		if err := f.align(); err != nil {
			return err
		}
		var h [4]byte
		if err := f.readBytes(h[:]); err != nil {
			return err
		}
		n, nn := binary.LittleEndian.Uint16(h[:]), binary.LittleEndian.Uint16(h[2:])
		if n != ^nn {
			return ErrCorrupt
		}
		f.stored, f.state = int(n), stateStored
	case 1:
		f.lit, f.dist, f.state = fixedLit, fixedDist, stateHuffman
	case 2:
		if err := f.dynamicTables(); err != nil {
			return err
		}
		f.state = stateHuffman
	default:
		return ErrCorrupt
	}
	return nil
}

// clOrder is the order of the code length code lengths (RFC 1951 3.2.7).
var clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

func (f *inflater) dynamicTables() error {
	if err := f.need(14); err != nil {
		return err
	}
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	ncl := int(f.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return ErrCorrupt
	}
	var cl [19]uint8
	for i := 0; i < ncl; i++ {
		if err := f.need(3); err != nil {
			return err
		}
		cl[clOrder[i]] = uint8(f.take(3))
	}
	clT, err := build(f.clT, cl[:], clBits, clSymbol, false)
	if err != nil {
		return ErrCorrupt
	}
	lens := f.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		if err := f.need(clBits + 7); err != nil {
			return err
		}
		e := clT[f.bits&(1<<clBits-1)]
		if e&kindMask == kindInvalid {
			return ErrCorrupt
		}
		f.take(uint(e & 31))
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return ErrCorrupt
			}
			val, rep = lens[i-1], 3+int(f.take(2))
		case 17:
			rep = 3 + int(f.take(3))
		default:
			rep = 11 + int(f.take(7))
		}
		if i+rep > len(lens) {
			return ErrCorrupt
		}
		for ; rep > 0; rep-- {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 {
		return ErrCorrupt // no end-of-block code
	}
	if f.lit, err = build(f.litT, lens[:nlit], litBits, litSymbol, true); err != nil {
		return ErrCorrupt
	}
	if f.dist, err = build(f.distT, lens[nlit:], distBits, distSymbol, true); err != nil {
		return ErrCorrupt
	}
	return nil
}

func (f *inflater) copyStored() error {
	for f.stored > 0 && f.w < len(f.out)-slack {
		if err := f.haveByte(); err != nil {
			return err
		}
		n := copy(f.out[f.w:min(len(f.out)-slack, f.w+f.stored)], f.in[f.pos:])
		f.w += n
		f.avail += n
		f.pos += n
		f.stored -= n
	}
	if f.stored == 0 {
		f.state = stateHeader
	}
	return nil
}

// huffman decodes a compressed block until it ends or the output is
// full. The loop keeps the decoder's state in locals; it refills the bit
// buffer once per code, which leaves enough bits for a literal/length
// code, its extra bits, a distance code and its extra bits (15+5+15+13).
func (f *inflater) huffman() error {
	out, w, avail := f.out, f.w, f.avail
	limit := len(out) - slack
	// As arrays: the masked indexes below need no bounds checks.
	lit := (*[litTableSize]uint32)(f.lit[:litTableSize])
	dist := (*[distTableSize]uint32)(f.dist[:distTableSize])
	in := f.in
	bits, nbits, pos := f.bits, f.nbits, f.pos
	var err error
loop:
	for w < limit {
		if pos+8 <= len(in) {
			bits |= binary.LittleEndian.Uint64(in[pos:]) << nbits
			pos += int(63-nbits) >> 3
			nbits |= 56
		} else {
			f.bits, f.nbits, f.pos = bits, nbits, pos
			if err = f.refill(); err != nil {
				break
			}
			in = f.in
			bits, nbits, pos = f.bits, f.nbits, f.pos
		}
		e := lit[bits&(1<<litBits-1)]
		if e&kindMask == kindSub {
			bits >>= litBits
			nbits -= litBits
			e = lit[(e>>16+uint32(bits)&(1<<(e>>5&31)-1))&(litTableSize-1)]
		}
		bits >>= e & 31
		nbits -= uint(e & 31)
		switch e & kindMask {
		case kindLiteral:
			out[w] = byte(e >> 16)
			w++
			// A second literal with the bits left (at least 41).
			e = lit[bits&(1<<litBits-1)]
			if e&kindMask == kindLiteral {
				bits >>= e & 31
				nbits -= uint(e & 31)
				out[w] = byte(e >> 16)
				w++
			}
			continue
		case kindLength:
		case kindEnd:
			f.state = stateHeader
			break loop
		default:
			err = ErrCorrupt
			break loop
		}
		extra := e >> 5 & 31
		length := int(e>>16) + int(bits&(1<<extra-1))
		bits >>= extra
		nbits -= uint(extra)
		e = dist[bits&(1<<distBits-1)]
		if e&kindMask == kindSub {
			bits >>= distBits
			nbits -= distBits
			e = dist[(e>>16+uint32(bits)&(1<<(e>>5&31)-1))&(distTableSize-1)]
		}
		if e&kindMask != kindLiteral {
			err = ErrCorrupt
			break
		}
		bits >>= e & 31
		nbits -= uint(e & 31)
		extra = e >> 5 & 31
		d := int(e>>16) + int(bits&(1<<extra-1))
		bits >>= extra
		nbits -= uint(extra)
		if d > avail+(w-f.w) {
			err = ErrCorrupt
			break
		}
		src := w - d
		if d >= 8 {
			// Eight bytes at a time: with d ≥ 8 every word read is
			// already written; the last may run up to 7 bytes past the
			// match (up to 15 for the first two words), into the
			// buffer's slack.
			to, from := out[w:w+maxMatch+16], out[src:src+maxMatch+16]
			binary.LittleEndian.PutUint64(to, binary.LittleEndian.Uint64(from))
			binary.LittleEndian.PutUint64(to[8:], binary.LittleEndian.Uint64(from[8:]))
			for k := 16; k < length; k += 8 {
				binary.LittleEndian.PutUint64(to[k:], binary.LittleEndian.Uint64(from[k:]))
			}
		} else {
			for k := 0; k < length; k++ {
				out[w+k] = out[src+k]
			}
		}
		w += length
	}
	f.avail += w - f.w
	f.bits, f.nbits, f.pos, f.w = bits, nbits, pos, w
	return err
}
