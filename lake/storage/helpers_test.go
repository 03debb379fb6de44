package storage_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

func TestDeletePrefixAndReaderAt(t *testing.T) {
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, k := range []string{"a/1", "a/2", "a/b/3", "ab/4"} {
		if err := storage.Put(ctx, st, k, strings.NewReader("0123456789"), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := storage.ReaderAt(ctx, st, "a/1")
	buf := make([]byte, 4)
	if n, err := r.ReadAt(buf, 3); n != 4 || err != nil || string(buf) != "3456" {
		t.Errorf("ReadAt(3) = %d %v %q", n, err, buf)
	}
	if n, err := r.ReadAt(buf, 8); n != 2 || err != io.EOF || string(buf[:n]) != "89" {
		t.Errorf("ReadAt past the end = %d %v %q, want 2 io.EOF", n, err, buf[:n])
	}
	if err := storage.DeletePrefix(ctx, st, "a/"); err != nil {
		t.Fatal(err)
	}
	var left []string
	st.List(ctx, "", func(o storage.Object) error { left = append(left, o.Key); return nil })
	if strings.Join(left, ",") != "ab/4" {
		t.Errorf("after DeletePrefix(a/): %v, want only ab/4", left)
	}
}
