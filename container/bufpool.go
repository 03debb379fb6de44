package container

import (
	"math/bits"
	"sync"

	"github.com/tierflow/tierflow/container/pqwrite"
)

// slabPool recycles the large pointer-free buffers of bucket columns: a
// buffer outgrown by its bucket, or encoded into a row group, is reused by
// the next bucket that grows instead of becoming garbage. That saves the
// zeroing and page faults of fresh memory and most garbage collections.
// Buffers have power-of-two capacities and are kept by capacity, up to
// max bytes.
type slabPool struct {
	mu      sync.Mutex
	bytes   int64
	max     int64
	refused int64 // bytes offered while full: garbage
	u8      [48][][]byte
	u16     [48][][]uint16
	u32     [48][][]uint32
	i32     [48][][]int32
	i64     [48][][]int64
	f64     [48][][]float64
}

// poolGet returns an empty slice with capacity exactly the power of two at
// or above n, recycled when the pool has one. The capacity never depends
// on what the pool holds (which depends on timing): memory accounting by
// capacity, and so every flush decision, stays deterministic.
func poolGet[T any](p *slabPool, lists *[48][][]T, n, size int) []T {
	c := bits.Len(uint(max(n, 1) - 1)) // 2^c >= n
	if p != nil && c < len(lists) {
		p.mu.Lock()
		if l := lists[c]; len(l) > 0 {
			s := l[len(l)-1]
			l[len(l)-1] = nil
			lists[c] = l[:len(l)-1]
			p.bytes -= int64(cap(s) * size)
			p.mu.Unlock()
			return s[:0]
		}
		p.mu.Unlock()
	}
	return make([]T, 0, 1<<c)
}

// poolPut offers s for reuse; it reports false when the pool is full (s
// is then garbage, counted in refused) or s is too small to keep.
func poolPut[T any](p *slabPool, lists *[48][][]T, s []T, size int) bool {
	if p == nil {
		return false
	}
	if cap(s) < 1024 || cap(s)&(cap(s)-1) != 0 {
		// Small, or not from poolGet.
		p.mu.Lock()
		p.refused += int64(cap(s) * size)
		p.mu.Unlock()
		return false
	}
	c := bits.Len(uint(cap(s))) - 1 // 2^c <= cap
	b := int64(cap(s) * size)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bytes+b > p.max || c >= len(lists) {
		p.refused += b
		return false
	}
	lists[c] = append(lists[c], s)
	p.bytes += b
	return true
}

// size returns the bytes held.
func (p *slabPool) size() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// takeRefused returns and resets the bytes that became garbage.
func (p *slabPool) takeRefused() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.refused
	p.refused = 0
	return r
}

// putColumn offers every buffer of col to the pool and empties col.
func (p *slabPool) putColumn(col *pqwrite.Column) {
	if cap(col.Def) > 0 {
		poolPut(p, &p.u8, col.Def, 1)
	}
	if cap(col.I32) > 0 {
		poolPut(p, &p.i32, col.I32, 4)
	}
	if cap(col.I64) > 0 {
		poolPut(p, &p.i64, col.I64, 8)
	}
	if cap(col.F64) > 0 {
		poolPut(p, &p.f64, col.F64, 8)
	}
	if cap(col.Bool) > 0 {
		poolPut(p, &p.u8, col.Bool, 1)
	}
	if cap(col.Data) > 0 {
		poolPut(p, &p.u8, col.Data, 1)
	}
	if cap(col.Ends) > 0 {
		poolPut(p, &p.u32, col.Ends, 4)
	}
	if cap(col.Lens) > 0 {
		poolPut(p, &p.u16, col.Lens, 2)
	}
	*col = pqwrite.Column{}
}

// growIn makes room for n more elements in s, doubling its capacity with a
// recycled buffer when possible; the outgrown buffer goes back to the pool.
// (append's 1.25× growth for large slices would copy buffers over and over.)
func growIn[T any](p *slabPool, lists *[48][][]T, s []T, n, size int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	c := max(2*cap(s), len(s)+n, 1024)
	ns := poolGet(p, lists, c, size)[:len(s)]
	copy(ns, s)
	poolPut(p, lists, s, size)
	return ns
}
