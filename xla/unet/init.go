package unet

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// ParamSeed is the store parameter (int64) that seeds the initial weights.
// Each variable draws from its own generator, seeded with this value and the
// variable's path, so the initial model does not depend on the order in
// which variables are created.
const ParamSeed = "opacity_init_seed"

// initKind names a weight initialisation.
type initKind int

const (
	initZero          initKind = iota
	initOne                    // constant 1 (batch-norm scale, running variance)
	initKaimingFanOut          // normal, std sqrt(2/fan_out): torchvision ResNet convolutions
	initKaimingFanIn           // uniform, bound sqrt(6/fan_in): segmentation_models decoder
	initXavier                 // uniform, bound sqrt(6/(fan_in+fan_out)): the head
)

// initializer returns a variable initialiser that draws the initial value on
// the host from a generator seeded by the model seed and the variable path.
func initializer(seed uint64, scope *model.Scope, name string, kind initKind) model.VariableInitializer {
	path := model.JoinPath(scope.Scope(), name)
	return func(g *Graph, shape shapes.Shape) *Node {
		return Const(g, initialValue(seed, path, kind, shape.Dimensions))
	}
}

// initialValue computes the initial tensor of a variable. For kernels
// [k, k, Cin, Cout], fan_in = k*k*Cin and fan_out = k*k*Cout.
func initialValue(seed uint64, path string, kind initKind, dims []int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]float32, size)
	fanIn, fanOut := 1, 1
	if len(dims) == 4 {
		fanIn = dims[0] * dims[1] * dims[2]
		fanOut = dims[0] * dims[1] * dims[3]
	}
	h := fnv.New64a()
	h.Write([]byte(path))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	switch kind {
	case initOne:
		for i := range data {
			data[i] = 1
		}
	case initKaimingFanOut:
		std := math.Sqrt(2 / float64(fanOut))
		for i := range data {
			data[i] = float32(rng.NormFloat64() * std)
		}
	case initKaimingFanIn:
		bound := math.Sqrt(6 / float64(fanIn))
		for i := range data {
			data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	case initXavier:
		bound := math.Sqrt(6 / float64(fanIn+fanOut))
		for i := range data {
			data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}
