package container

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
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
// budget, and turns buckets into row groups. All its decisions depend only
// on the input, never on timing, so output is deterministic.
type accumulator struct {
	ctx        context.Context
	p          *plan
	dst        storage.Storage
	dataPrefix string
	buckets    []bucketBuf
	budget     int64
	mem        int64
	enc        pqwrite.Encoder
	perm       []int32
	committed  []string // keys committed (deleted again on failure)
	encodeTime time.Duration
	rowGroups  int
	peakMem    int64
}

func newAccumulator(ctx context.Context, p *plan, dst storage.Storage, dataPrefix string) *accumulator {
	a := &accumulator{ctx: ctx, p: p, dst: dst, dataPrefix: dataPrefix, buckets: make([]bucketBuf, p.bucketCount)}
	// The accumulator gets a bit under half of the budget: freed row-group
	// buffers are garbage until the next GC cycle (GOGC=100 lets the heap
	// grow to twice the live data), and parse chunks, batches, encode
	// buffers and storage writers need room too.
	a.budget = p.memory * 45 / 100
	for i := range a.buckets {
		a.buckets[i].cols = make([]pqwrite.Column, len(p.cols))
	}
	return a
}

// add appends a batch's rows and flushes buckets as the policy says.
func (a *accumulator) add(b *batch) error {
	for bk := 0; bk < a.p.bucketCount; bk++ {
		lo, hi := b.starts[bk], b.starts[bk+1]
		if lo == hi {
			continue
		}
		buf := &a.buckets[bk]
		var mem int64
		for c := range a.p.cols {
			appendRange(&a.p.cols[c], &buf.cols[c], &b.cols[c], buf.rows, lo, hi)
			mem += buf.cols[c].MemSize()
		}
		buf.rows += hi - lo
		a.mem += mem - buf.mem
		buf.mem = mem
		if buf.mem >= a.p.rowGroup {
			if err := a.flush(bk); err != nil {
				return err
			}
		}
	}
	a.peakMem = max(a.peakMem, a.mem)
	for a.mem > a.budget {
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

// appendRange appends rows [lo, hi) of src to dst, which holds dstRows rows.
func appendRange(cp *colPlan, dst, src *pqwrite.Column, dstRows, lo, hi int) {
	if src.Def != nil || dst.Def != nil {
		if dst.Def == nil {
			dst.Def = make([]byte, dstRows, dstRows+hi-lo)
			for i := range dst.Def {
				dst.Def[i] = 1
			}
		}
		if src.Def == nil {
			for i := lo; i < hi; i++ {
				dst.Def = append(dst.Def, 1)
			}
		} else {
			dst.Def = append(dst.Def, src.Def[lo:hi]...)
		}
	}
	switch cp.phys {
	case pqwrite.Int32:
		dst.I32 = append(dst.I32, src.I32[lo:hi]...)
	case pqwrite.Int64:
		dst.I64 = append(dst.I64, src.I64[lo:hi]...)
	case pqwrite.Double:
		dst.F64 = append(dst.F64, src.F64[lo:hi]...)
	case pqwrite.Boolean:
		dst.Bool = append(dst.Bool, src.Bool[lo:hi]...)
	case pqwrite.FixedLenByteArray:
		dst.Data = append(dst.Data, src.Data[lo*cp.flba:hi*cp.flba]...)
	case pqwrite.ByteArray:
		var s uint32
		if lo > 0 {
			s = src.Ends[lo-1]
		}
		e := src.Ends[hi-1]
		base := uint32(len(dst.Data))
		dst.Data = append(dst.Data, src.Data[s:e]...)
		delta := base - s // wraps as intended: end - s + base
		for _, end := range src.Ends[lo:hi] {
			dst.Ends = append(dst.Ends, end+delta)
		}
	}
}

// flush encodes bucket bk's rows as one row group, sorted by SortedBy.
func (a *accumulator) flush(bk int) error {
	if err := a.ctx.Err(); err != nil {
		return err
	}
	buf := &a.buckets[bk]
	if buf.rows == 0 {
		return nil
	}
	start := time.Now()
	if buf.file == nil {
		f, err := a.create(bk)
		if err != nil {
			return err
		}
		buf.file = f
	}
	perm := a.sortPerm(buf)
	var sorting []pqwrite.SortingColumn
	for _, c := range a.p.sortCols {
		sorting = append(sorting, pqwrite.SortingColumn{Column: c})
	}
	cols := make([]*pqwrite.Column, len(buf.cols))
	for i := range buf.cols {
		cols[i] = &buf.cols[i]
	}
	if err := buf.file.pw.WriteRowGroup(&a.enc, cols, perm, buf.rows, sorting); err != nil {
		return fmt.Errorf("bucket %d (%s): %w", bk, buf.file.key, err)
	}
	a.rowGroups++
	buf.written += int64(buf.rows)
	// Drop the buffers (not just truncate): the memory must go back.
	for i := range buf.cols {
		buf.cols[i] = pqwrite.Column{}
	}
	a.mem -= buf.mem
	buf.mem, buf.rows = 0, 0
	a.encodeTime += time.Since(start)
	return nil
}

// sortPerm returns the row order sorted by the sort columns (stable:
// ties keep input order), or nil when the rows are already in order.
func (a *accumulator) sortPerm(buf *bucketBuf) []int32 {
	if len(a.p.sortCols) == 0 {
		return nil
	}
	less := func(i, j int32) int {
		for _, c := range a.p.sortCols {
			if r := compareRows(&a.p.cols[c], &buf.cols[c], int(i), int(j)); r != 0 {
				return r
			}
		}
		return 0
	}
	sorted := true
	for i := 1; i < buf.rows; i++ {
		if less(int32(i-1), int32(i)) > 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return nil
	}
	a.perm = a.perm[:0]
	for i := 0; i < buf.rows; i++ {
		a.perm = append(a.perm, int32(i))
	}
	slices.SortStableFunc(a.perm, less)
	return a.perm
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

// finish flushes every bucket, writes footers and commits the files in
// bucket order, returning the manifest entries.
func (a *accumulator) finish() ([]FileEntry, error) {
	for bk := range a.buckets {
		if err := a.flush(bk); err != nil {
			return nil, err
		}
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

// abort discards every open writer and deletes the files already committed.
func (a *accumulator) abort(ctx context.Context) error {
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
