package s3

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// Copy copies src to dst server-side: CopyObject up to CopyThreshold,
// multipart UploadPartCopy above it. The source is pinned by its ETag
// (x-amz-copy-source-if-match), so a source overwritten during the copy
// fails the copy instead of producing a mix.
func (s *Store) Copy(ctx context.Context, src, dst string) error {
	if err := s.begin(ctx, "copy", src); err != nil {
		return err
	}
	if err := s.begin(ctx, "copy to", dst); err != nil {
		return err
	}
	head, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: &s.bucket, Key: aws.String(s.Key(src)), ExpectedBucketOwner: s.owner(),
	})
	if err != nil {
		return s.fail(ctx, "copy", src, err)
	}
	size := aws.ToInt64(head.ContentLength)
	if size > s.o.CopyThreshold {
		err = s.copyMultipart(ctx, src, dst, head)
	} else {
		sse, kms, bk := s.sse()
		_, err = s.client.CopyObject(ctx, &awss3.CopyObjectInput{
			Bucket: &s.bucket, Key: aws.String(s.Key(dst)), CopySource: s.copySource(src),
			CopySourceIfMatch:   head.ETag,
			ExpectedBucketOwner: s.owner(), ExpectedSourceBucketOwner: s.owner(),
			ServerSideEncryption: sse, SSEKMSKeyId: kms, BucketKeyEnabled: bk,
		})
	}
	if err != nil {
		return s.fail(ctx, "copy "+s.ObjectURI(src)+" to", dst, err)
	}
	return nil
}

// copyMultipart copies a large object in CopyPartSize ranges, Concurrency
// at a time, and aborts the upload on any failure.
func (s *Store) copyMultipart(ctx context.Context, src, dst string, head *awss3.HeadObjectOutput) (err error) {
	size, ps := aws.ToInt64(head.ContentLength), s.o.CopyPartSize
	if n := (size + ps - 1) / ps; n > maxParts {
		return fmt.Errorf("%d bytes need %d parts of %d; raise CopyPartSize", size, n, ps)
	}
	sse, kms, bk := s.sse()
	// A multipart copy does not carry the source's metadata over the way
	// CopyObject does: copy it explicitly.
	created, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: aws.String(s.Key(dst)), ExpectedBucketOwner: s.owner(),
		ServerSideEncryption: sse, SSEKMSKeyId: kms, BucketKeyEnabled: bk,
		ContentType: head.ContentType, ContentEncoding: head.ContentEncoding, Metadata: head.Metadata,
	})
	if err != nil {
		return fmt.Errorf("create multipart upload: %w", err)
	}
	id := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, aerr := s.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
			Bucket: &s.bucket, Key: aws.String(s.Key(dst)), ExpectedBucketOwner: s.owner(), UploadId: id,
		})
		if aerr != nil && errorCode(aerr) != "NoSuchUpload" {
			err = fmt.Errorf("%w (and abort multipart upload %s: %w)", err, aws.ToString(id), aerr)
		}
	}()
	nparts := int((size + ps - 1) / ps)
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.o.Concurrency)
	for i := range nparts {
		g.Go(func() error {
			off := int64(i) * ps
			end := min(off+ps, size) - 1
			out, err := s.client.UploadPartCopy(gctx, &awss3.UploadPartCopyInput{
				Bucket: &s.bucket, Key: aws.String(s.Key(dst)), UploadId: id, PartNumber: aws.Int32(int32(i + 1)),
				CopySource: s.copySource(src), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
				CopySourceIfMatch:   head.ETag,
				ExpectedBucketOwner: s.owner(), ExpectedSourceBucketOwner: s.owner(),
			})
			if err != nil {
				return fmt.Errorf("upload part copy %d (bytes %d-%d): %w", i+1, off, end, err)
			}
			var etag *string
			if out.CopyPartResult != nil {
				etag = out.CopyPartResult.ETag
			}
			parts[i] = types.CompletedPart{ETag: etag, PartNumber: aws.Int32(int32(i + 1))}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: aws.String(s.Key(dst)), ExpectedBucketOwner: s.owner(),
		UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload %s: %w", aws.ToString(id), err)
	}
	return nil
}

// Upload is an incomplete multipart upload.
type Upload struct {
	Key       string // storage key (relative to the store's prefix)
	UploadID  string
	Initiated time.Time
}

// ListIncompleteUploads returns the multipart uploads under prefix that
// were neither completed nor aborted, in key order.
func (s *Store) ListIncompleteUploads(ctx context.Context, prefix string) ([]Upload, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: list uploads %s: %w", s.ObjectURI(prefix), err)
	}
	var ups []Upload
	p := awss3.NewListMultipartUploadsPaginator(s.client, &awss3.ListMultipartUploadsInput{
		Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix), ExpectedBucketOwner: s.owner(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3: list uploads %s: %w", s.ObjectURI(prefix), ctxErr(ctx, err))
		}
		for _, u := range page.Uploads {
			key, ok := strings.CutPrefix(aws.ToString(u.Key), s.prefix)
			if !ok {
				continue
			}
			ups = append(ups, Upload{Key: key, UploadID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
	}
	slices.SortStableFunc(ups, func(a, b Upload) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Initiated.Compare(b.Initiated))
	})
	return ups, nil
}

// AbortIncompleteUploads aborts the incomplete multipart uploads under
// prefix that were initiated more than olderThan ago (0: all of them) and
// returns how many it aborted. It is the garbage collector for uploads left
// behind by killed processes; a live writer's upload younger than olderThan
// is left alone.
func (s *Store) AbortIncompleteUploads(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	ups, err := s.ListIncompleteUploads(ctx, prefix)
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	for _, u := range ups {
		if olderThan > 0 && !u.Initiated.Before(cutoff) {
			continue
		}
		_, err := s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
			Bucket: &s.bucket, Key: aws.String(s.Key(u.Key)), ExpectedBucketOwner: s.owner(), UploadId: aws.String(u.UploadID),
		})
		if err != nil && errorCode(err) != "NoSuchUpload" {
			return n, fmt.Errorf("s3: abort upload %s of %s: %w", u.UploadID, s.ObjectURI(u.Key), ctxErr(ctx, err))
		}
		n++
	}
	return n, nil
}
