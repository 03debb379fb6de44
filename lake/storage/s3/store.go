// Package s3 implements storage.Storage on Amazon S3 (and S3-compatible
// servers) with aws-sdk-go-v2: s3://bucket/prefix.
//
// Reads: OpenRange fetches the range in parts of Options.PartSize with
// parallel ranged GETs (at most Options.Concurrency at once, at most
// Options.ReadAhead parts buffered ahead of the consumer) and hands them to
// the caller in order, so one sequential reader can run at many times the
// speed of one GET stream. Every part after the first is requested with
// If-Match on the first response's ETag: an object overwritten while it is
// being read fails the read instead of mixing two versions. A range that
// fits in one part is a single streamed GET with no buffering. A body that
// breaks off (a reset connection) is fetched again: a part from its start,
// a single stream from where it stopped, pinned to the same ETag.
//
// Writes: Create buffers PartSize bytes; an object smaller than one part is
// one PutObject at Commit, anything larger a multipart upload whose parts
// are uploaded in the background (at most Concurrency at once) while the
// caller keeps writing. Commit completes the upload; Abort, a failed part,
// a failed Commit and cancellation of the Create context all call
// AbortMultipartUpload, so no incomplete upload is left behind by this
// process. (A killed process can still leave one: AbortIncompleteUploads
// is the garbage collector, and a bucket lifecycle rule
// AbortIncompleteMultipartUpload is the backstop.)
//
// Memory: a reader holds at most ReadAhead parts, a writer at most
// Concurrency+1 parts (16 MiB each by default).
//
// Every write (PutObject, CreateMultipartUpload, CopyObject) carries SSE-KMS
// headers when Options.KMSKeyID is set, and every call that accepts it
// carries Options.ExpectedBucketOwner. Retries of throttling and 5xx
// responses are the SDK retryer's job (see lake/awsconfig).
//
// Keys must satisfy storage.CheckKey. Objects under the prefix whose key
// does not (directory markers such as "dir/" made by other tools) are
// skipped by List.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/storage"
)

// Limits and defaults.
const (
	// MinPartSize is the smallest PartSize New accepts.
	MinPartSize = 8 << 20
	// DefaultPartSize is the PartSize when Options.PartSize is 0.
	DefaultPartSize = 16 << 20
	// DefaultConcurrency is the Concurrency when Options.Concurrency is 0.
	DefaultConcurrency = 8
	// MaxCopyObjectSize is the largest object CopyObject can copy (5 GiB).
	MaxCopyObjectSize = 5 << 30
	// DefaultCopyPartSize is the part size of multipart copies.
	DefaultCopyPartSize = 512 << 20
	// minS3PartSize is S3's minimum size of every part but the last.
	minS3PartSize = 5 << 20
	// maxParts is S3's limit on the parts of one multipart upload.
	maxParts = 10_000
)

// Options tune a Store. The zero value is valid.
type Options struct {
	// PartSize is the size of ranged GETs and upload parts (≥ MinPartSize,
	// default 16 MiB). It bounds an uploaded object to 10,000 × PartSize.
	PartSize int64
	// Concurrency bounds the parallel GETs of one reader and the parallel
	// part uploads of one writer (default 8).
	Concurrency int
	// ReadAhead is how many parts a reader keeps in flight or buffered
	// ahead of the caller (default Concurrency); a reader has at most
	// min(Concurrency, ReadAhead) GETs in flight.
	ReadAhead int
	// KMSKeyID, when set, makes every write SSE-KMS with this key.
	KMSKeyID string
	// KMSBucketKey enables S3 Bucket Keys on SSE-KMS writes (fewer KMS calls).
	KMSBucketKey bool
	// ExpectedBucketOwner is the account id sent with every call that
	// accepts it; S3 refuses the call if the bucket belongs to another.
	ExpectedBucketOwner string
	// UsePathStyle addresses buckets as http://host/bucket (local servers).
	UsePathStyle bool
	// CopyThreshold: objects larger than this are copied with multipart
	// UploadPartCopy (default and maximum 5 GiB, CopyObject's limit).
	CopyThreshold int64
	// CopyPartSize is the part size of multipart copies (default 512 MiB,
	// at least 5 MiB).
	CopyPartSize int64
	// Log receives warnings (a failed abort); the zero value discards them.
	Log zerolog.Logger
	// ClientOptions are applied to the S3 client after the store's own.
	ClientOptions []func(*awss3.Options)
}

// Store is a storage.Storage on one bucket and prefix. It is safe for
// concurrent use.
type Store struct {
	client *awss3.Client
	bucket string
	prefix string // "" or ends with "/"
	uri    string
	o      Options
	bufs   sync.Pool // *[]byte of PartSize

	requests atomic.Int64 // see Requests
}

var _ storage.Storage = (*Store)(nil)

// New returns the store for uri (s3://bucket or s3://bucket/prefix). It
// checks that the bucket exists and is reachable (HeadBucket, which needs
// s3:ListBucket) so that a misconfiguration fails now, not mid-run.
func New(ctx context.Context, cfg aws.Config, uri string, opts Options) (*Store, error) {
	scheme, root, err := storage.ParseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	if scheme != "s3" {
		return nil, fmt.Errorf("s3: %q: %w: scheme is not s3", uri, storage.ErrInvalidURI)
	}
	bucket, prefix, _ := strings.Cut(root, "/")
	if prefix != "" {
		if err := storage.CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("s3: prefix of %q: %w", uri, err)
		}
	}
	o, err := withDefaults(opts)
	if err != nil {
		return nil, fmt.Errorf("s3: %s: %w", uri, err)
	}
	s := &Store{bucket: bucket, uri: "s3://" + root, o: o}
	if prefix != "" {
		s.prefix = prefix + "/"
	}
	s.bufs.New = func() any { b := make([]byte, o.PartSize); return &b }
	s.client = awss3.NewFromConfig(cfg, append([]func(*awss3.Options){func(so *awss3.Options) {
		so.UsePathStyle = o.UsePathStyle
		// Ranged GETs carry no full-object checksum; the SDK would log that
		// it skipped validation on every one of them.
		so.DisableLogOutputChecksumValidationSkipped = true
		so.APIOptions = append(so.APIOptions, countRequests(&s.requests))
	}}, o.ClientOptions...)...)
	_, err = s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &s.bucket, ExpectedBucketOwner: s.owner()})
	if err != nil {
		return nil, fmt.Errorf("s3: bucket %s: %w", bucket, ctxErr(ctx, err))
	}
	return s, nil
}

func withDefaults(o Options) (Options, error) {
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize {
		return o, fmt.Errorf("part size %d is below the minimum %d", o.PartSize, MinPartSize)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.ReadAhead <= 0 {
		o.ReadAhead = o.Concurrency
	}
	if o.CopyThreshold <= 0 || o.CopyThreshold > MaxCopyObjectSize {
		o.CopyThreshold = MaxCopyObjectSize
	}
	if o.CopyPartSize == 0 {
		o.CopyPartSize = DefaultCopyPartSize
	}
	if o.CopyPartSize < minS3PartSize || o.CopyPartSize > MaxCopyObjectSize {
		return o, fmt.Errorf("copy part size %d is outside [5 MiB, 5 GiB]", o.CopyPartSize)
	}
	return o, nil
}

// URI returns s3://bucket or s3://bucket/prefix.
func (s *Store) URI() string { return s.uri }

// ObjectURI returns URI() + "/" + key.
func (s *Store) ObjectURI(key string) string { return s.uri + "/" + key }

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Key returns the S3 object key of a storage key (prefix + key).
func (s *Store) Key(key string) string { return s.prefix + key }

func (s *Store) owner() *string {
	if s.o.ExpectedBucketOwner == "" {
		return nil
	}
	return &s.o.ExpectedBucketOwner
}

// sse returns the encryption settings of a write.
func (s *Store) sse() (types.ServerSideEncryption, *string, *bool) {
	if s.o.KMSKeyID == "" {
		return "", nil, nil
	}
	var bk *bool
	if s.o.KMSBucketKey {
		bk = aws.Bool(true)
	}
	return types.ServerSideEncryptionAwsKms, &s.o.KMSKeyID, bk
}

// begin checks the context and the key common to every keyed call.
func (s *Store) begin(ctx context.Context, op, key string) error {
	if err := storage.CheckKey(key); err != nil {
		return fmt.Errorf("s3: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: %s %s: %w", op, s.ObjectURI(key), err)
	}
	return nil
}

// fail wraps err from op on key: not-found errors also wrap
// storage.ErrNotExist, and a canceled ctx is always visible to errors.Is.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	err = ctxErr(ctx, err)
	var ios *types.InvalidObjectState
	if errors.As(err, &ios) {
		// A GET of an object in an archive class that was not restored.
		return fmt.Errorf("s3: %s: %w", op, &storage.ArchivedError{URI: s.ObjectURI(key),
			StorageClass: string(ios.StorageClass), ArchiveTier: string(ios.AccessTier)})
	}
	if isNotFound(err) {
		return fmt.Errorf("s3: %s %s: %w: %w", op, s.ObjectURI(key), storage.ErrNotExist, err)
	}
	return fmt.Errorf("s3: %s %s: %w", op, s.ObjectURI(key), err)
}

// ctxErr makes sure an error caused by ctx ending wraps ctx.Err().
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// isNotFound reports a missing object (not a missing bucket).
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 404 && (ae == nil || ae.ErrorCode() != "NoSuchBucket")
}

// errorCode returns the API error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Stat describes key with HeadObject.
func (s *Store) Stat(ctx context.Context, key string) (storage.Object, error) {
	if err := s.begin(ctx, "stat", key); err != nil {
		return storage.Object{}, err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: &s.bucket, Key: aws.String(s.Key(key)), ExpectedBucketOwner: s.owner(),
	})
	if err != nil {
		return storage.Object{}, s.fail(ctx, "stat", key, err)
	}
	o := storage.Object{
		Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag),
		ModTime: aws.ToTime(out.LastModified), StorageClass: storageClass(string(out.StorageClass)),
		ArchiveTier: string(out.ArchiveStatus),
	}
	// Restore is `ongoing-request="true"` while a restore runs, and
	// `ongoing-request="false", expiry-date="…"` once the copy is readable.
	restore := aws.ToString(out.Restore)
	o.Restoring = strings.Contains(restore, `ongoing-request="true"`)
	o.Archived = storage.NeedsRestore(o.StorageClass, o.ArchiveTier) && !strings.Contains(restore, `ongoing-request="false"`)
	return o, nil
}

// List calls fn for every object under prefix in S3's (lexicographic, byte
// order) listing order.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.Object) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list %s: %w", s.ObjectURI(prefix), err)
	}
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix), ExpectedBucketOwner: s.owner(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: list %s: %w", s.ObjectURI(prefix), ctxErr(ctx, err))
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok || storage.CheckKey(key) != nil {
				continue
			}
			err := fn(storage.Object{Key: key, Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag),
				ModTime: aws.ToTime(o.LastModified), StorageClass: storageClass(string(o.StorageClass))})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx, "delete", key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: &s.bucket, Key: aws.String(s.Key(key)), ExpectedBucketOwner: s.owner(),
	})
	if err != nil && !(isNotFound(err) && ctx.Err() == nil) {
		return s.fail(ctx, "delete", key, err)
	}
	return nil
}

// copySource is the x-amz-copy-source value of key: bucket/key with the key
// percent-encoded (the SDK sends it as given). Everything but RFC 3986
// unreserved characters and "/" is encoded, as boto3 does: S3 would read a
// literal "+" as a space.
func (s *Store) copySource(key string) *string {
	const hex = "0123456789ABCDEF"
	k := s.Key(key)
	var b strings.Builder
	b.WriteString(s.bucket)
	b.WriteByte('/')
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return aws.String(b.String())
}

// storageClass names S3's default class, which HeadObject leaves out.
func storageClass(c string) string {
	if c == "" {
		return storage.ClassStandard
	}
	return c
}
