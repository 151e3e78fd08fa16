package train

import (
	"fmt"
	"math"
)

// Schedule is the learning-rate decay after warm-up (Config.Schedule).
type Schedule string

// The schedules.
const (
	Cosine   Schedule = "cosine"   // cosine decay to min_lr_ratio·lr (Loshchilov & Hutter 2017, without restarts)
	Linear   Schedule = "linear"   // linear decay to min_lr_ratio·lr
	Constant Schedule = "constant" // no decay
)

// ParseSchedule reads a schedule by name.
func ParseSchedule(s string) (Schedule, error) {
	if sc := Schedule(s); sc.valid() {
		return sc, nil
	}
	return "", fmt.Errorf("schedule %q: want cosine, linear or constant", s)
}

func (s Schedule) valid() bool { return s == Cosine || s == Linear || s == Constant }

// LearningRate is the rate for optimizer step (0-based): linear warm-up from
// lr/warmup to lr, then cosine (Loshchilov & Hutter 2017, without
// restarts) or linear decay to min_lr_ratio·lr at the last step, or
// constant.
func (c *Config) LearningRate(step int) float64 {
	if step < c.Warmup {
		return c.LR * float64(step+1) / float64(c.Warmup)
	}
	if c.Schedule == Constant || c.Steps <= c.Warmup+1 {
		return c.LR
	}
	p := float64(step-c.Warmup) / float64(c.Steps-c.Warmup-1) // 0 → 1 over the decay
	p = math.Min(p, 1)
	lo := c.LR * c.MinLRRatio
	if c.Schedule == Linear {
		return c.LR - (c.LR-lo)*p
	}
	return lo + (c.LR-lo)*0.5*(1+math.Cos(math.Pi*p))
}
