// Package storage defines the object store tierflow reads and writes: a flat
// namespace of slash-separated keys below a root URI (file://DIR or
// s3://bucket/prefix). Implementations live in sub-packages; the conformance
// suite in storagetest runs against every one of them.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotExist is returned (wrapped) when an object does not exist.
var ErrNotExist = errors.New("storage: object does not exist")

// ErrChanged is returned (wrapped) by a reader whose object was replaced
// while it was being read: the bytes already read and the rest would come
// from different objects. The S3 store, which reads in ranged parts pinned
// to the first ETag, returns it.
var ErrChanged = errors.New("storage: object changed while being read")

// Object describes a stored object.
type Object struct {
	Key     string    // relative to the storage root, slash-separated
	Size    int64     // bytes
	ETag    string    // opaque change token (S3 ETag, or a content hash locally)
	ModTime time.Time // last modification
	// StorageClass is the S3 storage class ("" where the store has none,
	// e.g. a local directory: read it as STANDARD).
	StorageClass string
	// ArchiveTier is INTELLIGENT_TIERING's archive access tier, if any.
	ArchiveTier string
	// Archived is set by Stat when the object must be restored before it
	// can be read (see NeedsRestore); Restoring when a restore is under way.
	Archived, Restoring bool
}

// Writer streams one object. Nothing is visible under the key until Commit
// returns nil; Abort discards everything written (and, on S3, the multipart
// upload), so a failed writer never leaves a partial object behind.
type Writer interface {
	io.Writer
	// Commit finishes the object and makes it visible atomically.
	Commit() error
	// Abort discards the object. It is safe to call after Commit (no-op) and
	// more than once.
	Abort() error
}

// Hasher is a Writer that computes the SHA-256 of what it is given (the
// local store does, for its ETags): a caller that needs the digest takes
// it from SHA256 rather than hashing the bytes a second time.
type Hasher interface {
	Writer
	// SHA256 returns the digest of the bytes written so far.
	SHA256() []byte
}

// PutOptions tune one write.
type PutOptions struct {
	ContentType string
	// SHA256 is the hex digest of the content when the caller knows it; an
	// implementation may store and verify it.
	SHA256 string
	// Tags are object tags where the store has them (S3; a local directory
	// ignores them). Lifecycle rules filter on them.
	Tags map[string]string
}

// Storage is an object store rooted at URI().
type Storage interface {
	// URI is the root, e.g. file:///abs/lake or s3://bucket/prefix.
	URI() string
	// ObjectURI returns the full URI of key (root + "/" + key).
	ObjectURI(key string) string
	// Open reads an object from its beginning.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// OpenRange reads length bytes from offset (length < 0: to the end).
	OpenRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat describes one object.
	Stat(ctx context.Context, key string) (Object, error)
	// Create starts a streaming write of key; see Writer.
	Create(ctx context.Context, key string, opts PutOptions) (Writer, error)
	// List calls fn for every object whose key starts with prefix, in
	// lexicographic key order. Returning an error from fn stops the listing
	// and is returned.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// Copy copies src to dst inside this storage (server-side where possible).
	Copy(ctx context.Context, src, dst string) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Put writes r to key in one call: Create, copy, Commit (Abort on failure).
func Put(ctx context.Context, s Storage, key string, r io.Reader, opts PutOptions) error {
	w, err := s.Create(ctx, key, opts)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Commit()
}

// DeletePrefix removes every object whose key starts with prefix,
// attempting all of them and reporting every failure.
func DeletePrefix(ctx context.Context, s Storage, prefix string) error {
	var keys []string
	if err := s.List(ctx, prefix, func(o Object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		errs = append(errs, s.Delete(ctx, k))
	}
	return errors.Join(errs...)
}

// ReaderAt reads one object by ranges (for parquet.OpenFile and other
// footer-first readers): each ReadAt is one OpenRange.
func ReaderAt(ctx context.Context, s Storage, key string) io.ReaderAt {
	return &readerAt{ctx: ctx, s: s, key: key}
}

type readerAt struct {
	ctx context.Context
	s   Storage
	key string
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := r.s.OpenRange(r.ctx, r.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
