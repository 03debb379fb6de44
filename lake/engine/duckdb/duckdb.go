//go:build cgo && !noduckdb

// Package duckdb is the local query engine for derived tiers: it runs a CTAS
// SELECT with embedded DuckDB over views that carry the catalog's table names
// and writes the result as Snappy Parquet under the CTAS location of a
// file:// lake.
//
// Every catalog table named in CTAS.Sources becomes a view "<db>"."<table>":
// the UNION ALL over the table's partitions of read_parquet over the
// partition location's files, projected onto the catalog columns (with their
// catalog types) plus the partition keys as typed constants. Files are
// listed like Hive lists them: direct children of the location whose names
// do not start with "_" or ".". A partition without files contributes zero
// rows, a column missing from a partition's files reads as NULL.
//
// The result is written with COPY ... (FORMAT parquet): files part-N.parquet
// directly under the location (rolling over at about 512 MB), or one file
// per partition under col=value/ directories with PartitionedBy (partition
// columns last in the SELECT and not stored in the files, as Athena does).
// Column names are lowercased; DuckDB types Athena would not produce for the
// same SQL are cast (sum(int) is HUGEINT in DuckDB, bigint in Trino).
//
// The files are a function of the result's rows: the same CTAS over the
// same inputs writes the same file names and bytes, whatever the thread
// count. The rows are sorted by every column (NULLs last, then the sign
// bit of float columns, since -0.0 = 0.0) into a temporary table with all
// threads, and written from it with one thread, because DuckDB writes in
// parallel, in no fixed order, whenever a COPY rolls files over or
// partitions, ORDER BY or not. The SELECT's own ORDER BY is therefore not
// kept. The cost is a full sort of the result (spilled to the temp
// directory past the memory limit) and a single-threaded Parquet encoding.
// Floating-point aggregates (sum, avg of doubles) can still differ in the
// last bits between thread counts: DuckDB adds in the order its threads
// finish. The Parquet created_by names the DuckDB version, and nothing
// else in the files depends on the run (no time, no random name).
//
// Differences from Athena, by design or not yet done:
//   - bucketed_by/bucket_count is refused: DuckDB has no Hive bucketing.
//   - DataScannedBytes and CostUSD are 0.
//   - an unpartitioned result with no rows is one empty Parquet file.
//   - partition directory names are DuckDB's escaping of the values (a space
//     becomes %20, Hive leaves it); NULL becomes __HIVE_DEFAULT_PARTITION__
//     as in Hive.
//   - the row order is the sort above, not the SELECT's ORDER BY (Athena
//     keeps neither: its order and file split vary between runs).
//
// The build needs cgo; with CGO_ENABLED=0 or the noduckdb tag, New returns
// an error and nothing of DuckDB is linked.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/storage"
)

// Engine runs CTAS statements with an in-memory DuckDB over a file:// lake.
// It implements engine.Engine. CreateTableAs calls run one at a time: DuckDB
// parallelises each statement itself.
type Engine struct {
	db       *sql.DB
	cat      catalog.Catalog
	st       storage.Storage
	lakeDir  string // local path of st.URI()
	threads  int    // DuckDB's threads setting
	log      zerolog.Logger
	ownTemp  string        // temp dir created by New, removed by Close
	sem      chan struct{} // one CTAS (or DefineViews) at a time
	views    []string      // qualified views the last call created
	close    sync.Once
	closeErr error
}

var _ engine.Engine = (*Engine)(nil)

// New opens an in-memory DuckDB bounded by opts that reads the tables of cat
// from st, which must be a file:// storage.
func New(ctx context.Context, cat catalog.Catalog, st storage.Storage, opts Options) (*Engine, error) {
	lakeDir, err := localPath(st.URI())
	if err != nil {
		return nil, err
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	memLimit := opts.MemoryLimit
	if memLimit == "" {
		memLimit = DefaultMemoryLimit
	}
	tempDir, ownTemp := opts.TempDir, ""
	if tempDir == "" {
		if tempDir, err = os.MkdirTemp("", "tierflow-duckdb-"); err != nil {
			return nil, fmt.Errorf("duckdb: temp dir: %w", err)
		}
		ownTemp = tempDir
	}
	db, err := open(threads, memLimit, tempDir)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		if db != nil {
			_ = db.Close()
		}
		if ownTemp != "" {
			_ = os.RemoveAll(ownTemp)
		}
		return nil, fmt.Errorf("duckdb: open (threads=%d, memory_limit=%s, temp_directory=%s): %w", threads, memLimit, tempDir, err)
	}
	return &Engine{
		db:      db,
		cat:     cat,
		st:      st,
		lakeDir: lakeDir,
		threads: threads,
		log:     opts.Log,
		ownTemp: ownTemp,
		sem:     make(chan struct{}, 1),
	}, nil
}

// open returns an in-memory DuckDB with the given bounds. Extension
// auto-loading is off: the parquet extension is linked in, and anything
// else would be a download attempt at query time.
func open(threads int, memLimit, tempDir string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("threads", strconv.Itoa(threads))
	q.Set("memory_limit", memLimit)
	q.Set("temp_directory", tempDir)
	q.Set("autoinstall_known_extensions", "false")
	q.Set("autoload_known_extensions", "false")
	// The default, but CTAS relies on it: a sorted CREATE TABLE AS keeps
	// its order (see sortAndCopy).
	q.Set("preserve_insertion_order", "true")
	conn, err := duckdbdriver.NewConnector("?"+q.Encode(), initConn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// initConn applies the per-connection settings: timestamps are wall-clock
// UTC (Hive timestamps have no zone), and footers are cached between the
// DESCRIBE of a partition and the query that reads it.
func initConn(ex driver.ExecerContext) error {
	for _, s := range []string{"SET TimeZone = 'UTC'", "SET parquet_metadata_cache = true"} {
		if _, err := ex.ExecContext(context.Background(), s, nil); err != nil {
			return fmt.Errorf("duckdb: %s: %w", s, err)
		}
	}
	return nil
}

// OpenMemory returns a connection to a fresh in-memory DuckDB with default
// settings (UTC time zone). Tests use it as an independent Parquet reader.
func OpenMemory() (*sql.DB, error) {
	conn, err := duckdbdriver.NewConnector("", initConn)
	if err != nil {
		return nil, fmt.Errorf("duckdb: open in-memory: %w", err)
	}
	return sql.OpenDB(conn), nil
}

// Query runs a query on the engine's DuckDB; the views of the last
// CreateTableAs or DefineViews are visible under their qualified names. It
// is not isolated from a concurrent CreateTableAs replacing those views.
func (e *Engine) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := e.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: query %q: %w", firstLine(query), err)
	}
	return rows, nil
}

// Close releases DuckDB and removes the temp directory New created.
func (e *Engine) Close() error {
	e.close.Do(func() {
		e.closeErr = e.db.Close()
		if e.ownTemp != "" {
			e.closeErr = errors.Join(e.closeErr, os.RemoveAll(e.ownTemp))
		}
	})
	return e.closeErr
}

// localPath turns a file:// lake URI into an absolute local path.
func localPath(uri string) (string, error) {
	scheme, root, err := storage.ParseURI(uri)
	if err != nil {
		return "", fmt.Errorf("duckdb: lake: %w", err)
	}
	if scheme != "file" {
		return "", fmt.Errorf("%w: the local DuckDB engine needs a file:// lake, got %q", engine.ErrUnsupported, uri)
	}
	abs, err := filepath.Abs(filepath.FromSlash(root))
	if err != nil {
		return "", fmt.Errorf("duckdb: lake %q: %w", uri, err)
	}
	return abs, nil
}

// firstLine is the first non-blank line of a statement, for error messages.
func firstLine(s string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 120 {
				l = l[:120] + "…"
			}
			return l
		}
	}
	return ""
}

// quoteIdent quotes a DuckDB identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteString quotes a DuckDB string literal.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Version is the linked DuckDB library's version, e.g. "v1.5.6" ("" if it
// cannot be read).
func Version() string {
	db, err := OpenMemory()
	if err != nil {
		return ""
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SELECT version()").Scan(&v); err != nil {
		return ""
	}
	return v
}
