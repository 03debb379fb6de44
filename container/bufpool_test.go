package container

import (
	"testing"

	"github.com/tierflow/tierflow/container/pqwrite"
)

func TestSlabPool(t *testing.T) {
	p := &slabPool{max: 64 << 10}
	a := make([]uint32, 0, 4096) // 16 KiB
	if !poolPut(p, &p.u32, a, 4) || p.size() != 16<<10 {
		t.Fatalf("put: size %d", p.size())
	}
	// A request rounding up to the pooled capacity reuses it.
	b := poolGet(p, &p.u32, 3000, 4)
	if cap(b) != 4096 || len(b) != 0 || p.size() != 0 {
		t.Fatalf("get: cap %d len %d size %d", cap(b), len(b), p.size())
	}
	// Other sizes allocate: the capacity never depends on the pool.
	poolPut(p, &p.u32, b, 4)
	if c := poolGet(p, &p.u32, 5000, 4); cap(c) != 8192 || p.size() != 16<<10 {
		t.Fatalf("big get: cap %d size %d", cap(c), p.size())
	}
	if c := poolGet(p, &p.u32, 1500, 4); cap(c) != 2048 || p.size() != 16<<10 {
		t.Fatalf("small get: cap %d size %d", cap(c), p.size())
	}
	// Buffers that are not a power of two are refused.
	if poolPut(p, &p.u32, make([]uint32, 0, 3000), 4) {
		t.Fatal("odd capacity pooled")
	}
	p.takeRefused()
	// Past max, buffers are refused and counted as garbage.
	for i := 0; i < 4; i++ {
		poolPut(p, &p.u8, make([]byte, 0, 16<<10), 1)
	}
	if p.size() > p.max {
		t.Fatalf("pool holds %d > max %d", p.size(), p.max)
	}
	if r := p.takeRefused(); r != 16<<10 {
		t.Fatalf("refused %d, want %d", r, 16<<10)
	}
	// growIn keeps the content and doubles.
	s := append(poolGet(p, &p.i64, 1024, 8), 1, 2, 3)
	s = growIn(p, &p.i64, s[:3:3], 10, 8)
	if len(s) != 3 || s[0] != 1 || s[2] != 3 || cap(s) < 13 {
		t.Fatalf("growIn: %v cap %d", s, cap(s))
	}
	// putColumn empties the column.
	col := pqwrite.Column{Data: make([]byte, 10, 2048), Ends: make([]uint32, 2, 2048)}
	p.putColumn(&col)
	if col.Data != nil || col.Ends != nil {
		t.Fatal("putColumn left buffers in the column")
	}
}
