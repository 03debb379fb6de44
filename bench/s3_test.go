package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/lake/storage/s3"
)

// s3BenchSize is the object read by BenchmarkS3Read.
const s3BenchSize = 256 << 20

// s3StreamLimit is the per-connection bandwidth of the "per-stream-limit"
// runs, in bytes per second: the order of what one S3 GET stream delivers
// inside a region, where the loopback server has no such limit.
const s3StreamLimit = 64e6

// BenchmarkS3Read measures the read throughput of one large object from the
// S3 server at TIERFLOW_TEST_S3_ENDPOINT (.ci/services.sh starts versitygw):
// one streamed GET, then the parallel ranged reader with 1, 4 and 8 GETs in
// flight (16 MiB parts, ReadAhead = parallelism). MB/s is reported through
// b.SetBytes. Each is run twice: against the loopback server as it is
// ("local", bound by CPU and memory copies), and with every response body
// throttled to s3StreamLimit ("per-stream-limit", bound by the number of
// streams, as against real S3).
func BenchmarkS3Read(b *testing.B) {
	endpoint := os.Getenv("TIERFLOW_TEST_S3_ENDPOINT")
	if endpoint == "" {
		b.Skip("TIERFLOW_TEST_S3_ENDPOINT is unset: .ci/run starts a local S3 server (or source .ci/services.sh)")
	}
	ctx := context.Background()
	var limit float64 // of the stores opened next
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{
		Region: "us-east-1", Endpoint: endpoint,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("TIERFLOW_TEST_S3_ACCESS_KEY"), os.Getenv("TIERFLOW_TEST_S3_SECRET_KEY"), ""),
	})
	if err != nil {
		b.Fatal(err)
	}
	admin := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	bucket := fmt.Sprintf("tierflow-bench-%d", time.Now().UnixNano())
	if _, err := admin.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		b.Fatal(err)
	}
	const key = "big.bin"
	b.Cleanup(func() {
		_, _ = admin.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(key)})
		if _, err := admin.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &bucket}); err != nil {
			b.Errorf("delete bucket %s: %v", bucket, err)
		}
	})
	open := func(o s3.Options) *s3.Store {
		o.UsePathStyle = true
		o.ClientOptions = append(o.ClientOptions, func(so *awss3.Options) {
			so.HTTPClient = throttledClient{next: so.HTTPClient, limit: limit}
		})
		s, err := s3.New(ctx, cfg, "s3://"+bucket, o)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	// Random bytes: nothing on the way can compress them.
	limit = 0
	if err := storage.Put(ctx, open(s3.Options{}), key, io.LimitReader(rand.Reader, s3BenchSize), storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, s *s3.Store) {
		b.SetBytes(s3BenchSize)
		for b.Loop() {
			rc, err := s.Open(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n != s3BenchSize {
				b.Fatalf("read %d bytes, %v", n, err)
			}
		}
	}
	for _, mode := range []struct {
		name  string
		limit float64
	}{{"local", 0}, {"per-stream-limit", s3StreamLimit}} {
		limit = mode.limit
		// PartSize as large as the object: OpenRange's single streamed GET.
		b.Run(mode.name+"/single-GET", func(b *testing.B) { run(b, open(s3.Options{PartSize: s3BenchSize})) })
		for _, n := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("%s/parallel=%d", mode.name, n), func(b *testing.B) {
				run(b, open(s3.Options{PartSize: s3.DefaultPartSize, Concurrency: n, ReadAhead: n}))
			})
		}
	}
}

// throttledClient limits every GET response body to limit bytes/s (0: no
// limit).
type throttledClient struct {
	next  awss3.HTTPClient
	limit float64
}

func (c throttledClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if err == nil && c.limit > 0 && r.Method == http.MethodGet {
		resp.Body = &slowBody{ReadCloser: resp.Body, limit: c.limit, start: time.Now()}
	}
	return resp, err
}

type slowBody struct {
	io.ReadCloser
	limit float64
	start time.Time
	n     int64
}

func (b *slowBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if d := time.Duration(float64(b.n)/b.limit*float64(time.Second)) - time.Since(b.start); d > 0 {
		time.Sleep(d)
	}
	return n, err
}

// BenchmarkConvertSource converts the same generated part (100,000 rows ×
// 406 columns) read from a local file and from the S3 server: the cost of
// reading the input from S3 instead of local disk. Output goes to a local
// directory in both cases. MB/s is of the compressed input.
func BenchmarkConvertSource(b *testing.B) {
	endpoint := os.Getenv("TIERFLOW_TEST_S3_ENDPOINT")
	if endpoint == "" {
		b.Skip("TIERFLOW_TEST_S3_ENDPOINT is unset: .ci/run starts a local S3 server (or source .ci/services.sh)")
	}
	ctx := context.Background()
	spec, err := jobs.Shipped("consumer-header")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{
		Region: "us-east-1", Endpoint: endpoint,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("TIERFLOW_TEST_S3_ACCESS_KEY"), os.Getenv("TIERFLOW_TEST_S3_SECRET_KEY"), ""),
	})
	if err != nil {
		b.Fatal(err)
	}
	admin := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	bucket := fmt.Sprintf("tierflow-bench-%d", time.Now().UnixNano())
	if _, err := admin.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		b.Fatal(err)
	}
	remote, err := s3.New(ctx, cfg, "s3://"+bucket, s3.Options{UsePathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	local, err := file.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer local.Close()
	objs, err := synth.Generate(ctx, local, spec, synth.Options{Rows: 100_000, Parts: 1, Seed: 1, Month: "2024-01"})
	if err != nil {
		b.Fatal(err)
	}
	key := objs[0].Key
	rc, err := local.Open(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	err = storage.Put(ctx, remote, key, rc, storage.PutOptions{})
	rc.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = storage.DeletePrefix(ctx, remote, "")
		_, _ = admin.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &bucket})
	})
	for _, src := range []struct {
		name string
		st   storage.Storage
	}{{"file", local}, {"s3", remote}} {
		b.Run(src.name, func(b *testing.B) {
			b.SetBytes(objs[0].Size)
			for i := range b.N {
				out := fmt.Sprintf("out/%s/%d/", src.name, i)
				m, err := container.Convert(ctx, container.Options{Spec: spec, Part: "part-0001"}, src.st, key, local, out+"data/", out+"meta/")
				if err != nil {
					b.Fatal(err)
				}
				if m.RowsWritten != 100_000 {
					b.Fatalf("%d rows written", m.RowsWritten)
				}
				_ = storage.DeletePrefix(ctx, local, out)
			}
		})
	}
}
