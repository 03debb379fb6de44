package csvparse

import (
	"bytes"
	"fmt"
	"io"
)

// Chunk is a run of whole records cut from the decompressed stream.
type Chunk struct {
	Seq    int    // 0, 1, 2, ... in stream order
	Data   []byte // whole records; the last one may lack its '\n' only at the end of input
	Offset int64  // byte offset of Data[0] in the decompressed stream
	Line   int64  // 1-based physical line number of Data[0]
	buf    []byte // the buffer Data was cut from, returned by Release
}

// Chunker cuts a stream into chunks of about Size bytes at record
// boundaries. A record longer than Size grows the chunk. It is not safe for
// concurrent use, except Release.
type Chunker struct {
	r     io.Reader
	delim byte
	size  int
	free  chan []byte

	carry  []byte // start of the next chunk (a partial record)
	offset int64
	line   int64
	seq    int
	eof    bool
	done   bool
}

// NewChunker returns a Chunker reading r. size is the target chunk size
// (bytes); buffers kept for reuse are bounded by free.
func NewChunker(r io.Reader, delim byte, size int) *Chunker {
	if size < 64 {
		size = 64
	}
	return &Chunker{r: r, delim: delim, size: size, line: 1, free: make(chan []byte, 64)}
}

// Release returns a chunk's buffer for reuse once its Data is no longer used.
func (c *Chunker) Release(ch *Chunk) {
	if ch == nil || ch.buf == nil {
		return
	}
	select {
	case c.free <- ch.buf[:0]:
	default:
	}
	ch.buf, ch.Data = nil, nil
}

func (c *Chunker) getBuf(min int) []byte {
	select {
	case b := <-c.free:
		if cap(b) >= min {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, min)
}

// utf8BOM is skipped at the start of the stream.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// Next returns the next chunk, or io.EOF after the last one. Read errors
// are returned wrapped with the decompressed offset reached.
func (c *Chunker) Next() (*Chunk, error) {
	if c.done {
		return nil, io.EOF
	}
	size := c.size
	if len(c.carry)*2 > size {
		size = len(c.carry) * 2
	}
	buf := c.getBuf(size)
	buf = append(buf, c.carry...)
	for {
		// Fill the buffer.
		for !c.eof && len(buf) < cap(buf) {
			n, err := c.r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				c.eof = true
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read at decompressed offset %d: %w", c.offset+int64(len(buf)), err)
			}
		}
		skip := 0
		if c.seq == 0 && bytes.HasPrefix(buf, utf8BOM) {
			skip = len(utf8BOM)
		}
		end := skip
		if c.eof {
			end = len(buf)
		} else {
			for end < len(buf) {
				e, ok := RecordEnd(buf, end, c.delim)
				if !ok {
					break
				}
				end = e
			}
		}
		if end == skip && !c.eof {
			// One record is longer than the buffer: grow it.
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			buf = nb
			continue
		}
		if c.eof && end == len(buf) {
			c.done = true
		}
		ch := &Chunk{Seq: c.seq, Data: buf[skip:end], Offset: c.offset + int64(skip), Line: c.line, buf: buf}
		c.seq++
		c.offset += int64(end)
		c.line += int64(bytes.Count(ch.Data, []byte{'\n'}))
		c.carry = append(c.carry[:0], buf[end:]...)
		if len(ch.Data) == 0 && c.done {
			c.Release(ch)
			return nil, io.EOF
		}
		return ch, nil
	}
}

// Offset returns the decompressed bytes consumed so far: after the last
// chunk, the size of the decompressed stream.
func (c *Chunker) Offset() int64 { return c.offset }
