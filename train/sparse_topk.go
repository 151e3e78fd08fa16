package train

import (
	"fmt"

	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/router"
)

// Top-k routing (routing "topk"). Every token runs exactly k_h heads and
// k_g FFN groups of each layer, the k that router.ChooseK picks for the
// target from the run's cost model (the penalty's, at the sequence
// length), so the compute is fixed by construction. Stage 1 trains the
// routers through the hard top-k mask with the straight-through estimator
// (package router's doc); stage 2 freezes them as for threshold gates.
// The Lagrangian target control is off: its multipliers stay 0 and
// neither the compute penalty nor the separability term (which acts on
// τ) enters the objective. The schedule, distillation and the router
// learning rate are those of a threshold run, and there is no τ to
// calibrate at the switch.

// topK reports whether the run routes by top-k.
func (s *sparsity) topK() bool { return s.set.Config.Routing == router.TopK }

// withTopK returns rc under top-k routing with each layer's k chosen for
// cfg's target on model mc, when cfg asks for top-k; rc unchanged else.
func withTopK(rc router.Config, cfg *Config, mc *nn.Config) (router.Config, error) {
	routing, err := router.ParseRouting(cfg.Routing)
	if err != nil || routing != router.TopK {
		return rc, err
	}
	ch, err := rc.ChooseK(mc, cfg.SeqLen, cfg.Target)
	if err != nil {
		return rc, err
	}
	rc.Routing, rc.KHeads, rc.KGroups = router.TopK, ch.KHeads, ch.KGroups
	return rc, nil
}

// describeTopK is the top-k part of the sparse settings line: each
// layer's k and the compute they give by the cost model.
func (s *sparsity) describeTopK() string {
	if !s.topK() {
		return ""
	}
	c := s.set.Config
	var kh, kg float64
	for l := range c.KHeads {
		kh += float64(c.KHeads[l]) * s.cost.Head[l][0]
	}
	for l := range c.KGroups {
		kg += float64(c.KGroups[l]) * s.cost.Group[l][0]
	}
	return fmt.Sprintf("; top-k routing: heads %v, groups %v per token (compute %.4f by the cost model)",
		c.KHeads, c.KGroups, (kh+kg+s.cost.Router)/s.cost.Dense())
}

// SetTopK sets a loaded top-k run's k for target (router.Config.ChooseK
// at the run's sequence length), as a run trained for target would have
// them; graphs built afterwards (EvaluateHard, Adapt) use them. It is an
// error for a threshold run.
func (r *LoadedRun) SetTopK(target float64) (router.TopKChoice, error) {
	if !r.sp.topK() {
		return router.TopKChoice{}, fmt.Errorf("the run routes by threshold, not top-k")
	}
	rc := &r.sp.set.Config
	ch, err := rc.ChooseK(r.Model.Config, r.Config.SeqLen, target)
	if err != nil {
		return ch, err
	}
	rc.KHeads, rc.KGroups = ch.KHeads, ch.KGroups
	return ch, nil
}
