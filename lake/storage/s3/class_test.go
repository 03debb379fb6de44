package s3_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tierflow/tierflow/lake/mototest"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/s3"
)

// Objects in a class that needs no restore read as usual; Deep Archive and
// Glacier Flexible Retrieval refuse with an ArchivedError naming the
// restore. moto implements storage classes and InvalidObjectState (moto
// 5.2.1), and restores (RestoreObject makes the object readable).
func TestStorageClassesMoto(t *testing.T) {
	cfg := mototest.Config(t)
	admin := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	bucket := newBucket(t, admin)
	st := newStore(t, cfg, "s3://"+bucket+"/lake", s3.Options{})
	ctx := t.Context()
	put := func(key string, class types.StorageClass) {
		t.Helper()
		if _, err := admin.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: aws.String("lake/" + key),
			Body: bytes.NewReader([]byte("part bytes")), StorageClass: class}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []types.StorageClass{"", types.StorageClassStandardIa, types.StorageClassGlacierIr, types.StorageClassIntelligentTiering} {
		key := "tier1/readable-" + strings.ToLower(string(c))
		put(key, c)
		o, err := st.Stat(ctx, key)
		want := string(c)
		if c == "" {
			want = storage.ClassStandard
		}
		if err != nil || o.StorageClass != want || o.Archived {
			t.Errorf("stat %s: %+v %v, want class %s, not archived", key, o, err, want)
		}
		rc, err := st.Open(ctx, key)
		if err != nil {
			t.Errorf("open %s: %v", key, err)
			continue
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "part bytes" {
			t.Errorf("%s read %q", key, b)
		}
	}
	for _, c := range []types.StorageClass{types.StorageClassDeepArchive, types.StorageClassGlacier} {
		key := "tier1/archived-" + strings.ToLower(string(c))
		put(key, c)
		o, err := st.Stat(ctx, key)
		if err != nil || o.StorageClass != string(c) || !o.Archived || o.Restoring {
			t.Errorf("stat %s: %+v %v, want class %s, archived", key, o, err, c)
		}
		_, err = st.Open(ctx, key)
		var ae *storage.ArchivedError
		if !errors.Is(err, storage.ErrArchived) || !errors.As(err, &ae) || ae.StorageClass != string(c) {
			t.Fatalf("open %s: %v, want an ArchivedError of class %s", key, err, c)
		}
		msg := err.Error()
		for _, want := range []string{"s3://" + bucket + "/lake/" + key, "storage class " + string(c),
			"aws s3api restore-object --bucket " + bucket + " --key lake/" + key} {
			if !strings.Contains(msg, want) {
				t.Errorf("the error lacks %q: %s", want, msg)
			}
		}
		// Listing tells the class too (cost at rest is counted from it).
		var listed string
		if err := st.List(ctx, key, func(o storage.Object) error { listed = o.StorageClass; return nil }); err != nil || listed != string(c) {
			t.Errorf("list %s: class %q %v", key, listed, err)
		}
	}
	// After a restore the Deep Archive object is readable again.
	key := "tier1/archived-deep_archive"
	if _, err := admin.RestoreObject(ctx, &awss3.RestoreObjectInput{Bucket: &bucket, Key: aws.String("lake/" + key),
		RestoreRequest: &types.RestoreRequest{Days: aws.Int32(1)}}); err != nil {
		t.Fatal(err)
	}
	o, err := st.Stat(ctx, key)
	if err != nil || o.Archived {
		t.Errorf("stat after restore: %+v %v, want readable", o, err)
	}
	if rc, err := st.Open(ctx, key); err != nil {
		t.Errorf("open after restore: %v", err)
	} else {
		rc.Close()
	}
}

// versitygw (posix backend) accepts a storage class on PUT and keeps
// none: every object is STANDARD and readable. Storage classes are tested
// on moto; this pins the difference (docs/aws.md §9).
func TestVersityIgnoresStorageClass(t *testing.T) {
	sv := testServer(t)
	admin := sv.admin(t)
	bucket := newBucket(t, admin)
	st := newStore(t, sv.config(t), "s3://"+bucket, s3.Options{})
	ctx := t.Context()
	if _, err := admin.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"),
		Body: bytes.NewReader([]byte("x")), StorageClass: types.StorageClassDeepArchive}); err != nil {
		t.Fatal(err)
	}
	o, err := st.Stat(ctx, "k")
	if err != nil || o.StorageClass != storage.ClassStandard || o.Archived {
		t.Errorf("stat of a DEEP_ARCHIVE put on versitygw: %+v %v; if versitygw now keeps classes, test the refusal on it too", o, err)
	}
}
