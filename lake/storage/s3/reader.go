package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tierflow/tierflow/lake/storage"
)

// partReadAttempts bounds how often one part is fetched again when its body
// breaks off mid-stream, and how often in a row a single-stream read is
// resumed without bringing a new byte (the SDK retries failed requests, not
// failed reads of a response body).
const partReadAttempts = 3

// Open reads key from its beginning; see OpenRange.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	return s.openRange(ctx, "open", key, 0, -1)
}

// OpenRange reads length bytes from offset (length < 0: to the end), with
// parallel ranged GETs when the range spans more than one part. The reader
// is bound to ctx: canceling it fails pending reads. Close it to stop the
// prefetching.
func (s *Store) OpenRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	return s.openRange(ctx, "open range", key, offset, length)
}

func (s *Store) openRange(ctx context.Context, op, key string, offset, length int64) (io.ReadCloser, error) {
	if err := s.begin(ctx, op, key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("s3: %s %s: %w: negative offset %d", op, s.ObjectURI(key), storage.ErrInvalidRange, offset)
	}
	ps := s.o.PartSize
	if length == 0 {
		return s.emptyRange(ctx, op, key, offset)
	}
	first := ps
	if length > 0 && length < first {
		first = length
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: &s.bucket, Key: aws.String(s.Key(key)), ExpectedBucketOwner: s.owner(),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+first-1)),
	})
	if err != nil {
		if errorCode(err) == "InvalidRange" && ctx.Err() == nil {
			// offset is at or past the end (or the object is empty).
			return s.emptyRange(ctx, op, key, offset)
		}
		return nil, s.fail(ctx, op, key, err)
	}
	size, ok := totalSize(aws.ToString(out.ContentRange))
	if !ok {
		// The server ignored Range and sent the whole object: stream it.
		// Without a length the size is unknown: taking it for 0 would read
		// a cut-off response as an empty object.
		if !knownLength(out.ResultMetadata) {
			out.Body.Close()
			return nil, s.fail(ctx, op, key, errors.New("the response to a ranged GET has neither Content-Range nor Content-Length"))
		}
		size = aws.ToInt64(out.ContentLength)
		n, err := storage.CheckRange(key, offset, length, size)
		if err != nil {
			out.Body.Close()
			return nil, fmt.Errorf("s3: %s: %w", op, err)
		}
		if _, err := io.CopyN(io.Discard, out.Body, offset); err != nil {
			out.Body.Close()
			return nil, s.fail(ctx, op, key, err)
		}
		return readCloser{io.LimitReader(out.Body, n), out.Body}, nil
	}
	n, err := storage.CheckRange(key, offset, length, size)
	if err != nil {
		out.Body.Close()
		return nil, fmt.Errorf("s3: %s: %w", op, err)
	}
	if n <= ps {
		// One part: stream the single response, resuming it if it breaks off.
		return &streamReader{s: s, ctx: ctx, key: key, etag: aws.ToString(out.ETag), off: offset, end: offset + n, resumedAt: offset, body: out.Body}, nil
	}
	return s.newReader(ctx, key, aws.ToString(out.ETag), offset, offset+n, out.Body), nil
}

// emptyRange handles a zero-length read or an offset the first GET found to
// be out of range: it checks the object exists and offset ≤ size.
func (s *Store) emptyRange(ctx context.Context, op, key string, offset int64) (io.ReadCloser, error) {
	o, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if _, err := storage.CheckRange(key, offset, 0, o.Size); err != nil {
		return nil, fmt.Errorf("s3: %s: %w", op, err)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// knownLength reports whether the HTTP response behind md declared its
// length (the SDK reports a missing Content-Length as 0).
func knownLength(md middleware.Metadata) bool {
	raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	return !ok || raw.ContentLength >= 0
}

// totalSize parses the size out of a Content-Range "bytes a-b/size".
func totalSize(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 || !strings.HasPrefix(cr, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	return n, err == nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// streamReader streams one ranged GET. When the body breaks off before the
// end of the range (a reset connection), it requests the rest again, pinned
// to the first response's ETag: the SDK retries failed requests, not failed
// reads of a response body. It gives up after partReadAttempts-1 resumes in
// a row that brought no new byte.
type streamReader struct {
	s         *Store
	ctx       context.Context
	key, etag string
	off, end  int64 // next byte to return; end of the range
	body      io.ReadCloser
	broken    error // why body stopped early; nil while it is healthy
	resumedAt int64 // off at the last resume
	stalled   int   // resumes in a row that brought nothing
	err       error // sticky
}

func (r *streamReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.off == r.end {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), r.end-r.off)]
	for {
		if r.broken != nil {
			if r.err = r.resume(); r.err != nil {
				return 0, r.err
			}
		}
		n, err := r.body.Read(b)
		r.off += int64(n)
		switch {
		case r.off == r.end:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case err == io.EOF:
			r.broken = io.ErrUnexpectedEOF
		case err != nil:
			r.broken = err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume replaces the broken body with a GET of the rest of the range.
func (r *streamReader) resume() error {
	cause := r.broken
	r.broken = nil
	r.body.Close()
	r.body = io.NopCloser(bytes.NewReader(nil))
	if r.off > r.resumedAt {
		r.stalled = 0
	}
	r.resumedAt = r.off
	r.stalled++
	if r.ctx.Err() != nil || r.stalled >= partReadAttempts {
		return r.s.fail(r.ctx, "read", r.key, fmt.Errorf("read bytes %d-%d: %w", r.off, r.end-1, cause))
	}
	in := &awss3.GetObjectInput{
		Bucket: &r.s.bucket, Key: aws.String(r.s.Key(r.key)), ExpectedBucketOwner: r.s.owner(),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", r.off, r.end-1)),
	}
	if r.etag != "" {
		in.IfMatch = aws.String(r.etag)
	}
	out, err := r.s.client.GetObject(r.ctx, in)
	if err != nil {
		if errorCode(err) == "PreconditionFailed" {
			err = fmt.Errorf("%w (ETag is no longer %s): %w", storage.ErrChanged, r.etag, err)
		}
		return r.s.fail(r.ctx, "read", r.key, fmt.Errorf("resume at byte %d after %v: %w", r.off, cause, err))
	}
	r.body = out.Body
	return nil
}

// Close releases the response.
func (r *streamReader) Close() error {
	r.err = fmt.Errorf("s3: read %s: %w", r.s.ObjectURI(r.key), errReaderClosed)
	return r.body.Close()
}

// part is one ranged GET of a reader.
type part struct {
	off, n int64         // object offset and length
	body   io.ReadCloser // already-open response (first part), or nil
	done   chan struct{} // closed when buf or err is set
	buf    *[]byte       // from the store's pool; (*buf)[:n] is the data
	err    error
}

// reader reassembles parallel ranged GETs in order.
type reader struct {
	s          *Store
	key, etag  string
	start, end int64 // object range [start, end)
	nparts     int

	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{} // GET slots
	wg     sync.WaitGroup

	parts  []*part // by index; nil once consumed
	next   int     // next part index to launch
	cur    int     // part being consumed
	pos    int64   // read position inside parts[cur]
	err    error   // sticky
	closed bool
}

func (s *Store) newReader(ctx context.Context, key, etag string, start, end int64, firstBody io.ReadCloser) *reader {
	ps := s.o.PartSize
	ctx, cancel := context.WithCancel(ctx)
	r := &reader{
		s: s, key: key, etag: etag, start: start, end: end,
		nparts: int((end - start + ps - 1) / ps),
		ctx:    ctx, cancel: cancel, sem: make(chan struct{}, s.o.Concurrency),
	}
	r.parts = make([]*part, r.nparts)
	r.launch(firstBody)
	return r
}

// launch starts fetching parts up to ReadAhead ahead of cur; body, if not
// nil, is the open response of part 0.
func (r *reader) launch(body io.ReadCloser) {
	ps := r.s.o.PartSize
	for r.next < r.nparts && r.next < r.cur+r.s.o.ReadAhead {
		off := r.start + int64(r.next)*ps
		p := &part{off: off, n: min(ps, r.end-off), done: make(chan struct{})}
		if r.next == 0 {
			p.body = body
		}
		r.parts[r.next] = p
		r.next++
		r.wg.Go(func() { r.fetch(p) })
	}
}

// fetch fills p.buf, retrying a body that breaks off.
func (r *reader) fetch(p *part) {
	defer close(p.done)
	select {
	case r.sem <- struct{}{}:
	case <-r.ctx.Done():
		if p.body != nil {
			p.body.Close()
		}
		p.err = r.ctx.Err()
		return
	}
	defer func() { <-r.sem }()
	p.buf = r.s.bufs.Get().(*[]byte)
	for attempt := 1; ; attempt++ {
		body := p.body
		p.body = nil
		if body == nil {
			out, err := r.s.client.GetObject(r.ctx, &awss3.GetObjectInput{
				Bucket: &r.s.bucket, Key: aws.String(r.s.Key(r.key)), ExpectedBucketOwner: r.s.owner(),
				Range:   aws.String(fmt.Sprintf("bytes=%d-%d", p.off, p.off+p.n-1)),
				IfMatch: aws.String(r.etag),
			})
			if err != nil {
				if errorCode(err) == "PreconditionFailed" {
					err = fmt.Errorf("%w (ETag is no longer %s): %w", storage.ErrChanged, r.etag, err)
				}
				p.err = err
				return
			}
			body = out.Body
		}
		_, err := io.ReadFull(body, (*p.buf)[:p.n])
		body.Close()
		if err == nil {
			return
		}
		if r.ctx.Err() != nil || attempt == partReadAttempts {
			p.err = fmt.Errorf("read bytes %d-%d: %w", p.off, p.off+p.n-1, err)
			return
		}
	}
}

// Read returns the range's bytes in order.
func (r *reader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.closed {
		return 0, fmt.Errorf("s3: read %s: %w", r.s.ObjectURI(r.key), errReaderClosed)
	}
	if r.cur == r.nparts {
		return 0, io.EOF
	}
	p := r.parts[r.cur]
	select {
	case <-p.done:
	case <-r.ctx.Done():
		<-p.done // fetch returns promptly once ctx is done
	}
	if p.err != nil {
		r.err = r.s.fail(r.ctx, "read", r.key, p.err)
		return 0, r.err
	}
	n := copy(b, (*p.buf)[r.pos:p.n])
	r.pos += int64(n)
	if r.pos == p.n {
		r.s.bufs.Put(p.buf)
		p.buf = nil
		r.parts[r.cur] = nil
		r.cur++
		r.pos = 0
		r.launch(nil)
	}
	return n, nil
}

// Close stops the prefetching and releases the buffers. It is safe to call
// twice.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()
	r.wg.Wait()
	for i, p := range r.parts {
		if p != nil && p.buf != nil {
			r.s.bufs.Put(p.buf)
		}
		r.parts[i] = nil
	}
	return nil
}

// errReaderClosed is returned by reads after Close.
var errReaderClosed = errors.New("reader is closed")
