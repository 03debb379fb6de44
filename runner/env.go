package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	localcatalog "github.com/tierflow/tierflow/lake/catalog/local"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/lineage"
	locallineage "github.com/tierflow/tierflow/lake/lineage/local"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/runner/openlineage"
)

// Env is the set of backends one job runs against: storage, catalog,
// engine and lineage store, local or AWS, chosen from the lake URI.
type Env struct {
	Storage storage.Storage
	// Output is where the converter writes its many files at once: Storage
	// locally, Storage spooled through local disk on S3.
	Output      storage.Storage
	Catalog     catalog.Catalog
	Lineage     lineage.Store
	Log         zerolog.Logger
	CodeVersion string
	// Host and PID name this process in the month claims it takes (default:
	// the hostname and os.Getpid); a later command on the same host takes
	// over a claim whose process is gone.
	Host string
	PID  int
	// ExecutionAlive tells whether a Step Functions execution (a claim's
	// holder on AWS) still runs; nil where there is none to ask.
	ExecutionAlive func(ctx context.Context, arn string) Liveness
	// OpenLineage receives the runs' OpenLineage events (nil: none).
	OpenLineage *openlineage.Emitter

	newEngine func(context.Context) (engine.Engine, error)
	engine    engine.Engine
}

// requestCounter is a store that counts the requests it sends (S3).
type requestCounter interface{ Requests() int64 }

// Requests is how many requests the lake's storage has sent (0 locally:
// only S3 bills them).
func (e *Env) Requests() int64 {
	if c, ok := e.Storage.(requestCounter); ok {
		return c.Requests()
	}
	return 0
}

// Engine opens the query engine on first use (DuckDB start-up is not free
// and jobs without derived tables never need it).
func (e *Env) Engine(ctx context.Context) (engine.Engine, error) {
	if e.engine == nil {
		eng, err := e.newEngine(ctx)
		if err != nil {
			return nil, err
		}
		e.engine = eng
	}
	return e.engine, nil
}

// Close releases every backend.
func (e *Env) Close() error {
	e.OpenLineage.Close() // events still being sent first: it waits a bounded time
	var errs []error
	if e.engine != nil {
		errs = append(errs, e.engine.Close())
	}
	if e.Lineage != nil {
		errs = append(errs, e.Lineage.Close())
	}
	if c, ok := e.Storage.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// LakeForms are the lake roots tierflow accepts, for error messages.
const LakeForms = "file://DIR, a directory path (relative or absolute), or s3://bucket[/prefix]"

// schemeLike matches a string that starts like a URI ("s3:", "gs:",
// "file:"): one that is not file:// or s3:// is refused rather than taken
// for a directory (e.g. "s3:/bucket", one slash short, was once a local
// folder named "s3:").
var schemeLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// s3Bucket is a valid S3 bucket name (3–63 lowercase letters, digits, dots
// and hyphens, starting and ending with a letter or digit).
var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// LakeURI returns the lake root to use: the override if given, else the
// job's, as file:///abs/dir or s3://bucket/prefix. A relative path is
// resolved against the working directory. Anything else is refused with
// the accepted forms.
func LakeURI(spec *jobs.Spec, override string) (string, error) {
	u := spec.Lake
	if override != "" {
		u = override
	}
	if u == "" {
		return "", fmt.Errorf("job %s names no lake; pass --lake with %s", spec.Name, LakeForms)
	}
	lower := strings.ToLower(u)
	switch {
	case strings.HasPrefix(lower, "file://"):
		_, root, err := storage.ParseURI(u)
		if err != nil {
			return "", fmt.Errorf("lake %q: %w; use %s", u, err, LakeForms)
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			return "", fmt.Errorf("lake %q: %w", u, err)
		}
		return "file://" + abs, nil
	case strings.HasPrefix(lower, "s3://"):
		_, root, err := storage.ParseURI(u)
		if err != nil {
			return "", fmt.Errorf("lake %q: %w; use %s", u, err, LakeForms)
		}
		bucket, _, _ := strings.Cut(root, "/")
		if !s3Bucket.MatchString(bucket) || strings.Contains(bucket, "..") {
			return "", fmt.Errorf("lake %q: %q is not a valid S3 bucket name (3–63 lowercase letters, digits, dots and hyphens); use %s", u, bucket, LakeForms)
		}
		return "s3://" + root, nil
	case schemeLike.MatchString(u) && !(runtime.GOOS == "windows" && len(u) > 1 && u[1] == ':'):
		return "", fmt.Errorf("lake %q is not a lake root tierflow knows; use %s", u, LakeForms)
	default:
		abs, err := filepath.Abs(u)
		if err != nil {
			return "", fmt.Errorf("lake %q: %w", u, err)
		}
		return "file://" + abs, nil
	}
}

// ErrNoLake is returned (wrapped) by OpenExistingEnv when nothing has
// been written to the lake yet.
var ErrNoLake = errors.New("runner: no lake")

// OpenExistingEnv opens the backends of a lake that tierflow has already
// written to, creating nothing: the read-only commands (runs, status,
// lineage) use it, so a mistyped --lake is reported instead of becoming a
// new empty lake.
func OpenExistingEnv(ctx context.Context, spec *jobs.Spec, lakeURI string, log zerolog.Logger) (*Env, error) {
	if root, ok := strings.CutPrefix(lakeURI, "file://"); ok {
		db := filepath.Join(root, "_tierflow", "lineage.db")
		if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no lake at %s: no tierflow run has written there (check --lake or the job's lake): %w", root, ErrNoLake)
		} else if err != nil {
			return nil, fmt.Errorf("lake %s: %w", lakeURI, err)
		}
	}
	return OpenEnv(ctx, spec, lakeURI, log)
}

// OpenEnv opens the backends for lakeURI (see LakeURI).
func OpenEnv(ctx context.Context, spec *jobs.Spec, lakeURI string, log zerolog.Logger) (*Env, error) {
	if strings.HasPrefix(lakeURI, "s3://") {
		return openAWS(ctx, spec, lakeURI, log)
	}
	if !strings.HasPrefix(lakeURI, "file://") {
		return nil, fmt.Errorf("lake %s: use file://DIR or s3://bucket/prefix", lakeURI)
	}
	root := strings.TrimPrefix(lakeURI, "file://")
	st, err := file.New(root)
	if err != nil {
		return nil, fmt.Errorf("open lake %s: %w", lakeURI, err)
	}
	meta := filepath.Join(root, "_tierflow")
	if err := os.MkdirAll(meta, 0o755); err != nil {
		return nil, fmt.Errorf("open lake %s: %w", lakeURI, err)
	}
	cat, err := localcatalog.Open(filepath.Join(meta, "catalog.json"))
	if err != nil {
		return nil, fmt.Errorf("open local catalog: %w", err)
	}
	lin, err := locallineage.Open(filepath.Join(meta, "lineage.db"))
	if err != nil {
		return nil, fmt.Errorf("open local lineage store: %w", err)
	}
	env := &Env{Storage: st, Output: st, Catalog: cat, Lineage: lin, Log: log, CodeVersion: CodeVersion()}
	env.OpenLineage = newOpenLineage(ctx, spec, st, log, os.Getenv)
	env.newEngine = func(ctx context.Context) (engine.Engine, error) {
		return duckdb.New(ctx, cat, st, duckdb.Options{TempDir: filepath.Join(meta, "duckdb-tmp"), Log: log})
	}
	return env, nil
}

// Version is tierflow's release version: in the created_by of every
// Parquet file it writes, with the build (CodeVersion).
const Version = "0.3.0"

// CreatedBy is the Parquet created_by of this build, in parquet-mr's form.
func CreatedBy() string { return pqwrite.CreatedBy("tierflow", Version, CodeVersion()) }

// buildDate is set at link time (-X …/runner.buildDate=…) by builds that
// have no VCS information.
var buildDate string

// BuildDate is when the build's commit was made (VCS time) or the stamped
// build date; "" when unknown.
func BuildDate() string {
	if buildDate != "" {
		return buildDate
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				return s.Value
			}
		}
	}
	return ""
}

// invalidInput marks an error in what the user gave (a job spec, a month,
// a lake root): nothing was attempted.
type invalidInput struct{ error }

func (e invalidInput) Unwrap() error { return e.error }

// IsInvalidInput reports whether err comes from invalid input rather than
// from a failure while working.
func IsInvalidInput(err error) bool {
	var i invalidInput
	return errors.As(err, &i)
}

// buildVersion is set at link time (-X …/runner.buildVersion=…) by builds
// that have no VCS information, such as the container image's.
var buildVersion string

// CodeVersion is the version the build was stamped with, or the VCS
// revision the binary was built from, or the module version, or "dev".
func CodeVersion() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		return rev
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "dev"
}
