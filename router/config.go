package router

import (
	"fmt"
	"math"

	"github.com/sparsetune/sparsetune/nn"
)

// Kind names a router: how a gate's logit is computed and turned into a gate.
type Kind string

// The router kinds.
const (
	// Sigmoid is LTE's router (Zheng et al. 2024, §3.2): a linear map of the
	// layer's input hidden state gives one logit per unit and token, and the
	// gate is its sigmoid p in stage 1 and 1[p > τ] in stage 2. Contextual,
	// as in Deja Vu (Liu et al. 2023).
	Sigmoid Kind = "sigmoid"
	// HardConcrete is the contextual router with Louizos et al.'s (2018)
	// stochastic hard-concrete gates in stage 1 (see Set.GateFunc), as CoFi
	// (Xia et al. 2022) uses them, but with contextual logits.
	HardConcrete Kind = "hard-concrete"
	// Static learns one logit per unit, the same for every token, with
	// sigmoid gates: the input-independent baseline that differs from
	// Sigmoid only in not seeing the token (structured pruning, as CoFi's
	// masks are, but with Sigmoid's gate so that the comparison isolates
	// the value of context).
	Static Kind = "static"
)

// Stage selects the gates a GateFunc builds.
type Stage int

const (
	// Soft is stage 1: gates that are differentiable in the router
	// parameters (sigmoid: p; hard-concrete: a reparameterised sample z).
	Soft Stage = iota
	// Hard is stage 2 and inference: binary gates 1[P(on) > τ], constant in
	// the router parameters and the hidden state, so no gradient reaches
	// the routers (they are frozen) and the model trains with the gates it
	// will run with (LTE §3.3).
	Hard
)

func (s Stage) String() string {
	switch s {
	case Soft:
		return "soft"
	case Hard:
		return "hard"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// Config describes the routers of a model. Zero numeric fields take the
// defaults of DefaultConfig.
type Config struct {
	Kind      Kind
	Heads     bool // route attention heads (gate (N, H) per layer)
	FFN       bool // route FFN neuron groups (gate (N, G) per layer)
	GroupSize int  // FFN neurons per group; LTE's experts are 32 neurons (§4.1)

	// Tau is the hardening threshold on a gate's on-probability: stage 2
	// keeps a unit for a token when P(on) > Tau. 0.5 is LTE's threshold
	// (the sigmoid's midpoint, where the logit changes sign).
	Tau float64
	// InitOpen is every gate's on-probability at initialisation. Routers
	// start almost fully open so that training starts from the dense model
	// the task was fine-tuned or pre-trained as, and the penalty closes
	// units only as fast as the task loss allows; starting at p = 0.5 would
	// halve every unit's contribution at step 0 and destroy the model the
	// routers are meant to make cheaper. 0.95 rather than ~1 keeps the
	// sigmoid's slope p(1-p) = 0.0475 large enough for gradients to move it.
	InitOpen float64

	// Beta, Gamma and Zeta are the hard-concrete temperature and stretch
	// interval (Louizos et al. 2018, §4: β = 2/3, γ = −0.1, ζ = 1.1, the
	// values they and CoFi use).
	Beta, Gamma, Zeta float64

	// Routing is how logits become units: Threshold ("" too) or TopK,
	// which runs KHeads[l] heads and KGroups[l] FFN groups of layer l for
	// every token (ChooseK picks them from a target).
	Routing         Routing
	KHeads, KGroups []int

	// SepWidth is σ of the separability bump exp(−(p−τ)²/(2σ²)) (see
	// Separability): 0.1 counts a gate as undecided within about ±0.1 of τ.
	SepWidth float64
}

// DefaultConfig returns a sigmoid router over heads and FFN groups of 32
// neurons with the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{Kind: Sigmoid, Heads: true, FFN: true, GroupSize: 32,
		Tau: 0.5, InitOpen: 0.95, Beta: 2.0 / 3, Gamma: -0.1, Zeta: 1.1, SepWidth: 0.1}
}

// withDefaults fills zero numeric fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.Tau, d.Tau)
	set(&c.InitOpen, d.InitOpen)
	set(&c.Beta, d.Beta)
	set(&c.Gamma, d.Gamma)
	set(&c.Zeta, d.Zeta)
	set(&c.SepWidth, d.SepWidth)
	if c.GroupSize == 0 {
		c.GroupSize = d.GroupSize
	}
	return c
}

// validate reports the first field of c (defaults applied) that is out of
// range for model m.
func (c Config) validate(m *nn.Config) error {
	switch c.Kind {
	case Sigmoid, HardConcrete, Static:
	default:
		return fmt.Errorf("router kind %q is not supported (want sigmoid, hard-concrete or static)", c.Kind)
	}
	in01 := func(name string, v float64) error {
		if !(v > 0 && v < 1) {
			return fmt.Errorf("router %s %g must be in (0, 1)", name, v)
		}
		return nil
	}
	switch {
	case !c.Heads && !c.FFN:
		return fmt.Errorf("router routes nothing: set Heads, FFN or both")
	case c.FFN && (c.GroupSize < 1 || m.F%c.GroupSize != 0):
		return fmt.Errorf("router group size %d does not divide the FFN width %d", c.GroupSize, m.F)
	case in01("Tau", c.Tau) != nil:
		return in01("Tau", c.Tau)
	case in01("InitOpen", c.InitOpen) != nil:
		return in01("InitOpen", c.InitOpen)
	case !(c.Beta > 0) || math.IsInf(c.Beta, 1):
		return fmt.Errorf("router hard-concrete Beta %g must be positive and finite", c.Beta)
	case !(c.Gamma < 0) || math.IsInf(c.Gamma, -1):
		return fmt.Errorf("router hard-concrete Gamma %g must be negative and finite (the stretch puts mass on z = 0)", c.Gamma)
	case !(c.Zeta > 1) || math.IsInf(c.Zeta, 1):
		return fmt.Errorf("router hard-concrete Zeta %g must be above 1 and finite (the stretch puts mass on z = 1)", c.Zeta)
	case !(c.SepWidth > 0) || math.IsInf(c.SepWidth, 1):
		return fmt.Errorf("router SepWidth %g must be positive and finite", c.SepWidth)
	}
	return c.validateTopK(m.L, m.H, m.F/max(c.GroupSize, 1))
}

// probShift is the s in P(on) = σ(logit − s): 0 for sigmoid gates, and for
// hard-concrete gates β·log(−γ/ζ), since P(z ≠ 0) = σ(log α − β·log(−γ/ζ))
// (Louizos et al. 2018, §4: the probability that the stretched sample
// s̄ = s(ζ−γ)+γ exceeds 0, their expected L0 norm per gate).
func (c Config) probShift() float64 {
	if c.Kind == HardConcrete {
		return c.Beta * math.Log(-c.Gamma/c.Zeta)
	}
	return 0
}

// ProbShift is the s in P(on) = σ(logit − s) (see probShift), with the
// defaults applied: what an engine needs to apply the hard gate rule.
func (c Config) ProbShift() float64 { return c.withDefaults().probShift() }

// initLogit is the bias (contextual kinds) or logit (static) that makes
// P(on) = InitOpen for every token while the router weights are 0.
func (c Config) initLogit() float64 {
	return logit(c.InitOpen) + c.probShift()
}

// LouizosTau is the Tau at which a hard-concrete router's stage-2 gates
// keep exactly the units that Louizos et al.'s test-time estimator
// ẑ = min(1, max(0, σ(log α)(ζ−γ)+γ)) (2018, §4) keeps, those with ẑ > 0:
// ẑ > 0 ⇔ log α > log(−γ/ζ) ⇔ P(z≠0) > σ((1−β)·log(−γ/ζ)), 0.3102 for
// the default β, γ, ζ. (Stage-2 gates are binary; ẑ would also scale the
// units with 0 < ẑ < 1.)
func (c Config) LouizosTau() float64 {
	c = c.withDefaults()
	return sigmoid((1 - c.Beta) * math.Log(-c.Gamma/c.Zeta))
}

// FLOPsPerLayer is the router's forward cost per token and layer for model
// m, for loss.NewCost's routerFLOPsPerLayer, by cost.go's conventions: a
// contextual router's logits x·W + b cost 2·D·U multiply-add FLOPs plus U
// bias adds for its U = H + G units (those routed); the sigmoid and the
// threshold are not counted (elementwise), and in stage 2 the threshold can
// be applied to the logit itself (p > τ ⇔ logit > logit(τ) + shift). A
// static router costs nothing per token: its gates are fixed, so a pruned
// model simply omits the closed units.
func (c Config) FLOPsPerLayer(m *nn.Config) float64 {
	c = c.withDefaults()
	if c.Kind == Static {
		return 0
	}
	u := 0
	if c.Heads {
		u += m.H
	}
	if c.FFN && c.GroupSize > 0 {
		u += m.F / c.GroupSize
	}
	return float64(2*m.D*u + u)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
func logit(p float64) float64   { return math.Log(p / (1 - p)) }
