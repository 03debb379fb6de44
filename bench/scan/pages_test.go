package scan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/tierflow/tierflow/container/pqwrite"
)

// TestScannedPages: a file sorted by state in pages of 100 rows. The
// pages read are those holding CA rows (row arithmetic), in every
// referenced column, their bytes as arrow-go reads the offset index, plus
// each chunk's dictionary page.
func TestScannedPages(t *testing.T) {
	// 1000 rows: AK 0-299, CA 300-599, TX 600-999.
	const n = 1000
	schema, err := pqwrite.NewSchema([]pqwrite.ColumnSpec{
		{Name: "state", Physical: pqwrite.ByteArray, Logical: pqwrite.String},
		{Name: "addressid", Physical: pqwrite.Int64},
		{Name: "firstname", Physical: pqwrite.ByteArray, Logical: pqwrite.String},
	})
	if err != nil {
		t.Fatal(err)
	}
	cols := []*pqwrite.Column{{}, {}, {}}
	for r := range n {
		st := "AK"
		switch {
		case r >= 600:
			st = "TX"
		case r >= 300:
			st = "CA"
		}
		cols[0].Data = append(cols[0].Data, st...)
		cols[0].Ends = append(cols[0].Ends, uint32(len(cols[0].Data)))
		cols[1].I64 = append(cols[1].I64, int64(r)*7919)
		cols[2].Data = fmt.Appendf(cols[2].Data, "name-%d", r)
		cols[2].Ends = append(cols[2].Ends, uint32(len(cols[2].Data)))
	}
	var buf bytes.Buffer
	w, err := pqwrite.NewWriter(&buf, schema, pqwrite.Options{PageRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRowGroup([]*pqwrite.Encoder{{}}, cols, nil, n, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "000000_0_x.parquet")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Scanned(Layout{Files: []File{f}}, Query{Columns: []string{"addressid", "firstname"}, Where: []Eq{{Column: "state", Value: "CA"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Pages 3..5 hold CA's rows 300-599.
	rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	pix, err := rdr.GetPageIndexReader().RowGroup(0)
	if err != nil {
		t.Fatal(err)
	}
	var want, whole int64
	for c := range 3 {
		oi, err := pix.GetOffsetIndex(c)
		if err != nil {
			t.Fatal(err)
		}
		locs := oi.GetPageLocations()
		if len(locs) != 10 {
			t.Fatalf("column %d: %d pages", c, len(locs))
		}
		for _, l := range locs[3:6] {
			want += int64(l.CompressedPageSize)
		}
		cm, err := rdr.MetaData().RowGroup(0).ColumnChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		if cm.HasDictionaryPage() {
			want += cm.DataPageOffset() - cm.DictionaryPageOffset()
		}
		whole += cm.TotalCompressedSize()
	}
	if res.PagesRead != 9 || res.Pages != 30 || res.RowsAdmitted != 300 || res.PageBytes != want || res.Bytes != whole {
		t.Errorf("pages read %d of %d, rows admitted %d, page bytes %d (want 9 of 30, 300, %d), chunk bytes %d (want %d)",
			res.PagesRead, res.Pages, res.RowsAdmitted, res.PageBytes, want, res.Bytes, whole)
	}

	// NY, within the row group's min/max but no page's: the row group is
	// skipped by the column index.
	res, err = Scanned(Layout{Files: []File{f}}, Query{Columns: []string{"addressid"}, Where: []Eq{{Column: "state", Value: "NY"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowGroupsSkipped != 0 || res.RowGroupsSkippedCI != 1 || res.PageBytes != 0 || res.Bytes == 0 {
		t.Errorf("NY: skipped %d by stats, %d by the column index, page bytes %d, chunk bytes %d", res.RowGroupsSkipped, res.RowGroupsSkippedCI, res.PageBytes, res.Bytes)
	}
}
