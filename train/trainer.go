package train

import (
	"fmt"
	"path/filepath"

	"github.com/sparsetune/sparsetune/internal/safetensors"
	"github.com/sparsetune/sparsetune/nn"
)

// trainer owns the training graph of the current stage and moves
// gradients from it into the optimizer.
type trainer struct {
	model *nn.Model
	sp    *sparsity // nil: dense fine-tuning
	opt   *AdamW
	opts  nn.BuildOptions
	gr    *nn.Graph
	run   *nn.Runner
	// borrow hands the graph's gradients to the optimizer in place
	// (AdamW.Borrow) rather than copying them: one micro-batch per step.
	borrow bool
}

// build makes the graph for the sparsity's stage (sparsity.stage) and
// restores the dropout RNG states saved in st (after a resume, or when
// stage 2 starts).
func (t *trainer) build(st *State) error {
	if t.run != nil {
		t.run.Close()
	}
	var err error
	if t.sp == nil {
		if t.gr, err = t.model.Build(t.opts); err != nil {
			return err
		}
		t.run, err = t.gr.Compile(true)
	} else {
		t.gr, t.run, err = t.sp.buildTrain(t.model, t.opts)
		// Stage 2 freezes the routers: they are the optimizer's last params.
		for i := len(t.model.Params.Trainable()); i < len(t.opt.params); i++ {
			t.opt.Freeze(i, t.sp.stage == 2)
		}
	}
	if err != nil {
		return err
	}
	if len(st.Dropout) > 0 {
		if len(st.Dropout) != len(t.gr.Dropout) {
			return fmt.Errorf("resume: the checkpoint has %d dropout states, the model has %d (was dropout changed?)", len(st.Dropout), len(t.gr.Dropout))
		}
		for i, d := range t.gr.Dropout {
			if err := d.Restore(st.Dropout[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// saveDropout records the dropout RNG states into st.
func (t *trainer) saveDropout(st *State) error {
	st.Dropout = st.Dropout[:0]
	for _, d := range t.gr.Dropout {
		b, err := d.State()
		if err != nil {
			return err
		}
		st.Dropout = append(st.Dropout, b)
	}
	return nil
}

func (t *trainer) beforeStep(step int) error {
	if t.sp == nil {
		return nil
	}
	return t.sp.beforeStep(step)
}

func (t *trainer) afterStep(step int) (*SparseStep, error) {
	if t.sp == nil {
		return nil, nil
	}
	return t.sp.afterStep(step)
}

// forwardBackward runs one micro-batch and accumulates its gradients,
// scaled, into the optimizer. It returns the task loss.
func (t *trainer) forwardBackward(b *nn.Batch, scale float64) (float64, error) {
	if t.sp != nil {
		if err := t.sp.teach(b, t.model.Config); err != nil {
			return 0, err
		}
	}
	if err := t.gr.Feed(b); err != nil {
		return 0, err
	}
	if err := t.run.Run(); err != nil {
		return 0, err
	}
	for i := 0; i < t.run.NumGrads(); i++ {
		if t.borrow {
			t.opt.Borrow(i, t.run.Grad(i), float32(scale))
		} else {
			t.opt.Accumulate(i, t.run.Grad(i), float32(scale))
		}
	}
	return t.run.Loss(), nil
}

func (t *trainer) Close() error { return t.run.Close() }

// routerFile holds the router parameters inside a checkpoint.
const routerFile = "router.safetensors"

// routerTensors returns the router parameters for a checkpoint.
func routerTensors(sp *sparsity) []*safetensors.Tensor {
	var ts []*safetensors.Tensor
	for _, p := range sp.params() {
		ts = append(ts, &safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Value.Data().([]float32)})
	}
	return ts
}

// loadCheckpointWeights loads a checkpoint's model (and router) weights
// into the running model in place.
func loadCheckpointWeights(dir string, m *nn.Model, sp *sparsity) error {
	saved, err := nn.Load(dir, nn.LoadOptions{})
	if err != nil {
		return err
	}
	if len(saved.Params.List) != len(m.Params.List) {
		return fmt.Errorf("%s holds a different model than the config describes", dir)
	}
	copyParams(m, saved)
	if sp == nil {
		return nil
	}
	f, err := safetensors.Read(filepath.Join(dir, routerFile))
	if err != nil {
		return err
	}
	for _, p := range sp.params() {
		rt, ok := f.Tensors[p.Name]
		if !ok || rt.Numel() != p.Numel() {
			return fmt.Errorf("%s: router tensor %q missing or of the wrong shape", filepath.Join(dir, routerFile), p.Name)
		}
		if err := nn.CheckFinite(filepath.Join(dir, routerFile), p.Name, rt.Data); err != nil {
			return err // a NaN gate would read as "never on" and its unit be pruned
		}
		copy(p.Value.Data().([]float32), rt.Data)
	}
	return nil
}
