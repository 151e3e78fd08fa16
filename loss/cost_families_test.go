package loss

import (
	"testing"

	"github.com/sparsetune/sparsetune/nn"
)

// TestCostLlamaStyleFamilies counts one token at position 0 (one key) by
// hand for layouts whose head size is not D/H, with Qwen3's q/k norms and
// with Qwen2's q/k/v biases.
func TestCostLlamaStyleFamilies(t *testing.T) {
	base := `"vocab_size": 10, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 80, "max_position_embeddings": 64`
	cases := []struct {
		json               string
		head, group, layer float64
	}{
		// S = 16: q slice 2·32·16 + q_norm 4·16, QKᵀ and PV 4·16·1, output rows 2·16·32;
		// layer: norms 2·4·32, residuals 2·32, 2 KV heads × (2·2·32·16 + k_norm 4·16).
		{`{"model_type": "qwen3", "head_dim": 16, ` + base + `}`, 1024 + 64 + 64 + 1024, 3 * 2 * 32 * 8, 256 + 64 + 2*(2048+64)},
		// S = 8 with q/k/v biases (S adds each) and no o bias.
		{`{"model_type": "qwen2", ` + base + `}`, 512 + 8 + 32 + 512, 3 * 2 * 32 * 8, 256 + 64 + 2*2*(512+8)},
		// attention_bias adds the o bias (D) to the layer; mlp_bias the up and gate biases (k each) to a group, the down bias (D) to the layer.
		{`{"model_type": "llama", "attention_bias": true, "mlp_bias": true, ` + base + `}`, 512 + 8 + 32 + 512, 3*2*32*8 + 2*8, 256 + 64 + 2*2*(512+8) + 32 + 32},
	}
	for _, tc := range cases {
		c, err := nn.ParseConfig([]byte(tc.json))
		if err != nil {
			t.Fatal(err)
		}
		cost, err := NewCostAt(c, 8, 0, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if cost.Head[0][0] != tc.head || cost.Group[0][0] != tc.group || cost.Layer[0] != tc.layer {
			t.Errorf("%s: head %g group %g layer %g, want %g %g %g", c.Family, cost.Head[0][0], cost.Group[0][0], cost.Layer[0], tc.head, tc.group, tc.layer)
		}
	}
}
