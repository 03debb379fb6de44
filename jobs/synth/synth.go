// Package synth writes deterministic synthetic months of a job's input: gzip
// CSV parts shaped like the vendor's consumer header (skewed state mix, zip
// codes with leading zeros, names that need CSV quoting, rare multi-line
// fields, ≈30% empty attributes), so that the converter, the runner and the
// benchmarks can run at scale without the real, PII-laden file.
//
// The same spec, options and seed always give byte-identical parts; a row's
// content depends only on the seed and its index in the month, not on how
// the month is split into parts.
package synth

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"runtime"
	"sync"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/storage"
)

// Options describe one synthetic month.
type Options struct {
	Rows  int64  // total data rows of the month
	Parts int    // number of parts; rows are split evenly, the remainder to the first parts
	Seed  int64  // same seed ⇒ same bytes
	Month string // YYYY-MM: dates and ages are relative to it; Generate writes under its intake prefix
	// BadRowFraction of the rows (chosen deterministically, see BadRows)
	// are made invalid in one of the BadKind ways. 0 = every row is valid.
	BadRowFraction float64
	// CRLF ends records with \r\n instead of \n (line breaks inside quoted
	// fields stay \n).
	CRLF bool
	// Concurrency bounds the parts Generate writes at once; 0 = GOMAXPROCS.
	Concurrency int
	// GzipLevel for Generate, 1..9; 0 = 6, the gzip command's default. On the
	// consumer header, 6 gives ≈6.7× (like the real file's ≈7×) and 9 ≈7.0×
	// at a fifth of the speed.
	GzipLevel int
}

func (o Options) check() error {
	if o.Rows < 0 {
		return fmt.Errorf("synth: Rows %d < 0", o.Rows)
	}
	if o.Parts < 1 {
		return fmt.Errorf("synth: Parts %d < 1", o.Parts)
	}
	if _, err := jobs.ParseMonth(o.Month); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if !(o.BadRowFraction >= 0 && o.BadRowFraction <= 1) {
		return fmt.Errorf("synth: BadRowFraction %v is not within [0, 1]", o.BadRowFraction)
	}
	if o.GzipLevel < 0 || o.GzipLevel > 9 {
		return fmt.Errorf("synth: GzipLevel %d is not within 0..9", o.GzipLevel)
	}
	return nil
}

func (o Options) checkPart(part int) error {
	if part < 0 || part >= o.Parts {
		return fmt.Errorf("synth: part %d out of range 0..%d", part, o.Parts-1)
	}
	return nil
}

// PartRows returns the month-wide index of part's first row and its number
// of rows.
func PartRows(opts Options, part int) (first, n int64) {
	if opts.Parts < 1 {
		return 0, 0
	}
	base, rem := opts.Rows/int64(opts.Parts), opts.Rows%int64(opts.Parts)
	p := int64(part)
	n = base
	if p < rem {
		n++
	}
	return p*base + min(p, rem), n
}

// PartKey is the intake key Generate writes part (0-based) to:
// <intake prefix>part-0001.csv.gz, ….
func PartKey(spec *jobs.Spec, month string, part int) string {
	return fmt.Sprintf("%spart-%04d.csv.gz", spec.IntakePrefix(month), part+1)
}

// BadKind is how a bad row is broken.
type BadKind int

// Ways a row is made bad.
const (
	BadFieldMissing BadKind = iota + 1 // the last field is missing (one field too few)
	BadFieldExtra                      // an extra field "EXTRA" at the end
	BadInt                             // an int/bigint column holds "12O4" (letter O)
	BadDate                            // a date column holds the impossible date 2019-02-30
)

func (k BadKind) String() string {
	switch k {
	case BadFieldMissing:
		return "field missing"
	case BadFieldExtra:
		return "extra field"
	case BadInt:
		return "non-numeric int"
	case BadDate:
		return "invalid date"
	}
	return fmt.Sprintf("BadKind(%d)", int(k))
}

// BadRow locates one deliberately bad row of a part.
type BadRow struct {
	Row    int64 // 0-based index within the month
	Record int64 // 1-based data record within the part (the header is record 0)
	Line   int64 // 1-based line of the part where the record starts (the header is line 1)
	Kind   BadKind
	Column string // normalised name of the broken column (BadInt, BadDate)
}

// badRow is the generator's view of a bad row.
type badRow struct {
	kind  BadKind
	col   int // -1 for field-count errors
	value []byte
}

var (
	badIntValue  = []byte("12O4")
	badDateValue = []byte("2019-02-30")
)

// badOf decides, from the seed and the row index alone, whether and how a
// row is bad. Kinds that the schema cannot express (no int or date column,
// a single column) fall back to a field-count error.
func (g *generator) badOf(row int64) badRow {
	switch {
	case g.badLimit == 0:
		return badRow{col: -1}
	case g.badLimit != math.MaxUint64 && mix(g.seed, saltBad, row) >= g.badLimit:
		return badRow{col: -1}
	}
	h := mix(g.seed, saltBad+1, row)
	kind := BadKind(h%4) + 1
	switch {
	case kind == BadInt && len(g.badInt) == 0, kind == BadDate && len(g.badDate) == 0:
		kind = BadFieldExtra
	}
	if kind == BadFieldMissing && g.ncols < 2 {
		kind = BadFieldExtra // a lone missing field is an empty line, which CSV readers skip
	}
	b := badRow{kind: kind, col: -1}
	switch kind {
	case BadInt:
		b.col, b.value = g.badInt[(h>>8)%uint64(len(g.badInt))], badIntValue
	case BadDate:
		b.col, b.value = g.badDate[(h>>8)%uint64(len(g.badDate))], badDateValue
	}
	return b
}

// multiLineRow reports whether row's record spans two lines.
func (g *generator) multiLineRow(row int64) bool {
	return g.nlCol >= 0 && g.badOf(row).kind == 0 && mix(g.seed, saltNewline, row)%newlineEvery == 0
}

// BadRows lists the bad rows of part in order, with their record and line
// numbers, without generating the part.
func BadRows(spec *jobs.Spec, opts Options, part int) ([]BadRow, error) {
	g, err := newGenerator(spec, opts)
	if err != nil {
		return nil, err
	}
	if err := opts.checkPart(part); err != nil {
		return nil, err
	}
	if g.badLimit == 0 {
		return nil, nil
	}
	first, n := PartRows(opts, part)
	var out []BadRow
	line := int64(2)
	for i := range n {
		row := first + i
		if b := g.badOf(row); b.kind != 0 {
			br := BadRow{Row: row, Record: i + 1, Line: line, Kind: b.kind}
			if b.col >= 0 {
				br.Column = spec.Schema.Columns[b.col].Name
			}
			out = append(out, br)
		}
		line++
		if g.multiLineRow(row) {
			line++
		}
	}
	return out, nil
}

// flushAt is the buffer size at which WritePart hands bytes to w.
const flushAt = 256 << 10

// WritePart writes part (0-based) of the synthetic month described by opts:
// the header line, then the part's rows, as uncompressed CSV. It returns
// the number of data rows written.
func WritePart(ctx context.Context, w io.Writer, spec *jobs.Spec, opts Options, part int) (rows int64, err error) {
	g, err := newGenerator(spec, opts)
	if err != nil {
		return 0, err
	}
	return g.writePart(ctx, w, part)
}

func (g *generator) writePart(ctx context.Context, w io.Writer, part int) (int64, error) {
	if err := g.opts.checkPart(part); err != nil {
		return 0, err
	}
	first, n := PartRows(g.opts, part)
	buf := make([]byte, 0, flushAt+64<<10)
	buf = append(buf, g.header...)
	for i := range n {
		buf = g.appendRow(buf, first+i)
		if len(buf) >= flushAt {
			if _, err := w.Write(buf); err != nil {
				return i + 1, fmt.Errorf("synth: part %d row %d: %w", part, first+i, err)
			}
			buf = buf[:0]
			if err := ctx.Err(); err != nil {
				return i + 1, err
			}
		}
	}
	if _, err := w.Write(buf); err != nil {
		return n, fmt.Errorf("synth: part %d: %w", part, err)
	}
	return n, nil
}

// Generate writes every part of the month gzip-compressed to st under the
// spec's intake prefix (see PartKey), opts.Concurrency parts at a time, and
// returns the objects written in part order. On error, parts already
// committed stay; a part being written is aborted.
func Generate(ctx context.Context, st storage.Storage, spec *jobs.Spec, opts Options) ([]storage.Object, error) {
	g, err := newGenerator(spec, opts)
	if err != nil {
		return nil, err
	}
	if ok, err := path.Match(spec.Source.Pattern, path.Base(PartKey(spec, opts.Month, 0))); err != nil || !ok {
		return nil, fmt.Errorf("synth: part names like %s do not match the source pattern %q", path.Base(PartKey(spec, opts.Month, 0)), spec.Source.Pattern)
	}
	workers := opts.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objs := make([]storage.Object, opts.Parts)
	errs := make([]error, opts.Parts)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for part := range opts.Parts {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			objs[part], errs[part] = g.putPart(ctx, st, part)
			if errs[part] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// Report the failure that stopped the others, not their cancellations.
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled)) {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return objs, nil
}

func (g *generator) putPart(ctx context.Context, st storage.Storage, part int) (storage.Object, error) {
	key := PartKey(g.spec, g.opts.Month, part)
	w, err := st.Create(ctx, key, storage.PutOptions{ContentType: "application/gzip"})
	if err != nil {
		return storage.Object{}, fmt.Errorf("synth: create %s: %w", key, err)
	}
	// The standard library's deflate at level 6 is what the gzip command
	// (and so the partner) produces: ≈6.7× on this data, where klauspost's
	// faster deflate gives ≈5.9×. Parts are written in parallel, so the
	// slower compressor costs little wall time.
	level := g.opts.GzipLevel
	if level == 0 {
		level = 6
	}
	zw, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		_ = w.Abort()
		return storage.Object{}, fmt.Errorf("synth: %s: %w", key, err)
	}
	if _, err := g.writePart(ctx, zw, part); err != nil {
		_ = w.Abort()
		return storage.Object{}, fmt.Errorf("synth: %s: %w", key, err)
	}
	if err := zw.Close(); err != nil {
		_ = w.Abort()
		return storage.Object{}, fmt.Errorf("synth: %s: gzip: %w", key, err)
	}
	if err := w.Commit(); err != nil {
		return storage.Object{}, fmt.Errorf("synth: commit %s: %w", key, err)
	}
	obj, err := st.Stat(ctx, key)
	if err != nil {
		return storage.Object{}, fmt.Errorf("synth: stat %s: %w", key, err)
	}
	return obj, nil
}
