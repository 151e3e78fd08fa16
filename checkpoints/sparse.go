package checkpoints

import (
	"encoding/json"

	"github.com/sparsetune/sparsetune/nn"
)

// The sparse checkpoint: a hardened model, physically pruned, with its
// routers, ready for the inference engine (package infer). The written
// specification is docs/sparse-checkpoint.md; this file holds its types.
//
// A sparse checkpoint is a directory:
//
//	config.json        the base model's Hugging Face config, unchanged (the dense sizes)
//	model.safetensors  the pruned weights under their Hugging Face names, and the router weights
//	sparse.json        the manifest (SparseManifest)
//	tokenizer files    copied from the model the run started from
//
// Unit numbering. Heads are numbered 0..H-1 as in the dense model; FFN
// groups 0..F/k-1 in the training layout, in which group g holds neurons
// g·k..(g+1)·k-1 of the permuted FFN (the permutation that made every
// group contiguous was applied to the weights before training, so the
// base checkpoint's neuron order is not needed to run the model).
//
// Pruned tensors (per layer l, with the layer's kept heads Heads and kept
// groups Groups, in ascending original order):
//
//   - Query, key, value and output projections keep the slices of the kept
//     heads only (for grouped-query attention, KVH < H, the key and value
//     projections stay whole). GPT-2's fused c_attn keeps, in each of its
//     three D-wide column blocks, the kept heads' columns.
//   - The FFN input projection (and LLaMA's gate_proj) keeps the kept groups'
//     neurons (rows for nn.Linear layouts, columns for GPT-2's Conv1D), with
//     their biases; the output projection keeps the same neurons (columns
//     for nn.Linear, rows for Conv1D). Output biases stay whole.
//   - Everything else (embeddings, norms, heads) is unchanged.
//
// Router tensors, for contextual routers (kinds sigmoid and hard-concrete),
// score the kept units only, in manifest order:
//
//	router.layers.{l}.head.weight (D, len(Heads))   router.layers.{l}.head.bias (len(Heads))
//	router.layers.{l}.ffn.weight  (D, len(Groups))  router.layers.{l}.ffn.bias  (len(Groups))
//
// A static router has no tensors: its decisions are folded into the
// pruning (every kept unit is then dense). A layer whose heads (or groups)
// are all dense has no head (ffn) router tensors.

// Weight dtypes (version 2). The attention and FFN weight matrices, the
// token embedding and the LM head may be stored as BF16 or as INT8 with one
// float32 scale per block of 32 weights along each row (Quantize;
// quantize.go and docs/sparse-checkpoint.md give the layout); everything
// else stays float32.

// Top-k routing (version 3). A manifest with routing "topk" runs, for every
// token, exactly k_heads heads and k_groups FFN groups of each layer: its
// dense units and those of its routed units with the largest router
// logits, ties to the lower index. Only top-k checkpoints are written as
// version 3; threshold checkpoints keep versions 1 and 2.

// SparseFormat and SparseVersion identify the manifest. Readers reject other
// formats and versions newer than theirs. Version 2 added the dtype field
// and low-precision weights; a checkpoint whose weights are all float32 is
// written as version 1, which every reader reads. Version 3 added top-k
// routing (the routing, k_heads and k_groups fields) and is written for
// top-k checkpoints only.
const (
	SparseFormat       = "sparsetune-sparse"
	SparseVersion      = 3
	SparseManifestFile = "sparse.json"
	// RoutingTopK is SparseManifest.Routing for top-k routing.
	RoutingTopK = "topk"
)

// SparseManifest is sparse.json.
type SparseManifest struct {
	Format  string `json:"format"`  // SparseFormat
	Version int    `json:"version"` // SparseVersion

	Family    string `json:"family"`     // the config's family, repeated as a check
	Router    string `json:"router"`     // router kind: "sigmoid", "hard-concrete" or "static"
	GroupSize int    `json:"group_size"` // FFN neurons per group, k
	// Shift is s in P(on) = σ(logit − s): 0 for sigmoid routers,
	// β·log(−γ/ζ) for hard-concrete ones. A routed unit is on for a token
	// when float32(σ(logit − s)) > the layer's Tau.
	Shift float64 `json:"shift"`

	// Routing is "topk" for top-k routing (version 3: each layer's
	// KHeads and KGroups units per token); absent means threshold routing
	// by each layer's Tau.
	Routing string `json:"routing,omitempty"`

	Layers []SparseLayer `json:"layers"` // one per transformer layer
	// DType is how the weight matrices are stored (version 2): F32, BF16
	// or Int8; absent (version 1) means F32.
	DType DType `json:"dtype,omitempty"`

	Target      float64         `json:"target"`       // the compute target hardening calibrated for
	Compute     float64         `json:"compute"`      // measured compute fraction on the calibration set (see loss.Cost)
	Calibration SparseCalib     `json:"calibration"`  // what it was measured on
	TrainConfig json.RawMessage `json:"train_config"` // the training run's resolved config, verbatim; may be null
	// ContentHash is "sha256:" and the hex SHA-256 of model.safetensors.
	ContentHash string `json:"content_hash"`
}

// SparseLayer is one layer's part of the manifest. Every list is of
// original unit indices in ascending order; HeadsDense ⊆ Heads and
// GroupsDense ⊆ Groups.
type SparseLayer struct {
	Tau         float64 `json:"tau"`          // hardening threshold of this layer's routers
	Heads       []int   `json:"heads"`        // heads kept (the others are removed physically)
	HeadsDense  []int   `json:"heads_dense"`  // kept heads that are always on (no routing)
	Groups      []int   `json:"groups"`       // FFN groups kept
	GroupsDense []int   `json:"groups_dense"` // kept groups that are always on
	// KHeads and KGroups are, under top-k routing, the heads and groups
	// every token runs: the dense ones and the routed ones with the
	// largest logits (len(HeadsDense) ≤ KHeads ≤ len(Heads), groups
	// alike); 0 and absent under threshold routing, whose Tau decides.
	KHeads  int `json:"k_heads,omitempty"`
	KGroups int `json:"k_groups,omitempty"`
}

// SparseCalib describes the calibration set.
type SparseCalib struct {
	Source     string  `json:"source"`      // data file or description
	Sequences  int     `json:"sequences"`   // sequences used
	Tokens     int     `json:"tokens"`      // real (non-padding) tokens
	SeqLen     int     `json:"seq_len"`     // sequence length the compute fraction is averaged over
	PruneBelow float64 `json:"prune_below"` // units on for at most this fraction of tokens were removed
	DenseAbove float64 `json:"dense_above"` // units on for at least this fraction became dense
	// ComputeSE is the standard error of the manifest's Compute over the
	// calibration sequences; LayerCompute each layer's compute on them
	// (Compute is their mean, every layer's dense cost being the same).
	ComputeSE    float64   `json:"compute_se,omitempty"`
	LayerCompute []float64 `json:"layer_compute,omitempty"`
	// Reference names the data whose per-layer compute is the allocation
	// a layer's Tau was corrected towards where it drifted on the
	// calibration set (the routers' training data; "": no correction
	// was looked for). Corrected lists those layers.
	Reference string `json:"reference,omitempty"`
	Corrected []int  `json:"corrected,omitempty"`
}

// Sparse is a sparse checkpoint in memory: the base config (dense sizes),
// the manifest, and the pruned and router tensors by name, as float32
// row-major data with their shapes.
type Sparse struct {
	Config   *nn.Config
	Manifest SparseManifest
	Tensors  map[string]*SparseTensor
}

// SparseTensor is one tensor of a Sparse checkpoint. Data always holds
// its values, as float32; a low-precision tensor (DType BF16 or Int8, see
// Quantize) also holds them in its stored form, from which Data was
// widened exactly.
type SparseTensor struct {
	Shape []int
	Data  []float32
	// DType is the stored form: "" or F32 (Data only), BF16 (BF16), Int8
	// (Q8 and Scales).
	DType DType
	BF16  []uint16 // the bfloat16 bits of Data
	// Q8 holds the int8 weights and Scales the float32 scales of an Int8
	// tensor: row r of the (rows, cols) tensor, cols its last axis, is
	// blocks of vec.Q8Block weights with one scale each, Scales
	// (rows, ⌈cols/32⌉) row-major, Data[i] = Q8[i]·scale of its block.
	Q8     []int8
	Scales []float32
}
