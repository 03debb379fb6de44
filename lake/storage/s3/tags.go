package s3

import (
	"context"
	"maps"
	"net/url"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// tagging is the x-amz-tagging form of tags (URL query encoding), nil for
// none.
func tagging(tags map[string]string) *string {
	if len(tags) == 0 {
		return nil
	}
	v := url.Values{}
	for k, t := range tags {
		v.Set(k, t)
	}
	return aws.String(v.Encode())
}

// Tag changes key's tags: each of tags is set, or removed when its value
// is "". The object's other tags are kept (PutObjectTagging replaces the
// whole set, so it is read first). Two Tag calls on one object must not
// race.
func (s *Store) Tag(ctx context.Context, key string, tags map[string]string) error {
	if err := s.begin(ctx, "tag", key); err != nil {
		return err
	}
	out, err := s.client.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{
		Bucket: &s.bucket, Key: aws.String(s.Key(key)), ExpectedBucketOwner: s.owner(),
	})
	if err != nil {
		return s.fail(ctx, "tag", key, err)
	}
	set := map[string]string{}
	for _, t := range out.TagSet {
		set[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	before := maps.Clone(set)
	for k, v := range tags {
		if v == "" {
			delete(set, k)
		} else {
			set[k] = v
		}
	}
	if maps.Equal(before, set) {
		return nil
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ts := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		ts = append(ts, types.Tag{Key: aws.String(k), Value: aws.String(set[k])})
	}
	if len(ts) == 0 {
		_, err = s.client.DeleteObjectTagging(ctx, &awss3.DeleteObjectTaggingInput{
			Bucket: &s.bucket, Key: aws.String(s.Key(key)), ExpectedBucketOwner: s.owner(),
		})
	} else {
		_, err = s.client.PutObjectTagging(ctx, &awss3.PutObjectTaggingInput{
			Bucket: &s.bucket, Key: aws.String(s.Key(key)), ExpectedBucketOwner: s.owner(),
			Tagging: &types.Tagging{TagSet: ts},
		})
	}
	if err != nil {
		return s.fail(ctx, "tag", key, err)
	}
	return nil
}
