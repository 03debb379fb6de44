package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
)

// Lake roots are file://, a path or s3://bucket/prefix; anything else is
// refused with the accepted forms, never taken for a local folder.
func TestLakeURIStrict(t *testing.T) {
	spec := &jobs.Spec{Name: "j"}
	wd, _ := os.Getwd()
	for _, c := range []struct{ in, want string }{
		{"file:///abs/lake", "file:///abs/lake"},
		{"file://./rel", "file://" + filepath.Join(wd, "rel")},
		{"FILE:///abs", "file:///abs"},
		{"/abs/lake/", "file:///abs/lake"},
		{"rel/lake", "file://" + filepath.Join(wd, "rel/lake")},
		{"s3://my-bucket/lake/", "s3://my-bucket/lake"},
		{"s3://my-bucket", "s3://my-bucket"},
	} {
		got, err := LakeURI(spec, c.in)
		if err != nil || got != c.want {
			t.Errorf("LakeURI(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"s3:/my-bucket/lake", "s3:my-bucket", "gs://bucket/x", "s3://", "s3://My_Bucket/x", "s3://ab/x", "file://", "https://example.com/lake", "c:lake"} {
		got, err := LakeURI(spec, in)
		// Text: the refusal lists the forms a user may give.
		if err == nil || !strings.Contains(err.Error(), LakeForms) {
			t.Errorf("LakeURI(%q) = %q, %v; want a refusal listing %s", in, got, err, LakeForms)
		}
	}
}

// runs, status and lineage on a lake nothing was written to say so and
// create nothing.
func TestReadOnlyCommandsCreateNoLake(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	ctx := context.Background()
	log := zerolog.Nop()
	for name, call := range map[string]func() error{
		"runs": func() error {
			_, err := Runs(ctx, "consumer-header", dir, "", log)
			return err
		},
		"lineage": func() error {
			_, err := Lineage(ctx, "consumer-header", dir, "consumer_ca", log)
			return err
		},
		"status": func() error {
			_, err := Status(ctx, StatusOptions{Job: "consumer-header", Lake: dir, Run: "r1", Log: log})
			return err
		},
	} {
		err := call()
		// Text: the message names the directory.
		if !errors.Is(err, ErrNoLake) || !strings.Contains(err.Error(), "no lake at "+dir) {
			t.Errorf("%s on a missing lake: %v", name, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s created %s", name, dir)
		}
	}
}
