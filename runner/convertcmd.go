package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// ConvertCommandOptions are the convert command's.
type ConvertCommandOptions struct {
	Job, Part, Out, Meta string
	Log                  zerolog.Logger
	Stdout               io.Writer
	Progress             bool
}

// ConvertCommand converts one part URI into Parquet under the out URI and
// prints the part's manifest as JSON.
func ConvertCommand(ctx context.Context, o ConvertCommandOptions) error {
	spec, err := LoadJob(o.Job)
	if err != nil {
		return err
	}
	src, srcKey, err := OpenURI(ctx, o.Part)
	if err != nil {
		return fmt.Errorf("--part: %w", err)
	}
	dst, outKey, err := OpenURI(ctx, o.Out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	metaKey := strings.TrimSuffix(outKey, "/") + "/_tierflow"
	if o.Meta != "" {
		mst, k, err := OpenURI(ctx, o.Meta)
		if err != nil {
			return fmt.Errorf("--meta: %w", err)
		}
		if mst.URI() != dst.URI() {
			return fmt.Errorf("--meta %s and --out %s must be in the same store", o.Meta, o.Out)
		}
		metaKey = k
	}
	opts := container.Options{Spec: spec, Part: PartName(srcKey), Logger: o.Log}
	if o.Progress {
		bar := newProgressBar(os.Stderr, opts.Part)
		defer bar.Finish()
		opts.Progress = bar.Update
	}
	m, err := container.Convert(ctx, opts, src, srcKey, dst, dirKey(outKey), dirKey(metaKey))
	if m != nil {
		enc := json.NewEncoder(o.Stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(m); encErr != nil && err == nil {
			err = encErr
		}
	}
	return err
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
// file:///a/b/c → (file store at /, "a/b/c").
func OpenURI(ctx context.Context, uri string) (storage.Storage, string, error) {
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
	case strings.Contains(uri, "://"):
		return nil, "", fmt.Errorf("%s: unsupported scheme in this build", uri)
	default:
		return OpenURI(ctx, "file://"+uri)
	}
}
