package harden

import (
	"fmt"
	"io"

	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/infer"
	"github.com/sparsetune/sparsetune/router"
)

// Hardening under top-k routing (router.TopK). There is no τ to
// calibrate: every token runs k_h heads and k_g groups of each layer, the
// k that router.ChooseK picks for the target from the cost model at the
// run's sequence length (the same k the run trained with when the target
// is the run's). Selection then keeps what top-k makes of the calibration
// tokens: a unit never chosen is removed (prune-below 0), one chosen by
// every token runs dense without routing (dense-above 1, counted in its
// layer's k); k ≤ the kept units, since every token chooses k distinct
// ones. The manifest records routing "topk" and each layer's k (version
// 3 of the format).

// topKLayers sets routing and the k of ch on every layer of man.
func topKLayers(man *checkpoints.SparseManifest, ch router.TopKChoice) {
	man.Routing = checkpoints.RoutingTopK
	for l := range man.Layers {
		ml := &man.Layers[l]
		ml.KHeads, ml.KGroups = len(ml.Heads), len(ml.Groups)
		if ch.KHeads != nil {
			ml.KHeads = ch.KHeads[l]
		}
		if ch.KGroups != nil {
			ml.KGroups = ch.KGroups[l]
		}
	}
}

// chooseK is router.Config.ChooseK for in's model and routers at the
// run's sequence length.
func chooseK(in Input, target float64) (router.TopKChoice, error) {
	seqLen := in.SeqLen
	if seqLen <= 0 {
		seqLen = in.Model.Config.MaxPos
	}
	return in.Router.ChooseK(in.Model.Config, seqLen, target)
}

// hardenTopK is Harden under top-k routing, on the picked calibration
// sequences seqs.
func hardenTopK(in Input, o Options, target float64, seqs [][]int, log io.Writer) (*Result, error) {
	rc := in.Router
	ch, err := chooseK(in, target)
	if err != nil {
		return nil, err
	}
	o.PruneBelow, o.DenseAbove = 0, 1
	man := in.manifest(target, o)
	man.Calibration.Sequences = len(seqs)
	topKLayers(&man, ch)
	routers, calibMan := in.calibrationRouters(man)
	full, err := Prune(in.Model, routers, calibMan)
	if err != nil {
		return nil, err
	}
	e, err := infer.New(full)
	if err != nil {
		return nil, err
	}
	if _, err := Measure(e, seqs); err != nil { // the usage Select reads
		return nil, err
	}
	res := &Result{SparseCheckpoint: o.Out, Target: target, Tau: rc.Tau, CalibratedOn: in.Calib.Name,
		Routing: string(router.TopK), KHeads: ch.KHeads, KGroups: ch.KGroups, DType: o.stored()}
	var n Counts
	man.Layers, n = Select(e.Usage, e.Manifest.Layers, o.PruneBelow, o.DenseAbove, rc.Kind == router.Static)
	topKLayers(&man, ch)
	res.Removed, res.Dense, res.Routed = n.Removed, n.Dense, n.Routed
	pruned, err := Prune(in.Model, routers, man)
	if err != nil {
		return nil, err
	}
	if err := o.quantize(pruned); err != nil {
		return nil, err
	}
	if e, err = infer.New(pruned); err != nil {
		return nil, err
	}
	m, err := Measure(e, seqs)
	if err != nil {
		return nil, err
	}
	e.Usage = nil
	res.Compute, res.ComputeSE = m.Compute, m.SE
	cal := &pruned.Manifest.Calibration
	pruned.Manifest.Compute, cal.Tokens, cal.ComputeSE, cal.LayerCompute = m.Compute, m.Tokens, m.SE, m.Layers
	if len(in.HeldOut.Seqs) > 0 {
		if res.HeldOutCompute, err = e.MeasureCompute(in.HeldOut.Seqs); err != nil {
			return nil, err
		}
	}
	if err := checkpoints.WriteSparse(o.Out, pruned, in.ModelDir, in.Tokenizer); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "hardened (top-k): heads %v and groups %v per token and layer, compute %.4f by the cost model; measured %.4f on %d calibration sequences (%s), %.4f held out; %d units removed, %d dense, %d routed → %s\n",
		ch.KHeads, ch.KGroups, ch.Compute, res.Compute, len(seqs), in.Calib.Name, res.HeldOutCompute, res.Removed, res.Dense, res.Routed, o.Out)
	return res, nil
}
