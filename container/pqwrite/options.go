package pqwrite

import (
	"cmp"
	"errors"
	"fmt"
	"runtime/debug"
)

// Defaults of Options, parquet-mr's where it has one.
const (
	// DefaultPageBytes bounds a data page's uncompressed values.
	DefaultPageBytes = 1 << 20
	// DefaultPageRows bounds a data page's rows (parquet-mr's
	// parquet.page.row.count.limit): pages small enough for the page
	// index to skip most of a row group.
	DefaultPageRows = 20_000
	// DefaultColumnIndexTruncate is the length, in bytes, string bounds
	// are truncated to in the column index (parquet-mr's
	// parquet.columnindex.truncate.length).
	DefaultColumnIndexTruncate = 64
	// DefaultStatsTruncate is parquet-mr's parquet.statistics.truncate.length:
	// chunk statistics are written whole, and left out when min and max
	// together take maxStatsSize bytes or more (see Options.StatsTruncate).
	DefaultStatsTruncate = 1<<31 - 1
	// DefaultBloomFPP is the false positive probability bloom filters are
	// sized for (parquet-mr's parquet.bloom.filter.fpp).
	DefaultBloomFPP = 0.01
	// MaxBloomBytes caps a bloom filter (parquet-mr's
	// parquet.bloom.filter.max.bytes).
	MaxBloomBytes = 1 << 20
)

// maxStatsSize is parquet-mr's ParquetMetadataConverter.MAX_STATS_SIZE:
// chunk statistics whose min and max take this many bytes are not
// written, rather than written truncated, because old readers take a
// chunk's min and max for exact values.
const maxStatsSize = 4096

// Options tune a Writer. The zero value takes every default.
type Options struct {
	// CreatedBy is the footer's created_by, in parquet-mr's form
	// "<app> version <version> (build <hash>)" (see CreatedBy); empty:
	// DefaultCreatedBy.
	CreatedBy string
	// PageBytes and PageRows bound each data page: a page is cut when its
	// uncompressed values reach PageBytes or its rows PageRows (0: the
	// defaults).
	PageBytes int
	PageRows  int
	// ColumnIndexTruncate is the length string bounds are truncated to in
	// the column index (0: DefaultColumnIndexTruncate).
	ColumnIndexTruncate int
	// StatsTruncate is the length string min/max are truncated to in the
	// chunk statistics, marked inexact when they are (0:
	// DefaultStatsTruncate, no truncation).
	StatsTruncate int
	// BloomFilter lists the columns (schema indices) given a split-block
	// bloom filter in every row group.
	BloomFilter []int
	// BloomFPP is the false positive probability the filters are sized
	// for (0: DefaultBloomFPP).
	BloomFPP float64
}

// CreatedBy formats a created_by the way parquet-mr writes its own
// ("parquet-mr version 1.13.1 (build db4183109d5b734ec5930d870cdae161e408ddba)"),
// so that readers parsing it (parquet-mr's VersionParser, Trino, Spark)
// find an application, a version and a build.
func CreatedBy(app, version, build string) string {
	if version == "" {
		version = "dev"
	}
	if build == "" {
		return fmt.Sprintf("%s version %s", app, version)
	}
	return fmt.Sprintf("%s version %s (build %s)", app, version, build)
}

// DefaultCreatedBy names tierflow with the module version and VCS
// revision the binary was built from, when it has them.
var DefaultCreatedBy = func() string {
	version, build := "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			version = v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				build = s.Value
			}
		}
	}
	return CreatedBy("tierflow", version, build)
}()

// withDefaults checks o against schema and fills in its defaults.
func (o Options) withDefaults(s *Schema) (Options, error) {
	if o.CreatedBy == "" {
		o.CreatedBy = DefaultCreatedBy
	}
	// Zero or less: the default.
	o.PageBytes = cmp.Or(max(o.PageBytes, 0), DefaultPageBytes)
	o.PageRows = cmp.Or(max(o.PageRows, 0), DefaultPageRows)
	o.ColumnIndexTruncate = cmp.Or(max(o.ColumnIndexTruncate, 0), DefaultColumnIndexTruncate)
	o.StatsTruncate = cmp.Or(max(o.StatsTruncate, 0), DefaultStatsTruncate)
	if o.BloomFPP == 0 {
		o.BloomFPP = DefaultBloomFPP
	}
	if o.BloomFPP <= 0 || o.BloomFPP >= 1 {
		return o, fmt.Errorf("pqwrite: bloom filter fpp %v: want 0 < fpp < 1", o.BloomFPP)
	}
	for _, c := range o.BloomFilter {
		if c < 0 || c >= len(s.cols) {
			return o, fmt.Errorf("pqwrite: bloom filter column %d: schema has %d columns", c, len(s.cols))
		}
		if s.cols[c].phys == Boolean {
			return o, errors.New("pqwrite: bloom filter on boolean column " + s.cols[c].name)
		}
	}
	return o, nil
}
