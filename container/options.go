package container

import (
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
)

// Options configures one part's conversion.
type Options struct {
	Spec   *jobs.Spec // schema, Source.Header, Source.NullMarkers, Output, Rejects, Convert
	Part   string     // part name used in output file names, e.g. "part-0001" ([A-Za-z0-9._-]+)
	Logger zerolog.Logger
	// Progress, when set, is called periodically (from pipeline
	// goroutines, never at once) with the part's progress in bytes of the
	// compressed input: reading it (pass 1) moves done to 30 % of total,
	// converting the rows (pass 2) the rest, about as the time goes.
	// total is -1 when the input size is unknown (then done is the
	// compressed bytes read, in pass 1 only).
	Progress func(done, total int64)
	// CreatedBy is the Parquet files' created_by, parquet-mr style
	// (pqwrite.CreatedBy); empty: pqwrite.DefaultCreatedBy.
	CreatedBy string

	chunkSize int  // decompressed bytes per parse chunk; 0 = 4 MiB (tests use tiny chunks)
	slowPaths bool // tests: parse every record with csvparse in both passes (the fast paths' oracle)
	compress  int  // tests: 1 compresses spilled runs, -1 does not, 0 decides by the part's size
	fanIn     int  // tests: runs merged at once (0: maxFanIn)
}

// Defaults applied when the spec leaves a setting at zero.
const (
	DefaultRowGroupBytes = 128 << 20
	DefaultMemoryBytes   = 1 << 30
	DefaultMaxRejectRows = 1000
	DefaultMaxRejectFrac = 0.001
	// chunkBytes is the decompressed size of one parse chunk: large enough
	// to amortise per-chunk work, small enough that the chunks and batches
	// in flight stay a small part of the memory budget.
	chunkBytes = 4 << 20
)
