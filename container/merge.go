package container

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"slices"
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
