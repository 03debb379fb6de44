package container

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierflow/tierflow/container/csvparse"
)

// chunkPipeline reads a part's decompressed stream in chunks and has
// workers route (or check) them; the batches come out in chunk order, so
// whatever consumes them sees the part in input order.
type chunkPipeline struct {
	chunker    *csvparse.Chunker
	ordered    chan chan *batch
	free       chan *batch
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	readErr    error        // valid once ordered is closed
	parseNanos atomic.Int64 // summed over workers
}

// startPipeline starts the reader (chunker over zr, which decompresses
// cr, of total compressed bytes or -1) and p.workers workers, each with a
// router made by newRouter. afterChunk, if set, is called by the reader
// after each chunk is handed out.
func startPipeline(ctx context.Context, p *plan, cr *prefetchReader, zr io.Reader, total int64, chunkSize int, newRouter func() *router, afterChunk func()) *chunkPipeline {
	ctx, cancel := context.WithCancel(ctx)
	cp := &chunkPipeline{
		chunker: csvparse.NewChunker(zr, p.delim, chunkSize),
		ordered: make(chan chan *batch, p.workers+1),
		free:    make(chan *batch, 2*p.workers+2),
		cancel:  cancel,
	}
	work := make(chan job, p.workers)
	cp.wg.Add(1)
	go func() {
		defer cp.wg.Done()
		defer close(cp.ordered)
		defer close(work)
		for {
			ch, err := cp.chunker.Next()
			if err == io.EOF {
				// Hash the rest of the input, if any, so the digest covers
				// the whole object.
				if _, err := io.Copy(io.Discard, cr); err != nil {
					cp.readErr = fmt.Errorf("read input: %w", err)
				}
				return
			}
			if err != nil {
				if serr := cr.sourceErr(); serr != nil {
					// The storage failed, not the gzip stream.
					cp.readErr = &ReadError{Offset: cr.n.Load(), Err: serr}
				} else {
					cp.readErr = gzipError(err, cr.consumed.Load(), total)
				}
				return
			}
			out := make(chan *batch, 1)
			select {
			case work <- job{ch: ch, out: out}:
			case <-ctx.Done():
				return
			}
			select {
			case cp.ordered <- out:
			case <-ctx.Done():
				return
			}
			if afterChunk != nil {
				afterChunk()
			}
		}
	}()
	for w := 0; w < p.workers; w++ {
		cp.wg.Add(1)
		go func() {
			defer cp.wg.Done()
			rt := newRouter()
			for j := range work {
				var b *batch
				select {
				case b = <-cp.free:
				default:
					b = newBatch(p)
				}
				t := time.Now()
				p.routeChunk(j.ch, rt, b)
				cp.parseNanos.Add(int64(time.Since(t)))
				j.out <- b
			}
		}()
	}
	return cp
}

// next returns the next batch in chunk order; false when the reader has
// stopped (see readErr).
func (cp *chunkPipeline) next() (*batch, bool) {
	out, ok := <-cp.ordered
	if !ok {
		return nil, false
	}
	return <-out, true
}

// release gives a consumed batch's chunk back to the chunker and the
// batch to the workers.
func (cp *chunkPipeline) release(b *batch) {
	cp.chunker.Release(b.ch)
	b.ch = nil
	select {
	case cp.free <- b:
	default:
	}
}

// stop cancels the pipeline and waits for its goroutines.
func (cp *chunkPipeline) stop() {
	cp.cancel()
	// Drain so every goroutine can exit.
	for out := range cp.ordered {
		if b := <-out; b.ch != nil {
			cp.chunker.Release(b.ch)
		}
	}
	cp.wg.Wait()
}

// job is one chunk on its way to a worker, with the slot its batch goes to.
type job struct {
	ch  *csvparse.Chunk
	out chan *batch
}
