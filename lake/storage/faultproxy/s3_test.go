package faultproxy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/faultproxy"
	"github.com/tierflow/tierflow/lake/storage/s3"
)

// TestFaultS3Store drives the S3 backend through the proxy in front of the
// local S3 server: multipart and single-PUT writes, parallel ranged and
// single-stream reads, listings and deletes, with every kind of fault
// injected. Everything must succeed and read back byte for byte.
func TestFaultS3Store(t *testing.T) {
	endpoint := os.Getenv("TIERFLOW_TEST_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TIERFLOW_TEST_S3_ENDPOINT is unset: .ci/run (or source .ci/services.sh) starts the local S3 server")
	}
	access, secret := os.Getenv("TIERFLOW_TEST_S3_ACCESS_KEY"), os.Getenv("TIERFLOW_TEST_S3_SECRET_KEY")
	p, err := faultproxy.Start(faultproxy.Config{
		Target: endpoint, Seed: 11, MaxPerRequest: 2, Delay: 50 * time.Millisecond, TrickleFor: 200 * time.Millisecond,
		Rules: []faultproxy.Rule{
			{Kind: faultproxy.ResetMidResponse, Rate: 0.25, Methods: []string{"GET"}},
			{Kind: faultproxy.SlowDown, Rate: 0.12},
			{Kind: faultproxy.InternalError, Rate: 0.08},
			{Kind: faultproxy.ResetBeforeResponse, Rate: 0.08},
			{Kind: faultproxy.Delay, Rate: 0.05},
			{Kind: faultproxy.Trickle, Rate: 0.2, Methods: []string{"GET"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := t.Context()
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{
		Region: "us-east-1", Endpoint: p.URL(), MaxBackoff: 100 * time.Millisecond,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	bucket := fmt.Sprintf("tierflow-faults-%d", time.Now().UnixNano())
	admin := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	if _, err := admin.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	st, err := s3.New(ctx, cfg, "s3://"+bucket+"/p", s3.Options{PartSize: s3.MinPartSize, Concurrency: 4, UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	objects := map[string][]byte{}
	for i, size := range []int{3*s3.MinPartSize + 12345, 0, 1, 3000, 1 << 20, 2 << 20, 5000, s3.MinPartSize + 1} {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		key := fmt.Sprintf("obj/%d", i)
		objects[key] = b
		if err := storage.Put(ctx, st, key, bytes.NewReader(b), storage.PutOptions{}); err != nil {
			t.Fatalf("put %s (%d bytes): %v", key, size, err)
		}
	}
	for round := range 3 {
		for _, key := range slices.Sorted(maps.Keys(objects)) {
			want := objects[key]
			got, err := readAll(ctx, st, key)
			if err != nil {
				t.Fatalf("round %d: read %s: %v", round, key, err)
			}
			if sha256.Sum256(got) != sha256.Sum256(want) {
				t.Fatalf("round %d: %s read back differs (%d vs %d bytes)", round, key, len(got), len(want))
			}
		}
		n := 0
		if err := st.List(ctx, "obj/", func(storage.Object) error { n++; return nil }); err != nil || n != len(objects) {
			t.Fatalf("round %d: list: %d objects, %v", round, n, err)
		}
	}
	big := objects["obj/0"]
	rc, err := st.OpenRange(ctx, "obj/0", 5, int64(len(big))-10)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, big[5:len(big)-5]) {
		t.Fatalf("ranged read: %d bytes, %v", len(got), err)
	}
	for key := range objects {
		if err := st.Delete(ctx, key); err != nil {
			t.Fatalf("delete %s: %v", key, err)
		}
	}
	if ups, err := st.ListIncompleteUploads(context.WithoutCancel(ctx), ""); err != nil || len(ups) != 0 {
		t.Errorf("incomplete uploads left: %v %v", ups, err)
	}
	_, _ = admin.DeleteBucket(context.WithoutCancel(ctx), &awss3.DeleteBucketInput{Bucket: aws.String(bucket)})

	s := p.Stats()
	t.Logf("%d requests, %d faults survived: %v; by operation %v", s.Requests, s.Total(), s.Injected, s.ByOp)
	for _, k := range faultproxy.Kinds {
		if s.Injected[k] == 0 {
			t.Errorf("no %s fault was injected; the test proves nothing about it", k)
		}
	}
}

// TestFaultS3EveryBodyBreaks: every GetObject response breaks off part-way
// (up to 60 faults): reads still complete, resuming where the body stopped.
func TestFaultS3EveryBodyBreaks(t *testing.T) {
	endpoint := os.Getenv("TIERFLOW_TEST_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("TIERFLOW_TEST_S3_ENDPOINT is unset: .ci/run (or source .ci/services.sh) starts the local S3 server")
	}
	access, secret := os.Getenv("TIERFLOW_TEST_S3_ACCESS_KEY"), os.Getenv("TIERFLOW_TEST_S3_SECRET_KEY")
	p, err := faultproxy.Start(faultproxy.Config{Target: endpoint, Seed: 5, MaxFaults: 60,
		Rules: []faultproxy.Rule{{Kind: faultproxy.ResetMidResponse, Rate: 1, Ops: []string{"GetObject"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := t.Context()
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{
		Region: "us-east-1", Endpoint: p.URL(), MaxBackoff: 50 * time.Millisecond,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	bucket := fmt.Sprintf("tierflow-breaks-%d", time.Now().UnixNano())
	admin := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	if _, err := admin.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	st, err := s3.New(ctx, cfg, "s3://"+bucket, s3.Options{PartSize: s3.MinPartSize, UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{1 << 20, 2*s3.MinPartSize + 777} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		key := fmt.Sprintf("o%d", size)
		if err := storage.Put(ctx, st, key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		before := p.Stats().Injected[faultproxy.ResetMidResponse]
		got, err := readAll(ctx, st, key)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back differs", size)
		}
		n := p.Stats().Injected[faultproxy.ResetMidResponse] - before
		t.Logf("%d-byte object read whole through %d broken bodies", size, n)
		if n < 2 {
			t.Errorf("only %d bodies broke: the test proves little", n)
		}
		_ = st.Delete(context.WithoutCancel(ctx), key)
	}
	_, _ = admin.DeleteBucket(context.WithoutCancel(ctx), &awss3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

func readAll(ctx context.Context, st storage.Storage, key string) ([]byte, error) {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestFaultS3NoLength: a response that is cut off after a 200 header with
// neither Content-Range nor Content-Length (what a proxy that fails before
// the body can send) must fail the read, not read as an empty object.
func TestFaultS3NoLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush() // chunked: no length, then an empty body
		}
	}))
	defer srv.Close()
	cfg, err := awsconfig.Load(t.Context(), awsconfig.Options{
		Region: "us-east-1", Endpoint: srv.URL, MaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3.New(t.Context(), cfg, "s3://b", s3.Options{UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := readAll(t.Context(), st, "k")
	if err == nil {
		t.Fatalf("read %d bytes and no error from a response without any length", len(b))
	}
	// Text: the message a user reads names the object (no error type carries it).
	if !strings.Contains(err.Error(), "s3://b/k") {
		t.Errorf("error %q does not name the object", err)
	}
}
