package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// palette is colour-blind safe (Okabe–Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},
	color.RGBA{230, 159, 0, 255},
	color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255},
	color.RGBA{86, 180, 233, 255},
	color.RGBA{213, 94, 0, 255},
}

// convertChart is a horizontal bar chart of each engine's median wall time.
func convertChart(cr *ConvertResults) ([]byte, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Conversion of one part: %d rows × %d columns (%s gzip), median wall", cr.Rows, cr.Columns, humanBytes(cr.GzipBytes))
	p.X.Label.Text = "seconds"
	var vals plotter.Values
	var names []string
	// Bottom to top: keep the table's order reading downwards.
	for i := len(cr.Engines) - 1; i >= 0; i-- {
		e := cr.Engines[i]
		vals = append(vals, e.WallSeconds)
		names = append(names, shortEngine(e))
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(18))
	if err != nil {
		return nil, err
	}
	bars.Horizontal = true
	bars.Color = palette[0]
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalY(names...)
	p.X.Min = 0
	labels, err := valueLabels(vals, true, func(v float64) string { return fmt.Sprintf("%.2f s", v) })
	if err != nil {
		return nil, err
	}
	p.Add(labels)
	p.X.Max = maxOf(vals) * 1.2
	return renderPNG(p, 9*vg.Inch, vg.Length(1.2+0.45*float64(len(vals)))*vg.Inch)
}

func shortEngine(e Engine) string {
	switch {
	case e.Tierflow:
		return fmt.Sprintf("tierflow (%d worker%s)", e.Workers, map[bool]string{true: "s"}[e.Workers > 1])
	case e.CLI:
		return "tierflow convert (CLI)"
	case e.Key == duckKey:
		return "DuckDB COPY"
	case e.Key == duckPartKey:
		return "DuckDB COPY PARTITION_BY"
	case e.Key == gzipKey:
		return "gzip -dc"
	case e.Key == pgzipKey:
		return "pgzip → discard"
	case e.Key == gunzipKey:
		return "gunzip → discard"
	}
	return e.Key
}

// scannedChart shows the bytes each query scans per layout (Athena's
// billing model), on a log scale: gz CSV is orders of magnitude above.
func scannedChart(qr *QueryResults) ([]byte, error) {
	p, width, err := scannedPlot(qr)
	if err != nil {
		return nil, err
	}
	return renderPNG(p, width, 5*vg.Inch)
}

// scannedWidth is the scanned chart's least width; the groups of bars
// share what the axis leaves of it.
const scannedWidth = 8 * vg.Inch

// scannedPlot is scannedChart's plot and width. Each bar is as wide as the
// widest value label (in binary units, as the report's tables), so labels
// of neighbouring bars never overlap.
func scannedPlot(qr *QueryResults) (*plot.Plot, vg.Length, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Bytes scanned as Athena bills them, %d rows (log scale)", qr.Rows)
	p.Y.Label.Text = "bytes scanned (KiB, MiB, GiB = 2^10, 2^20, 2^30 bytes)"
	// Bars are log10(bytes) above a floor one decade under the smallest
	// value, with ticks at 1, 10 and 100 of each binary unit.
	minV := math.Inf(1)
	for _, c := range qr.Cells {
		if c.Scanned > 0 {
			minV = math.Min(minV, float64(c.Scanned))
		}
	}
	if math.IsInf(minV, 1) {
		minV = 1
	}
	floor := math.Floor(math.Log10(minV)) - 1
	var queries []string
	for _, q := range qr.Queries {
		queries = append(queries, q.Key)
	}
	vals := make([]plotter.Values, len(qr.Layouts))
	texts := make([][]string, len(qr.Layouts))
	var top float64
	for li, l := range qr.Layouts {
		for _, q := range qr.Queries {
			var v float64
			text := ""
			for _, c := range qr.Cells {
				if c.Layout == l.Key && c.Query == q.Key && c.Scanned > 0 {
					v, text = math.Log10(float64(c.Scanned))-floor, humanBytes(c.Scanned)
				}
			}
			vals[li], texts[li] = append(vals[li], v), append(texts[li], text)
			top = math.Max(top, v)
		}
	}
	style := p.Y.Tick.Label // the axis' font
	style.XAlign, style.YAlign = draw.XCenter, draw.YBottom
	width, chart, style := barWidth(texts, len(queries), style)
	for li, l := range qr.Layouts {
		bars, err := plotter.NewBarChart(vals[li], width)
		if err != nil {
			return nil, 0, err
		}
		bars.Color = palette[li%len(palette)]
		bars.LineStyle.Width = 0
		bars.Offset = (vg.Length(li) - vg.Length(len(qr.Layouts)-1)/2) * width
		p.Add(bars)
		p.Legend.Add(l.Name, bars)
		// Value labels above the bars, at the same offset.
		xys := make(plotter.XYs, len(vals[li]))
		for i, v := range vals[li] {
			xys[i] = plotter.XY{X: float64(i), Y: v}
		}
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts[li]})
		if err != nil {
			return nil, 0, err
		}
		for i := range lab.TextStyle {
			lab.TextStyle[i] = style
		}
		lab.Offset = vg.Point{X: bars.Offset, Y: vg.Points(2)}
		p.Add(lab)
	}
	p.NominalX(queries...)
	p.X.Min, p.X.Max = -0.6, float64(len(queries))-0.4
	p.Y.Min, p.Y.Max = 0, math.Ceil(top)+1.5 // room for the labels and the legend
	p.Y.Tick.Marker = binaryTicks{floor: floor}
	p.Legend.Top = true
	p.Legend.Left = false
	return p, chart, nil
}

// barWidth sizes the bars of a grouped chart (one group per query, one
// bar per layout, texts[layout][query] above each bar in style at 8
// points): each bar as wide as the widest label, and the chart at least
// scannedWidth and wide enough for the groups.
func barWidth(texts [][]string, groups int, style text.Style) (bar, chart vg.Length, _ text.Style) {
	style.Font.Size = vg.Points(8)
	widest := vg.Length(0)
	for _, ts := range texts {
		for _, t := range ts {
			widest = max(widest, style.Width(t))
		}
	}
	bar = widest + vg.Points(4)
	// A group gets what the axis (an inch) leaves, over the x range's
	// 1 + 0.2 units per group, with a fifth of it as gap.
	need := vg.Inch + vg.Length(float64(groups)+0.2)*vg.Length(len(texts))*bar/0.8
	return bar, max(scannedWidth, need), style
}

// binaryTicks labels a log10 axis (offset by floor) at 1, 10 and 100 of
// each binary unit: 1 KiB, 10 KiB, 100 KiB, 1 MiB, …
type binaryTicks struct{ floor float64 }

func (b binaryTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, u := range []struct {
		size float64
		name string
	}{{1, "B"}, {1 << 10, "KiB"}, {1 << 20, "MiB"}, {1 << 30, "GiB"}, {1 << 40, "TiB"}} {
		for _, m := range []float64{1, 10, 100} {
			if v := math.Log10(u.size*m) - b.floor; v >= lo && v <= hi {
				out = append(out, plot.Tick{Value: v, Label: fmt.Sprintf("%g %s", m, u.name)})
			}
		}
	}
	return out
}

// valueLabels puts each bar's value at its end.
func valueLabels(vals plotter.Values, horizontal bool, format func(float64) string) (*plotter.Labels, error) {
	xys := make(plotter.XYs, len(vals))
	labels := make([]string, len(vals))
	for i, v := range vals {
		if horizontal {
			xys[i] = plotter.XY{X: v, Y: float64(i)}
		} else {
			xys[i] = plotter.XY{X: float64(i), Y: v}
		}
		labels[i] = " " + format(v)
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].YAlign = draw.YCenter
	}
	return l, nil
}

func maxOf(vs plotter.Values) float64 {
	m := 0.0
	for _, v := range vs {
		m = math.Max(m, v)
	}
	if m == 0 {
		return 1
	}
	return m
}

func renderPNG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	c := vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
