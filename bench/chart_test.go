package bench

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// caseScanned is the report's 1,000,000-row figures (docs/benchmarks.md).
func caseScanned(layouts int) *QueryResults {
	qr := &QueryResults{Rows: 1000000, Queries: caseQueries}
	names := []string{"gz CSV", "Parquet", "Parquet bucketed by state (60)", "a fourth layout"}
	sizes := [][]int64{{169126632, 169126632, 169126632}, {3009413, 3764387, 12803112}, {3135242, 185856, 624742}, {1234567, 123456, 12345}}
	for l := range layouts {
		key := strings.Fields(names[l])[0] + string(rune('a'+l))
		qr.Layouts = append(qr.Layouts, LayoutInfo{Key: key, Name: names[l]})
		for i, v := range sizes[l] {
			qr.Cells = append(qr.Cells, Cell{Layout: key, Query: caseQueries[i].Key, Scanned: v})
		}
	}
	return qr
}

// scanned.png: every value label fits its bar, so neighbours never
// overlap, and the groups fit the chart; sizes are binary, as in the
// report's tables (issue 14, finding 10).
func TestScannedChartLabels(t *testing.T) {
	for _, n := range []int{3, 4} {
		qr := caseScanned(n)
		texts := make([][]string, n)
		for li, l := range qr.Layouts {
			for _, c := range qr.Cells {
				if c.Layout == l.Key {
					texts[li] = append(texts[li], humanBytes(c.Scanned))
				}
			}
		}
		width, chart, style := barWidth(texts, len(qr.Queries), plot.New().Y.Tick.Label)
		for _, ts := range texts {
			for _, s := range ts {
				if w := style.Width(s); w > width {
					t.Errorf("%d layouts: label %q is %.1f pt wide, its bar %.1f pt", n, s, w, width)
				}
			}
		}
		group := (chart - vg.Inch) / vg.Length(float64(len(qr.Queries))+0.2)
		if vg.Length(n)*width > group {
			t.Errorf("%d layouts: a group of bars is %.0f pt, the chart has %.0f pt per query", n, float64(vg.Length(n)*width), float64(group))
		}
		if style.Font.Size != vg.Points(8) || chart < scannedWidth {
			t.Errorf("%d layouts: labels at %.1f pt, chart %.1f in", n, float64(style.Font.Size), float64(chart/vg.Inch))
		}
		b, err := scannedChart(qr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if got := texts0(caseScanned(3)); got != "161.29 MiB" {
		t.Errorf("gz CSV is labelled %q, the report's table says 161.29 MiB", got)
	}
	floor := math.Floor(math.Log10(185856)) - 1
	for _, tk := range (binaryTicks{floor: floor}).Ticks(0, 6) {
		if !strings.HasSuffix(tk.Label, "iB") && !strings.HasSuffix(tk.Label, " B") {
			t.Errorf("tick %q is not in binary units", tk.Label)
		}
		if want := math.Log10(parseBinary(t, tk.Label)) - floor; math.Abs(tk.Value-want) > 1e-9 {
			t.Errorf("tick %q at %g, want %g", tk.Label, tk.Value, want)
		}
	}
}

func texts0(qr *QueryResults) string { return humanBytes(qr.Cells[0].Scanned) }

// parseBinary reads "10 MiB" as bytes.
func parseBinary(t *testing.T, s string) float64 {
	var n float64
	var unit string
	if _, err := fmt.Sscan(s, &n, &unit); err != nil {
		t.Fatal(err)
	}
	return n * map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
}
