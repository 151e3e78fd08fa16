package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/coreset"
	"github.com/sparsetune/sparsetune/internal/atomicfile"
	"github.com/sparsetune/sparsetune/internal/jsonfile"
	"github.com/sparsetune/sparsetune/train"
)

// ReportFile is the report's default name inside the rendered directory.
const ReportFile = "report.md"

// Report renders the sweep or the run in dir into one Markdown file, out
// ("" for <dir>/report.md), with its PNG images beside it, and returns the
// file's path. A sweep's report has the results and frontier tables, both
// frontier plots and every run's validation curve; a run's has its
// settings, its result, its training curves and, when it was a frontier's
// source, the frontier. A sweep with unfinished jobs is reported as far as
// it has got.
func Report(dir, out string) (string, error) {
	if out == "" {
		out = filepath.Join(dir, ReportFile)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	var md []byte
	var err error
	switch _, serr := os.Stat(filepath.Join(dir, PlanFile)); {
	case serr == nil:
		md, err = sweepReport(dir, filepath.Dir(out))
	case train.HoldsRun(dir):
		md, err = runReport(dir, filepath.Dir(out))
	default:
		return "", fmt.Errorf("%s is neither a sweep (no %s) nor a run (no metrics.jsonl)", dir, PlanFile)
	}
	if err != nil {
		return "", err
	}
	return out, atomicfile.WriteFile(out, md, 0o644)
}

// sweepReport renders the sweep in dir, writing its images to imgDir.
func sweepReport(dir, imgDir string) ([]byte, error) {
	t, p, err := Load(dir, false) // timings as collect measured them
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	sweepIntro(&b, dir, p)
	b.WriteString("## Results\n\n")
	b.Write(t.Markdown())
	images := []reportImage{{ComputePlot, "quality vs measured compute", t.ComputePlot}, {LatencyPlot, "quality vs measured latency", t.LatencyPlot}}
	if t.Ratios {
		images = append(images, reportImage{RatioPlot, "quality vs data ratio", t.RatioPlot})
	}
	if err := writeImages(&b, imgDir, images); err != nil {
		return nil, err
	}
	if err := runsSection(&b, dir, imgDir, p, t.MetricName); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sweepIntro writes the report's title and the paragraph that says what
// the sweep of plan p trained.
func sweepIntro(b *bytes.Buffer, dir string, p *Plan) {
	c := p.Base
	fmt.Fprintf(b, "# Sweep %s\n\n", dir)
	fmt.Fprintf(b, "Base model `%s`, trained on `%s` (valid `%s`, test `%s`); %d steps of %d × %d tokens at learning rate %g, seed %d.\n",
		c.Model, c.Train, orNone(c.Valid), orNone(c.Test), c.Steps, c.Batch, c.SeqLen, c.LR, c.Seed)
	switch {
	case len(p.Ratios) == 0:
		fmt.Fprintf(b, "Targets %s, one run each with %s routers", joinFloats(p.Targets), c.Router)
	case len(p.Targets) == 0:
		fmt.Fprintf(b, "Data ratios %s, one dense run each on the %s coreset of its ratio", joinFloats(p.Ratios), c.Coreset)
	default:
		fmt.Fprintf(b, "Targets %s with %s routers, each trained on the %s coreset of every data ratio %s", joinFloats(p.Targets), c.Router, c.Coreset, joinFloats(p.Ratios))
	}
	if p.SharesDynamics() {
		fmt.Fprintf(b, " (scored by the training dynamics the dense run recorded, `%s`)", filepath.Join(DenseJob, coreset.DynamicsFile))
	}
	if p.DenseRef != "" {
		fmt.Fprintf(b, "; the dense point is the model `%s`.\n\n", p.DenseRef)
	} else {
		b.WriteString("; the dense point is a dense run with the same settings.\n\n")
	}
}

// reportImage is one plot of a report: its file, its alt text and how to
// draw it.
type reportImage struct {
	file, alt string
	mk        func() (*plot.Plot, error)
}

// writeImages draws every image into imgDir and links it from b.
func writeImages(b *bytes.Buffer, imgDir string, images []reportImage) error {
	for _, img := range images {
		pl, err := img.mk()
		if err != nil {
			return err
		}
		if err := savePNG(pl, filepath.Join(imgDir, img.file)); err != nil {
			return err
		}
		fmt.Fprintf(b, "\n![%s](%s)\n", img.alt, img.file)
	}
	return nil
}

// runsSection writes the table of the sweep's runs (those that have
// started) and the plot of their validation curves.
func runsSection(b *bytes.Buffer, dir, imgDir string, p *Plan, metricName string) error {
	b.WriteString("\n## Runs\n\n")
	b.WriteString("| run | steps | training (s) | τ | dead units | always-on units | compute per layer (test) |\n|---|---:|---:|---:|---:|---:|---|\n")
	curves := map[string]plotter.XYs{}
	var names []string
	for _, j := range p.Jobs() {
		jdir := filepath.Join(dir, j.Name)
		h, err := readHistory(jdir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		names = append(names, j.Name)
		for _, e := range h.valid {
			curves[j.Name] = append(curves[j.Name], plotter.XY{X: float64(e.Step), Y: e.main()})
		}
		b.WriteString(runsRow(jdir, j.Name, h))
	}
	if len(names) == 0 {
		return nil
	}
	title := "Validation " + metricName + " during training"
	mk := func() (*plot.Plot, error) { return linePlot(title, "step", "valid "+metricName, names, curves) }
	return writeImages(b, imgDir, []reportImage{{"valid_curves.png", "validation curves", mk}})
}

// runsRow is the runs table's row of the job name (in jdir) with history h.
func runsRow(jdir, name string, h *history) string {
	wall, tau := "—", "—"
	if r, err := ReadResult(jdir); err == nil && r.Summary != nil {
		wall = fmt.Sprintf("%.0f", r.Summary.WallS)
	}
	var st train.State
	if checkpoints.ReadState(filepath.Join(jdir, "best"), &st) == nil && st.Tau > 0 {
		tau = fmt.Sprintf("%.4f", st.Tau)
	}
	dead, on, layers := "—", "—", "—"
	if e := h.test; e != nil && e.Dead != nil {
		dead, on, layers = fmt.Sprint(*e.Dead), fmt.Sprint(*e.AlwaysOn), joinFloats(e.LayerCompute)
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %s | %s |\n", name, lastStep(h), wall, tau, dead, on, layers)
}

// runReport renders the run in dir, writing its images to imgDir.
func runReport(dir, imgDir string) ([]byte, error) {
	h, err := readHistory(dir)
	if err != nil {
		return nil, err
	}
	c, st, err := runSettings(dir)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Run %s\n\n| setting | value |\n|---|---|\n", dir)
	for _, kv := range [][2]string{{"model", c.Model}, {"train / valid / test", c.Train + " / " + orNone(c.Valid) + " / " + orNone(c.Test)},
		{"steps × batch × seq_len", fmt.Sprintf("%d × %d × %d", c.Steps, c.Batch, c.SeqLen)}, {"learning rate", fmt.Sprintf("%g (%s, warm-up %d)", c.LR, c.Schedule, c.Warmup)}} {
		fmt.Fprintf(&b, "| %s | `%s` |\n", kv[0], kv[1])
	}
	if c.Target > 0 {
		fmt.Fprintf(&b, "| sparsity | target %.2f, %s routers, %d-neuron groups, stage 2: last %d steps |\n", c.Target, c.Router, c.GroupSize, c.Stage2Steps)
	}
	metric := "accuracy"
	if len(h.valid) > 0 && h.valid[0].Perplexity != nil {
		metric = "perplexity"
	}
	resultSection(&b, h, c, st, metric)
	b.WriteString("\n## Training\n")
	if err := writeImages(&b, imgDir, trainingImages(h, metric, c.Target > 0)); err != nil {
		return nil, err
	}
	if err := frontierSection(&b, dir, imgDir, h, st, c.Target); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// runSettings reads the config and state of the run in dir from its best
// checkpoint, or its latest when it has no best yet.
func runSettings(dir string) (train.Config, train.State, error) {
	c := train.DefaultConfig()
	var st train.State
	ckpt := filepath.Join(dir, "best")
	if _, err := os.Stat(filepath.Join(ckpt, checkpoints.ConfigFile)); err != nil {
		if ckpt, err = checkpoints.Latest(dir); err != nil || ckpt == "" {
			return c, st, fmt.Errorf("%s has no checkpoint to read its settings from yet", dir)
		}
	}
	if err := jsonfile.Read(filepath.Join(ckpt, checkpoints.ConfigFile), &c); err != nil {
		return c, st, err
	}
	if err := checkpoints.ReadState(ckpt, &st); err != nil {
		return c, st, err
	}
	return c, st, nil
}

// resultSection writes the run's best checkpoint's figures and, when the
// run was tested sparse, its test compute per layer.
func resultSection(b *bytes.Buffer, h *history, c train.Config, st train.State, metric string) {
	fmt.Fprintf(b, "\n## Result\n\n| best step | valid %s | test %s | measured compute | τ |\n|---:|---:|---:|---:|---:|\n", metric, metric)
	test, compute, tau := "—", "—", "—"
	if h.test != nil {
		test = fmt.Sprintf("%.4f", h.test.main())
	}
	if c.Target > 0 {
		compute, tau = fmt.Sprintf("%.4f", st.BestCompute), fmt.Sprintf("%.4f", st.Tau)
	}
	fmt.Fprintf(b, "| %d | %.4f | %s | %s | %s |\n", st.BestStep, st.BestMetric, test, compute, tau)
	if e := h.test; e != nil && len(e.LayerCompute) > 0 {
		fmt.Fprintf(b, "\nOn test: compute per layer %s; %d dead and %d always-on units.\n", joinFloats(e.LayerCompute), *e.Dead, *e.AlwaysOn)
	}
}

// trainingImages are the run's training curves: its loss, its validation
// metric and, for a sparse run, its compute (expected, target and
// measured).
func trainingImages(h *history, metric string, sparse bool) []reportImage {
	var loss, valid, expected, target, measured plotter.XYs
	for _, s := range h.steps {
		if s.Loss != nil {
			loss = append(loss, plotter.XY{X: float64(s.Step), Y: *s.Loss})
		}
		if s.ExpectedCompute != nil && s.Target != nil {
			expected = append(expected, plotter.XY{X: float64(s.Step), Y: *s.ExpectedCompute})
			target = append(target, plotter.XY{X: float64(s.Step), Y: *s.Target})
		}
	}
	for _, e := range h.valid {
		valid = append(valid, plotter.XY{X: float64(e.Step), Y: e.main()})
		if e.Compute != nil {
			measured = append(measured, plotter.XY{X: float64(e.Step), Y: *e.Compute})
		}
	}
	images := []reportImage{
		curveImage("loss.png", "Training loss", "loss", map[string]plotter.XYs{"training loss": loss}, "training loss"),
		curveImage("valid.png", "Validation "+metric, "valid "+metric, map[string]plotter.XYs{"valid " + metric: valid}, "valid "+metric),
	}
	if sparse {
		images = append(images, curveImage("compute.png", "Compute", "fraction of the dense routed FLOPs",
			map[string]plotter.XYs{"expected (soft gates)": expected, "target": target, "measured (hard masks, valid)": measured},
			"expected (soft gates)", "target", "measured (hard masks, valid)"))
	}
	return images
}

// curveImage is the image of a line plot over the steps of the named
// series of data, its alt text the title in lower case.
func curveImage(file, title, ylabel string, data map[string]plotter.XYs, names ...string) reportImage {
	mk := func() (*plot.Plot, error) { return linePlot(title, "step", ylabel, names, data) }
	return reportImage{file, strings.ToLower(title), mk}
}

// frontierSection adds the run's frontier, when it has one, with the run's
// own point beside it.
func frontierSection(b *bytes.Buffer, dir, imgDir string, h *history, st train.State, target float64) error {
	curve := &FrontierCurve{}
	if err := jsonfile.Read(filepath.Join(dir, FrontierFile), curve); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	run := Row{Kind: KindRun, Job: filepath.Base(dir), Target: target, Metric: st.BestMetric, Compute: st.BestCompute}
	if h.test != nil {
		v := h.test.main()
		run.TestMetric = &v
	}
	t := &Table{MetricName: curve.MetricName, Rows: []Row{run}, Frontier: curve}
	for _, pt := range curve.Points {
		kind := KindFrontier
		if pt.AdaptSteps > 0 {
			kind = KindAdapted
		}
		t.Rows = append(t.Rows, Row{Kind: kind, Target: pt.Target, Metric: pt.Metric, TestMetric: pt.TestMetric, Compute: pt.Compute, Tau: pt.Tau, AdaptSteps: pt.AdaptSteps})
	}
	b.WriteString("\n## Frontier\n\n")
	b.Write(t.frontierMarkdown())
	pl, err := t.ComputePlot()
	if err != nil {
		return err
	}
	if err := savePNG(pl, filepath.Join(imgDir, "frontier.png")); err != nil {
		return err
	}
	b.WriteString("\n![frontier](frontier.png)\n")
	return nil
}

// linePlot draws one line per named series, in the order of names.
func linePlot(title, xlabel, ylabel string, names []string, data map[string]plotter.XYs) (*plot.Plot, error) {
	palette := []color.Color{colRun, colFrontier, colAdapted, colDense, color.RGBA{204, 121, 167, 255}, color.RGBA{86, 180, 233, 255}, colNote, color.Black}
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	p.Add(plotter.NewGrid())
	for i, n := range names {
		if len(data[n]) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(data[n])
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = palette[i%len(palette)], vg.Points(1.2)
		if len(data[n]) > 30 { // per-step series: the line alone
			p.Add(l)
			p.Legend.Add(n, l)
			continue
		}
		pts.Color, pts.Radius = l.Color, vg.Points(2.5) // evaluations: few points, each marked
		p.Add(l, pts)
		p.Legend.Add(n, l, pts)
	}
	return p, nil
}

func lastStep(h *history) int {
	if len(h.steps) == 0 {
		return 0
	}
	return h.steps[len(h.steps)-1].Step
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(s, ", ")
}
