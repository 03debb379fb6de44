package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/tierflow/tierflow/lake/storage"
)

// abortTimeout bounds AbortMultipartUpload, which runs even after the
// writer's context has ended.
const abortTimeout = time.Minute

// metaSHA256 is the user metadata key holding PutOptions.SHA256.
const metaSHA256 = "sha256"

// Writer states.
const (
	writing = iota
	committed
	aborted
)

// errClosed is returned by Write and Commit on a finished writer.
var errClosed = errors.New("writer already committed or aborted")

// Create starts a streaming write of key; see the package doc. Nothing is
// sent until PartSize bytes are written or Commit is called.
func (s *Store) Create(ctx context.Context, key string, opts storage.PutOptions) (storage.Writer, error) {
	if err := s.begin(ctx, "create", key); err != nil {
		return nil, err
	}
	w := &writer{s: s, key: key, ctx: ctx, contentType: opts.ContentType, tagging: tagging(opts.Tags)}
	if opts.SHA256 != "" {
		if b, err := hex.DecodeString(opts.SHA256); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("s3: create %s: SHA256 %q is not a hex SHA-256 digest", s.ObjectURI(key), opts.SHA256)
		}
		w.sum, w.h = strings.ToLower(opts.SHA256), sha256.New()
	}
	w.ictx, w.cancel = context.WithCancel(ctx)
	// A canceled context must not leave a multipart upload behind even if
	// the caller never reaches Abort.
	w.stop = context.AfterFunc(ctx, func() {
		if err := w.Abort(); err != nil {
			s.o.Log.Warn().Err(err).Str("object", s.ObjectURI(key)).Msg("abort after context cancellation failed")
		}
	})
	return w, nil
}

// writer streams one object; see storage.Writer.
type writer struct {
	s           *Store
	key         string
	sum         string    // expected SHA-256 hex, "" if unknown
	h           hash.Hash // nil unless sum != ""
	contentType string
	tagging     *string         // URL-encoded tags, nil for none
	ctx         context.Context // Create's
	ictx        context.Context // canceled by Abort and failures
	cancel      context.CancelFunc
	stop        func() bool // unregisters the cancellation hook

	mu     sync.Mutex
	state  int
	cur    []byte  // the part being filled
	pooled *[]byte // cur's pool buffer, nil for the first part
	size   int64

	uploadID string // "" until the first full part
	next     int32  // next part number
	g        *errgroup.Group
	gctx     context.Context

	pmu   sync.Mutex
	parts []types.CompletedPart
}

func (w *writer) uri() string { return w.s.ObjectURI(w.key) }

// Write buffers p and uploads every full part in the background; it blocks
// while Concurrency parts are in flight.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return 0, fmt.Errorf("s3: write %s: %w", w.uri(), ctxErr(w.ctx, errClosed))
	}
	if err := w.ctx.Err(); err != nil {
		return 0, w.failLocked("write", err)
	}
	ps := int(w.s.o.PartSize)
	written := 0
	for len(p) > 0 {
		if w.gctx != nil && w.gctx.Err() != nil {
			return written, w.failLocked("write", w.g.Wait())
		}
		k := min(ps-len(w.cur), len(p))
		w.cur = append(w.cur, p[:k]...)
		if w.h != nil {
			w.h.Write(p[:k])
		}
		p, written, w.size = p[k:], written+k, w.size+int64(k)
		if len(w.cur) == ps {
			if err := w.flushLocked(); err != nil {
				return written, w.failLocked("write", err)
			}
		}
	}
	return written, nil
}

// flushLocked queues cur as the next part, starting the multipart upload
// first if needed, and gives the writer a fresh buffer.
func (w *writer) flushLocked() error {
	if w.uploadID == "" {
		sse, kms, bk := w.s.sse()
		in := &awss3.CreateMultipartUploadInput{
			Bucket: &w.s.bucket, Key: aws.String(w.s.Key(w.key)), ExpectedBucketOwner: w.s.owner(),
			ServerSideEncryption: sse, SSEKMSKeyId: kms, BucketKeyEnabled: bk,
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, Metadata: w.metadata(), Tagging: w.tagging,
		}
		if w.contentType != "" {
			in.ContentType = &w.contentType
		}
		out, err := w.s.client.CreateMultipartUpload(w.ictx, in)
		if err != nil {
			return fmt.Errorf("create multipart upload: %w", err)
		}
		w.uploadID = aws.ToString(out.UploadId)
		w.next = 1
		w.g, w.gctx = errgroup.WithContext(w.ictx)
		w.g.SetLimit(w.s.o.Concurrency)
	}
	if w.next > maxParts {
		return fmt.Errorf("object exceeds %d parts of %d bytes; raise PartSize", maxParts, w.s.o.PartSize)
	}
	num, data, pooled := w.next, w.cur, w.pooled
	w.next++
	w.pooled = w.s.bufs.Get().(*[]byte)
	w.cur = (*w.pooled)[:0]
	w.g.Go(func() error {
		defer func() {
			if pooled != nil {
				w.s.bufs.Put(pooled)
			}
		}()
		return w.uploadPart(num, data)
	})
	return nil
}

func (w *writer) uploadPart(num int32, data []byte) error {
	out, err := w.s.client.UploadPart(w.gctx, &awss3.UploadPartInput{
		Bucket: &w.s.bucket, Key: aws.String(w.s.Key(w.key)), ExpectedBucketOwner: w.s.owner(),
		UploadId: &w.uploadID, PartNumber: aws.Int32(num),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return fmt.Errorf("upload part %d: %w", num, err)
	}
	// The part checksum goes back into Complete together with the
	// algorithm declared at Create; sending one without the other is
	// rejected by some servers (InvalidPart).
	w.pmu.Lock()
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumCRC32: out.ChecksumCRC32})
	w.pmu.Unlock()
	return nil
}

func (w *writer) metadata() map[string]string {
	if w.sum == "" {
		return nil
	}
	return map[string]string{metaSHA256: w.sum}
}

// Commit uploads what is left and makes the object visible: one PutObject
// for an object smaller than a part, CompleteMultipartUpload otherwise. On
// any failure the upload is aborted and nothing becomes visible.
func (w *writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		// After an abort caused by cancellation, say so.
		return fmt.Errorf("s3: commit %s: %w", w.uri(), ctxErr(w.ctx, errClosed))
	}
	if err := w.ctx.Err(); err != nil {
		return w.failLocked("commit", err)
	}
	if w.h != nil {
		if got := hex.EncodeToString(w.h.Sum(nil)); got != w.sum {
			return w.failLocked("commit", fmt.Errorf("content SHA-256 %s, caller said %s", got, w.sum))
		}
	}
	var err error
	if w.uploadID == "" {
		err = w.put()
	} else {
		err = w.complete()
	}
	if err != nil {
		return w.failLocked("commit", err)
	}
	w.state = committed
	w.release()
	return nil
}

// put writes the whole (small) object with one PutObject.
func (w *writer) put() error {
	sse, kms, bk := w.s.sse()
	in := &awss3.PutObjectInput{
		Bucket: &w.s.bucket, Key: aws.String(w.s.Key(w.key)), ExpectedBucketOwner: w.s.owner(),
		Body: bytes.NewReader(w.cur), ContentLength: aws.Int64(int64(len(w.cur))),
		ServerSideEncryption: sse, SSEKMSKeyId: kms, BucketKeyEnabled: bk, Metadata: w.metadata(), Tagging: w.tagging,
	}
	if w.contentType != "" {
		in.ContentType = &w.contentType
	}
	if w.sum != "" {
		// S3 verifies the digest and refuses a corrupted upload.
		b, _ := hex.DecodeString(w.sum)
		in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(b))
	}
	_, err := w.s.client.PutObject(w.ictx, in)
	return err
}

// complete uploads the last part, waits for all parts and completes.
func (w *writer) complete() error {
	if len(w.cur) > 0 {
		if err := w.flushLocked(); err != nil {
			return err
		}
	}
	if err := w.g.Wait(); err != nil {
		return err
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.pmu.Lock()
	parts := slices.Clone(w.parts)
	w.pmu.Unlock()
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err := w.s.client.CompleteMultipartUpload(w.ictx, &awss3.CompleteMultipartUploadInput{
		Bucket: &w.s.bucket, Key: aws.String(w.s.Key(w.key)), ExpectedBucketOwner: w.s.owner(),
		UploadId: &w.uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload %s: %w", w.uploadID, err)
	}
	return nil
}

// Abort discards the object and any multipart upload. It is a no-op after
// Commit or a previous Abort.
func (w *writer) Abort() error {
	w.cancel() // unblocks a Write waiting for an upload slot
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return nil
	}
	return w.abortLocked()
}

// failLocked aborts after cause and returns the error to report.
func (w *writer) failLocked(op string, cause error) error {
	if cause == nil {
		cause = context.Cause(w.ictx)
	}
	err := fmt.Errorf("s3: %s %s: %w", op, w.uri(), ctxErr(w.ctx, cause))
	if aerr := w.abortLocked(); aerr != nil {
		return fmt.Errorf("%w (and %w)", err, aerr)
	}
	return err
}

// abortLocked stops the part uploads and aborts the multipart upload.
func (w *writer) abortLocked() error {
	w.state = aborted
	w.cancel()
	if w.g != nil {
		_ = w.g.Wait()
	}
	w.release()
	if w.uploadID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), abortTimeout)
	defer cancel()
	_, err := w.s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket: &w.s.bucket, Key: aws.String(w.s.Key(w.key)), ExpectedBucketOwner: w.s.owner(),
		UploadId: &w.uploadID,
	})
	if err != nil && errorCode(err) != "NoSuchUpload" {
		return fmt.Errorf("abort multipart upload %s: %w", w.uploadID, err)
	}
	return nil
}

// release drops the buffers and the cancellation hook.
func (w *writer) release() {
	w.stop()
	w.cancel()
	if w.pooled != nil {
		w.s.bufs.Put(w.pooled)
		w.pooled = nil
	}
	w.cur = nil
}
