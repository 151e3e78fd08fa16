package bench

import (
	"strings"
	"testing"

	"github.com/sparsetune/sparsetune/nn"
	"github.com/sparsetune/sparsetune/train"
)

// tinyTrain is a training benchmark small enough for a test.
func tinyTrain() TrainConfig {
	return TrainConfig{Family: nn.GPT2, Layers: 1, D: 32, Heads: 2, FFN: 64, Vocab: 64, Seq: 8, Batch: 2, Steps: 3, Warmup: 1,
		PeakGFLOPS: 100, Seed: 1, RSSEvery: 2}
}

// TestTrainDenseAndRouters: a dense benchmark trains every parameter; one
// with --train routers at a target trains the routers only (fewer
// parameters than the model has) and both report their figures and RSS
// lines.
func TestTrainDenseAndRouters(t *testing.T) {
	var log strings.Builder
	dense, err := Train(tinyTrain(), &log)
	if err != nil {
		t.Fatal(err)
	}
	if dense.Trained != dense.Params || dense.Trainable != train.TrainAll || dense.Target != 0 {
		t.Errorf("dense: trained %d of %d parameters, train %q, target %g", dense.Trained, dense.Params, dense.Trainable, dense.Target)
	}
	if dense.MedianStepS <= 0 || dense.TokensPerS <= 0 || dense.GFLOPS <= 0 || dense.MFU != dense.GFLOPS/100 {
		t.Errorf("dense figures: %+v", *dense)
	}
	if n := strings.Count(log.String(), "rss "); n != 2 { // steps 2 and 4 of 4
		t.Errorf("%d RSS lines, want 2:\n%s", n, log.String())
	}
	c := tinyTrain()
	c.Target, c.Trainable = 0.5, train.TrainRouters
	routers, err := Train(c, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if routers.Trained <= 0 || routers.Trained >= routers.Params || routers.Trainable != train.TrainRouters || routers.Target != 0.5 {
		t.Errorf("routers: trained %d of %d parameters, train %q, target %g", routers.Trained, routers.Params, routers.Trainable, routers.Target)
	}
}

// TestModelConfigFamilies: gpt2 and llama benchmark causal LMs, bert a
// classifier; another family is an error naming the flag.
func TestModelConfigFamilies(t *testing.T) {
	for fam, task := range map[nn.Family]nn.Task{nn.GPT2: nn.CausalLM, nn.LLaMA: nn.CausalLM, nn.BERT: nn.Classification} {
		c := tinyTrain()
		c.Family = fam
		m, err := ModelConfig(c)
		if err != nil {
			t.Errorf("%s: %v", fam, err)
		} else if m.Task != task {
			t.Errorf("%s: task %v, want %v", fam, m.Task, task)
		}
	}
	c := tinyTrain()
	c.Family = "t5"
	if _, err := ModelConfig(c); err == nil || !strings.Contains(err.Error(), "--family") {
		t.Errorf("t5: got %v", err)
	}
}
