package container

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
)

// source yields one sorted stream of framed records.
type source interface {
	// next advances to the next record; false at the end.
	next() (bool, error)
	key() []byte
	meta() recMeta
	// appendRaw appends the current record's raw bytes to dst.
	appendRaw(dst []byte) ([]byte, error)
}

// memSource reads a bucket's blocks through their sorted index.
type memSource struct {
	blocks [][]byte
	idx    []runRec
	i      int
	m      recMeta
	raw    []byte
}

func (s *memSource) next() (bool, error) {
	if s.i >= len(s.idx) {
		return false, nil
	}
	r := s.idx[s.i]
	s.i++
	var rawLen, keyLen int
	buf := s.blocks[r.blk][r.off:]
	s.m, rawLen, keyLen = recHeaderOf(buf)
	s.raw = buf[recHeader+keyLen : recHeader+keyLen+rawLen]
	return true, nil
}

func (s *memSource) key() []byte                          { return s.idx[s.i-1].key }
func (s *memSource) meta() recMeta                        { return s.m }
func (s *memSource) appendRaw(dst []byte) ([]byte, error) { return append(dst, s.raw...), nil }

// fileSource streams a spilled run.
type fileSource struct {
	name   string
	r      runReader
	hdr    [recHeader]byte
	k      []byte
	m      recMeta
	rawLen int
	read   bool // the current record's raw bytes were consumed
}

func (s *fileSource) next() (bool, error) {
	if !s.read && s.rawLen > 0 {
		if err := s.r.Skip(int64(s.rawLen)); err != nil {
			return false, s.fail(err)
		}
	}
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, s.fail(err)
	}
	var keyLen int
	s.m, s.rawLen, keyLen = recHeaderOf(s.hdr[:])
	s.k = slices.Grow(s.k[:0], keyLen)[:keyLen]
	if _, err := io.ReadFull(s.r, s.k); err != nil {
		return false, s.fail(err)
	}
	s.read = false
	return true, nil
}

func (s *fileSource) key() []byte   { return s.k }
func (s *fileSource) meta() recMeta { return s.m }

func (s *fileSource) appendRaw(dst []byte) ([]byte, error) {
	n := len(dst)
	dst = slices.Grow(dst, s.rawLen)[:n+s.rawLen]
	if _, err := io.ReadFull(s.r, dst[n:]); err != nil {
		return dst[:n], s.fail(err)
	}
	s.read = true
	return dst, nil
}

func (s *fileSource) fail(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("spilled run %s: %w", s.name, err)
}

// runReader reads a spilled run: *s2.Reader or bufioRun.
type runReader interface {
	io.Reader
	Skip(n int64) error
}

// bufioRun reads an uncompressed run.
type bufioRun struct{ *bufio.Reader }

func (b bufioRun) Skip(n int64) error {
	_, err := b.Discard(int(n))
	return err
}

// mergeHeap orders sources by their current (key, line).
type mergeHeap []source

func (h mergeHeap) Len() int { return len(h) }

func (h mergeHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key(), h[j].key()); c != 0 {
		return c < 0
	}
	return h[i].meta().line < h[j].meta().line
}

func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(source)) }

func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// advance moves the first source to its next record.
func (h *mergeHeap) advance() error {
	ok, err := (*h)[0].next()
	if err != nil {
		return err
	}
	if ok {
		heap.Fix(h, 0)
	} else {
		heap.Pop(h)
	}
	return nil
}

// newMergeHeap positions every source on its first record.
func newMergeHeap(srcs []source) (mergeHeap, error) {
	h := make(mergeHeap, 0, len(srcs))
	for _, s := range srcs {
		ok, err := s.next()
		if err != nil {
			return nil, err
		}
		if ok {
			h = append(h, s)
		}
	}
	heap.Init(&h)
	return h, nil
}

// merger merges a bucket's sorted runs, for one assembler.
type merger struct {
	p      *plan
	merges *atomic.Int32 // intermediate merges of runs
}

// openRuns opens spilled runs as merge sources; close releases them.
func (m merger) openRuns(bk int, names []string) (srcs []source, close func(), err error) {
	var files []*os.File
	close = func() { // safe to call twice
		for _, f := range files {
			f.Close()
		}
		files = nil
	}
	// Read buffers share a fixed allowance, so a bucket of many runs does
	// not grow memory with the part.
	bufSize := 1 << 20
	if len(names) > 0 {
		bufSize = min(bufSize, max(16<<10, int(m.p.mergeBytes)/len(names)))
	}
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return srcs, close, fmt.Errorf("bucket %d: %w", bk, err)
		}
		files = append(files, f)
		var r runReader = bufioRun{bufio.NewReaderSize(f, bufSize)}
		if m.p.compressSpill {
			r = s2.NewReader(bufio.NewReaderSize(f, bufSize), s2.ReaderMaxBlockSize(spillBlock))
		}
		srcs = append(srcs, &fileSource{name: name, r: r})
	}
	return srcs, close, nil
}

// reduceRuns merges a bucket's runs, maxFanIn (m.p.fanIn) at a time, into
// fewer, longer runs until at most that many are left: a very large part
// spills hundreds of runs per bucket. Merged inputs are deleted.
func (m merger) reduceRuns(ctx context.Context, bk int, runs []string) ([]string, error) {
	fanIn := m.p.fanIn
	var rw runWriter
	for round := 0; len(runs) > fanIn; round++ {
		var next []string
		for i := 0; i < len(runs); i += fanIn {
			group := runs[i:min(i+fanIn, len(runs))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			name := fmt.Sprintf("%s.m%d-%d", group[0], round, i/fanIn)
			if err := m.mergeRuns(ctx, bk, group, name, &rw); err != nil {
				return nil, err
			}
			next = append(next, name)
		}
		runs = next
	}
	return runs, nil
}

// mergeRuns merges runs into one run, name, and deletes them.
func (m merger) mergeRuns(ctx context.Context, bk int, runs []string, name string, rw *runWriter) error {
	srcs, closeRuns, err := m.openRuns(bk, runs)
	defer closeRuns()
	if err != nil {
		return err
	}
	h, err := newMergeHeap(srcs)
	if err != nil {
		return err
	}
	var hdr [recHeader]byte
	var raw []byte
	_, err = rw.write(name, m.p.compressSpill, func(w io.Writer) error {
		for len(h) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			s := h[0]
			var err error
			if raw, err = s.appendRaw(raw[:0]); err != nil {
				return err
			}
			putRecHeader(hdr[:], s.meta(), len(raw), len(s.key()))
			for _, b := range [][]byte{hdr[:], s.key(), raw} {
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
			if err := h.advance(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bucket %d: merge runs: %w", bk, err)
	}
	m.merges.Add(1)
	closeRuns()
	for _, r := range runs {
		if err := os.Remove(r); err != nil {
			return fmt.Errorf("bucket %d: %w", bk, err)
		}
	}
	return nil
}
