package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// csvTruth counts, straight from the gzip CSV with encoding/csv (no
// DuckDB, no converter), the non-empty AddressID values overall and in
// California: what the count queries must return.
func csvTruth(t *testing.T, paths []string) (rows, addr, addrCA, ca int64) {
	t.Helper()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(zr)
		head, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		ai, si := -1, -1
		for i, h := range head {
			switch strings.ToLower(h) {
			case "addressid":
				ai = i
			case "state":
				si = i
			}
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rows++
			isCA := rec[si] == "CA"
			if isCA {
				ca++
			}
			if rec[ai] != "" && rec[ai] != `\N` {
				addr++
				if isCA {
					addrCA++
				}
			}
		}
		f.Close()
	}
	return
}

// buildTierflow builds the tierflow command (as the container image does:
// without DuckDB, which the convert command does not use) for the
// conversion section's CLI row.
func buildTierflow(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tierflow")
	cmd := exec.Command("go", "build", "-tags", "noduckdb", "-o", bin, "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestRunSmall runs every section on a tiny month and checks the figures
// against what is known independently.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the converter and DuckDB in child processes")
	}
	dir := t.TempDir()
	cli := buildTierflow(t)
	var out bytes.Buffer
	const rows = 3000
	res, err := Run(context.Background(), Options{Dir: dir, Rows: rows, Runs: 1, Parts: 2, Log: zerolog.Nop(), CLI: cli}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}

	// 1. Conversion.
	cr := res.Convert
	if cr == nil || cr.Rows != rows || cr.GzipBytes <= 0 || cr.CSVBytes <= cr.GzipBytes {
		t.Fatalf("convert section %+v", cr)
	}
	want := []string{pgzipKey, tierflowKey(1), tierflowKey(2), cliKey, duckKey, duckPartKey}
	if _, err := os.Stat("/usr/bin/gzip"); err == nil {
		want = append(want, gzipKey)
	}
	for _, k := range want {
		e := cr.engine(k)
		if e == nil {
			t.Fatalf("no engine %s", k)
		}
		if e.WallSeconds <= 0 || e.CPUSeconds <= 0 || e.PeakRSS <= 0 || len(e.Samples) != 1 {
			t.Errorf("%s: %+v", k, e)
		}
		if e.VsDuckDB <= 0 || e.VsPgzip <= 0 || (cr.engine(gzipKey) != nil && e.VsGzip <= 0) {
			t.Errorf("%s: ratios %v %v %v", k, e.VsDuckDB, e.VsPgzip, e.VsGzip)
		}
	}
	for _, k := range []string{tierflowKey(1), tierflowKey(2), cliKey, duckKey, duckPartKey} {
		if e := cr.engine(k); e.Rows != rows || e.Files == 0 || e.OutputBytes == 0 {
			t.Errorf("%s wrote %d rows, %d files, %d bytes", k, e.Rows, e.Files, e.OutputBytes)
		}
	}
	if cr.engine(duckKey).Files != 1 || cr.engine(duckPartKey).Files < 10 || cr.engine(tierflowKey(2)).Files < 10 {
		t.Errorf("file counts: duckdb %d, partitioned %d, tierflow %d", cr.engine(duckKey).Files, cr.engine(duckPartKey).Files, cr.engine(tierflowKey(2)).Files)
	}
	// The convert command converts as the library does, with a worker per
	// CPU; its summary line gives its ratios by wall and by CPU time.
	if c, lib := cr.engine(cliKey), cr.engine(tierflowKey(2)); !c.CLI || c.Workers != runtime.NumCPU() || c.Files != lib.Files ||
		c.CPUVsDuckDB <= 0 || c.CPUVsPgzip <= 0 || c.RusageMaxRSS <= 0 ||
		!strings.Contains(out.String(), "tierflow convert (CLI, ") || !strings.Contains(c.Command, cli+" convert --job consumer-header --part file://") {
		t.Errorf("CLI engine %+v (library: %d files)", c, lib.Files)
	}
	// The converter's manifests time both passes, inside the child's wall.
	for _, k := range []string{tierflowKey(1), tierflowKey(2), cliKey} {
		e := cr.engine(k)
		if e.Pass1Seconds <= 0 || e.Pass2Seconds <= 0 || e.Pass1BusySeconds <= 0 || e.Pass1BusySeconds > e.Pass1Seconds || e.Pass1Seconds+e.Pass2Seconds > e.WallSeconds {
			t.Errorf("%s: pass 1 %vs (accumulator busy %vs), pass 2 %vs, wall %vs", k, e.Pass1Seconds, e.Pass1BusySeconds, e.Pass2Seconds, e.WallSeconds)
		}
		// Read off a trace sampled every cpuTraceEvery (the library's
		// children only): at most all CPUs busy for pass 1 and one
		// interval more.
		if limit := (e.Pass1Seconds + cpuTraceEvery.Seconds()) * float64(runtime.NumCPU()); e.Pass1CPUSeconds < 0 || e.Pass1CPUSeconds > limit {
			t.Errorf("%s: pass-1 CPU %vs, beyond %vs", k, e.Pass1CPUSeconds, limit)
		}
	}
	if d := cr.engine(pgzipKey); d == nil || cr.CSVBytes <= 0 {
		t.Errorf("decompressed size unknown")
	}

	// 2. Queries: the counts must be the CSV's own.
	qr := res.Queries
	if qr == nil || len(qr.Cells) != 9 || qr.Parts != 2 || len(qr.Layouts) != 3 {
		t.Fatalf("queries section %+v", qr)
	}
	var paths []string
	for _, l := range qr.Layouts {
		if l.Key == LayoutCSV {
			if l.Files != 2 {
				t.Fatalf("csv layout has %d files", l.Files)
			}
		}
	}
	month, err := readStamp(filepath.Join(dir, "intake-2p", "stamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	paths = month.paths()
	nrows, addr, addrCA, ca := csvTruth(t, paths)
	if nrows != rows || ca == 0 {
		t.Fatalf("CSV has %d rows, %d in CA", nrows, ca)
	}
	cell := func(layout, query string) Cell {
		for _, c := range qr.Cells {
			if c.Layout == layout && c.Query == query {
				return c
			}
		}
		t.Fatalf("no cell %s/%s", layout, query)
		return Cell{}
	}
	for _, l := range []string{LayoutCSV, LayoutParquet, LayoutBucketed} {
		if c := cell(l, "count"); c.Result != addr {
			t.Errorf("%s count = %d, CSV has %d", l, c.Result, addr)
		}
		if c := cell(l, "count-ca"); c.Result != addrCA {
			t.Errorf("%s count CA = %d, CSV has %d", l, c.Result, addrCA)
		}
		if c := cell(l, "8cols-ca"); c.Result != ca {
			t.Errorf("%s 8 columns CA = %d rows, CSV has %d", l, c.Result, ca)
		}
	}
	// Scanned: CSV is the whole gzip; bucketing and projection only shrink it.
	for _, q := range []string{"count", "count-ca", "8cols-ca"} {
		csvC, pq, bk := cell(LayoutCSV, q), cell(LayoutParquet, q), cell(LayoutBucketed, q)
		if csvC.Scanned != month.GzBytes {
			t.Errorf("%s: csv scanned %d, gzip is %d", q, csvC.Scanned, month.GzBytes)
		}
		if pq.Scanned <= 0 || pq.Scanned >= csvC.Scanned || bk.Scanned <= 0 {
			t.Errorf("%s: scanned csv %d parquet %d bucketed %d", q, csvC.Scanned, pq.Scanned, bk.Scanned)
		}
		if pq.ProjectedScanned != int64(float64(pq.Scanned)*float64(CaseStudyRows)/rows) {
			t.Errorf("%s: projection %d", q, pq.ProjectedScanned)
		}
	}
	if bk, pq := cell(LayoutBucketed, "8cols-ca"), cell(LayoutParquet, "8cols-ca"); bk.Scan.FilesPruned == 0 || bk.Scanned >= pq.Scanned {
		t.Errorf("bucket pruning: bucketed %+v vs parquet %d", bk.Scan, pq.Scanned)
	}
	// Tiny queries all pay the 10 MB minimum.
	if c := cell(LayoutBucketed, "count-ca"); c.USD != 10.0/(1<<20)*5 {
		t.Errorf("minimum charge: $%v", c.USD)
	}

	// 3. Projection.
	ar := res.Athena
	if ar == nil || ar.Projection == nil || ar.Mode != "projection" || ar.Projection.WallSeconds <= 0 || ar.Projection.USD <= 0 {
		t.Fatalf("athena section %+v", ar)
	}
	if p := ar.Projection; p.Model != "two-pass" || p.Pass1MBps <= 0 || p.Pass2MBps <= 0 || !strings.Contains(out.String(), "model: pass 1 (") {
		t.Errorf("projection: model %q, pass 1 %v MB/s, pass 2 %v MB/s", p.Model, p.Pass1MBps, p.Pass2MBps)
	}

	// Outputs.
	for _, name := range []string{"report.json", "report.md", "convert.png", "scanned.png"} {
		p := filepath.Join(dir, "bench-out", name)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(name) {
		case ".png":
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil || img.Bounds().Dx() < 400 {
				t.Errorf("%s: %v", name, err)
			}
		case ".json":
			var back Results
			if err := json.Unmarshal(data, &back); err != nil || back.Rows != rows || len(back.Queries.Cells) != 9 {
				t.Errorf("%s: %v", name, err)
			}
		case ".md":
			for _, h := range []string{"## 1. Conversion", "## 2. The case study's queries", "## 3.", "projected"} {
				if !bytes.Contains(data, []byte(h)) {
					t.Errorf("report.md lacks %q", h)
				}
			}
		}
	}
}
