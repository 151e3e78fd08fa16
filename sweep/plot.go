package sweep

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/sparsetune/sparsetune/internal/atomicfile"
)

// Plot file names in a sweep directory.
const (
	ComputePlot = "quality_vs_compute.png"
	LatencyPlot = "quality_vs_latency.png"
	RatioPlot   = "quality_vs_ratio.png" // sweeps with data ratios
)

// Colours of the series, the same in every plot (Okabe & Ito's
// colour-blind-safe palette).
var (
	colRun      = color.RGBA{0, 114, 178, 255} // blue
	colFrontier = color.RGBA{230, 159, 0, 255} // orange
	colAdapted  = color.RGBA{0, 158, 115, 255} // green
	colDense    = color.RGBA{213, 94, 0, 255}  // vermillion
	colNote     = color.RGBA{90, 90, 90, 255}  // grey
	// more series: runs at several ratios, or of several targets
	palette     = []color.Color{colRun, colAdapted, color.RGBA{204, 121, 167, 255}, color.RGBA{86, 180, 233, 255}, colFrontier, colNote, color.RGBA{240, 228, 66, 255}, color.Black}
	plotW       = vg.Length(6.5) * vg.Inch // fits a Markdown page at full width
	plotH       = vg.Length(4.5) * vg.Inch
	qualityPct  = func(name string) bool { return name == "accuracy" }
	dashes      = []vg.Length{vg.Points(5), vg.Points(3)}
	denseDashes = []vg.Length{vg.Points(2), vg.Points(2)}
)

// qualityAxis is the y axis label and the value shown for a row.
func (t *Table) qualityAxis() (string, func(Row) float64) {
	split := "test"
	if !t.hasTest() {
		split = "valid"
	}
	if qualityPct(t.MetricName) {
		return split + " accuracy (%)", func(r Row) float64 { return 100 * r.Quality() }
	}
	return split + " " + t.MetricName, Row.Quality
}

// ComputePlot draws quality against measured compute: the retrained runs
// (labelled with their targets), the frontier with and without adaptation,
// and the dense model as a square at compute 1 with a dotted line at its
// quality.
func (t *Table) ComputePlot() (*plot.Plot, error) {
	label, q := t.qualityAxis()
	p := plot.New()
	p.Title.Text = "Quality vs measured compute"
	p.X.Label.Text = "measured compute (fraction of the dense routed FLOPs, valid)"
	p.Y.Label.Text = label
	p.Add(plotter.NewGrid())
	x := func(r Row) float64 { return r.Compute }
	if err := t.addSeries(p, x, q); err != nil {
		return nil, err
	}
	legendRoom(p)
	return p, nil
}

// LatencyPlot draws quality against the measured scoring latency of the
// dense model and the retrained runs. Without measurements it is an empty
// frame that says so, so that a report's layout does not change when the
// engine arrives.
func (t *Table) LatencyPlot() (*plot.Plot, error) {
	label, q := t.qualityAxis()
	p := plot.New()
	p.Title.Text = "Quality vs measured latency"
	p.X.Label.Text = fmt.Sprintf("scoring latency of %d sequences on the engine (ms)", latencyBatch)
	p.Y.Label.Text = label
	p.Add(plotter.NewGrid())
	var measured []Row
	for _, r := range t.Rows {
		if (r.Kind == KindRun || r.Kind == KindDense) && r.Latency.Measured {
			measured = append(measured, r)
		}
	}
	if len(measured) == 0 {
		note := "latency not measured"
		for _, r := range t.Rows {
			if r.Latency.Note != "" {
				note = r.Latency.Note
				break
			}
		}
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: 0.5, Y: 0.5}}, Labels: []string{note}})
		if err != nil {
			return nil, err
		}
		l.TextStyle[0].Color = colNote
		l.TextStyle[0].XAlign, l.TextStyle[0].YAlign = draw.XCenter, draw.YCenter
		p.Add(l)
		return p, nil
	}
	sub := &Table{MetricName: t.MetricName, Rows: measured}
	if err := sub.addSeries(p, func(r Row) float64 { return r.Latency.ScoreMS }, q); err != nil {
		return nil, err
	}
	legendRoom(p)
	return p, nil
}

// legendRoom puts the legend in the top left corner and raises the y axis
// so that it covers no data: quality rises with compute, so the top left is
// where points are least likely, and the extra room keeps it free.
func legendRoom(p *plot.Plot) {
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(4)
	span := p.Y.Max - p.Y.Min
	if span == 0 {
		span = math.Max(math.Abs(p.Y.Max)*0.01, 0.01)
		p.Y.Min -= span / 2
	}
	p.Y.Max += 0.6 * span // four legend entries take about a third of the height
}

// addSeries adds the table's series to p at (x(row), y(row)).
func (t *Table) addSeries(p *plot.Plot, x, y func(Row) float64) error {
	xys := func(rows []Row) plotter.XYs {
		rows = slices.Clone(rows)
		slices.SortFunc(rows, func(a, b Row) int { return cmpFloat(x(a), x(b)) })
		out := make(plotter.XYs, len(rows))
		for i, r := range rows {
			out[i] = plotter.XY{X: x(r), Y: y(r)}
		}
		return out
	}
	for _, s := range []struct {
		kind, name string
		col        color.Color
		glyph      draw.GlyphDrawer
		dashed     bool
	}{
		{KindFrontier, "one run, τ recalibrated", colFrontier, draw.TriangleGlyph{}, true},
		{KindAdapted, "one run, τ recalibrated + stage-2 adaptation", colAdapted, draw.PyramidGlyph{}, true},
		{KindRun, "retrained per target", colRun, draw.CircleGlyph{}, false},
	} {
		all := t.Of(s.kind)
		if len(all) == 0 {
			continue
		}
		groups, names, cols := [][]Row{all}, []string{s.name}, []color.Color{s.col}
		if s.kind == KindRun && t.Ratios { // one line per data ratio
			groups, names, cols = nil, nil, nil
			for _, r := range all {
				i := slices.IndexFunc(groups, func(g []Row) bool { return g[0].Ratio == r.Ratio })
				if i < 0 {
					i = len(groups)
					groups = append(groups, nil)
					names = append(names, fmt.Sprintf("%s, data ratio %.2f", s.name, r.Ratio))
					cols = append(cols, palette[i%len(palette)])
				}
				groups[i] = append(groups[i], r)
			}
		}
		for gi, rows := range groups {
			if err := addLine(p, xys(rows), names[gi], cols[gi], s.glyph, s.dashed); err != nil {
				return err
			}
			if s.kind != KindRun {
				continue
			}
			labels := make([]string, len(rows))
			sorted := slices.Clone(rows)
			slices.SortFunc(sorted, func(a, b Row) int { return cmpFloat(x(a), x(b)) })
			for i, r := range sorted {
				labels[i] = fmt.Sprintf("%.2f", r.Target)
			}
			l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys(rows), Labels: labels})
			if err != nil {
				return err
			}
			l.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(4)}
			for i := range l.TextStyle {
				l.TextStyle[i].Color = cols[gi]
			}
			p.Add(l)
		}
	}
	return t.addDense(p, x, y)
}

// addLine adds one series, a line through its points, to p and its legend.
func addLine(p *plot.Plot, xys plotter.XYs, name string, col color.Color, glyph draw.GlyphDrawer, dashed bool) error {
	line, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	line.Color, pts.Color, pts.Shape, pts.Radius = col, col, glyph, vg.Points(3)
	if dashed {
		line.Dashes = dashes
	}
	p.Add(line, pts)
	p.Legend.Add(name, line, pts)
	return nil
}

// addDense marks the dense point as a square with a dotted line at its
// quality.
func (t *Table) addDense(p *plot.Plot, x, y func(Row) float64) error {
	if d := t.Dense(); d != nil {
		dy := y(*d)
		ref := plotter.NewFunction(func(float64) float64 { return dy })
		ref.Color, ref.Dashes = colDense, denseDashes
		pt, err := plotter.NewScatter(plotter.XYs{{X: x(*d), Y: dy}})
		if err != nil {
			return err
		}
		pt.Color, pt.Shape, pt.Radius = colDense, draw.BoxGlyph{}, vg.Points(5)
		p.Add(ref, pt)
		p.Legend.Add("dense model", ref, pt)
	}
	return nil
}

// RatioPlot draws quality against the fraction of the training data the
// runs trained on (a sweep with data ratios): the dense runs on the
// subsets, or, with targets, one line per target, and the dense model on
// all the data at ratio 1, marked as in the other plots.
func (t *Table) RatioPlot() (*plot.Plot, error) {
	label, q := t.qualityAxis()
	p := plot.New()
	p.Title.Text = "Quality vs data ratio"
	p.X.Label.Text = "data ratio (fraction of the training examples kept"
	if t.Coreset != "" {
		p.X.Label.Text += ", chosen by " + t.Coreset
	}
	p.X.Label.Text += ")"
	p.Y.Label.Text = label
	p.Add(plotter.NewGrid())
	x := func(r Row) float64 { return r.Ratio }
	xys := func(rows []Row) plotter.XYs {
		slices.SortFunc(rows, func(a, b Row) int { return cmpFloat(a.Ratio, b.Ratio) })
		out := make(plotter.XYs, len(rows))
		for i, r := range rows {
			out[i] = plotter.XY{X: x(r), Y: q(r)}
		}
		return out
	}
	if rows := t.Of(KindSubset); len(rows) > 0 {
		if err := addLine(p, xys(rows), "dense, trained on the subset", colRun, draw.CircleGlyph{}, false); err != nil {
			return nil, err
		}
	}
	var targets []float64
	for _, r := range t.Of(KindRun) {
		if !slices.Contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
	}
	for i, target := range targets {
		var rows []Row
		for _, r := range t.Of(KindRun) {
			if r.Target == target {
				rows = append(rows, r)
			}
		}
		if err := addLine(p, xys(rows), fmt.Sprintf("target %.2f, trained on the subset", target), palette[i%len(palette)], draw.CircleGlyph{}, false); err != nil {
			return nil, err
		}
	}
	if err := t.addDense(p, x, q); err != nil {
		return nil, err
	}
	p.X.Min, p.X.Max = 0, 1.05
	legendRoom(p)
	return p, nil
}

// savePNG writes p as a PNG at path, atomically.
func savePNG(p *plot.Plot, path string) error {
	wt, err := p.WriterTo(plotW, plotH, "png")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}
