// Package engine defines the query engine that builds derived (tier 3)
// tables: CREATE TABLE AS SELECT over catalog tables. Athena on AWS, DuckDB
// locally; both run the same SELECT (the common subset of Trino and DuckDB).
//
// Reruns: every engine writes the same row set (the same rows, each as
// often) when the same CTAS runs again over the same data; the conformance
// suite checks it. Only the local DuckDB engine also writes the same file
// names and bytes, whatever its thread count (its rows are sorted by every
// column before the write). Athena picks the file split and the row order
// per run, so its reruns are compared by rows, not bytes. Either way the
// SELECT must be deterministic itself: a LIMIT without a total ORDER BY or
// a floating-point sum can change with the engine's parallelism.
package engine

import (
	"context"
	"errors"

	"github.com/tierflow/tierflow/lake/catalog"
)

// Errors of a CTAS an engine refuses before it runs anything; the message
// around them says what to change.
var (
	// ErrUnsupported: the CTAS asks for what the engine cannot do (DuckDB
	// has no Hive bucketing and writes only Parquet; Athena opens at most
	// 100 writers per statement).
	ErrUnsupported = errors.New("engine: not supported")
	// ErrOutsideLake: CTAS.Location is not below the engine's lake (or is
	// its root).
	ErrOutsideLake = errors.New("engine: location is not below the lake")
	// ErrNotEmpty: CTAS.Location already holds objects.
	ErrNotEmpty = errors.New("engine: location is not empty")
)

// CTAS is one derived table to build.
type CTAS struct {
	Database string // catalog database of both the sources and the result
	Table    string // name of the table to create
	SQL      string // the SELECT, naming catalog tables unqualified or as db.table
	// Location is the storage URI the result is written under
	// (external_location); it must be empty or absent.
	Location      string
	Format        string // "parquet" (default)
	Compression   string // "snappy" (default)
	PartitionedBy []string
	BucketedBy    []string
	BucketCount   int
	// Sources are the catalog tables the SQL reads, "db.table" or "table"
	// (then in Database). An engine that cannot discover them itself (the
	// local one has no ListTables to go by) exposes exactly these.
	Sources []string
	// Inputs override source tables: the engine exposes a view named like
	// each Input's table over exactly its partitions (e.g. a run's staged,
	// not yet published partition), so derived tables are built before
	// anything is published. An Input shadows a Source of the same name.
	Inputs []Input
}

// Input is a source table restricted to the given partitions.
type Input struct {
	Table      catalog.Table
	Partitions []catalog.Partition
}

// Result describes a finished CTAS.
type Result struct {
	QueryID          string           // engine's id for the statement (Athena QueryExecutionId)
	Rows             int64            // rows written
	Columns          []catalog.Column // result schema in SELECT order, partition columns (last) included
	Files            []string         // object URIs written
	Bytes            int64            // bytes written
	DataScannedBytes int64            // bytes the engine read (billing basis on Athena)
	EngineMillis     int64            // engine execution time
	CostUSD          float64          // cost of the statement ($5/TB scanned, 10 MB minimum on Athena; 0 locally)
	SQL              string           // the full statement that ran
	InputTables      []string         // db.table of every table the SELECT read
}

// Engine runs CTAS statements.
type Engine interface {
	// CreateTableAs runs the statement and writes the result under
	// c.Location; registration (table and partitions) is the caller's.
	CreateTableAs(ctx context.Context, c CTAS) (Result, error)
	// Close releases the engine's resources.
	Close() error
}
