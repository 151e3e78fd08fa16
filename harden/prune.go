package harden

import (
	"github.com/sparsetune/sparsetune/checkpoints"
	"github.com/sparsetune/sparsetune/nn"
)

// Prune assembles a sparse checkpoint from a model, its router parameters
// (by name, as router.Set.Params gives them; none for a static router) and
// a manifest whose layers say which units are kept and which are dense:
// checkpoints.Assemble, which cuts every tensor that checkpoints.PruneRules
// names to the kept units' slices, copies the others whole and keeps each
// routing layer part's router columns of its kept units. The model is not
// modified.
func Prune(m *nn.Model, routers []*nn.Param, man checkpoints.SparseManifest) (*checkpoints.Sparse, error) {
	return checkpoints.Assemble(m, routers, man)
}
