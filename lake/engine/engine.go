// Package engine defines the query engine that builds derived (tier 3)
// tables: CREATE TABLE AS SELECT over catalog tables. Athena on AWS, DuckDB
// locally; both run the same SELECT (the common subset of Trino and DuckDB).
package engine

import (
	"context"

	"github.com/tierflow/tierflow/lake/catalog"
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
}

// Result describes a finished CTAS.
type Result struct {
	QueryID          string           // engine's id for the statement (Athena QueryExecutionId)
	Rows             int64            // rows written
	Columns          []catalog.Column // result schema, as registered
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
	// CreateTableAs runs the statement, writes the result under
	// c.Location and registers the table in the catalog.
	CreateTableAs(ctx context.Context, c CTAS) (Result, error)
	// Close releases the engine's resources.
	Close() error
}
