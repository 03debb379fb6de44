package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/runner"
)

// convert outside a run writes the part's Parquet under --out and prints
// its manifest.
func TestConvertPrintsManifest(t *testing.T) {
	dir := t.TempDir()
	if err := runner.Gen(context.Background(), runner.GenOptions{Job: "consumer-header", Lake: dir, Month: "2020-03", Rows: 300, Parts: 1, Seed: 1,
		Log: zerolog.Nop(), Stdout: &bytes.Buffer{}}); err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(dir, "intake", "consumer", "2020-03", "part-0001.csv.gz")
	outDir := filepath.Join(t.TempDir(), "out")
	out, errOut, code := tierflow(t, dir, nil, "convert", "--job", "consumer-header", "--part", part, "--out", outDir)
	if code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, errOut)
	}
	var m struct {
		Part         string `json:"part"`
		RowsRead     int64  `json:"rows_read"`
		RowsWritten  int64  `json:"rows_written"`
		RowsRejected int64  `json:"rows_rejected"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Part != "part-0001" || m.RowsRead != 300 || m.RowsWritten == 0 || m.RowsWritten+m.RowsRejected != 300 {
		t.Errorf("manifest %+v (%v):\n%s", m, err, out)
	}
	if entries, err := os.ReadDir(outDir); err != nil || len(entries) == 0 {
		t.Errorf("nothing written under --out (%v)", err)
	}
}
