package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/s3"
	"github.com/tierflow/tierflow/lake/storage/storagetest"
)

// server is the S3-compatible server the tests run against.
type server struct {
	endpoint, access, secret string
}

func testServer(t *testing.T) server {
	t.Helper()
	sv := server{
		endpoint: os.Getenv("TIERFLOW_TEST_S3_ENDPOINT"),
		access:   os.Getenv("TIERFLOW_TEST_S3_ACCESS_KEY"),
		secret:   os.Getenv("TIERFLOW_TEST_S3_SECRET_KEY"),
	}
	if sv.endpoint == "" {
		t.Skip("TIERFLOW_TEST_S3_ENDPOINT is unset: no S3 server to test against. .ci/run starts versitygw and sets it " +
			"(or: source .ci/services.sh; see that script)")
	}
	if sv.access == "" || sv.secret == "" {
		t.Fatal("TIERFLOW_TEST_S3_ENDPOINT is set but TIERFLOW_TEST_S3_ACCESS_KEY/SECRET_KEY are not")
	}
	return sv
}

// config builds the SDK configuration for sv.
func (sv server) config(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{
		Region: "us-east-1", Endpoint: sv.endpoint,
		Credentials: credentials.NewStaticCredentialsProvider(sv.access, sv.secret, ""),
		MaxBackoff:  200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (sv server) admin(t *testing.T) *awss3.Client {
	return awss3.NewFromConfig(sv.config(t), func(o *awss3.Options) { o.UsePathStyle = true })
}

var bucketSeq atomic.Int64

// newBucket creates a uniquely named bucket and removes it, with everything
// in it, when the test ends.
func newBucket(t *testing.T, admin *awss3.Client) string {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("tierflow-test-%x-%d", rnd, bucketSeq.Add(1))
	if _, err := admin.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() { emptyAndDelete(t, admin, name) })
	return name
}

func emptyAndDelete(t *testing.T, admin *awss3.Client, bucket string) {
	ctx := context.Background()
	ups, err := admin.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if err == nil {
		for _, u := range ups.Uploads {
			_, _ = admin.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	p := awss3.NewListObjectsV2Paginator(admin, &awss3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("cleanup: list %s: %v", bucket, err)
			return
		}
		for _, o := range page.Contents {
			if _, err := admin.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: o.Key}); err != nil {
				t.Errorf("cleanup: delete %s/%s: %v", bucket, aws.ToString(o.Key), err)
			}
		}
	}
	if _, err := admin.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		t.Errorf("cleanup: delete bucket %s: %v", bucket, err)
	}
}

// newStore opens a store on uri with small parts so that multipart paths
// run on small objects.
func newStore(t *testing.T, cfg aws.Config, uri string, o s3.Options) *s3.Store {
	t.Helper()
	o.UsePathStyle = true
	if o.PartSize == 0 {
		o.PartSize = s3.MinPartSize
	}
	s, err := s3.New(t.Context(), cfg, uri, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	sv := testServer(t)
	cfg := sv.config(t)
	bucket := newBucket(t, sv.admin(t))
	var n atomic.Int64
	// Every open gets a fresh prefix in one bucket: this also checks that
	// the store never sees or touches keys outside its prefix.
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return newStore(t, cfg, fmt.Sprintf("s3://%s/conf/%03d", bucket, n.Add(1)), s3.Options{Concurrency: 4})
	})
}

func TestConformanceBucketRoot(t *testing.T) {
	sv := testServer(t)
	cfg, admin := sv.config(t), sv.admin(t)
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return newStore(t, cfg, "s3://"+newBucket(t, admin), s3.Options{})
	})
}

// payload returns n random bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func put(t *testing.T, s storage.Storage, key string, data []byte) {
	t.Helper()
	if err := storage.Put(t.Context(), s, key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, s storage.Storage, key string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func wantNoUploads(t *testing.T, s *s3.Store, what string) {
	t.Helper()
	ups, err := s.ListIncompleteUploads(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 0 {
		t.Fatalf("%s: %d incomplete multipart uploads left: %+v", what, len(ups), ups)
	}
}

// recorded is one HTTP request as sent.
type recorded struct {
	op     string // SDK operation name
	method string
	url    string
	header http.Header
}

// recorder is an HTTP client that records every request it sends and
// passes it on to the client it wraps.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	next awss3.HTTPClient
}

func newRecorder() *recorder { return &recorder{} }

// wrap installs r in front of the S3 client's HTTP client.
func (r *recorder) wrap(o *awss3.Options) {
	r.next = o.HTTPClient
	o.HTTPClient = r
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{op: middleware.GetOperationName(req.Context()), method: req.Method,
		url: req.URL.String(), header: req.Header.Clone()})
	r.mu.Unlock()
	return r.next.Do(req)
}

func (r *recorder) byOp() map[string][]recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string][]recorded{}
	for _, q := range r.reqs {
		m[q.op] = append(m[q.op], q)
	}
	return m
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

func TestMultipartUpload(t *testing.T) {
	sv := testServer(t)
	rec := newRecorder()
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t))+"/mp", s3.Options{Concurrency: 2, ClientOptions: []func(*awss3.Options){rec.wrap}})
	data := payload(3*s3.MinPartSize + 12345) // 4 parts
	w, err := s.Create(t.Context(), "big.bin", storage.PutOptions{ContentType: "application/x-test"})
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 1 << 20 / 3 {
		if _, err := w.Write(data[off:min(off+1<<20/3, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, "big.bin"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d identical bytes", len(got), len(data))
	}
	ops := rec.byOp()
	if n := len(ops["UploadPart"]); n != 4 {
		t.Fatalf("%d UploadPart requests, want 4", n)
	}
	if n := len(ops["CreateMultipartUpload"]) + len(ops["CompleteMultipartUpload"]); n != 2 || len(ops["PutObject"]) != 0 {
		t.Fatalf("requests: %d create+complete (want 2), %d PutObject (want 0)", n, len(ops["PutObject"]))
	}
	o, err := s.Stat(t.Context(), "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != int64(len(data)) || !strings.HasSuffix(strings.Trim(o.ETag, `"`), "-4") {
		t.Fatalf("stat = %+v, want size %d and a 4-part multipart ETag", o, len(data))
	}
	wantNoUploads(t, s, "after commit")
}

func TestSmallObjectIsOnePut(t *testing.T) {
	sv := testServer(t)
	rec := newRecorder()
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{ClientOptions: []func(*awss3.Options){rec.wrap}})
	rec.reset()
	put(t, s, "small", payload(s3.MinPartSize-1))
	ops := rec.byOp()
	if len(rec.reqs) != 1 || len(ops["PutObject"]) != 1 {
		t.Fatalf("writing one part's worth sent %d requests (%v), want one PutObject", len(rec.reqs), ops)
	}
	rec.reset()
	if got := get(t, s, "small"); len(got) != s3.MinPartSize-1 {
		t.Fatalf("read %d bytes", len(got))
	}
	if n := len(rec.byOp()["GetObject"]); n != 1 || len(rec.reqs) != 1 {
		t.Fatalf("reading a one-part object sent %d requests, %d GETs; want one GET", len(rec.reqs), n)
	}
}

func TestParallelRangedRead(t *testing.T) {
	sv := testServer(t)
	rec := newRecorder()
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{Concurrency: 3, ReadAhead: 4, ClientOptions: []func(*awss3.Options){rec.wrap}})
	data := payload(4*s3.MinPartSize + 999) // 5 parts
	put(t, s, "r.bin", data)
	rec.reset()
	if got := get(t, s, "r.bin"); !bytes.Equal(got, data) {
		t.Fatalf("read back differs (%d bytes, want %d)", len(got), len(data))
	}
	gets := rec.byOp()["GetObject"]
	if len(gets) != 5 {
		t.Fatalf("%d GETs, want 5 (one per part)", len(gets))
	}
	ranges := map[string]bool{}
	for i, g := range gets {
		ranges[g.header.Get("Range")] = true
		if i > 0 && g.header.Get("If-Match") == "" {
			t.Fatalf("GET %d (%s) has no If-Match", i, g.header.Get("Range"))
		}
	}
	for i := range 5 {
		from := int64(i) * s3.MinPartSize
		to := min(from+s3.MinPartSize, int64(len(data))) - 1
		if r := fmt.Sprintf("bytes=%d-%d", from, to); !ranges[r] {
			t.Fatalf("no GET for %s; got %v", r, ranges)
		}
	}
	// A range that starts and ends inside parts.
	off, n := int64(s3.MinPartSize-10), int64(2*s3.MinPartSize+20)
	rc, err := s.OpenRange(t.Context(), "r.bin", off, n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[off:off+n]) {
		t.Fatalf("range read: %d bytes, err %v", len(got), err)
	}
}

func TestReadCloseEarly(t *testing.T) {
	sv := testServer(t)
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{Concurrency: 2})
	data := payload(3 * s3.MinPartSize)
	put(t, s, "x", data)
	rc, err := s.Open(t.Context(), "x")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(rc, buf); err != nil || !bytes.Equal(buf, data[:1000]) {
		t.Fatalf("first bytes: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(buf); err == nil {
		t.Fatal("read after close succeeded")
	}
}

func TestReadDetectsOverwrite(t *testing.T) {
	sv := testServer(t)
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{Concurrency: 1, ReadAhead: 1})
	put(t, s, "x", payload(3*s3.MinPartSize))
	rc, err := s.Open(t.Context(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	// ReadAhead 1: the second part is requested only once the first is
	// consumed, i.e. after the overwrite.
	if _, err := io.ReadFull(rc, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	put(t, s, "x", payload(3*s3.MinPartSize))
	_, err = io.Copy(io.Discard, rc)
	if !errors.Is(err, storage.ErrChanged) {
		t.Fatalf("reading across an overwrite: got %v, want an 'object changed' error", err)
	}
}

func TestAbortLeavesNoUpload(t *testing.T) {
	sv := testServer(t)
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t))+"/p", s3.Options{Concurrency: 2})
	w, err := s.Create(t.Context(), "aborted.bin", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(2*s3.MinPartSize + 1)); err != nil {
		t.Fatal(err)
	}
	// The upload exists while the writer is open...
	ups, err := s.ListIncompleteUploads(t.Context(), "")
	if err != nil || len(ups) != 1 || ups[0].Key != "aborted.bin" {
		t.Fatalf("uploads while writing: %+v, %v; want one for aborted.bin", ups, err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	// ...and is gone after Abort.
	wantNoUploads(t, s, "after abort")
	if _, err := s.Stat(t.Context(), "aborted.bin"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after abort: %v", err)
	}
}

// failPart makes UploadPart number n fail before it is sent.
func failPart(n int32) func(*awss3.Options) {
	return func(o *awss3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("failPart",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if p, ok := in.Parameters.(*awss3.UploadPartInput); ok && aws.ToInt32(p.PartNumber) == n {
						return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected part failure")
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

func TestFailedWriterLeavesNoUpload(t *testing.T) {
	sv := testServer(t)
	cfg := sv.config(t)
	bucket := newBucket(t, sv.admin(t))
	s := newStore(t, cfg, "s3://"+bucket, s3.Options{Concurrency: 2, ClientOptions: []func(*awss3.Options){failPart(2)}})
	w, err := s.Create(t.Context(), "failed.bin", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, werr := w.Write(payload(3*s3.MinPartSize + 5))
	cerr := w.Commit()
	if cerr == nil || !strings.Contains(fmt.Sprint(werr, cerr), "injected part failure") {
		t.Fatalf("write error %v, commit error %v; want the injected part failure", werr, cerr)
	}
	_ = w.Abort()
	wantNoUploads(t, s, "after a failed part")
	if _, err := s.Stat(t.Context(), "failed.bin"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after failed write: %v", err)
	}
}

func TestSHA256Mismatch(t *testing.T) {
	sv := testServer(t)
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{})
	wrong := hex.EncodeToString(make([]byte, 32))
	for _, size := range []int{100, 2*s3.MinPartSize + 1} {
		err := storage.Put(t.Context(), s, "x", bytes.NewReader(payload(size)), storage.PutOptions{SHA256: wrong})
		if err == nil {
			t.Fatalf("%d bytes with a wrong SHA-256 committed", size)
		}
		if _, err := s.Stat(t.Context(), "x"); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("stat after rejected commit: %v", err)
		}
		wantNoUploads(t, s, fmt.Sprintf("after a rejected %d-byte commit", size))
	}
	data := payload(2*s3.MinPartSize + 1)
	sum := sha256.Sum256(data)
	if err := storage.Put(t.Context(), s, "ok", bytes.NewReader(data), storage.PutOptions{SHA256: hex.EncodeToString(sum[:])}); err != nil {
		t.Fatal(err)
	}
}

func TestCanceledContextAbortsUpload(t *testing.T) {
	sv := testServer(t)
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	w, err := s.Create(ctx, "c.bin", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(2*s3.MinPartSize + 1)); err != nil {
		t.Fatal(err)
	}
	if ups, err := s.ListIncompleteUploads(t.Context(), ""); err != nil || len(ups) != 1 {
		t.Fatalf("uploads before cancel: %+v, %v", ups, err)
	}
	cancel() // and never call Commit or Abort
	deadline := time.Now().Add(10 * time.Second)
	for {
		ups, err := s.ListIncompleteUploads(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(ups) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload still there 10 s after cancel: %+v", ups)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := w.Commit(); !errors.Is(err, context.Canceled) {
		t.Fatalf("commit after cancel: %v", err)
	}
}

func TestMultipartCopy(t *testing.T) {
	sv := testServer(t)
	rec := newRecorder()
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t))+"/cp",
		s3.Options{CopyThreshold: 5 << 20, CopyPartSize: 5 << 20, ClientOptions: []func(*awss3.Options){rec.wrap}})
	data := payload(11 << 20)
	if err := storage.Put(t.Context(), s, "src", bytes.NewReader(data), storage.PutOptions{ContentType: "text/csv"}); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	if err := s.Copy(t.Context(), "src", "dst/copy"); err != nil {
		t.Fatal(err)
	}
	ops := rec.byOp()
	if n := len(ops["UploadPartCopy"]); n != 3 || len(ops["CopyObject"]) != 0 {
		t.Fatalf("%d UploadPartCopy (want 3), %d CopyObject (want 0)", n, len(ops["CopyObject"]))
	}
	for _, q := range ops["UploadPartCopy"] {
		if q.header.Get("X-Amz-Copy-Source-If-Match") == "" || q.header.Get("X-Amz-Copy-Source-Range") == "" {
			t.Fatalf("UploadPartCopy without source range or If-Match: %v", q.header)
		}
	}
	if got := get(t, s, "dst/copy"); !bytes.Equal(got, data) {
		t.Fatal("multipart copy content differs")
	}
	wantNoUploads(t, s, "after multipart copy")
	// At or below the threshold: one CopyObject.
	put(t, s, "small", payload(5<<20))
	rec.reset()
	if err := s.Copy(t.Context(), "small", "small-copy"); err != nil {
		t.Fatal(err)
	}
	if ops := rec.byOp(); len(ops["CopyObject"]) != 1 || len(ops["UploadPartCopy"]) != 0 {
		t.Fatalf("copy at the threshold: %d CopyObject, %d UploadPartCopy", len(ops["CopyObject"]), len(ops["UploadPartCopy"]))
	}
}

func TestIncompleteUploadsGC(t *testing.T) {
	sv := testServer(t)
	admin := sv.admin(t)
	bucket := newBucket(t, admin)
	s := newStore(t, sv.config(t), "s3://"+bucket+"/gc", s3.Options{})
	// Left behind by a "killed process": started directly, never finished.
	for _, k := range []string{"gc/a", "gc/b", "other/c"} {
		if _, err := admin.CreateMultipartUpload(t.Context(), &awss3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	ups, err := s.ListIncompleteUploads(t.Context(), "")
	if err != nil || len(ups) != 2 || ups[0].Key != "a" || ups[1].Key != "b" {
		t.Fatalf("incomplete uploads under the prefix: %+v, %v", ups, err)
	}
	if n, err := s.AbortIncompleteUploads(t.Context(), "", time.Hour); err != nil || n != 0 {
		t.Fatalf("abort older than an hour: %d, %v; want 0", n, err)
	}
	if n, err := s.AbortIncompleteUploads(t.Context(), "", 0); err != nil || n != 2 {
		t.Fatalf("abort all: %d, %v; want 2", n, err)
	}
	wantNoUploads(t, s, "after gc")
	out, err := admin.ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil || len(out.Uploads) != 1 || aws.ToString(out.Uploads[0].Key) != "other/c" {
		t.Fatalf("upload outside the prefix must survive: %+v, %v", out, err)
	}
}

// TestEncryptionAndOwnerHeaders checks what is sent, recorded at the HTTP
// client, not what the server does with it: a local server may ignore
// SSE-KMS (versitygw does). versitygw does check the expected owner: a
// bucket's owner is the access key that created it.
func TestEncryptionAndOwnerHeaders(t *testing.T) {
	sv := testServer(t)
	bucket := newBucket(t, sv.admin(t))
	const kms = "arn:aws:kms:us-east-1:111122223333:key/0000-test"
	owner := sv.access
	rec := newRecorder()
	s, err := s3.New(t.Context(), sv.config(t), "s3://"+bucket+"/enc", s3.Options{
		PartSize: s3.MinPartSize, KMSKeyID: kms, KMSBucketKey: true, ExpectedBucketOwner: owner, UsePathStyle: true,
		CopyThreshold: 5 << 20, CopyPartSize: 5 << 20, ClientOptions: []func(*awss3.Options){rec.wrap},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	big := payload(s3.MinPartSize + 1)
	put(t, s, "small", []byte("abc"))
	put(t, s, "big", big)
	if got := get(t, s, "big"); !bytes.Equal(got, big) {
		t.Fatal("read back differs")
	}
	if err := s.Copy(ctx, "small", "small-copy"); err != nil {
		t.Fatal(err)
	}
	if err := s.Copy(ctx, "big", "big-copy"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "big-copy"); err != nil {
		t.Fatal(err)
	}
	if err := s.List(ctx, "", func(storage.Object) error { return nil }); err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "aborted", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AbortIncompleteUploads(ctx, "", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "small"); err != nil {
		t.Fatal(err)
	}

	ops := rec.byOp()
	for _, op := range []string{"HeadBucket", "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
		"AbortMultipartUpload", "GetObject", "HeadObject", "CopyObject", "UploadPartCopy", "ListObjectsV2",
		"ListMultipartUploads", "DeleteObject"} {
		if len(ops[op]) == 0 {
			t.Errorf("no %s request was made", op)
		}
	}
	for op, reqs := range ops {
		for _, q := range reqs {
			h := q.header
			if got := h.Get("X-Amz-Expected-Bucket-Owner"); got != owner {
				t.Errorf("%s %s: expected-bucket-owner %q, want %q", op, q.url, got, owner)
			}
			sse, key, bk := h.Get("X-Amz-Server-Side-Encryption"), h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"),
				h.Get("X-Amz-Server-Side-Encryption-Bucket-Key-Enabled")
			switch op {
			case "PutObject", "CreateMultipartUpload", "CopyObject":
				if sse != "aws:kms" || key != kms || bk != "true" {
					t.Errorf("%s: SSE %q, key %q, bucket key %q; want aws:kms, %s, true", op, sse, key, bk, kms)
				}
			default:
				// S3 rejects SSE headers on UploadPart and friends.
				if sse != "" || key != "" {
					t.Errorf("%s carries SSE headers %q %q", op, sse, key)
				}
			}
			if op == "CopyObject" || op == "UploadPartCopy" {
				if got := h.Get("X-Amz-Source-Expected-Bucket-Owner"); got != owner {
					t.Errorf("%s: source-expected-bucket-owner %q, want %q", op, got, owner)
				}
			}
		}
	}
	// The server enforces the owner: another account's id is refused.
	if _, err := s3.New(ctx, sv.config(t), "s3://"+bucket, s3.Options{ExpectedBucketOwner: "999999999999", UsePathStyle: true}); err == nil {
		t.Error("New with a wrong expected bucket owner succeeded")
	}
}

// breakingClient cuts off the first response to a GET whose Range is
// target after 1,000 bytes, the way a dropped connection does.
type breakingClient struct {
	next   awss3.HTTPClient
	target string
	broke  atomic.Int64
	gets   atomic.Int64
}

func (c *breakingClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if err == nil && r.Method == http.MethodGet && r.Header.Get("Range") == c.target {
		c.gets.Add(1)
		if c.broke.Add(1) == 1 {
			resp.Body = brokenBody{io.LimitReader(resp.Body, 1000), resp.Body}
		}
	}
	return resp, err
}

type brokenBody struct {
	r io.Reader
	io.Closer
}

func (b brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func TestPartBodyCutOffIsRefetched(t *testing.T) {
	sv := testServer(t)
	bc := &breakingClient{target: fmt.Sprintf("bytes=%d-%d", s3.MinPartSize, 2*s3.MinPartSize-1)}
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{
		ClientOptions: []func(*awss3.Options){func(o *awss3.Options) { bc.next = o.HTTPClient; o.HTTPClient = bc }},
	})
	data := payload(3 * s3.MinPartSize)
	put(t, s, "x", data)
	if got := get(t, s, "x"); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	if bc.gets.Load() != 2 {
		t.Fatalf("%d GETs of the broken part, want 2 (the cut-off one and the retry)", bc.gets.Load())
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{Region: "us-east-1", Endpoint: "http://127.0.0.1:1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		uri string
		o   s3.Options
	}{
		{"file:///tmp/lake", s3.Options{}},
		{"s3://", s3.Options{}},
		{"s3://bucket/a//b", s3.Options{}},
		{"s3://bucket", s3.Options{PartSize: 5 << 20}},
		{"s3://bucket", s3.Options{CopyPartSize: 1 << 20}},
	} {
		if _, err := s3.New(t.Context(), cfg, c.uri, c.o); err == nil {
			t.Errorf("New(%q, %+v) succeeded", c.uri, c.o)
		}
	}
}

func TestNewChecksBucket(t *testing.T) {
	sv := testServer(t)
	_, err := s3.New(t.Context(), sv.config(t), "s3://tierflow-no-such-bucket-here/p", s3.Options{UsePathStyle: true})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFound" && ae.ErrorCode() != "NoSuchBucket" {
		t.Fatalf("New on a missing bucket: %v, want S3's NotFound", err)
	}
	// Text: the message a user reads names the bucket (no error type carries it).
	if !strings.Contains(err.Error(), "tierflow-no-such-bucket-here") {
		t.Errorf("New on a missing bucket: %v does not name the bucket", err)
	}
}

func TestUpperCaseSHA256Accepted(t *testing.T) {
	sv := testServer(t)
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{})
	for _, size := range []int{10, 2*s3.MinPartSize + 3} {
		data := payload(size)
		sum := sha256.Sum256(data)
		if err := storage.Put(t.Context(), s, "k", bytes.NewReader(data), storage.PutOptions{SHA256: strings.ToUpper(hex.EncodeToString(sum[:]))}); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
	}
}

// TestRequestsCounted: the store counts every request it sends (the cost
// ledger's S3 requests): New's HeadBucket, then one PutObject, one
// HeadObject and one GetObject for a small object.
func TestRequestsCounted(t *testing.T) {
	sv := testServer(t)
	s := newStore(t, sv.config(t), "s3://"+newBucket(t, sv.admin(t)), s3.Options{})
	ctx := t.Context()
	if got := s.Requests(); got != 1 {
		t.Fatalf("after New: %d requests, want 1 (HeadBucket)", got)
	}
	if err := storage.Put(ctx, s, "k", bytes.NewReader([]byte("hello")), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(rc)
	rc.Close()
	if got := s.Requests(); got < 4 {
		t.Errorf("after put, stat and get: %d requests, want at least 4", got)
	}
}
