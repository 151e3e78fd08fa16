package train

import (
	"fmt"
	"io"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sparsetune/sparsetune/data"
	"github.com/sparsetune/sparsetune/harden"
	"github.com/sparsetune/sparsetune/internal/ops"
	"github.com/sparsetune/sparsetune/loss"
	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// sparsity is the part of a run that makes the model cheaper: routers,
// the cost model, the target controller and the two stages (LTE §3.3):
// stage 1 trains model and routers with soft gates under task loss +
// compute penalty; stage 2 freezes the routers, hardens the gates into
// masks and fine-tunes the model to adapt to them.
type sparsity struct {
	cfg   *Config
	set   *router.Set
	cost  *loss.Cost   // average-context cost, for the penalty
	costs []*loss.Cost // per-position costs, for measuring compute exactly
	ctl   *loss.Lagrangian
	chat  G.Value      // ĉ of the last training run (stage 1)
	probs [2][]G.Value // the last run's on-probabilities: [heads, groups][layer], nil when not routed
	stage int          // 1 or 2: the run's stage, the one place it is kept (Run switches it when τ is calibrated)

	// Distillation from the frozen dense model (cfg.DistillWeight() > 0).
	teacher     *nn.Graph
	teacherRun  *nn.Runner
	teacherIn   *tensor.Dense // the teacher's logits, an input of the student graph
	distillRows *tensor.Dense // (rows) 1 where a target counts
}

// newSparsity groups each layer's FFN neurons (balanced k-means on the
// up-projection, LTE §3.1) so that groups are contiguous, creates the
// routers and the cost model, and checks that the target is reachable.
func newSparsity(cfg *Config, m *nn.Model) (*sparsity, error) {
	mc := m.Config
	if mc.F%cfg.GroupSize != 0 {
		return nil, fmt.Errorf("group_size %d does not divide the FFN width %d", cfg.GroupSize, mc.F)
	}
	rc := router.DefaultConfig()
	rc.Kind, rc.GroupSize, rc.Tau = cfg.Router, cfg.GroupSize, cfg.Tau
	rc, err := withTopK(rc, cfg, mc)
	if err != nil {
		return nil, err
	}
	set, err := router.New(rc, mc, cfg.Seed, tensor.Float32)
	if err != nil {
		return nil, err
	}
	cfg.resolveStages() // a no-op in Run, which resolved cfg before
	s := &sparsity{cfg: cfg, set: set, stage: 1}
	if s.cost, err = loss.NewCost(mc, cfg.GroupSize, float64(cfg.SeqLen), set.FLOPsPerLayer()); err != nil {
		return nil, err
	}
	for pos := 0; pos < cfg.SeqLen; pos++ {
		c, err := loss.NewCostAt(mc, cfg.GroupSize, pos, cfg.SeqLen, set.FLOPsPerLayer())
		if err != nil {
			return nil, err
		}
		s.costs = append(s.costs, c)
	}
	if floor := s.cost.Router / s.cost.Dense(); cfg.Target <= floor {
		return nil, fmt.Errorf("target %g is unreachable: the routers alone cost %.3f of the dense routed compute", cfg.Target, floor)
	}
	if s.topK() {
		s.ctl = loss.FixedWeight(0) // the compute is fixed: no target control
	} else if cfg.PenaltyWeight > 0 {
		s.ctl = loss.FixedWeight(cfg.PenaltyWeight)
	} else {
		s.ctl = &loss.Lagrangian{LR: cfg.LambdaLR}
	}
	for l := 0; l < mc.L && !cfg.noGrouping; l++ {
		perm, err := router.GroupPermutation(m, l, cfg.GroupSize, 20, cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("grouping layer %d: %w", l, err)
		}
		if err := m.PermuteFFN(l, perm); err != nil {
			return nil, err
		}
	}
	if cfg.DistillWeight() > 0 {
		if err := s.newTeacher(m); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// describe prints the resolved sparsity settings, one line.
func (s *sparsity) describe(w io.Writer) {
	c := s.cfg
	fmt.Fprintf(w, "sparse: %s routers, %d-neuron groups, target %.2f (stage 1: %d steps, target ramp %d; stage 2: %d steps), router cost %.3f of dense%s\n",
		c.Router, c.GroupSize, c.Target, c.Steps-c.Stage2Steps, c.TargetWarmup, c.Stage2Steps, s.cost.Router/s.cost.Dense(), s.describeTopK())
}

// params are the router parameters, optimised after the model's.
func (s *sparsity) params() []*nn.Param { return s.set.Params() }

// switchStep is the number of steps done when stage 2 starts: stage 1 is
// steps 1 to switchStep, stage 2 the stage2_steps after.
func (s *sparsity) switchStep() int { return s.cfg.Steps - s.cfg.Stage2Steps }

// recalibrates reports whether τ is calibrated again before step (steps
// done): at the cfg.Stage2Calibrations evenly spaced points of stage 2 after the
// switch, under threshold routing. Three (the default) follow the drift
// of the masks while the learning rate is high, and the calibrations (a
// few engine passes over the calibration sequences each) stay a small
// part of the run.
func (s *sparsity) recalibrates(step int) bool {
	n, times := s.cfg.Stage2Steps, s.cfg.Stage2Calibrations
	if s.stage != 2 || s.topK() || times == 0 || n < times+1 {
		return false
	}
	every := (n + times) / (times + 1)
	k := step - s.switchStep()
	return k > 0 && k%every == 0 && k/every <= times
}

// target is the compute target at step: 1 ramping linearly to cfg.Target
// (cfg.Target throughout under top-k routing, whose compute is fixed).
func (s *sparsity) target(step int) float64 {
	if s.topK() {
		return s.cfg.Target
	}
	return loss.Target(step, s.cfg.TargetWarmup, s.cfg.Target)
}

// buildTrain builds the training graph of the current stage. Stage 1's
// objective is task loss + penalty(ĉ) + w_sep·separability, differentiated
// with respect to the model and the routers; stage 2 uses hard masks and
// differentiates the task loss with respect to the model only.
func (s *sparsity) buildTrain(m *nn.Model, opt nn.BuildOptions) (*nn.Graph, *nn.Runner, error) {
	if s.stage == 2 {
		opt.Gates = s.set.GateFunc(router.Hard)
		gr, err := m.Build(opt)
		if err != nil {
			return nil, nil, err
		}
		obj, err := s.withDistillation(gr, gr.Loss)
		if err != nil {
			return nil, nil, err
		}
		run, err := gr.CompileWith(obj, gr.Trainable())
		return gr, run, err
	}
	opt.Gates = s.set.GateFunc(router.Soft)
	gr, err := m.Build(opt)
	if err != nil {
		return nil, nil, err
	}
	head, ffn := s.set.Probs()
	chat, err := loss.ExpectedCompute(s.cost, head, ffn)
	if err != nil {
		return nil, nil, err
	}
	G.Read(chat, &s.chat)
	for k, nodes := range [][]*G.Node{head, ffn} {
		s.probs[k] = make([]G.Value, len(nodes))
		for l, p := range nodes {
			if p != nil {
				G.Read(p, &s.probs[k][l])
			}
		}
	}
	obj, err := s.withDistillation(gr, gr.Loss)
	if err != nil {
		return nil, nil, err
	}
	if !s.topK() { // top-k: fixed compute, no penalty and no τ to separate from
		pen, err := s.ctl.Penalty(chat)
		if err != nil {
			return nil, nil, err
		}
		if obj, err = G.Add(obj, pen); err != nil {
			return nil, nil, err
		}
	}
	if s.cfg.SepWeight > 0 && !s.topK() {
		sep, err := s.set.Separability()
		if err != nil {
			return nil, nil, err
		}
		w := G.NewScalar(gr.G, tensor.Float32, G.WithName("sep_weight"), G.WithValue(float32(s.cfg.SepWeight)))
		ws, err := G.Mul(w, sep)
		if err != nil {
			return nil, nil, err
		}
		if obj, err = G.Add(obj, ws); err != nil {
			return nil, nil, err
		}
	}
	run, err := gr.CompileWith(obj, append(gr.Trainable(), s.set.Nodes()...))
	return gr, run, err
}

// beforeStep feeds the step's target to the penalty.
func (s *sparsity) beforeStep(step int) error {
	if s.stage == 2 || s.topK() { // top-k: no penalty to feed
		return nil
	}
	return s.ctl.Feed(s.target(step))
}

// afterStep updates the multipliers by gradient ascent and returns the
// step's figures for the log.
func (s *sparsity) afterStep(step int) (*SparseStep, error) {
	if s.stage == 2 || s.chat == nil {
		return &SparseStep{Stage: 2}, nil
	}
	c, t := ops.Scalar(s.chat), s.target(step)
	if err := s.ctl.Update(c, t); err != nil {
		return nil, fmt.Errorf("step %d: %w", step+1, err)
	}
	return &SparseStep{Stage: 1, ExpectedCompute: c, Target: t, Lambda1: s.ctl.Lambda1, Lambda2: s.ctl.Lambda2,
		NearTau: s.nearTau(), LayerExpectedCompute: s.layerExpected()}, nil
}

// layerExpected is each layer's expected compute in the last run: its
// units' mean on-probability weighted by their cost, over the layer's dense
// routed cost.
func (s *sparsity) layerExpected() []float64 {
	L := len(s.cost.Head)
	out := make([]float64, L)
	for l := 0; l < L; l++ {
		var exp, dense float64
		for k, costs := range [][]float64{s.cost.Head[l], s.cost.Group[l]} {
			var ps []float32
			if v := s.probs[k][l]; v != nil {
				ps = gateValues(v)
			}
			for u, c := range costs {
				dense += c
				if ps == nil {
					exp += c
					continue
				}
				var mean float64
				n := len(ps) / len(costs)
				for i := 0; i < n; i++ {
					mean += float64(ps[i*len(costs)+u])
				}
				exp += c * mean / float64(n)
			}
		}
		out[l] = exp / dense
	}
	return out
}

// nearTau is the fraction of the last run's gate probabilities within 0.1
// of τ: the undecided gates that hardening would flip most easily.
func (s *sparsity) nearTau() float64 {
	near, all := 0, 0
	for _, v := range append(append([]G.Value{}, s.probs[0]...), s.probs[1]...) {
		if v == nil {
			continue
		}
		for _, p := range gateValues(v) {
			if math.Abs(float64(p)-s.cfg.Tau) < 0.1 {
				near++
			}
			all++
		}
	}
	if all == 0 {
		return 0
	}
	return float64(near) / float64(all)
}

// calibrate sets the routers' threshold τ so that the hard masks spend
// target (a fraction of the dense compute) on seqs, measured on the masks
// themselves by the inference engine (harden.CalibrateRouters: the
// calibration the hardening of the run does, so that stage 2 adapts the
// model to the masks the sparse checkpoint keeps), and returns τ and that
// compute. One global τ lets layers differ in how much they keep, as the
// routers learned. Under top-k routing it returns τ unchanged: there is
// none to fit.
func (s *sparsity) calibrate(m *nn.Model, seqs [][]int, target float64) (tau, compute float64, err error) {
	if s.topK() {
		return s.set.Config.Tau, target, nil
	}
	if tau, compute, err = harden.CalibrateRouters(m, s.params(), s.set.Config, seqs, target); err != nil {
		return 0, 0, err
	}
	s.set.Config.Tau = tau
	return tau, compute, nil
}

// eachUnit calls f for every real token of a batch (mask (B*T)) and every
// head (kind 0) and neuron group (kind 1) of every layer, with the unit's
// gate value for that token from head/ffn (the graph's last run; routed is
// false for a part without routers) and its FLOPs at the token's position.
func (s *sparsity) eachUnit(head, ffn []*G.Node, mask []int, f func(l, kind, u int, routed bool, p float32, cost float64)) {
	T := s.cfg.SeqLen
	for l := range head {
		for kind, node := range [2]*G.Node{head[l], ffn[l]} {
			var ps []float32
			if node != nil {
				ps = gateValues(node.Value())
			}
			for i, real := range mask {
				if real == 0 {
					continue
				}
				c := s.costs[i%T]
				costs := c.Head[l]
				if kind == 1 {
					costs = c.Group[l]
				}
				for u, cost := range costs {
					var p float32
					if ps != nil {
						p = ps[i*len(costs)+u]
					}
					f(l, kind, u, ps != nil, p, cost)
				}
			}
		}
	}
}

// calibrationSeqs are the sequences the stage switch calibrates τ on: up
// to harden.DefaultSequences training sequences, picked in a fixed order of
// their own (the run's position in the data does not move).
func calibrationSeqs(split *data.Split, cfg *Config) [][]int {
	order := data.Shuffle(len(split.Seqs), cfg.Seed, 1<<30)
	out := make([][]int, 0, min(len(order), harden.DefaultSequences))
	for _, i := range order[:min(len(order), harden.DefaultSequences)] {
		out = append(out, split.Seqs[i])
	}
	return out
}

// newTeacher keeps a frozen copy of the dense model (its weights before any
// sparse training) with a forward-only graph of the training shape. When
// only the routers train, the model's weights are the dense model's for
// the whole run: the teacher shares them instead of copying, so the base
// is held once (a new head, trained, is shared too: the teacher is then
// the dense model with the current head).
func (s *sparsity) newTeacher(m *nn.Model) error {
	t := &nn.Model{Config: m.Config, Params: m.Params}
	if s.cfg.Trainable != TrainRouters {
		t.Params = m.Params.Convert(tensor.Float32)
	}
	gr, err := t.Build(nn.BuildOptions{B: s.cfg.Batch, T: s.cfg.SeqLen})
	if err != nil {
		return err
	}
	run, err := gr.Compile(false)
	if err != nil {
		return err
	}
	s.teacher, s.teacherRun = gr, run
	return nil
}

// withDistillation adds cfg.Distill × τ²·KL(teacher ‖ student) to loss when
// distillation is on (Hinton et al. 2015; LTE and Sheared-LLaMA distil from
// the dense model as well).
func (s *sparsity) withDistillation(gr *nn.Graph, loss *G.Node) (*G.Node, error) {
	if s.teacher == nil {
		return loss, nil
	}
	shape := gr.Logits.Shape()
	s.teacherIn = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	s.distillRows = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape[0]))
	tn := G.NewTensor(gr.G, tensor.Float32, 2, G.WithShape(shape...), G.WithValue(s.teacherIn), G.WithName("teacher_logits"))
	wn := G.NewTensor(gr.G, tensor.Float32, 1, G.WithShape(shape[0]), G.WithValue(s.distillRows), G.WithName("distill_rows"))
	kd, err := ops.DistillKL(gr.Logits, tn, wn, s.cfg.DistillTemp)
	if err != nil {
		return nil, err
	}
	w := G.NewScalar(gr.G, tensor.Float32, G.WithName("distill_weight"), G.WithValue(float32(s.cfg.DistillWeight())))
	wkd, err := G.Mul(w, kd)
	if err != nil {
		return nil, err
	}
	return G.Add(loss, wkd)
}

// teach runs the teacher on the batch and feeds its logits, and the rows
// that count, to the student graph.
func (s *sparsity) teach(b *nn.Batch, mc *nn.Config) error {
	if s.teacher == nil {
		return nil
	}
	if err := s.teacher.Feed(b); err != nil {
		return err
	}
	if err := s.teacherRun.Run(); err != nil {
		return err
	}
	copy(s.teacherIn.Data().([]float32), s.teacher.Logits.Value().Data().([]float32))
	rows := s.distillRows.Data().([]float32)
	T := s.cfg.SeqLen
	for i := range rows {
		counted := false
		if mc.Task == nn.Classification {
			counted = b.Labels[i] != nn.IgnoreIndex
		} else if i%T != T-1 {
			counted = b.Labels[i+1] != nn.IgnoreIndex
		}
		rows[i] = 0
		if counted {
			rows[i] = 1
		}
	}
	return nil
}
