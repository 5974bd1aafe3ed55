package xla

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
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

// unet builds the graph of one model: the configuration, the graph choices
// and the store scope holding its variables.
type unet struct {
	cfg      ModelConfig
	ops      ops
	training bool
	seed     uint64
	g        *Graph
	// lanes is the number of parts the batch is split into (see split).
	lanes int
}

// Logits builds the U-Net on images x [B, H, W, InChannels] (H and W
// multiples of 32) and returns the logits [B, H, W, 1], and a scalar zero
// to add to the training loss (loss + zero): with the Go backend's fast ops
// the model's gradients are hand-written, and the zero connects them to
// the loss (see customVJP); it is nil when there is nothing to connect.
//
// In training the batch norms use the batch statistics and update their
// running averages (as PyTorch's train mode); otherwise they use the running
// averages. The variables live under scope; the first build creates them
// with PyTorch's initialisations (Kaiming normal, fan-out, for the encoder;
// Kaiming uniform, fan-in, for the decoder; Xavier uniform for the head),
// drawn from the seed in the store parameter ParamSeed.
func (cfg ModelConfig) Logits(scope *model.Scope, x *Node, training bool) (logits, zero *Node) {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	dims := x.Shape().Dimensions
	if len(dims) != 4 || dims[3] != cfg.InChannels {
		panic(fmt.Errorf("model input must be [batch, height, width, %d], got %s", cfg.InChannels, x.Shape()))
	}
	if err := CheckInputSize(dims[1], dims[2]); err != nil {
		panic(err)
	}
	if x.DType() != dtypes.Float32 {
		x = ConvertDType(x, dtypes.Float32)
	}
	u := unet{
		cfg:      cfg,
		ops:      opsFor(x.Graph(), cfg.Ops, cfg.Recompute),
		training: training,
		seed:     uint64(model.GetRootParamOr(scope.Store(), ParamSeed, int64(0))),
		g:        x.Graph(),
	}
	u.lanes = 1
	if u.ops.fast {
		u.lanes = laneCount(x.Graph().Backend(), cfg.Lanes, dims[0])
	}
	logits = Concatenate(u.build(scope, u.split(x)), 0)
	return logits, u.ops.gradientLink()
}

// split cuts the batch x [B, ...] into u.lanes lanes of consecutive
// images, as equal in size as possible. Every layer then runs on each lane
// separately (convolutions, pooling, upsampling) or on all of them at once
// (batch norm, whose statistics are those of the whole batch), so the
// model computes the same function as on the whole batch; on the Go
// backend the lanes' element-wise work, which it runs on one core per
// node, proceeds in parallel.
func (u unet) split(x *Node) []*Node {
	b := x.Shape().Dimensions[0]
	if u.lanes <= 1 {
		return []*Node{x}
	}
	xs := make([]*Node, u.lanes)
	for l := range xs {
		from, to := l*b/u.lanes, (l+1)*b/u.lanes
		xs[l] = Slice(x, AxisRange(from, to))
	}
	return xs
}

// perLane applies f to every lane, with that lane's ops.
func (u unet) perLane(xs []*Node, f func(o ops, l int, x *Node) *Node) []*Node {
	out := make([]*Node, len(xs))
	for l, x := range xs {
		out[l] = f(u.ops.inLane(l), l, x)
	}
	return out
}

// build returns the logits of each lane of images xs.
func (u unet) build(scope *model.Scope, xs []*Node) []*Node {
	w := u.cfg.Width
	enc := scope.In("encoder")
	s0 := u.convBN(enc.In("conv1"), enc.In("bn1"), xs, convSpec{k: 7, stride: 2, pad: 3, noInputGrad: true}, w, true, initKaimingFanOut)
	h := u.perLane(s0, func(o ops, _ int, x *Node) *Node { return o.maxPool3x3s2(x) })
	s1 := u.stage(enc.In("layer1"), h, w, 1)
	s2 := u.stage(enc.In("layer2"), s1, 2*w, 2)
	s3 := u.stage(enc.In("layer3"), s2, 4*w, 2)
	h = u.stage(enc.In("layer4"), s3, 8*w, 2)

	dec := scope.In("decoder")
	skips := [][]*Node{s3, s2, s1, s0, nil}
	for i, ch := range u.cfg.DecoderChannels {
		blk := dec.In("block%d", i)
		in := h[0].Shape().Dimensions[3]
		if skips[i] != nil {
			in += skips[i][0].Shape().Dimensions[3]
		}
		w1 := u.variable(blk.In("conv1"), "weight", initKaimingFanIn, 3, 3, in, ch)
		h = u.ops.upConcatConvLanes(h, skips[i], w1, convSpec{k: 3, stride: 1, pad: 1})
		h = u.batchNorm(blk.In("bn1"), h, nil, true)
		h = u.convBN(blk.In("conv2"), blk.In("bn2"), h, convSpec{k: 3, stride: 1, pad: 1}, ch, true, initKaimingFanIn)
	}

	head := scope.In("head")
	k := u.cfg.HeadKernel
	wHead := u.variable(head, "weight", initXavier, k, k, u.cfg.DecoderChannels[4], 1)
	bHead := u.variable(head, "bias", initZero, 1)
	logits := u.ops.convLanes(h, wHead, convSpec{k: k, stride: 1, pad: k / 2})
	for l := range logits {
		logits[l] = Add(logits[l], Reshape(bHead, 1, 1, 1, 1))
	}
	return logits
}

// stage is one ResNet layer: two basic blocks, the first with the given
// stride (and a 1x1 projection shortcut when the shape changes).
func (u unet) stage(scope *model.Scope, xs []*Node, planes, stride int) []*Node {
	xs = u.basicBlock(scope.In("0"), xs, planes, stride)
	return u.basicBlock(scope.In("1"), xs, planes, 1)
}

// basicBlock is torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
func (u unet) basicBlock(scope *model.Scope, xs []*Node, planes, stride int) []*Node {
	inPlanes := xs[0].Shape().Dimensions[3]
	h := u.convBN(scope.In("conv1"), scope.In("bn1"), xs, convSpec{k: 3, stride: stride, pad: 1}, planes, true, initKaimingFanOut)
	shortcut := xs
	if stride != 1 || inPlanes != planes {
		ds := scope.In("downsample")
		shortcut = u.convBN(ds.In("0"), ds.In("1"), xs, convSpec{k: 1, stride: stride}, planes, false, initKaimingFanOut)
	}
	w2 := u.variable(scope.In("conv2"), "weight", initKaimingFanOut, 3, 3, planes, planes)
	h = u.ops.convLanes(h, w2, convSpec{k: 3, stride: 1, pad: 1})
	return u.batchNorm(scope.In("bn2"), h, shortcut, true)
}

// convBN is a bias-free k x k convolution followed by batch norm and,
// when relu is set, a ReLU.
func (u unet) convBN(convScope, bnScope *model.Scope, xs []*Node, c convSpec, out int, relu bool, init initKind) []*Node {
	in := xs[0].Shape().Dimensions[3]
	w := u.variable(convScope, "weight", init, c.k, c.k, in, out)
	ys := u.ops.convLanes(xs, w, c)
	return u.batchNorm(bnScope, ys, nil, relu)
}

// batchNorm applies batch normalisation (plus residuals and ReLU) to the
// lanes ys with the variables gamma, beta (trained) and mean, variance
// (running averages) of scope.
func (u unet) batchNorm(scope *model.Scope, ys, residuals []*Node, relu bool) []*Node {
	c := ys[0].Shape().Dimensions[3]
	gamma := u.variable(scope, "gamma", initOne, c)
	beta := u.variable(scope, "beta", initZero, c)
	meanVar := u.stateVariable(scope, "mean", initZero, c)
	varVar := u.stateVariable(scope, "variance", initOne, c)
	g := u.g
	if !u.training {
		bshape := func(v *Node) *Node { return Reshape(v, 1, 1, 1, c) }
		return u.perLane(ys, func(_ ops, l int, y *Node) *Node {
			var residual *Node
			if residuals != nil {
				residual = residuals[l]
			}
			return batchNormInfer(y, bshape(gamma), bshape(beta), bshape(meanVar.NodeValue(g)),
				bshape(varVar.NodeValue(g)), residual, relu)
		})
	}
	out, st := u.ops.batchNormTrain(ys, gamma, beta, residuals, relu)
	m := u.cfg.BNMomentum
	unbiased := st.variance
	if st.count > 1 {
		unbiased = MulScalar(st.variance, float64(st.count)/float64(st.count-1))
	}
	meanVar.SetNodeValue(Add(MulScalar(meanVar.NodeValue(g), 1-m), MulScalar(StopGradient(st.mean), m)))
	varVar.SetNodeValue(Add(MulScalar(varVar.NodeValue(g), 1-m), MulScalar(StopGradient(unbiased), m)))
	return out
}

// variable returns the trainable variable name of scope, created with the
// given initialisation and dimensions on first use, as a node of the graph.
func (u unet) variable(scope *model.Scope, name string, init initKind, dims ...int) *Node {
	v := scope.WithInitializer(u.initializer(scope, name, init)).
		VariableWithShape(name, shapes.Make(dtypes.Float32, dims...))
	return v.NodeValue(u.g)
}

// stateVariable returns a non-trained variable (batch-norm running statistics).
func (u unet) stateVariable(scope *model.Scope, name string, init initKind, dims ...int) *model.Variable {
	return scope.WithInitializer(u.initializer(scope, name, init)).
		VariableWithShape(name, shapes.Make(dtypes.Float32, dims...)).SetTrainable(false)
}

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
func (u unet) initializer(scope *model.Scope, name string, kind initKind) model.VariableInitializer {
	path := model.JoinPath(scope.Scope(), name)
	seed := u.seed
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
