package s3_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tierflow/tierflow/lake/mototest"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/s3"
	"github.com/tierflow/tierflow/lake/storage/storagetest"
)

// TestConformanceMoto runs the suite against moto's S3, every write
// SSE-KMS under a key made by moto's KMS, with the expected bucket owner
// set to moto's account; then checks that every object the suite left is
// encrypted under that key, as S3 reports it.
func TestConformanceMoto(t *testing.T) {
	cfg := mototest.Config(t)
	ctx := t.Context()
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("tierflow storage conformance")})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	admin := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	bucket := newBucket(t, admin)
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return newStore(t, cfg, fmt.Sprintf("s3://%s/conf/%03d", bucket, n.Add(1)), s3.Options{
			Concurrency: 4, KMSKeyID: keyARN, KMSBucketKey: true, ExpectedBucketOwner: mototest.AccountID,
		})
	})

	objects := 0
	p := awss3.NewListObjectsV2Paginator(admin, &awss3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			objects++
			h, err := admin.HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: &bucket, Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			if h.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(h.SSEKMSKeyId) != keyARN {
				t.Errorf("%s: encryption %q key %q, want aws:kms %s", aws.ToString(o.Key), h.ServerSideEncryption, aws.ToString(h.SSEKMSKeyId), keyARN)
			}
		}
	}
	if objects == 0 {
		t.Error("the suite left no object to check the encryption of")
	}
}
