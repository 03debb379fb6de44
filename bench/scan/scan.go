// Package scan computes how many bytes Athena (Trino) bills a query for
// when it reads a set of Parquet files: the compressed size of the column
// chunks it must read, after bucket pruning and row-group min/max skipping,
// computed from the files' footers alone; and, with the files' page
// indexes, the bytes of the pages it must read.
//
// The model, per query:
//   - a file whose Hive bucket (taken from its name, with Trino's patterns)
//     cannot hold the value of an equality predicate on the bucket column is
//     not read at all (bucket pruning);
//   - in the other files, a row group whose min/max statistics of a
//     predicate column exclude the predicate's value is not read;
//   - in the row groups left, the chunks of every column the query
//     references (projection and predicates) count with their
//     ColumnChunk.MetaData.TotalCompressedSize; other columns do not.
//
// Result.Bytes ignores footers, page indexes and dictionary-based
// filtering: Athena's bytes-scanned figure is dominated by the column
// chunks, and counting whole chunks is what a reader without page-level
// skipping reads. Result.PageBytes models a reader that skips pages
// (Trino's column-index filtering):
//   - in each row group read, the rows a predicate admits are those of the
//     pages of its column whose column-index min/max hold the value (a
//     NULL page holds none); a row group where no page does is not read;
//   - of each referenced column, only the pages holding some admitted row
//     count (their offset-index compressed size; rows mapped through
//     first_row_index), plus the chunk's dictionary page when any does;
//   - a chunk without a page index counts whole.
//
// Only string equality predicates are modelled (the case study's
// state = 'CA'); that is all the benchmark needs.
package scan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/tierflow/tierflow/container/hive"
)

// File is one Parquet file's name, footer and page index.
type File struct {
	Name string // base name; bucketed layouts carry the bucket in it
	Size int64
	Meta *format.FileMetaData
	// ColumnIndexes and OffsetIndexes are the page index, entry
	// rowGroup*columns+column; empty when the file has none.
	ColumnIndexes []format.ColumnIndex
	OffsetIndexes []format.OffsetIndex
}

// Open reads the footer of the Parquet file at path.
func Open(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipBloomFilters(true))
	if err != nil {
		return File{}, fmt.Errorf("parquet footer of %s: %w", path, err)
	}
	return File{Name: filepath.Base(path), Size: st.Size(), Meta: pf.Metadata(), ColumnIndexes: pf.ColumnIndexes(), OffsetIndexes: pf.OffsetIndexes()}, nil
}

// OpenAll reads the footers of every file at paths.
func OpenAll(paths []string) ([]File, error) {
	out := make([]File, 0, len(paths))
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Bucketing declares a layout Hive-bucketed (bucketing version 1) on one
// string column.
type Bucketing struct {
	Column string
	Count  int
}

// Layout is a table's files and, if bucketed, how.
type Layout struct {
	Files     []File
	Bucketing *Bucketing // nil: not bucketed, no file can be pruned by name
}

// Eq is the predicate Column = Value on a string column.
type Eq struct {
	Column string
	Value  string
}

// Query is what a query reads: every column it references and the
// conjunction of its equality predicates.
type Query struct {
	Columns []string // case-insensitive; predicate columns are added automatically
	Where   []Eq
}

// Result is the bytes a query scans and how they were found.
type Result struct {
	Bytes               int64 `json:"bytes"`
	Files               int   `json:"files"`                   // files in the layout
	FilesPruned         int   `json:"files_pruned"`            // skipped by bucket pruning
	RowGroups           int   `json:"row_groups"`              // in the files not pruned
	RowGroupsSkipped    int   `json:"row_groups_skipped"`      // skipped by min/max statistics
	ChunksRead          int   `json:"chunks_read"`             // column chunks counted
	RowsInRowGroupsRead int64 `json:"rows_in_row_groups_read"` // rows of the row groups read
	RowsInLayout        int64 `json:"rows_in_layout"`
	BucketOfValue       int   `json:"bucket_of_value"` // -1 when no bucket pruning applied

	// PageBytes is Bytes for a reader that also skips pages with the page
	// index (see the package comment).
	PageBytes          int64 `json:"page_bytes"`
	RowGroupsSkippedCI int   `json:"row_groups_skipped_by_column_index"` // of those read by Bytes
	Pages              int   `json:"pages"`                              // data pages of the referenced chunks read by Bytes
	PagesRead          int   `json:"pages_read"`                         // of which PageBytes reads
	RowsAdmitted       int64 `json:"rows_admitted"`                      // rows of the pages whose bounds hold the value
}

// Scanned computes the bytes q scans over l. It fails when a referenced
// column is missing from a file (a typo would otherwise read as zero bytes)
// or when a bucketed layout has a file name Trino could not map to a
// bucket (Trino would then fall back to legacy mode and not prune by name;
// the benchmark layouts must not depend on that).
func Scanned(l Layout, q Query) (Result, error) {
	cols := map[string]bool{}
	for _, c := range q.Columns {
		cols[strings.ToLower(c)] = true
	}
	for _, p := range q.Where {
		cols[strings.ToLower(p.Column)] = true
	}
	res := Result{Files: len(l.Files), BucketOfValue: -1}

	// Bucket pruning applies when a predicate is on the bucket column.
	wantBucket := -1
	if b := l.Bucketing; b != nil {
		if b.Count <= 0 {
			return res, fmt.Errorf("scan: bucket count %d", b.Count)
		}
		for _, p := range q.Where {
			if strings.EqualFold(p.Column, b.Column) {
				wantBucket = HiveBucket(p.Value, b.Count)
			}
		}
	}
	res.BucketOfValue = wantBucket

	for _, f := range l.Files {
		if f.Meta == nil {
			return res, fmt.Errorf("scan: file %s has no footer", f.Name)
		}
		for _, rg := range f.Meta.RowGroups {
			res.RowsInLayout += rg.NumRows
		}
	}
	for _, f := range l.Files {
		if wantBucket >= 0 {
			bk, ok := FileBucket(f.Name)
			if !ok {
				return res, fmt.Errorf("scan: bucketed file %s does not match Trino's bucket file name patterns", f.Name)
			}
			if bk != wantBucket {
				res.FilesPruned++
				continue
			}
		}
		for rgi, rg := range f.Meta.RowGroups {
			res.RowGroups++
			byName := map[string]*format.ColumnChunk{}
			for i := range rg.Columns {
				cc := &rg.Columns[i]
				byName[strings.ToLower(strings.Join(cc.MetaData.PathInSchema, "."))] = cc
			}
			for c := range cols {
				if byName[c] == nil {
					return res, fmt.Errorf("scan: file %s row group %d has no column %q", f.Name, rgi, c)
				}
			}
			if skipByStats(rg, byName, q.Where) {
				res.RowGroupsSkipped++
				continue
			}
			res.RowsInRowGroupsRead += rg.NumRows
			for c := range cols {
				res.Bytes += byName[c].MetaData.TotalCompressedSize
				res.ChunksRead++
			}
			pageScan(&res, f, rgi, rg, byName, cols, q.Where)
		}
	}
	return res, nil
}

// rowRange is rows [from, to) of a row group.
type rowRange struct{ from, to int64 }

// pageIndex returns the column and offset index of column chunk cc of row
// group rgi, or nil when f has none.
func pageIndex(f File, rgi int, rg format.RowGroup, cc *format.ColumnChunk) (*format.ColumnIndex, *format.OffsetIndex) {
	for i := range rg.Columns {
		if &rg.Columns[i] != cc {
			continue
		}
		j := rgi*len(rg.Columns) + i
		if j >= len(f.ColumnIndexes) || j >= len(f.OffsetIndexes) || len(f.OffsetIndexes[j].PageLocations) == 0 {
			return nil, nil
		}
		return &f.ColumnIndexes[j], &f.OffsetIndexes[j]
	}
	return nil, nil
}

// pageEnd is the row after page k of oi in a row group of n rows.
func pageEnd(oi *format.OffsetIndex, k int, n int64) int64 {
	if k+1 < len(oi.PageLocations) {
		return oi.PageLocations[k+1].FirstRowIndex
	}
	return n
}

// pageScan adds the row group's bytes under the page-skipping model to res.
func pageScan(res *Result, f File, rgi int, rg format.RowGroup, byName map[string]*format.ColumnChunk, cols map[string]bool, where []Eq) {
	// Rows admitted by every predicate; nil: all rows.
	var admitted []rowRange
	for _, p := range where {
		ci, oi := pageIndex(f, rgi, rg, byName[strings.ToLower(p.Column)])
		if ci == nil || len(ci.MinValues) != len(oi.PageLocations) {
			continue
		}
		v := []byte(p.Value)
		var rs []rowRange
		for k := range oi.PageLocations {
			if ci.NullPages[k] || bytes.Compare(v, ci.MinValues[k]) < 0 || bytes.Compare(v, ci.MaxValues[k]) > 0 {
				continue
			}
			rs = append(rs, rowRange{oi.PageLocations[k].FirstRowIndex, pageEnd(oi, k, rg.NumRows)})
		}
		if admitted == nil {
			admitted = rs
		} else {
			admitted = intersect(admitted, rs)
		}
		if admitted == nil {
			admitted = []rowRange{}
		}
	}
	if admitted == nil {
		admitted = []rowRange{{0, rg.NumRows}}
	}
	if len(admitted) == 0 {
		res.RowGroupsSkippedCI++
	}
	for _, r := range admitted {
		res.RowsAdmitted += r.to - r.from
	}
	for c := range cols {
		cc := byName[c]
		_, oi := pageIndex(f, rgi, rg, cc)
		if oi == nil {
			res.PageBytes += cc.MetaData.TotalCompressedSize
			continue
		}
		res.Pages += len(oi.PageLocations)
		var n int64
		for k, loc := range oi.PageLocations {
			if overlaps(admitted, rowRange{loc.FirstRowIndex, pageEnd(oi, k, rg.NumRows)}) {
				n += int64(loc.CompressedPageSize)
				res.PagesRead++
			}
		}
		if n > 0 {
			// The dictionary page, ahead of the first data page.
			start := cc.MetaData.DataPageOffset
			if d := cc.MetaData.DictionaryPageOffset; d > 0 && d < start {
				start = d
			}
			n += oi.PageLocations[0].Offset - start
		}
		res.PageBytes += n
	}
}

// intersect returns the rows in both sorted, disjoint range lists.
func intersect(a, b []rowRange) []rowRange {
	var out []rowRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		from, to := max(a[i].from, b[j].from), min(a[i].to, b[j].to)
		if from < to {
			out = append(out, rowRange{from, to})
		}
		if a[i].to < b[j].to {
			i++
		} else {
			j++
		}
	}
	return out
}

// overlaps reports whether r shares a row with a range of rs.
func overlaps(rs []rowRange, r rowRange) bool {
	for _, x := range rs {
		if x.from < r.to && r.from < x.to {
			return true
		}
	}
	return false
}

// skipByStats reports whether some predicate's value lies outside the row
// group's min/max of its column. Missing statistics never skip.
func skipByStats(rg format.RowGroup, byName map[string]*format.ColumnChunk, where []Eq) bool {
	for _, p := range where {
		cc := byName[strings.ToLower(p.Column)]
		if cc == nil {
			continue
		}
		st := cc.MetaData.Statistics
		lo, hi := st.MinValue, st.MaxValue
		if lo == nil || hi == nil {
			// The deprecated min/max fields sort byte arrays signed in old
			// writers; they are only trusted for ASCII values, where signed
			// and unsigned order agree.
			lo, hi = st.Min, st.Max
			if lo == nil || hi == nil || !ascii(lo) || !ascii(hi) || !ascii([]byte(p.Value)) {
				continue
			}
		}
		v := []byte(p.Value)
		if bytes.Compare(v, lo) < 0 || bytes.Compare(v, hi) > 0 {
			return true
		}
	}
	return false
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// HiveBucket is the Hive bucketing v1 bucket of a string value among n
// buckets, as Athena computes it for a string literal.
func HiveBucket(value string, n int) int {
	return hive.Bucket(hive.StringV1([]byte(value)), n)
}

// Trino's bucket file name patterns, tried in order; the whole name must
// match (BackgroundHiveSplitLoader.BUCKET_PATTERNS).
var bucketPatterns = []*regexp.Regexp{
	regexp.MustCompile(`^\d{8}_\d{6}_\d{5}_[a-z0-9]{5}_bucket-(\d+)(?:[-_.].*)?$`),
	regexp.MustCompile(`^(\d+)_\d+.*$`),
	regexp.MustCompile(`^bucket_(\d+)(_\d+)?$`),
}

// FileBucket maps a bucket file name to its bucket the way Trino does; ok
// is false when no pattern matches.
func FileBucket(name string) (bucket int, ok bool) {
	for _, re := range bucketPatterns {
		if m := re.FindStringSubmatch(name); m != nil {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				return 0, false
			}
			return n, true
		}
	}
	return 0, false
}
