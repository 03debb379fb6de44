//go:build cgo && !noduckdb

package duckdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/storage"
)

// targetFileBytes is where an unpartitioned result rolls over to the next
// file (DuckDB checks between row groups). DuckDB cannot combine it with
// PARTITION_BY, so a partitioned result has one file per partition.
const targetFileBytes = "512MB"

// CreateTableAs runs c.SQL over views of c.Sources and c.Inputs and writes the result as
// Parquet under c.Location, which must be below the lake and empty. It
// registers nothing: the caller registers the table and its partitions.
// Calls run one at a time.
func (e *Engine) CreateTableAs(ctx context.Context, c engine.CTAS) (engine.Result, error) {
	res, err := e.createTableAs(ctx, c)
	if err != nil {
		return engine.Result{}, fmt.Errorf("duckdb: CTAS %s.%s (%s): %w", c.Database, c.Table, firstLine(c.SQL), err)
	}
	return res, nil
}

// checkCTAS refuses what the local engine cannot build before anything
// runs; it returns the SELECT without its trailing ';' and the Parquet
// codec.
func checkCTAS(c engine.CTAS) (query, codec string, err error) {
	query = strings.TrimRight(strings.TrimSpace(c.SQL), "; \t\r\n")
	if c.Database == "" || c.Table == "" {
		return "", "", errors.New("database and table are required")
	}
	if query == "" {
		return "", "", errors.New("empty SQL")
	}
	if f := strings.ToLower(c.Format); f != "" && f != "parquet" {
		return "", "", fmt.Errorf("%w: format %q: the local engine writes parquet only", engine.ErrUnsupported, c.Format)
	}
	codec, err = compression(c.Compression)
	if err != nil {
		return "", "", err
	}
	if len(c.BucketedBy) > 0 || c.BucketCount > 0 {
		return "", "", fmt.Errorf("%w: bucketed_by %v / bucket_count %d: the local DuckDB engine has no Hive bucketing (yet); run this table on Athena or drop the bucketing", engine.ErrUnsupported, c.BucketedBy, c.BucketCount)
	}
	return query, codec, nil
}

func (e *Engine) createTableAs(ctx context.Context, c engine.CTAS) (engine.Result, error) {
	query, codec, err := checkCTAS(c)
	if err != nil {
		return engine.Result{}, err
	}
	srcs, err := parseSources(c.Database, c.Sources)
	if err != nil {
		return engine.Result{}, err
	}
	srcs = withInputs(c.Database, srcs, c.Inputs)
	outKey, err := e.keyOf(c.Location)
	if err != nil {
		return engine.Result{}, err
	}
	outDir := filepath.Join(e.lakeDir, filepath.FromSlash(outKey))

	if err := e.acquire(ctx); err != nil {
		return engine.Result{}, err
	}
	defer e.release()
	start := time.Now()

	err = e.st.List(ctx, outKey+"/", func(o storage.Object) error {
		return fmt.Errorf("%w: %s holds %s", engine.ErrNotEmpty, c.Location, o.Key)
	})
	if err != nil {
		return engine.Result{}, err
	}

	conn, err := e.db.Conn(ctx)
	if err != nil {
		return engine.Result{}, fmt.Errorf("connection: %w", err)
	}
	defer conn.Close()
	if err := e.defineViews(ctx, conn, c.Database, srcs); err != nil {
		return engine.Result{}, err
	}
	if _, err := conn.ExecContext(ctx, "USE "+quoteIdent(strings.ToLower(c.Database))); err != nil {
		return engine.Result{}, fmt.Errorf("use %s: %w", c.Database, err)
	}
	// The pooled connection outlives this call; leave it as it was found.
	defer conn.ExecContext(context.Background(), "USE memory.main") //nolint:errcheck

	// Describing the wrapped query first proves c.SQL is one SELECT (a
	// second statement cannot hide inside parentheses); describing it bare
	// gives the names as written (the wrapper renames duplicates).
	wrapped, err := describe(ctx, conn, "SELECT * FROM (\n"+query+"\n) AS q")
	if err != nil {
		return engine.Result{}, bindError(err, srcs)
	}
	bare, err := describe(ctx, conn, query)
	if err != nil {
		return engine.Result{}, bindError(err, srcs)
	}
	if len(bare) != len(wrapped) {
		return engine.Result{}, fmt.Errorf("query has %d columns bare and %d as a subquery", len(bare), len(wrapped))
	}
	cols, proj, err := resultColumns(bare, wrapped, c.PartitionedBy)
	if err != nil {
		return engine.Result{}, err
	}

	sortStmt, copyStmt := copyStatements(query, codec, outDir, cols, proj, c.PartitionedBy)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return engine.Result{}, fmt.Errorf("location %s: %w", c.Location, err)
	}
	res, err := e.sortAndCopy(ctx, conn, sortStmt, copyStmt)
	if err != nil {
		// Nothing may be left for a retry to trip over; the location was
		// empty before.
		return engine.Result{}, errors.Join(err, os.RemoveAll(outDir))
	}
	res.QueryID = newQueryID()
	res.Columns = cols
	res.SQL = sortStmt + ";\n" + copyStmt
	res.EngineMillis = time.Since(start).Milliseconds()
	for _, s := range srcs {
		res.InputTables = append(res.InputTables, s.String())
	}
	e.log.Debug().Str("table", c.Database+"."+c.Table).Str("query_id", res.QueryID).
		Int64("rows", res.Rows).Int("files", len(res.Files)).Int64("bytes", res.Bytes).
		Int64("ms", res.EngineMillis).Msg("duckdb: CTAS done")
	return res, nil
}

// copyStatements returns the statements that write the result: the
// SELECT's rows projected by proj and sorted by every column into a temp
// table, then copied to outDir as Parquet, one directory per partition.
func copyStatements(query, codec, outDir string, cols []catalog.Column, proj, partitionedBy []string) (sortStmt, copyStmt string) {
	opts := []string{"FORMAT parquet", "COMPRESSION " + codec, "FILENAME_PATTERN 'part-{i}'"}
	if len(partitionedBy) > 0 {
		keys := make([]string, len(partitionedBy))
		for i, k := range partitionedBy {
			keys[i] = quoteIdent(strings.ToLower(k))
		}
		opts = append(opts, "PARTITION_BY ("+strings.Join(keys, ", ")+")")
	} else {
		opts = append(opts, "FILE_SIZE_BYTES '"+targetFileBytes+"'")
	}
	opts = append(opts, "RETURN_STATS")
	sortStmt = "CREATE TEMP TABLE " + sortedTable + " AS\nSELECT * FROM (SELECT " + strings.Join(proj, ", ") +
		" FROM (\n" + query + "\n) AS q) AS r\nORDER BY " + strings.Join(totalOrder(cols), ", ")
	copyStmt = "COPY " + sortedTable + " TO " + quoteString(outDir) + " (" + strings.Join(opts, ", ") + ")"
	return sortStmt, copyStmt
}

// sortedTable holds a CTAS result between its sort and its write.
const sortedTable = "temp.main.tierflow_ctas_sorted"

// sortAndCopy makes the files a function of the result rows alone, the same
// for every run and thread count. DuckDB writes in parallel, in the order
// its threads finish, whenever COPY has FILE_SIZE_BYTES or PARTITION_BY,
// whatever the ORDER BY, so the rows are sorted into a temporary table with
// every thread (CREATE TABLE AS keeps the sorted order), and the table is
// written with one thread, which scans and writes it in that order.
func (e *Engine) sortAndCopy(ctx context.Context, conn *sql.Conn, sortStmt, copyStmt string) (res engine.Result, err error) {
	if _, err := conn.ExecContext(ctx, sortStmt); err != nil {
		return engine.Result{}, err
	}
	defer func() {
		_, derr := conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+sortedTable)
		err = errors.Join(err, derr)
	}()
	// threads is global in DuckDB: a concurrent Query runs with one thread
	// meanwhile; CTAS and DefineViews wait for this one.
	if _, err := conn.ExecContext(ctx, "SET threads = 1"); err != nil {
		return engine.Result{}, err
	}
	defer func() {
		_, terr := conn.ExecContext(context.WithoutCancel(ctx), "SET threads = "+strconv.Itoa(e.threads))
		err = errors.Join(err, terr)
	}()
	return e.runCopy(ctx, conn, copyStmt)
}

// runCopy runs the COPY and sums its per-file statistics (RETURN_STATS:
// filename, count, file_size_bytes, ...).
func (e *Engine) runCopy(ctx context.Context, conn *sql.Conn, stmt string) (engine.Result, error) {
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return engine.Result{}, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return engine.Result{}, err
	}
	if len(names) < 3 || names[0] != "filename" || names[1] != "count" || names[2] != "file_size_bytes" {
		return engine.Result{}, fmt.Errorf("COPY returned columns %v, want filename, count, file_size_bytes first", names)
	}
	var res engine.Result
	rest := make([]any, len(names)-3)
	for rows.Next() {
		var (
			file        string
			count, size int64
		)
		ptrs := []any{&file, &count, &size}
		for i := range rest {
			ptrs = append(ptrs, &rest[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return engine.Result{}, err
		}
		rel, err := filepath.Rel(e.lakeDir, file)
		if err != nil || strings.HasPrefix(rel, "..") {
			return engine.Result{}, fmt.Errorf("COPY wrote %s outside the lake %s", file, e.lakeDir)
		}
		res.Files = append(res.Files, e.st.ObjectURI(filepath.ToSlash(rel)))
		res.Rows += count
		res.Bytes += size
	}
	if err := rows.Err(); err != nil {
		return engine.Result{}, err
	}
	sort.Strings(res.Files)
	return res, nil
}

// totalOrder is the ORDER BY that makes the written bytes a function of
// the result's rows alone: GROUP BY, joins and parallel scans emit rows in
// the order DuckDB's threads finish. Every column is a key, so rows that
// tie are equal, except floating-point zeros (-0.0 = 0.0, the bits
// differ): their sign bit is a key too. A float is sorted by an expression
// of it, not by itself: DuckDB writes a key column back from its
// normalised sort key, which turns -0.0 into 0.0. NULLs sort last
// explicitly, not by a setting. Duplicate rows need no tie-break: their
// bytes are the same either way.
func totalOrder(cols []catalog.Column) []string {
	keys := make([]string, 0, len(cols))
	var signs []string
	for _, c := range cols {
		ref := "r." + quoteIdent(c.Name)
		if c.Type == "double" || c.Type == "float" {
			signs = append(signs, "signbit("+ref+")")
			ref = "(" + ref + " + 0.0)"
		}
		keys = append(keys, ref+" ASC NULLS LAST")
	}
	return append(keys, signs...)
}

// resultColumns checks the result's names and types and builds the
// projection that writes them: lowercase Hive names, Hive-representable
// types, partition columns last.
func resultColumns(bare, wrapped []describedColumn, partitionedBy []string) ([]catalog.Column, []string, error) {
	cols := make([]catalog.Column, len(bare))
	proj := make([]string, len(bare))
	seen := map[string]int{}
	for i, b := range bare {
		name := strings.ToLower(b.name)
		if !hiveColumnRex.MatchString(name) {
			return nil, nil, fmt.Errorf("column %d is named %q, not a valid Hive column name: give it an alias (AS name)", i+1, b.name)
		}
		if j, dup := seen[name]; dup {
			return nil, nil, fmt.Errorf("column name %q is used by columns %d and %d", name, j+1, i+1)
		}
		seen[name] = i
		hive, cast, err := hiveType(wrapped[i].duck)
		if err != nil {
			return nil, nil, fmt.Errorf("column %s: %w", name, err)
		}
		expr := "q." + quoteIdent(wrapped[i].name)
		if cast != "" {
			expr = "CAST(" + expr + " AS " + cast + ")"
		}
		cols[i] = catalog.Column{Name: name, Type: hive}
		proj[i] = expr + " AS " + quoteIdent(name)
	}
	n := len(partitionedBy)
	if n == 0 {
		return cols, proj, nil
	}
	if n >= len(cols) {
		return nil, nil, fmt.Errorf("partitioned_by %v: the SELECT needs at least one column besides the partition columns", partitionedBy)
	}
	for i, k := range partitionedBy {
		if got := cols[len(cols)-n+i].Name; got != strings.ToLower(k) {
			return nil, nil, fmt.Errorf("partitioned_by %v: partition columns must be the last columns of the SELECT, in that order (column %d is %q, want %q)", partitionedBy, len(cols)-n+i+1, got, strings.ToLower(k))
		}
	}
	return cols, proj, nil
}

// bindError adds the view names to a catalog error, the likely cause of an
// unknown table.
func bindError(err error, srcs []source) error {
	if strings.Contains(err.Error(), "does not exist") {
		names := make([]string, len(srcs))
		for i, s := range srcs {
			names[i] = s.String()
		}
		return fmt.Errorf("%w (the tables defined are the CTAS sources: %v)", err, names)
	}
	return err
}

func compression(c string) (string, error) {
	switch strings.ToLower(c) {
	case "", "snappy":
		return "snappy", nil
	case "gzip", "zstd":
		return strings.ToLower(c), nil
	case "none", "uncompressed":
		return "uncompressed", nil
	}
	return "", fmt.Errorf("compression %q: want snappy, gzip, zstd or none", c)
}

func newQueryID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "duckdb-" + hex.EncodeToString(b[:])
}
