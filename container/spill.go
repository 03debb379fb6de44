package container

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
)

// Pass 1 keeps every good record, as its raw CSV bytes, in its bucket's
// buffer. Records are framed as
//
//	line int64 | offset int64 | raw length uint32 | key length uint16 | key | raw
//
// (little endian; raw ends with '\n'). When the buffers outgrow their
// budget the largest is sorted by key and spilled to local disk as a run.
// Pass 2 merges a bucket's runs and its in-memory rest in (key, line)
// order, so a bucket's rows come out sorted whatever was spilled when, and
// parses them into full-size row groups.
const recHeader = 22

// spillBlock is the S2 block size of spilled runs.
const spillBlock = 128 << 10

// recMeta is where a record came from in the part.
type recMeta struct {
	line   int64
	offset int64
}

func putRecHeader(dst []byte, m recMeta, rawLen, keyLen int) {
	binary.LittleEndian.PutUint64(dst[0:], uint64(m.line))
	binary.LittleEndian.PutUint64(dst[8:], uint64(m.offset))
	binary.LittleEndian.PutUint32(dst[16:], uint32(rawLen))
	binary.LittleEndian.PutUint16(dst[20:], uint16(keyLen))
}

func recHeaderOf(h []byte) (m recMeta, rawLen, keyLen int) {
	m.line = int64(binary.LittleEndian.Uint64(h[0:]))
	m.offset = int64(binary.LittleEndian.Uint64(h[8:]))
	return m, int(binary.LittleEndian.Uint32(h[16:])), int(binary.LittleEndian.Uint16(h[20:]))
}

// maxBlock is the unit of bucket buffers: records never straddle two
// blocks, and spilled blocks are reused, so pass 1 neither copies buffers
// to grow them nor asks the runtime for fresh (zeroed) memory. Small
// budgets get blocks of an eighth of the buffers' share.
const maxBlock = 1 << 20

// bucketRows is one bucket's records during pass 1.
type bucketRows struct {
	blocks [][]byte // framed records in input order, not spilled
	runs   []string // spilled runs, each sorted by (key, line)
	rows   int64    // good records routed here
	bytes  int64    // framed bytes routed here (buffered + spilled)
	held   int64    // bytes of the blocks held
}

// accumulator is pass 1's consumer: it takes batches in chunk order and
// appends their records to the bucket buffers, spilling under its budget.
// Every decision depends only on the input, never on timing.
type accumulator struct {
	p         *plan
	buckets   []bucketRows
	budget    int64 // bytes of blocks (held and free) before spilling
	mem       int64 // bytes of blocks allocated
	peakMem   int64
	blockSize int      // bytes per block
	free      [][]byte // spare blocks of block bytes
	dir       string   // spill directory, created on the first spill
	runs      int
	spilled   int64

	spilledDisk int64 // on disk (compressed or not)
	reaped      int   // stale spill directories removed

	idx []runRec
	rw  runWriter
}

// runRec locates one framed record of a bucket's blocks for sorting.
type runRec struct {
	blk, off, n int32
	key         []byte
}

func newAccumulator(p *plan) *accumulator {
	return &accumulator{p: p, buckets: make([]bucketRows, p.bucketCount), budget: p.spillBudget,
		blockSize: int(min(maxBlock, max(4<<10, p.spillBudget/8)))}
}

// block returns a block for bucket bk with room for need bytes, spilling
// the largest bucket when the budget is spent.
func (a *accumulator) block(bk, need int) ([]byte, error) {
	if need > a.blockSize {
		a.mem += int64(need)
		return make([]byte, 0, need), nil
	}
	for len(a.free) == 0 && a.mem+int64(a.blockSize) > a.budget {
		big := -1
		for b := range a.buckets {
			if a.buckets[b].held > 0 && (big < 0 || a.buckets[b].held > a.buckets[big].held) {
				big = b
			}
		}
		if big < 0 {
			break
		}
		if err := a.spill(big); err != nil {
			return nil, err
		}
	}
	if n := len(a.free); n > 0 {
		b := a.free[n-1]
		a.free = a.free[:n-1]
		return b[:0], nil
	}
	a.mem += int64(a.blockSize)
	a.peakMem = max(a.peakMem, a.mem)
	return make([]byte, 0, a.blockSize), nil
}

// add copies a batch's routed records into the bucket buffers.
func (a *accumulator) add(b *batch) error {
	data := b.ch.Data
	for bk := 0; bk < a.p.bucketCount; bk++ {
		recs := b.recs[b.starts[bk]:b.starts[bk+1]]
		if len(recs) == 0 {
			continue
		}
		st := &a.buckets[bk]
		for _, r := range recs {
			raw := data[r.start:r.end]
			n := len(raw)
			if n == 0 || raw[n-1] != '\n' {
				n++ // the last record of a part may lack its newline
			}
			key := b.keys[r.keyLo:r.keyHi]
			need := recHeader + len(key) + n
			var cur []byte
			if k := len(st.blocks); k > 0 {
				cur = st.blocks[k-1]
			}
			if cap(cur)-len(cur) < need {
				blk, err := a.block(bk, need)
				if err != nil {
					return err
				}
				st.blocks = append(st.blocks, blk)
				st.held += int64(cap(blk))
				cur = blk
			}
			o := len(cur)
			cur = cur[:o+recHeader]
			putRecHeader(cur[o:], recMeta{line: r.line, offset: b.ch.Offset + int64(r.start)}, n, len(key))
			cur = append(cur, key...)
			cur = append(cur, raw...)
			if n > len(raw) {
				cur = append(cur, '\n')
			}
			st.blocks[len(st.blocks)-1] = cur
			st.bytes += int64(need)
		}
		st.rows += int64(len(recs))
	}
	return nil
}

// endPass1 lets the garbage collector have the spare blocks.
func (a *accumulator) endPass1() {
	a.mem -= int64(len(a.free)) * int64(a.blockSize)
	a.free = nil
	a.idx = nil
}

// index lists the framed records of blocks, sorted by (key, line) when
// the plan sorts rows (records are in line order already, so a stable sort
// by key suffices).
func index(blocks [][]byte, idx []runRec) []runRec {
	idx = idx[:0]
	sorted := true
	for bi, buf := range blocks {
		for off := 0; off < len(buf); {
			_, rawLen, keyLen := recHeaderOf(buf[off:])
			n := recHeader + keyLen + rawLen
			key := buf[off+recHeader : off+recHeader+keyLen]
			if len(idx) > 0 && bytes.Compare(idx[len(idx)-1].key, key) > 0 {
				sorted = false
			}
			idx = append(idx, runRec{blk: int32(bi), off: int32(off), n: int32(n), key: key})
			off += n
		}
	}
	if !sorted && !partitionByKey(idx) {
		slices.SortStableFunc(idx, func(x, y runRec) int { return bytes.Compare(x.key, y.key) })
	}
	return idx
}

// maxPartitionKeys is the most distinct keys partitionByKey handles: a
// bucket holds a handful of states.
const maxPartitionKeys = 8

// partitionByKey sorts idx, records in line order, stably by key when it
// holds at most maxPartitionKeys distinct keys: a counting sort, where a
// comparison sort compares each record with about log n others. It
// reports false, leaving idx as it was, when there are more keys.
func partitionByKey(idx []runRec) bool {
	var keys [maxPartitionKeys][]byte
	var counts [maxPartitionKeys]int
	nk, last := 0, 0
	rank := make([]uint8, len(idx))
	for i, r := range idx {
		k := last
		if !bytes.Equal(keys[k], r.key) || nk == 0 {
			for k = 0; k < nk && !bytes.Equal(keys[k], r.key); k++ {
			}
			if k == nk {
				if nk == maxPartitionKeys {
					return false
				}
				keys[nk] = r.key
				nk++
			}
			last = k
		}
		rank[i] = uint8(k)
		counts[k]++
	}
	// Where each key's records start, keys in byte order.
	order := make([]int, nk)
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	var start [maxPartitionKeys]int
	at := 0
	for _, k := range order {
		start[k] = at
		at += counts[k]
	}
	sorted := make([]runRec, len(idx))
	for i, r := range idx {
		sorted[start[rank[i]]] = r
		start[rank[i]]++
	}
	copy(idx, sorted)
	return true
}

// spill writes bucket bk's blocks as a sorted run and frees them.
func (a *accumulator) spill(bk int) error {
	st := &a.buckets[bk]
	if a.dir == "" {
		base := a.p.spillDir
		if base == "" {
			base = os.TempDir()
		}
		a.reaped = reapStaleSpills(base, time.Now().Add(-staleSpill))
		dir, err := os.MkdirTemp(base, spillPrefix)
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		a.dir = dir
	}
	name := filepath.Join(a.dir, fmt.Sprintf("%06d-%06d.run", bk, len(st.runs)))
	a.idx = index(st.blocks, a.idx)
	var size int64
	disk, err := a.rw.write(name, a.p.compressSpill, func(w io.Writer) error {
		for _, r := range a.idx {
			if _, err := w.Write(st.blocks[r.blk][r.off : r.off+r.n]); err != nil {
				return err
			}
			size += int64(r.n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	st.runs = append(st.runs, name)
	a.runs++
	a.spilled += size
	a.spilledDisk += disk
	for _, blk := range st.blocks {
		if cap(blk) == a.blockSize {
			a.free = append(a.free, blk)
		} else {
			a.mem -= int64(cap(blk))
		}
	}
	st.blocks, st.held = nil, 0
	return nil
}

// spillPrefix names spill directories; staleSpill is the age past which
// one is taken for a killed converter's and removed (a part converts in
// minutes).
const (
	spillPrefix = "tierflow-spill-"
	staleSpill  = 24 * time.Hour
)

// reapStaleSpills removes the spill directories under base not modified
// since before: a converter that was killed (SIGKILL, out of memory) could
// not remove its own. It returns how many it removed.
func reapStaleSpills(base string, before time.Time) int {
	entries, err := os.ReadDir(base)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), spillPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(before) {
			if os.RemoveAll(filepath.Join(base, e.Name())) == nil {
				n++
			}
		}
	}
	return n
}

// runWriter writes run files, reusing its buffers from run to run.
type runWriter struct {
	zw *s2.Writer
	bw *bufio.Writer
}

// write creates the run file name, lets fill write the framed records and
// returns the bytes on disk. Large parts' runs are S2-compressed (CSV
// shrinks 3-4×): less traffic to Fargate's network-attached ephemeral
// storage, for CPU taken from pass 1. Small parts' spills stay in the page
// cache, where compressing only costs. Small S2 blocks keep each run's
// read buffers small in pass 2, where a bucket may have many runs open.
func (rw *runWriter) write(name string, compress bool, fill func(io.Writer) error) (int64, error) {
	f, err := os.Create(name)
	if err != nil {
		return 0, fmt.Errorf("spill: %w", err)
	}
	var w io.Writer
	var flush func() error
	if compress {
		if rw.zw == nil {
			rw.zw = s2.NewWriter(f, s2.WriterBlockSize(spillBlock), s2.WriterConcurrency(2))
		} else {
			rw.zw.Reset(f)
		}
		w, flush = rw.zw, rw.zw.Close
	} else {
		if rw.bw == nil {
			rw.bw = bufio.NewWriterSize(f, 1<<20)
		} else {
			rw.bw.Reset(f)
		}
		w, flush = rw.bw, rw.bw.Flush
	}
	err = fill(w)
	if ferr := flush(); err == nil {
		err = ferr
	}
	var disk int64
	if fi, serr := f.Stat(); serr == nil {
		disk = fi.Size()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("spill %s (convert.spill_dir must hold up to the part's decompressed rows): %w", name, err)
	}
	return disk, nil
}

// cleanup removes the spill directory.
func (a *accumulator) cleanup() error {
	if a.dir == "" {
		return nil
	}
	err := os.RemoveAll(a.dir)
	a.dir = ""
	return err
}
