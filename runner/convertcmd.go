package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/lake/storage/s3"
	"github.com/tierflow/tierflow/lake/storage/spool"
)

// ConvertPartOptions are ConvertPart's: the job, the part's URI, the out
// URI and, when not under out, the URI of the manifest and rejects.
type ConvertPartOptions struct {
	Job, Part, Out, Meta string
	Log                  zerolog.Logger
	Console              *Console // shows the part's progress when a terminal
}

// ConvertPart converts one part URI into Parquet under the out URI, outside
// any run, and returns the part's manifest; the manifest is valid (not
// nil) also for a part that failed after it was read.
func ConvertPart(ctx context.Context, o ConvertPartOptions) (*container.Manifest, error) {
	spec, err := jobs.Open(o.Job)
	if err != nil {
		return nil, err
	}
	src, srcKey, err := OpenURI(ctx, o.Part, spec.AWS, o.Log)
	if err != nil {
		return nil, fmt.Errorf("--part: %w", err)
	}
	dst, outKey, err := OpenURI(ctx, o.Out, spec.AWS, o.Log)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	metaKey := strings.TrimSuffix(outKey, "/") + "/_tierflow"
	if o.Meta != "" {
		mst, k, err := OpenURI(ctx, o.Meta, spec.AWS, o.Log)
		if err != nil {
			return nil, fmt.Errorf("--meta: %w", err)
		}
		if mst.URI() != dst.URI() {
			return nil, fmt.Errorf("--meta %s and --out %s must be in the same store", o.Meta, o.Out)
		}
		metaKey = k
	}
	if _, remote := dst.(*s3.Store); remote {
		// 60 bucket files open at once: stage them on local disk.
		dir := spec.Convert.SpillDir
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "tierflow-spool")
		}
		if dst, err = spool.New(dst, dir); err != nil {
			return nil, err
		}
	}
	spec.Convert.Workers, _ = SizeWorkers(ctx, spec, os.Getenv, nil, o.Log)
	opts := container.Options{Spec: spec, Part: jobs.PartName(srcKey), Logger: o.Log, CreatedBy: CreatedBy()}
	if a := startProgress(o.Console, "convert"); a != nil {
		a.Plan([]Part{{Name: opts.Part}}, 0)
		a.Stage("convert")
		opts.Progress = func(done, total int64) { a.PartRead(0, done, total) }
		defer a.close()
	}
	return container.Convert(ctx, opts, src, srcKey, dst, dirKey(outKey), dirKey(metaKey))
}

// dirKey is a key prefix ending in "/" ("" for the root).
func dirKey(k string) string {
	k = strings.Trim(k, "/")
	if k == "" {
		return ""
	}
	return k + "/"
}

// OpenURI opens the store that holds uri and returns the key of uri in it:
// file:///a/b/c → (file store at /, "a/b/c"); s3://b/k → (bucket b, "k"),
// with the job's KMS key and bucket owner on every write.
func OpenURI(ctx context.Context, uri string, a jobs.AWS, log zerolog.Logger) (storage.Storage, string, error) {
	switch {
	case strings.HasPrefix(uri, "file://"):
		p, err := filepath.Abs(strings.TrimPrefix(uri, "file://"))
		if err != nil {
			return nil, "", err
		}
		st, err := file.New("/")
		if err != nil {
			return nil, "", err
		}
		return st, strings.TrimPrefix(p, "/"), nil
	case strings.HasPrefix(uri, "s3://"):
		bucket, key, _ := strings.Cut(strings.TrimPrefix(uri, "s3://"), "/")
		cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: a.Region, Logger: awsconfig.ZerologLogger(log)})
		if err != nil {
			return nil, "", err
		}
		st, err := s3.New(ctx, cfg, "s3://"+bucket, s3.Options{
			UsePathStyle:        awsconfig.PathStyle(os.Getenv),
			KMSKeyID:            a.KMSKeyID,
			KMSBucketKey:        a.KMSKeyID != "",
			ExpectedBucketOwner: a.ExpectedBucketOwner,
		})
		if err != nil {
			return nil, "", err
		}
		return st, key, nil
	case strings.Contains(uri, "://"):
		return nil, "", fmt.Errorf("%s: unsupported scheme (use file:// or s3://)", uri)
	default:
		return OpenURI(ctx, "file://"+uri, a, log)
	}
}
