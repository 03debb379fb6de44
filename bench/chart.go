package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
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
	p.Title.Text = fmt.Sprintf("Conversion of one part: %d rows × %d columns (%.0f MB gzip), median wall", cr.Rows, cr.Columns, float64(cr.GzipBytes)/1e6)
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
	}
	return e.Key
}

// scannedChart shows the bytes each query scans per layout (Athena's
// billing model), on a log scale: gz CSV is orders of magnitude above.
func scannedChart(qr *QueryResults) ([]byte, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Bytes scanned as Athena bills them, %d rows (log scale)", qr.Rows)
	p.Y.Label.Text = "bytes scanned (decimal units)"
	// Bars are log10(bytes) above a floor one decade under the smallest
	// value, with decade ticks labelled in bytes.
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
	width := vg.Points(22)
	var queries []string
	for _, q := range qr.Queries {
		queries = append(queries, q.Key)
	}
	var top float64
	for li, l := range qr.Layouts {
		var vals plotter.Values
		for _, q := range qr.Queries {
			var v float64
			for _, c := range qr.Cells {
				if c.Layout == l.Key && c.Query == q.Key && c.Scanned > 0 {
					v = math.Log10(float64(c.Scanned)) - floor
				}
			}
			vals = append(vals, v)
			top = math.Max(top, v)
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		bars.Color = palette[li%len(palette)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(li-(len(qr.Layouts)-1)/2) * width
		if len(qr.Layouts)%2 == 0 {
			bars.Offset += width / 2
		}
		p.Add(bars)
		p.Legend.Add(l.Name, bars)
		// Value labels above the bars, at the same offset.
		xys := make(plotter.XYs, len(vals))
		texts := make([]string, len(vals))
		for i, v := range vals {
			xys[i] = plotter.XY{X: float64(i), Y: v}
			if v > 0 {
				texts[i] = siBytes(math.Pow(10, v+floor))
			}
		}
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
		if err != nil {
			return nil, err
		}
		for i := range lab.TextStyle {
			lab.TextStyle[i].XAlign = draw.XCenter
			lab.TextStyle[i].YAlign = draw.YBottom
			lab.TextStyle[i].Font.Size = vg.Points(8)
		}
		lab.Offset = vg.Point{X: bars.Offset, Y: vg.Points(2)}
		p.Add(lab)
	}
	p.NominalX(queries...)
	p.X.Min, p.X.Max = -0.6, float64(len(queries))-0.4
	p.Y.Min, p.Y.Max = 0, math.Ceil(top)+1.2 // room for the legend
	p.Y.Tick.Marker = decadeTicks{floor: floor}
	p.Legend.Top = true
	p.Legend.Left = false
	return renderPNG(p, 8*vg.Inch, 5*vg.Inch)
}

// decadeTicks labels log10 offsets as byte sizes.
type decadeTicks struct{ floor float64 }

func (d decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for v := math.Ceil(lo); v <= hi; v++ {
		out = append(out, plot.Tick{Value: v, Label: siBytes(math.Pow(10, v+d.floor))})
	}
	return out
}

// siBytes prints bytes in decimal units (the chart's decades).
func siBytes(b float64) string {
	for _, u := range []struct {
		div  float64
		name string
	}{{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}} {
		if b >= u.div {
			return fmt.Sprintf("%.3g %s", b/u.div, u.name)
		}
	}
	return fmt.Sprintf("%.0f B", b)
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
