package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tierflow/tierflow/lake/mototest"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/s3"
)

// A rerun of a delivery whose tier-1 copy went to Deep Archive (the
// job's lifecycle) refuses before reading anything, naming the restore;
// a copy in Glacier Instant Retrieval is read as usual (moto's S3).
func TestTier1ArchivedRefused(t *testing.T) {
	cfg := mototest.Config(t)
	ctx := context.Background()
	admin := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	bucket := mototest.Name("tierflow-archive")
	if _, err := admin.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	st, err := s3.New(ctx, cfg, "s3://"+bucket, s3.Options{UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("the vendor's bytes")
	for key, class := range map[string]types.StorageClass{
		"intake/p.csv.gz": "", "tier1/ir/p.csv.gz": types.StorageClassGlacierIr, "tier1/deep/p.csv.gz": types.StorageClassDeepArchive,
	} {
		if _, err := admin.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: bytes.NewReader(body), StorageClass: class}); err != nil {
			t.Fatal(err)
		}
	}
	if _, n, err := copyHashed(ctx, st, Part{Key: "intake/p.csv.gz", Size: int64(len(body))}, "tier1/ir/p.csv.gz"); err != nil || n != int64(len(body)) {
		t.Errorf("tier-1 copy in GLACIER_IR: %d bytes, %v", n, err)
	}
	_, _, err = copyHashed(ctx, st, Part{Key: "intake/p.csv.gz", Size: int64(len(body))}, "tier1/deep/p.csv.gz")
	if !errors.Is(err, storage.ErrArchived) {
		t.Fatalf("tier-1 copy in DEEP_ARCHIVE: %v, want ErrArchived", err)
	}
	for _, want := range []string{"tier-1 copy of this delivery is archived", "s3://" + bucket + "/tier1/deep/p.csv.gz", "DEEP_ARCHIVE",
		"aws s3api restore-object --bucket " + bucket + " --key tier1/deep/p.csv.gz", "48 hours"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
}
