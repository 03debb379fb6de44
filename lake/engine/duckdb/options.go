package duckdb

import (
	"errors"

	"github.com/rs/zerolog"
)

// What both builds declare: with DuckDB (cgo) and without (noduckdb.go).

// ErrNoDuckDB is what New, OpenMemory and the rest return in a build
// without DuckDB (CGO_ENABLED=0 or the noduckdb tag); a build with DuckDB
// never returns it.
var ErrNoDuckDB = errors.New("duckdb: this binary was built without DuckDB (noduckdb tag or CGO_ENABLED=0); derived tiers need the AWS engine (Athena) or a cgo build")

// DefaultMemoryLimit bounds DuckDB when Options.MemoryLimit is empty; larger
// intermediate results spill to the temp directory.
const DefaultMemoryLimit = "2GB"

// Options configure an Engine.
type Options struct {
	// Threads DuckDB may use; 0 means one per CPU.
	Threads int
	// MemoryLimit is DuckDB's memory_limit, e.g. "2GB"; empty means
	// DefaultMemoryLimit.
	MemoryLimit string
	// TempDir is where DuckDB spills; empty means a fresh directory under
	// os.TempDir, removed by Close.
	TempDir string
	// Log receives one debug line per statement; the zero value logs nothing.
	Log zerolog.Logger
}

// NamedSelect is a SELECT whose result becomes table Table.
type NamedSelect struct {
	Table, SQL string
}
