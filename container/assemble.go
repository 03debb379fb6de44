package container

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierflow/tierflow/container/csvparse"
	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/lake/storage"
)

// assembler is pass 2: per bucket, merge the sorted records, parse them
// into typed columns and write full-size row groups. Buckets are
// independent, so they run on several workers; each bucket's file depends
// only on its records, so the output does not depend on the workers.
type assembler struct {
	ctx        context.Context
	p          *plan
	acc        *accumulator
	dst        storage.Storage
	dataPrefix string
	encoders   int          // per row group
	idle       atomic.Int32 // builders that found no bucket left
	merges     atomic.Int32 // intermediate merges of runs
	subChunk   int          // raw bytes parsed at once

	rejected atomic.Int64      // pass-2 rejects so far (for the max_rows check)
	progress func(delta int64) // called with the framed bytes of each sub-chunk
	base     int64             // pass-1 rejects

	mu        sync.Mutex
	files     []*FileEntry // by bucket
	rejects   []reject
	committed []string
	rgBytes   []int64 // uncompressed bytes of each row group, as the footers say
	encode    time.Duration
	parse     time.Duration
	open      []storage.Writer // writers not yet committed, by bucket
}

// worker is one pass-2 goroutine's reusable state.
type worker struct {
	cols   []pqwrite.Column
	encs   []*pqwrite.Encoder
	recs   csvparse.Records
	data   []byte
	metas  []recMeta
	ends   []int    // end of each record in data
	bounds []uint32 // end of each field of a record
	hot    []hotField
	rowOf  []int // per row appended: its record
	keep   []bool
	bad    []badVal
	marks  []colMark
	dicts  []pqwrite.StringDict
	norm   []byte // a normalised value
}

// badVal is a row with a value that does not parse.
type badVal struct {
	row, col int
	why      string
}

// run converts every bucket on n workers, largest first.
func (as *assembler) run(n int) error {
	order := make([]int, 0, as.p.bucketCount)
	for bk := range as.acc.buckets {
		if as.acc.buckets[bk].rows > 0 {
			order = append(order, bk)
		}
	}
	slices.SortStableFunc(order, func(x, y int) int {
		return cmp.Compare(as.acc.buckets[y].bytes, as.acc.buckets[x].bytes)
	})
	as.files = make([]*FileEntry, as.p.bucketCount)
	as.open = make([]storage.Writer, as.p.bucketCount)
	ctx, cancel := context.WithCancel(as.ctx)
	defer cancel()
	queue := make(chan int)
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	fail := func(err error) {
		once.Do(func() { first = err; cancel() })
	}
	for i := 0; i < min(n, max(1, len(order))); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer as.idle.Add(1)
			w := &worker{cols: make([]pqwrite.Column, len(as.p.cols))}
			for bk := range queue {
				if ctx.Err() != nil {
					continue
				}
				if err := as.bucket(ctx, w, bk); err != nil {
					fail(err)
				}
			}
		}()
	}
feed:
	for _, bk := range order {
		select {
		case queue <- bk:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if first != nil {
		return first
	}
	return as.ctx.Err()
}

// bucket writes bucket bk's file.
func (as *assembler) bucket(ctx context.Context, w *worker, bk int) (err error) {
	st := &as.acc.buckets[bk]
	mg := merger{p: as.p, merges: &as.merges}
	runs, err := mg.reduceRuns(ctx, bk, st.runs)
	if err != nil {
		return err
	}
	srcs, closeRuns, err := mg.openRuns(bk, runs)
	defer closeRuns()
	if err != nil {
		return err
	}
	if len(st.blocks) > 0 {
		srcs = append(srcs, &memSource{blocks: st.blocks, idx: index(st.blocks, nil)})
	}
	h, err := newMergeHeap(srcs)
	if err != nil {
		return err
	}

	f, err := createParquet(ctx, as.dst, joinKey(as.dataPrefix, as.p.fileName(bk)))
	if err != nil {
		return err
	}
	as.mu.Lock()
	as.open[bk] = f.sw
	as.mu.Unlock()
	if err := f.start(as.p); err != nil {
		return err
	}
	b := &bucketOut{as: as, w: w, bk: bk, f: f}
	b.reset()
	w.data, w.metas, w.ends = w.data[:0], w.metas[:0], w.ends[:0]
	for len(h) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		s := h[0]
		if len(w.data) >= as.subChunk {
			if err := b.parse(); err != nil {
				return err
			}
		}
		w.metas = append(w.metas, s.meta())
		if w.data, err = s.appendRaw(w.data); err != nil {
			return err
		}
		w.ends = append(w.ends, len(w.data))
		if err := h.advance(); err != nil {
			return err
		}
	}
	if err := b.parse(); err != nil {
		return err
	}
	if err := b.flush(); err != nil {
		return err
	}
	// The bucket's blocks are no longer needed.
	st.blocks = nil
	if b.written == 0 {
		// Every row was rejected in pass 2: no file (finish writes an
		// empty one if the job wants empty buckets).
		as.mu.Lock()
		as.open[bk] = nil
		as.mu.Unlock()
		if err := f.sw.Abort(); err != nil {
			return fmt.Errorf("abort %s: %w", f.key, err)
		}
		return nil
	}
	if err := f.pw.Close(); err != nil {
		return fmt.Errorf("bucket %d (%s): footer: %w", bk, f.key, err)
	}
	if err := f.sw.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w", f.key, err)
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	as.open[bk] = nil
	as.committed = append(as.committed, f.key)
	as.files[bk] = f.entry(as.dst, bk, b.written)
	return nil
}

// bucketOut is one bucket's file being written by a worker.
type bucketOut struct {
	as      *assembler
	w       *worker
	bk      int
	f       *parquetFile
	rows    int // rows in the worker's columns
	written int64
}

// reset empties the worker's columns for the next row group and gives
// each string column a dictionary, unless the file's writer has given up
// on dictionaries for it.
func (b *bucketOut) reset() {
	w, p := b.w, b.as.p
	if w.dicts == nil {
		w.dicts = make([]pqwrite.StringDict, len(p.cols))
	}
	for c := range w.cols {
		col := &w.cols[c]
		col.Reset()
		col.Dict = nil
		if p.cols[c].phys == pqwrite.ByteArray && b.f.pw.TryDict(c) {
			w.dicts[c].Reset()
			col.Dict = &w.dicts[c]
		}
	}
}

// parse converts the records gathered in w.data into the row-group
// columns and writes a row group once they reach the target size. A
// record without quotes (the usual case) is split and converted in one
// sequential pass over its bytes, field by field into its column; others
// are parsed by csvparse first. Records that took pass 1's fast path have
// their field count checked here.
func (b *bucketOut) parse() error {
	w, p := b.w, b.as.p
	if len(w.metas) == 0 {
		return nil
	}
	start := time.Now()
	if pr := b.as.progress; pr != nil {
		pr(int64(len(w.data)) + int64(len(w.metas))*recHeader)
	}
	nf := len(p.header)
	var rej []reject
	w.marks = w.marks[:0]
	for c := range p.cols {
		w.marks = append(w.marks, markOf(&p.cols[c], &w.cols[c]))
	}
	w.rowOf, w.bad = w.rowOf[:0], w.bad[:0]
	row := 0
	onBad := func(c int, why string) {
		if k := len(w.bad); k == 0 || w.bad[k-1].row != row {
			w.bad = append(w.bad, badVal{row: row, col: c, why: why})
		}
	}
	if len(w.hot) != nf {
		w.hot = make([]hotField, nf)
	}
	p.loadHot(w.hot, w.cols)
	pos := 0
	for i, end := range w.ends {
		line := w.data[pos:end]
		pos = end
		body := line[:len(line)-1] // every record ends with '\n'
		if len(body) > 0 && body[len(body)-1] == '\r' {
			body = body[:len(body)-1]
		}
		row = len(w.rowOf)
		if !p.slowPaths && bytes.IndexByte(body, '"') < 0 {
			if !p.convertLine(body, w.hot, w.cols, &w.bounds, &w.norm, onBad) {
				rej = append(rej, b.reject(line, w.metas[i], "", fmt.Sprintf("wrong field count: %d, want %d", len(w.bounds), nf), false))
				continue
			}
		} else {
			w.recs.Reset()
			w.recs.ParseRecord(line, 0, p.delim, 0)
			rec := &w.recs.Recs[0]
			if rec.Err != csvparse.OK || rec.NumFields != nf {
				why := rec.Err.String()
				if rec.Err == csvparse.OK {
					why = fmt.Sprintf("wrong field count: %d, want %d", rec.NumFields, nf)
				}
				rej = append(rej, b.reject(line, w.metas[i], "", why, false))
				continue
			}
			for f, fl := range w.recs.RecordFields(0) {
				p.convertField(&w.hot[f], w.cols, w.recs.Bytes(line, fl), &w.norm, onBad)
			}
		}
		w.rowOf = append(w.rowOf, i)
	}
	storeHot(w.hot, w.cols)
	n := len(w.rowOf)
	if len(w.bad) > 0 {
		w.keep = slices.Grow(w.keep[:0], n)[:n]
		for r := range w.keep {
			w.keep[r] = true
		}
		for _, bv := range w.bad {
			w.keep[bv.row] = false
			i := w.rowOf[bv.row]
			lo := 0
			if i > 0 {
				lo = w.ends[i-1]
			}
			rej = append(rej, b.reject(w.data[lo:w.ends[i]], w.metas[i], p.cols[bv.col].name, bv.why, true))
		}
		for c := range p.cols {
			compactTail(&p.cols[c], &w.cols[c], w.marks[c], w.keep)
		}
		n -= len(w.bad)
	}
	if len(rej) > 0 {
		total := b.as.rejected.Add(int64(len(rej)))
		b.as.mu.Lock()
		b.as.rejects = append(b.as.rejects, rej...)
		b.as.mu.Unlock()
		if b.as.base+total > p.maxRejects {
			return errTooManyRejects // the verdict says which rows
		}
	}
	b.rows += n
	w.data, w.metas, w.ends = w.data[:0], w.metas[:0], w.ends[:0]
	b.as.addTime(&b.as.parse, time.Since(start))
	if colsBytes(w.cols) >= p.rowGroup {
		return b.flush()
	}
	return nil
}

// reject describes one record (line: its raw bytes) for the sidecar.
func (b *bucketOut) reject(line []byte, m recMeta, column, why string, fieldsOK bool) reject {
	var recs csvparse.Records
	recs.ParseRecord(line, 0, b.as.p.delim, 0)
	return b.as.p.newReject(line, &recs, 0, m.line, m.offset, column, why, fieldsOK)
}

// flush writes the worker's columns as one row group.
func (b *bucketOut) flush() error {
	if b.rows == 0 {
		return nil
	}
	start := time.Now()
	w, p := b.w, b.as.p
	// Builders that ran out of buckets leave their cores to the others'
	// encoders (the bytes written do not depend on the encoder count).
	n := min(p.workers, b.as.encoders*(1+int(b.as.idle.Load())))
	for len(w.encs) < n {
		w.encs = append(w.encs, &pqwrite.Encoder{})
	}
	size, err := b.f.writeRowGroup(w.encs[:n], w.cols, b.rows, p.sortCols)
	if err != nil {
		return fmt.Errorf("bucket %d (%s): %w", b.bk, b.f.key, err)
	}
	b.written += int64(b.rows)
	b.rows = 0
	b.reset()
	b.as.mu.Lock()
	b.as.rgBytes = append(b.as.rgBytes, size)
	b.as.mu.Unlock()
	b.as.addTime(&b.as.encode, time.Since(start))
	return nil
}

func (as *assembler) addTime(d *time.Duration, t time.Duration) {
	as.mu.Lock()
	*d += t
	as.mu.Unlock()
}

// finish adds empty files for the buckets without rows when the job asks
// for them and returns the files in bucket order.
func (as *assembler) finish() ([]FileEntry, error) {
	var out []FileEntry
	for bk := 0; bk < as.p.bucketCount; bk++ {
		f := as.files[bk]
		if f == nil && as.p.spec.Output.EmptyBuckets && len(as.p.bucketCols) > 0 {
			nf, err := createParquet(as.ctx, as.dst, joinKey(as.dataPrefix, as.p.fileName(bk)))
			if err != nil {
				return nil, err
			}
			err = nf.start(as.p)
			if err == nil {
				if err = nf.pw.Close(); err != nil {
					err = fmt.Errorf("write %s: %w", nf.key, err)
				}
			}
			if err != nil {
				_ = nf.sw.Abort()
				return nil, err
			}
			if err := nf.sw.Commit(); err != nil {
				return nil, fmt.Errorf("commit %s: %w", nf.key, err)
			}
			as.committed = append(as.committed, nf.key)
			f = nf.entry(as.dst, bk, 0)
		}
		if f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// abort discards every open writer and deletes the files already
// committed.
func (as *assembler) abort(ctx context.Context) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	var first error
	for bk, w := range as.open {
		if w != nil {
			if err := w.Abort(); err != nil && first == nil {
				first = fmt.Errorf("abort bucket %d: %w", bk, err)
			}
			as.open[bk] = nil
		}
	}
	for _, key := range as.committed {
		if err := as.dst.Delete(ctx, key); err != nil && first == nil {
			first = fmt.Errorf("delete %s: %w", key, err)
		}
	}
	as.committed = nil
	return first
}

// fileName is the Hive/Trino bucket file name of bucket bk for this part.
func (p *plan) fileName(bk int) string {
	return fmt.Sprintf("%06d_0_%s.snappy.parquet", bk, p.part)
}
