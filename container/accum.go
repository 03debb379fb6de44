package container

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/lake/storage"
)

// bucketBuf accumulates one bucket's rows until they become a row group.
type bucketBuf struct {
	cols []pqwrite.Column
	rows int
	mem  int64
	file *bucketFile
	// totals
	written int64
	// Sizes at the last flush, to reserve half of them when the bucket
	// refills: fewer doubling copies.
	lastRows int
	lastData []int
}

// bucketFile is one bucket's Parquet file being streamed to storage.
type bucketFile struct {
	key string
	w   storage.Writer
	hw  *hashWriter
	pw  *pqwrite.Writer
}

// hashWriter counts and hashes what goes through it.
type hashWriter struct {
	w storage.Writer
	h hash.Hash
	n int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// accumulator gathers rows per bucket, in chunk order, under one memory
// budget, and turns buckets into row groups. Every decision (which bucket
// becomes a row group, when) depends only on the input, never on timing,
// so the output is deterministic; encoding runs asynchronously on a few
// goroutines, and only waiting for them depends on timing.
type accumulator struct {
	ctx        context.Context
	p          *plan
	dst        storage.Storage
	dataPrefix string
	buckets    []bucketBuf
	budget     int64 // hard limit on accumulated + in-flight + pooled bytes
	soft       int64 // accumulated bytes above which the largest bucket is flushed
	mem        int64 // accumulated (not yet flushed) bytes
	peakMem    int64
	delta      []int64 // per bucket: bytes added by the batch being added
	garbage    int64   // bytes dropped (refused by the pool) since the last collection

	pool     *slabPool
	tasks    chan *flushTask
	wg       sync.WaitGroup
	lastDone []chan struct{} // per bucket: done of its latest flush task
	stopped  bool

	mu        sync.Mutex
	cond      *sync.Cond
	inflight  int64 // bytes handed to encoders and not yet released
	err       error
	rowGroups int
	encode    time.Duration // summed over encoder goroutines

	committed []string // keys committed (deleted again on failure)
}

// flushTask is one bucket's rows on their way to becoming a row group.
type flushTask struct {
	bk   int
	cols []pqwrite.Column
	rows int
	mem  int64
	prev chan struct{} // the bucket's previous task, which must be written first
	done chan struct{}
}

func newAccumulator(ctx context.Context, p *plan, dst storage.Storage, dataPrefix string) *accumulator {
	a := &accumulator{ctx: ctx, p: p, dst: dst, dataPrefix: dataPrefix, buckets: make([]bucketBuf, p.bucketCount)}
	// Buffers get a bit under half of the budget: dropped buffers are
	// garbage until the next GC cycle, and parse chunks, batches, encoder
	// scratch and storage writers need room too.
	a.budget = p.memory * 45 / 100
	// Flushing before the hard limit lets encoding overlap accumulation.
	a.soft = a.budget * 3 / 4
	a.cond = sync.NewCond(&a.mu)
	// Recycled buffers: up to an eighth of the budget.
	a.pool = &slabPool{max: a.budget / 8}
	a.lastDone = make([]chan struct{}, p.bucketCount)
	for i := range a.buckets {
		a.buckets[i].cols = make([]pqwrite.Column, len(p.cols))
	}
	a.tasks = make(chan *flushTask, p.workers)
	for i := 0; i < p.workers; i++ {
		a.wg.Add(1)
		go a.encoder()
	}
	return a
}

// encoder turns flush tasks into row groups. Tasks are taken in the order
// they were queued, so a task's predecessor for the same bucket is already
// taken by some encoder and waiting for it cannot deadlock.
func (a *accumulator) encoder() {
	defer a.wg.Done()
	enc := []*pqwrite.Encoder{{}}
	var perm []int32
	for t := range a.tasks {
		if t.prev != nil {
			<-t.prev
		}
		var err error
		if a.failed() == nil && a.ctx.Err() == nil {
			start := time.Now()
			perm, err = a.writeRowGroup(t, enc, perm)
			a.mu.Lock()
			a.encode += time.Since(start)
			if err == nil {
				a.rowGroups++
			}
			a.mu.Unlock()
		}
		for i := range t.cols {
			a.pool.putColumn(&t.cols[i])
		}
		t.cols = nil
		a.mu.Lock()
		if err != nil && a.err == nil {
			a.err = err
		}
		a.inflight -= t.mem
		a.cond.Broadcast()
		a.mu.Unlock()
		close(t.done)
	}
}

func (a *accumulator) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// writeRowGroup sorts and encodes one task into its bucket's file. Tasks of
// one bucket run one after the other, so the bucket's file needs no lock.
func (a *accumulator) writeRowGroup(t *flushTask, enc []*pqwrite.Encoder, perm []int32) ([]int32, error) {
	buf := &a.buckets[t.bk]
	if buf.file == nil {
		f, err := a.create(t.bk)
		if err != nil {
			return perm, err
		}
		buf.file = f
	}
	for c := range t.cols {
		if a.p.cols[c].phys == pqwrite.ByteArray {
			t.cols[c].FillEnds(poolGet(a.pool, &a.pool.u32, t.rows, 4))
		}
	}
	perm = a.sortPerm(t.cols, t.rows, perm[:0])
	var sorting []pqwrite.SortingColumn
	for _, c := range a.p.sortCols {
		sorting = append(sorting, pqwrite.SortingColumn{Column: c})
	}
	cols := make([]*pqwrite.Column, len(t.cols))
	for i := range t.cols {
		cols[i] = &t.cols[i]
	}
	p := perm
	if len(p) == 0 {
		p = nil
	}
	if err := buf.file.pw.WriteRowGroup(enc, cols, p, t.rows, sorting); err != nil {
		return perm, fmt.Errorf("bucket %d (%s): %w", t.bk, buf.file.key, err)
	}
	buf.written += int64(t.rows)
	return perm, nil
}

// collect runs the garbage collector once a quarter of the budget has been
// dropped. Bucket buffers are large pointer-free blocks, so a collection
// costs milliseconds, and it lets the runtime reuse their memory instead of
// growing the heap to twice the live data (GOGC=100), which would break the
// memory budget.
func (a *accumulator) collect() {
	a.garbage += a.pool.takeRefused()
	if a.garbage < a.budget/4 {
		return
	}
	runtime.GC()
	a.garbage = 0
}

// add appends a batch's rows and flushes buckets as the policy says.
func (a *accumulator) add(b *batch) error {
	if err := a.failed(); err != nil {
		return err
	}
	// Hard limit: wait for encoders while accumulated plus in-flight
	// buffers exceed the budget. Waiting changes timing only.
	pooled := a.pool.size()
	a.mu.Lock()
	for a.mem+a.inflight+pooled > a.budget && a.inflight > 0 && a.err == nil {
		a.cond.Wait()
	}
	a.mu.Unlock()
	for bk := 0; bk < a.p.bucketCount; bk++ {
		buf := &a.buckets[bk]
		if b.starts[bk] < b.starts[bk+1] && buf.rows == 0 && buf.lastRows > 0 {
			a.reserve(buf)
		}
	}
	// Column by column, then bucket by bucket: each batch column is read
	// front to back.
	if cap(a.delta) < a.p.bucketCount {
		a.delta = make([]int64, a.p.bucketCount)
	}
	delta := a.delta[:a.p.bucketCount]
	clear(delta)
	for c := range a.p.cols {
		cp := &a.p.cols[c]
		src := &b.cols[c]
		var ds, ls []uint32
		if cp.phys == pqwrite.ByteArray {
			ds, ls = b.dataStart[c], b.longStart[c]
		}
		for bk := 0; bk < a.p.bucketCount; bk++ {
			lo, hi := b.starts[bk], b.starts[bk+1]
			if lo == hi {
				continue
			}
			var sr strRange
			if ds != nil {
				sr = strRange{ds[bk], ds[bk+1], ls[bk], ls[bk+1]}
			}
			dst := &a.buckets[bk].cols[c]
			before := dst.MemSize()
			appendRange(a.pool, cp, dst, src, a.buckets[bk].rows, lo, hi, sr)
			delta[bk] += dst.MemSize() - before
		}
	}
	for bk := 0; bk < a.p.bucketCount; bk++ {
		lo, hi := b.starts[bk], b.starts[bk+1]
		if lo == hi {
			continue
		}
		buf := &a.buckets[bk]
		buf.rows += hi - lo
		buf.mem += delta[bk]
		a.mem += delta[bk]
		if buf.mem >= a.p.rowGroup {
			if err := a.flush(bk); err != nil {
				return err
			}
		}
	}
	a.peakMem = max(a.peakMem, a.mem)
	a.collect()
	for a.mem > a.soft {
		// Flush the largest bucket; ties go to the lowest bucket number.
		big := -1
		for bk := range a.buckets {
			if a.buckets[bk].rows > 0 && (big < 0 || a.buckets[bk].mem > a.buckets[big].mem) {
				big = bk
			}
		}
		if big < 0 {
			break
		}
		if err := a.flush(big); err != nil {
			return err
		}
	}
	return nil
}

// flush hands bucket bk's rows to the encoders as one row group.
func (a *accumulator) flush(bk int) error {
	if err := a.ctx.Err(); err != nil {
		return err
	}
	buf := &a.buckets[bk]
	if buf.rows == 0 {
		return nil
	}
	t := &flushTask{bk: bk, cols: buf.cols, rows: buf.rows, mem: buf.mem, prev: a.lastDone[bk], done: make(chan struct{})}
	a.lastDone[bk] = t.done
	if buf.lastData == nil {
		buf.lastData = make([]int, len(buf.cols))
	}
	buf.lastRows = buf.rows
	for i := range buf.cols {
		buf.lastData[i] = len(buf.cols[i].Data)
	}
	buf.cols = make([]pqwrite.Column, len(a.p.cols))
	a.mem -= buf.mem
	buf.mem, buf.rows = 0, 0
	a.mu.Lock()
	a.inflight += t.mem
	a.mu.Unlock()
	select {
	case a.tasks <- t:
	case <-a.ctx.Done():
		a.mu.Lock()
		a.inflight -= t.mem
		a.mu.Unlock()
		close(t.done)
		return a.ctx.Err()
	}
	return nil
}

// stats returns the row groups written and the time spent encoding them.
func (a *accumulator) stats() (int, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rowGroups, a.encode
}

// stop lets the encoders finish the queued tasks and waits for them.
func (a *accumulator) stop() {
	if a.stopped {
		return
	}
	a.stopped = true
	close(a.tasks)
	a.wg.Wait()
}

// reserve gives an empty bucket half the capacity it had at its last flush.
func (a *accumulator) reserve(buf *bucketBuf) {
	n := buf.lastRows / 2
	defer func() {
		var mem int64
		for c := range buf.cols {
			mem += buf.cols[c].MemSize()
		}
		a.mem += mem - buf.mem
		buf.mem = mem
	}()
	for c := range a.p.cols {
		cp := &a.p.cols[c]
		col := &buf.cols[c]
		switch cp.phys {
		case pqwrite.Int32:
			col.I32 = poolGet(a.pool, &a.pool.i32, n, 4)
		case pqwrite.Int64:
			col.I64 = poolGet(a.pool, &a.pool.i64, n, 8)
		case pqwrite.Double:
			col.F64 = poolGet(a.pool, &a.pool.f64, n, 8)
		case pqwrite.Boolean:
			col.Bool = poolGet(a.pool, &a.pool.u8, n, 1)
		case pqwrite.ByteArray:
			col.Lens = poolGet(a.pool, &a.pool.u16, n, 2)
			col.Data = poolGet(a.pool, &a.pool.u8, buf.lastData[c]/2, 1)
		case pqwrite.FixedLenByteArray:
			col.Data = poolGet(a.pool, &a.pool.u8, n*cp.flba, 1)
		}
	}
}

// appendRange appends rows [lo, hi) of src to dst, which holds dstRows
// rows, growing dst with buffers from pl (nil: plain allocation). For a
// string column, sr locates the rows' bytes: lengths are copied as they
// are, with no offsets to rebase.
func appendRange(pl *slabPool, cp *colPlan, dst, src *pqwrite.Column, dstRows, lo, hi int, sr strRange) {
	var u8 *[48][][]byte
	if pl != nil {
		u8 = &pl.u8
	}
	if len(src.Def) > 0 || len(dst.Def) > 0 {
		if len(dst.Def) == 0 {
			dst.Def = poolGet(pl, u8, dstRows+hi-lo, 1)[:dstRows]
			for i := range dst.Def {
				dst.Def[i] = 1
			}
		}
		if len(src.Def) == 0 {
			n := len(dst.Def)
			dst.Def = growIn(pl, u8, dst.Def, hi-lo, 1)[:n+hi-lo]
			for i := n; i < len(dst.Def); i++ {
				dst.Def[i] = 1
			}
		} else {
			dst.Def = append(growIn(pl, u8, dst.Def, hi-lo, 1), src.Def[lo:hi]...)
		}
	}
	switch cp.phys {
	case pqwrite.Int32:
		dst.I32 = append(growIn(pl, poolLists(pl, func(p *slabPool) *[48][][]int32 { return &p.i32 }), dst.I32, hi-lo, 4), src.I32[lo:hi]...)
	case pqwrite.Int64:
		dst.I64 = append(growIn(pl, poolLists(pl, func(p *slabPool) *[48][][]int64 { return &p.i64 }), dst.I64, hi-lo, 8), src.I64[lo:hi]...)
	case pqwrite.Double:
		dst.F64 = append(growIn(pl, poolLists(pl, func(p *slabPool) *[48][][]float64 { return &p.f64 }), dst.F64, hi-lo, 8), src.F64[lo:hi]...)
	case pqwrite.Boolean:
		dst.Bool = append(growIn(pl, u8, dst.Bool, hi-lo, 1), src.Bool[lo:hi]...)
	case pqwrite.FixedLenByteArray:
		dst.Data = append(growIn(pl, u8, dst.Data, (hi-lo)*cp.flba, 1), src.Data[lo*cp.flba:hi*cp.flba]...)
	case pqwrite.ByteArray:
		dst.Data = append(growIn(pl, u8, dst.Data, int(sr.dataHi-sr.dataLo), 1), src.Data[sr.dataLo:sr.dataHi]...)
		dst.Lens = append(growIn(pl, poolLists(pl, func(p *slabPool) *[48][][]uint16 { return &p.u16 }), dst.Lens, hi-lo, 2), src.Lens[lo:hi]...)
		if sr.longHi > sr.longLo {
			dst.Long = append(dst.Long, src.Long[sr.longLo:sr.longHi]...)
		}
	}
}

// strRange locates a bucket's rows of a string column in a batch: bytes
// [dataLo, dataHi) of Data and entries [longLo, longHi) of Long.
type strRange struct {
	dataLo, dataHi, longLo, longHi uint32
}

// poolLists returns a pool's free lists for one element type (nil pool:
// nil lists, unused).
func poolLists[T any](p *slabPool, f func(*slabPool) *[48][][]T) *[48][][]T {
	if p == nil {
		return nil
	}
	return f(p)
}

// sortPerm returns the row order sorted by the sort columns (stable:
// ties keep input order) in perm, or an empty perm when the rows are
// already in order.
func (a *accumulator) sortPerm(cols []pqwrite.Column, rows int, perm []int32) []int32 {
	if len(a.p.sortCols) == 0 {
		return perm[:0]
	}
	less := func(i, j int32) int {
		for _, c := range a.p.sortCols {
			if r := compareRows(&a.p.cols[c], &cols[c], int(i), int(j)); r != 0 {
				return r
			}
		}
		return 0
	}
	sorted := true
	for i := 1; i < rows; i++ {
		if less(int32(i-1), int32(i)) > 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return perm[:0]
	}
	perm = perm[:0]
	for i := 0; i < rows; i++ {
		perm = append(perm, int32(i))
	}
	slices.SortStableFunc(perm, less)
	return perm
}

// compareRows orders two rows of one column: NULLs first, then ascending
// (strings by bytes, as Parquet statistics order them).
func compareRows(cp *colPlan, col *pqwrite.Column, i, j int) int {
	pi, pj := col.Present(i), col.Present(j)
	if !pi || !pj {
		switch {
		case pi == pj:
			return 0
		case !pi:
			return -1
		}
		return 1
	}
	switch cp.phys {
	case pqwrite.ByteArray:
		return bytes.Compare(col.Bytes(i), col.Bytes(j))
	case pqwrite.Int32:
		return cmp.Compare(col.I32[i], col.I32[j])
	case pqwrite.Int64:
		return cmp.Compare(col.I64[i], col.I64[j])
	case pqwrite.Double:
		return cmp.Compare(col.F64[i], col.F64[j])
	case pqwrite.Boolean:
		return cmp.Compare(col.Bool[i], col.Bool[j])
	case pqwrite.FixedLenByteArray:
		w := cp.flba
		x, y := col.Data[i*w:(i+1)*w], col.Data[j*w:(j+1)*w]
		if x[0] != y[0] {
			return cmp.Compare(int8(x[0]), int8(y[0]))
		}
		return bytes.Compare(x[1:], y[1:])
	}
	return 0
}

// fileName is the Hive/Trino bucket file name of bucket bk for this part.
func (p *plan) fileName(bk int) string {
	return fmt.Sprintf("%06d_0_%s.snappy.parquet", bk, p.part)
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	if prefix[len(prefix)-1] == '/' {
		return prefix + name
	}
	return prefix + "/" + name
}

func (a *accumulator) create(bk int) (*bucketFile, error) {
	key := joinKey(a.dataPrefix, a.p.fileName(bk))
	w, err := a.dst.Create(a.ctx, key, storage.PutOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	hw := &hashWriter{w: w, h: sha256.New()}
	pw, err := pqwrite.NewWriter(hw, a.p.schema)
	if err != nil {
		_ = w.Abort()
		return nil, fmt.Errorf("write %s: %w", key, err)
	}
	return &bucketFile{key: key, w: w, hw: hw, pw: pw}, nil
}

// finish flushes every bucket, waits for the encoders, writes footers and
// commits the files in bucket order, returning the manifest entries.
func (a *accumulator) finish() ([]FileEntry, error) {
	for bk := range a.buckets {
		if err := a.flush(bk); err != nil {
			return nil, err
		}
		// Encoders free buffers while the last buckets are queued.
		a.collect()
	}
	a.stop()
	if err := a.failed(); err != nil {
		return nil, err
	}
	var files []FileEntry
	for bk := range a.buckets {
		buf := &a.buckets[bk]
		if buf.file == nil {
			if !a.p.spec.Output.EmptyBuckets || len(a.p.bucketCols) == 0 {
				continue
			}
			f, err := a.create(bk)
			if err != nil {
				return nil, err
			}
			buf.file = f
		}
		f := buf.file
		if err := f.pw.Close(); err != nil {
			return nil, fmt.Errorf("bucket %d (%s): footer: %w", bk, f.key, err)
		}
		if err := f.w.Commit(); err != nil {
			return nil, fmt.Errorf("commit %s: %w", f.key, err)
		}
		a.committed = append(a.committed, f.key)
		files = append(files, FileEntry{
			Key:    f.key,
			URI:    a.dst.ObjectURI(f.key),
			Bucket: bk,
			Rows:   buf.written,
			Bytes:  f.hw.n,
			SHA256: hex.EncodeToString(f.hw.h.Sum(nil)),
		})
		buf.file = nil
	}
	return files, nil
}

// abort stops the encoders, discards every open writer and deletes the
// files already committed. The context of the part must be cancelled (or
// the part finished) first, so queued tasks are skipped.
func (a *accumulator) abort(ctx context.Context) error {
	a.stop()
	var first error
	for bk := range a.buckets {
		if f := a.buckets[bk].file; f != nil {
			if err := f.w.Abort(); err != nil && first == nil {
				first = fmt.Errorf("abort %s: %w", f.key, err)
			}
			a.buckets[bk].file = nil
		}
	}
	for _, key := range a.committed {
		if err := a.dst.Delete(ctx, key); err != nil && first == nil {
			first = fmt.Errorf("delete %s: %w", key, err)
		}
	}
	a.committed = nil
	return first
}
