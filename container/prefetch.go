package container

import (
	"hash"
	"io"
	"sync/atomic"
)

// prefetchReader reads its source ahead on its own goroutine, in blocks,
// and hashes and counts what it read there: the decompressor, which is
// the pipeline's one serial stage, then neither waits on storage nor
// spends its time hashing.
type prefetchReader struct {
	full chan []byte
	free chan []byte
	stop chan struct{}
	cur  []byte
	back []byte // the block cur was cut from
	err  error  // read error, valid once full is closed
	h    hash.Hash
	n    atomic.Int64 // bytes read from the source so far
	// consumed counts the bytes handed to the reader's consumer: where
	// the decompressor is, for error messages and progress.
	consumed atomic.Int64
	failed   atomic.Pointer[error] // a read error other than EOF
}

// prefetchBlocks blocks of prefetchBlock bytes are in flight at most.
const (
	prefetchBlock  = 1 << 20
	prefetchBlocks = 4
)

// newPrefetchReader reads r ahead, hashing what it reads with h (nil: no
// hashing).
func newPrefetchReader(r io.Reader, h hash.Hash) *prefetchReader {
	p := &prefetchReader{full: make(chan []byte, prefetchBlocks), free: make(chan []byte, prefetchBlocks), stop: make(chan struct{}), h: h}
	for i := 0; i < prefetchBlocks; i++ {
		p.free <- make([]byte, prefetchBlock)
	}
	go p.fill(r)
	return p
}

func (p *prefetchReader) fill(r io.Reader) {
	defer close(p.full)
	for {
		var buf []byte
		select {
		case buf = <-p.free:
		case <-p.stop:
			return
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if p.h != nil {
				p.h.Write(buf[:n])
			}
			p.n.Add(int64(n))
			select {
			case p.full <- buf[:n]:
			case <-p.stop:
				return
			}
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if err != nil {
			if err != io.EOF {
				p.failed.Store(&err)
			}
			p.err = err
			return
		}
	}
}

func (p *prefetchReader) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.back != nil {
			p.free <- p.back[:cap(p.back)]
			p.back = nil
		}
		buf, ok := <-p.full
		if !ok {
			return 0, p.err
		}
		p.cur, p.back = buf, buf
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	p.consumed.Add(int64(n))
	return n, nil
}

// sourceErr returns the source's read error, if reading it failed other
// than at its end: then a decompression error is the storage's fault.
func (p *prefetchReader) sourceErr() error {
	if e := p.failed.Load(); e != nil {
		return *e
	}
	return nil
}

// Close stops the read-ahead goroutine; it does not close the source.
func (p *prefetchReader) Close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
}
