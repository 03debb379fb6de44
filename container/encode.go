package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/lake/storage"
)

// hashWriter counts and hashes what goes through it; h is nil when the
// storage writer hashes what it is given itself (storage.Hasher).
type hashWriter struct {
	w   storage.Writer
	h   hash.Hash
	n   int64
	sum func() []byte // the SHA-256 of what went through
}

func newHashWriter(w storage.Writer) *hashWriter {
	if hs, ok := w.(storage.Hasher); ok {
		return &hashWriter{w: w, sum: hs.SHA256}
	}
	h := sha256.New()
	return &hashWriter{w: w, h: h, sum: func() []byte { return h.Sum(nil) }}
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	if h.h != nil {
		h.h.Write(p[:n])
	}
	h.n += int64(n)
	return n, err
}

// parquetFile is one bucket's Parquet file on its way to storage: the
// upload, counted and hashed for the manifest, and the encoder writing it.
type parquetFile struct {
	key string
	sw  storage.Writer
	hw  *hashWriter
	pw  *pqwrite.Writer
}

// createParquet starts the upload of a Parquet file to key of dst; start
// begins the file itself.
func createParquet(ctx context.Context, dst storage.Storage, key string) (*parquetFile, error) {
	sw, err := dst.Create(ctx, key, storage.PutOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	return &parquetFile{key: key, sw: sw, hw: newHashWriter(sw)}, nil
}

// start writes the file's header, for the plan's schema and options.
func (f *parquetFile) start(p *plan) error {
	pw, err := pqwrite.NewWriter(f.hw, p.schema, p.writerOpts)
	if err != nil {
		return fmt.Errorf("write %s: %w", f.key, err)
	}
	f.pw = pw
	return nil
}

// writeRowGroup encodes rows rows of cols, sorted by the schema columns
// sortCols, as one row group on encs; it returns the row group's
// uncompressed bytes, as the footer records them.
func (f *parquetFile) writeRowGroup(encs []*pqwrite.Encoder, cols []pqwrite.Column, rows int, sortCols []int) (int64, error) {
	ptrs := make([]*pqwrite.Column, len(cols))
	for i := range cols {
		ptrs[i] = &cols[i]
	}
	var sorting []pqwrite.SortingColumn
	for _, c := range sortCols {
		sorting = append(sorting, pqwrite.SortingColumn{Column: c})
	}
	before := f.pw.UncompressedBytes()
	if err := f.pw.WriteRowGroup(encs, ptrs, nil, rows, sorting); err != nil {
		return 0, err
	}
	return f.pw.UncompressedBytes() - before, nil
}

// entry describes the committed file, bucket bk of rows rows, for the
// manifest.
func (f *parquetFile) entry(dst storage.Storage, bk int, rows int64) *FileEntry {
	return &FileEntry{Key: f.key, URI: dst.ObjectURI(f.key), Bucket: bk, Rows: rows, Bytes: f.hw.n, SHA256: hex.EncodeToString(f.hw.sum())}
}

// colsBytes is the size of the values held by cols, as they would be
// written uncompressed and unencoded (string lengths counted as Parquet's
// 4-byte prefixes).
func colsBytes(cols []pqwrite.Column) int64 {
	var n int64
	for c := range cols {
		col := &cols[c]
		n += int64(len(col.Def)/8 + 4*len(col.I32) + 8*len(col.I64) + 8*len(col.F64) + len(col.Bool)/8 + len(col.Data) + 4*len(col.Lens))
		if d := col.Dict; d != nil && d.Len() > 0 {
			// Rows times the mean entry: an estimate, but a function of
			// the data only.
			n += int64(len(col.Idx)) * int64(4+d.Bytes()/d.Len())
		}
	}
	return n
}
