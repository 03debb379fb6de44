package pqwrite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

var magic = []byte("PAR1")

// colInfo is a ColumnSpec resolved to Parquet terms.
type colInfo struct {
	name  string
	phys  Physical
	flba  int
	ftype format.Type
	elem  format.SchemaElement
}

// Schema is a resolved list of columns, shared by every file of a table.
type Schema struct {
	cols []colInfo
}

// NewSchema resolves specs; every column is OPTIONAL.
func NewSchema(specs []ColumnSpec) (*Schema, error) {
	s := &Schema{}
	seen := map[string]bool{}
	for _, c := range specs {
		if c.Name == "" {
			return nil, errors.New("pqwrite: empty column name")
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("pqwrite: duplicate column %q", c.Name)
		}
		seen[c.Name] = true
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("pqwrite: column %q: %w", c.Name, err)
		}
		phys, flba := c.Physical, c.Length
		if phys != FixedLenByteArray {
			flba = 0
		}
		ci := colInfo{name: c.Name, phys: phys, flba: flba}
		el := format.SchemaElement{
			Name:           c.Name,
			RepetitionType: thrift.New(format.Optional),
		}
		switch phys {
		case Boolean:
			ci.ftype = format.Boolean
		case Int32:
			ci.ftype = format.Int32
		case Int64:
			ci.ftype = format.Int64
		case Double:
			ci.ftype = format.Double
		case ByteArray:
			ci.ftype = format.ByteArray
		case FixedLenByteArray:
			ci.ftype = format.FixedLenByteArray
			el.TypeLength = thrift.New(int32(flba))
		}
		el.Type = thrift.New(ci.ftype)
		switch c.Logical {
		case String:
			el.ConvertedType = thrift.New(deprecated.UTF8)
			el.LogicalType = format.LogicalType{Value: &format.StringType{}}
		case Date:
			el.ConvertedType = thrift.New(deprecated.Date)
			el.LogicalType = format.LogicalType{Value: &format.DateType{}}
		case TimestampMillis:
			el.ConvertedType = thrift.New(deprecated.TimestampMillis)
			el.LogicalType = format.LogicalType{Value: &format.TimestampType{IsAdjustedToUTC: true, Unit: format.TimeUnit{Value: &format.MilliSeconds{}}}}
		case Decimal:
			el.ConvertedType = thrift.New(deprecated.Decimal)
			el.Scale = thrift.New(int32(c.Scale))
			el.Precision = thrift.New(int32(c.Precision))
			el.LogicalType = format.LogicalType{Value: &format.DecimalType{Scale: int32(c.Scale), Precision: int32(c.Precision)}}
		}
		ci.elem = el
		s.cols = append(s.cols, ci)
	}
	if len(s.cols) == 0 {
		return nil, errors.New("pqwrite: no columns")
	}
	return s, nil
}

// check reports a spec the writer cannot write: a logical type on a
// physical type that cannot hold it, a decimal out of Parquet's bounds.
func (c ColumnSpec) check() error {
	if c.Repetition != Optional {
		return fmt.Errorf("repetition %d: only OPTIONAL columns are written", c.Repetition)
	}
	if c.Physical < Boolean || c.Physical > FixedLenByteArray {
		return fmt.Errorf("unknown physical type %d", c.Physical)
	}
	if c.Physical == FixedLenByteArray && c.Length < 1 {
		return fmt.Errorf("FIXED_LEN_BYTE_ARRAY of length %d", c.Length)
	}
	want := map[Logical][]Physical{
		String:          {ByteArray},
		Date:            {Int32},
		TimestampMillis: {Int64},
		Decimal:         {Int32, Int64, FixedLenByteArray},
	}
	switch {
	case c.Logical == NoLogical:
		return nil
	case want[c.Logical] == nil:
		return fmt.Errorf("unknown logical type %d", c.Logical)
	case !slices.Contains(want[c.Logical], c.Physical):
		return fmt.Errorf("logical type %d cannot be stored as physical type %d", c.Logical, c.Physical)
	}
	if c.Logical == Decimal {
		if c.Precision < 1 || c.Precision > 38 || c.Scale < 0 || c.Scale > c.Precision {
			return fmt.Errorf("invalid decimal(%d,%d)", c.Precision, c.Scale)
		}
		if c.Physical == FixedLenByteArray && c.Length < DecimalBytes(c.Precision) {
			return fmt.Errorf("decimal(%d,%d) needs %d bytes, not %d", c.Precision, c.Scale, DecimalBytes(c.Precision), c.Length)
		}
	}
	return nil
}

// NumColumns returns the number of columns.
func (s *Schema) NumColumns() int { return len(s.cols) }

// Physical returns column i's physical type and FIXED length.
func (s *Schema) Physical(i int) (Physical, int) { return s.cols[i].phys, s.cols[i].flba }

// SortingColumn declares that rows of a row group are sorted by a column
// (ascending, NULLs first).
type SortingColumn struct {
	Column int
}

// Writer writes one Parquet file to an io.Writer: row groups, then each
// chunk's bloom filter, column index and offset index (all column indexes,
// then all offset indexes, as the spec lays them out), then the footer.
type Writer struct {
	w       io.Writer
	schema  *Schema
	opts    Options
	bloom   []bool // per column: given a bloom filter
	off     int64
	groups  []rowGroup
	indexes []chunkIndex // per chunk written, in file order
	prot    thrift.CompactProtocol
	// noDict counts, per column, row groups of this file whose dictionary
	// did not pay; after two, the column stays PLAIN in this file. It is
	// per file and row groups are written in order, so output stays
	// deterministic.
	noDict []uint8
	rows   int64
	err    error
	closed bool
}

// chunkIndex is what a chunk has written after the row groups, held
// until Close.
type chunkIndex struct {
	rg, col     int
	bloom       []byte
	columnIndex []byte
	offsetIndex []byte
}

// NewWriter starts a file on w (writing the magic bytes).
func NewWriter(w io.Writer, schema *Schema, opts Options) (*Writer, error) {
	opts, err := opts.withDefaults(schema)
	if err != nil {
		return nil, err
	}
	pw := &Writer{w: w, schema: schema, opts: opts, noDict: make([]uint8, len(schema.cols)), bloom: make([]bool, len(schema.cols))}
	for _, c := range opts.BloomFilter {
		pw.bloom[c] = true
	}
	if err := pw.write(magic); err != nil {
		return nil, err
	}
	return pw, nil
}

func (w *Writer) write(b []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.w.Write(b)
	w.off += int64(n)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	w.err = err
	return err
}

// Rows returns the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// WriteRowGroup encodes n rows of cols (one per schema column) as a row
// group, taking row perm[j] as the j-th row (perm nil: rows in order).
// With one Encoder each column chunk is encoded and written before the next
// is encoded, so only one column chunk is buffered at a time; with several,
// columns are encoded concurrently (one goroutine per Encoder) and written
// in column order, buffering the compressed chunks not yet written. The
// bytes written do not depend on the number of encoders.
func (w *Writer) WriteRowGroup(encs []*Encoder, cols []*Column, perm []int32, n int, sorting []SortingColumn) error {
	if w.closed {
		return errors.New("pqwrite: write after close")
	}
	if len(encs) == 0 {
		return errors.New("pqwrite: no encoder")
	}
	if len(cols) != len(w.schema.cols) {
		return fmt.Errorf("pqwrite: %d columns, schema has %d", len(cols), len(w.schema.cols))
	}
	if n <= 0 {
		return errors.New("pqwrite: empty row group")
	}
	for i, c := range cols {
		ci := &w.schema.cols[i]
		rows := c.Len(ci.phys, ci.flba)
		if rows < n {
			return fmt.Errorf("pqwrite: column %q has %d rows, want %d", ci.name, rows, n)
		}
		if len(c.Def) > 0 && len(c.Def) < rows {
			return fmt.Errorf("pqwrite: column %q has %d definition levels for %d rows", ci.name, len(c.Def), rows)
		}
	}
	rg := rowGroup{NumRows: int64(n), FileOffset: w.off, Ordinal: int16(len(w.groups))}
	emit := func(i int, ch *chunk) error {
		if ch.dictFailed || cols[i].DictFailed {
			w.noDict[i]++
		}
		start := w.off
		if err := w.write(ch.bytes); err != nil {
			return err
		}
		m := &ch.meta
		cm := columnMetaData{
			Type: m.Type, Encoding: m.Encoding, PathInSchema: m.PathInSchema, Codec: m.Codec,
			NumValues: m.NumValues, TotalUncompressedSize: m.TotalUncompressedSize, TotalCompressedSize: m.TotalCompressedSize,
			DataPageOffset: start + ch.dataOffset, Statistics: ch.stats, EncodingStats: m.EncodingStats,
		}
		if ch.hasDict {
			cm.DictionaryPageOffset = start
		}
		oi := format.OffsetIndex{PageLocations: make([]format.PageLocation, len(ch.pages))}
		for k, p := range ch.pages {
			oi.PageLocations[k] = format.PageLocation{Offset: start + p.off, CompressedPageSize: p.size, FirstRowIndex: p.first}
		}
		ob, err := thrift.Marshal(&w.prot, &oi)
		if err != nil {
			return fmt.Errorf("pqwrite: offset index: %w", err)
		}
		w.indexes = append(w.indexes, chunkIndex{rg: len(w.groups), col: i, bloom: ch.bloom, columnIndex: ch.columnIndex, offsetIndex: ob})
		rg.Columns = append(rg.Columns, columnChunk{FileOffset: start, MetaData: cm})
		rg.TotalByteSize += m.TotalUncompressedSize
		rg.TotalCompressedSize += m.TotalCompressedSize
		return nil
	}
	if len(encs) == 1 {
		for i, c := range cols {
			ci := &w.schema.cols[i]
			ch, err := encs[0].encodeChunk(ci, c, perm, n, w.noDict[i] < 2, &w.opts, w.bloom[i])
			if err != nil {
				return fmt.Errorf("pqwrite: column %q: %w", ci.name, err)
			}
			if err := emit(i, ch); err != nil {
				return err
			}
		}
	} else if err := w.encodeParallel(encs, cols, perm, n, emit); err != nil {
		return err
	}
	for _, s := range sorting {
		rg.SortingColumns = append(rg.SortingColumns, format.SortingColumn{ColumnIdx: int32(s.Column), NullsFirst: true})
	}
	w.groups = append(w.groups, rg)
	w.rows += int64(n)
	return w.err
}

// encodeParallel encodes columns on len(encs) goroutines and emits them in
// column order as they become ready.
func (w *Writer) encodeParallel(encs []*Encoder, cols []*Column, perm []int32, n int, emit func(int, *chunk) error) error {
	type result struct {
		ch  *chunk
		err error
	}
	results := make([]result, len(cols))
	done := make([]chan struct{}, len(cols))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, e := range encs {
		wg.Add(1)
		go func(e *Encoder) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(cols) {
					return
				}
				select {
				case <-stop:
					close(done[i])
					continue
				default:
				}
				ci := &w.schema.cols[i]
				ch, err := e.encodeChunk(ci, cols[i], perm, n, w.noDict[i] < 2, &w.opts, w.bloom[i])
				if err == nil {
					ch.bytes = bytes.Clone(ch.bytes) // e.out is reused
				}
				results[i] = result{ch, err}
				close(done[i])
			}
		}(e)
	}
	var first error
	for i := range cols {
		<-done[i]
		if first != nil {
			continue
		}
		r := results[i]
		results[i] = result{}
		switch {
		case r.err != nil:
			first = fmt.Errorf("pqwrite: column %q: %w", w.schema.cols[i].name, r.err)
		case r.ch == nil:
			first = errors.New("pqwrite: encoding stopped")
		default:
			first = emit(i, r.ch)
		}
		if first != nil {
			close(stop)
		}
	}
	wg.Wait()
	return first
}

// Close writes the bloom filters, the page index and the footer. The
// underlying writer is not closed.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	for _, x := range w.indexes {
		if x.bloom != nil {
			m := &w.groups[x.rg].Columns[x.col].MetaData
			m.BloomFilterOffset, m.BloomFilterLength = w.off, int32(len(x.bloom))
			if err := w.write(x.bloom); err != nil {
				return err
			}
		}
	}
	for _, x := range w.indexes {
		if x.columnIndex != nil {
			c := &w.groups[x.rg].Columns[x.col]
			c.ColumnIndexOffset, c.ColumnIndexLength = w.off, int32(len(x.columnIndex))
			if err := w.write(x.columnIndex); err != nil {
				return err
			}
		}
	}
	for _, x := range w.indexes {
		c := &w.groups[x.rg].Columns[x.col]
		c.OffsetIndexOffset, c.OffsetIndexLength = w.off, int32(len(x.offsetIndex))
		if err := w.write(x.offsetIndex); err != nil {
			return err
		}
	}
	w.indexes = nil
	md := fileMetaData{
		Version:   1,
		NumRows:   w.rows,
		RowGroups: w.groups,
		CreatedBy: w.opts.CreatedBy,
	}
	md.Schema = append(md.Schema, format.SchemaElement{Name: "schema", NumChildren: thrift.New(int32(len(w.schema.cols)))})
	for _, c := range w.schema.cols {
		md.Schema = append(md.Schema, c.elem)
		md.ColumnOrders = append(md.ColumnOrders, format.ColumnOrder{Value: &format.TypeDefinedOrder{}})
	}
	footer, err := thrift.Marshal(&w.prot, &md)
	if err != nil {
		return fmt.Errorf("pqwrite: footer: %w", err)
	}
	footer = binary.LittleEndian.AppendUint32(footer, uint32(len(footer)))
	footer = append(footer, magic...)
	return w.write(footer)
}

// TryDict reports whether column i should be given a dictionary in the
// next row group: not after two row groups of this file where it did not
// pay.
func (w *Writer) TryDict(i int) bool { return w.noDict[i] < 2 }

// UncompressedBytes is the total uncompressed size of the row groups
// written so far, as their footer entries record it.
func (w *Writer) UncompressedBytes() int64 {
	var n int64
	for i := range w.groups {
		n += w.groups[i].TotalByteSize
	}
	return n
}

// Size returns the bytes written so far.
func (w *Writer) Size() int64 { return w.off }
