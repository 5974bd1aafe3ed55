package unet

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"

	"github.com/covidxray/opacity/xla/nn"
)

// This file is the model: a U-Net whose encoder is a ResNet, read top to
// bottom like torchvision's resnet.py. Everything it computes goes through
// the layer interface nn.Layers (convolution, batch norm + ReLU, max pool,
// upsample-and-concatenate, matrix multiplication), so the same code runs on
// XLA (nn.Native) and on the pure-Go backend (package gofast). Element-wise
// work of its own (the head's bias, dropout) goes through nn.Act.Map.
//
//	stem      7x7/2 convolution, batch norm, ReLU          -> skip 0 (1/2 resolution)
//	          3x3/2 max pool                               (1/4)
//	layer1-4  basic blocks: 3x3 conv, BN, ReLU, 3x3 conv, BN, + shortcut, ReLU;
//	          layers 2-4 start with a stride-2 block and a 1x1 projection
//	                                                       -> skips 1-3 (1/4, 1/8, 1/16), bottom (1/32)
//	decoder   five blocks, deepest first: nearest 2x upsampling, concatenation
//	          with the skip of the same scale (layer3, layer2, layer1, stem, none),
//	          two 3x3 conv + BN + ReLU; dropout on the block's output (Config.Dropout)
//	head      kxk convolution with a bias to one logit per target

// Logits builds the U-Net on images [B, H, W, InChannels] (float32, already
// normalised; H and W multiples of 32) with the layers L and returns the
// logits [B, H, W, len(Targets)].
//
// In training (L.Training()) the batch norms use the batch statistics and
// update their running averages (as PyTorch's train mode) and dropout
// drops; otherwise the batch norms use the running averages. The variables
// live under scope; the first build creates them with PyTorch's
// initialisations (Kaiming normal, fan-out, for the encoder; Kaiming
// uniform, fan-in, for the decoder; Xavier uniform for the head), drawn
// from the seed in the store parameter ParamSeed.
func (cfg Config) Logits(scope *model.Scope, L nn.Layers, images *Node) *Node {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	dims := images.Shape().Dimensions
	if len(dims) != 4 || dims[3] != cfg.InChannels {
		panic(fmt.Errorf("model input must be [batch, height, width, %d], got %s", cfg.InChannels, images.Shape()))
	}
	if err := CheckInputSize(dims[1], dims[2]); err != nil {
		panic(err)
	}
	if images.DType() != dtypes.Float32 {
		images = ConvertDType(images, dtypes.Float32)
	}
	b := &builder{cfg: cfg, L: L, g: images.Graph(),
		seed: uint64(model.GetRootParamOr(scope.Store(), ParamSeed, int64(0)))}
	w := cfg.Width
	enc := scope.In("encoder")
	x := L.Input(images)

	// Stem.
	stem := b.convBN(enc.In("conv1"), enc.In("bn1"), x, nn.ConvSpec{Kernel: 7, Stride: 2, Pad: 3, Images: true}, w, true, initKaimingFanOut)
	h := L.MaxPool(stem)

	// Encoder stages; the output of each but the last is a skip connection.
	skips := []nn.Act{stem}
	for s, blocks := range encoderBlocks[cfg.encoder()] {
		stride := 2
		if s == 0 {
			stride = 1
		}
		h = b.stage(enc.In("layer%d", s+1), h, w<<s, blocks, stride)
		if s < 3 {
			skips = append(skips, h)
		}
	}

	// Decoder, deepest first: layer3, layer2, layer1, stem, then no skip.
	dec := scope.In("decoder")
	for i, ch := range cfg.DecoderChannels {
		var skip nn.Act
		if i < len(skips) {
			skip = skips[len(skips)-1-i]
		}
		h = b.decoderBlock(dec.In("block%d", i), h, skip, ch)
	}

	// Head: one logit per target.
	head := scope.In("head")
	k, t := cfg.HeadKernel, len(cfg.TargetList())
	wHead := b.variable(head, "weight", initXavier, k, k, cfg.DecoderChannels[4], t)
	bHead := b.variable(head, "bias", initZero, t)
	logits := L.Conv(h, wHead, nn.ConvSpec{Kernel: k, Stride: 1, Pad: k / 2})
	logits = logits.Map(func(x *Node) *Node { return Add(x, Reshape(bHead, 1, 1, 1, t)) })
	return L.Output(logits)
}

// builder holds what every layer of one model build needs.
type builder struct {
	cfg  Config
	L    nn.Layers
	g    *Graph
	seed uint64
}

// stage is one ResNet layer of basic blocks, the first with the given
// stride.
func (b *builder) stage(scope *model.Scope, x nn.Act, planes, blocks, stride int) nn.Act {
	for i := 0; i < blocks; i++ {
		x = b.basicBlock(scope.In("%d", i), x, planes, stride)
		stride = 1
	}
	return x
}

// basicBlock is torchvision's BasicBlock:
// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut a 1x1
// projection with batch norm when the shape changes.
func (b *builder) basicBlock(scope *model.Scope, x nn.Act, planes, stride int) nn.Act {
	h := b.convBN(scope.In("conv1"), scope.In("bn1"), x, nn.ConvSpec{Kernel: 3, Stride: stride, Pad: 1}, planes, true, initKaimingFanOut)
	shortcut := x
	if stride != 1 || x.Channels() != planes {
		ds := scope.In("downsample")
		shortcut = b.convBN(ds.In("0"), ds.In("1"), x, nn.ConvSpec{Kernel: 1, Stride: stride}, planes, false, initKaimingFanOut)
	}
	w2 := b.variable(scope.In("conv2"), "weight", initKaimingFanOut, 3, 3, planes, planes)
	h = b.L.Conv(h, w2, nn.ConvSpec{Kernel: 3, Stride: 1, Pad: 1})
	return b.batchNorm(scope.In("bn2"), h, shortcut, true)
}

// decoderBlock is a U-Net decoder block of segmentation_models: upsample
// by 2, concatenate the skip, then two 3x3 convolution + batch norm + ReLU;
// then dropout (Config.Dropout).
func (b *builder) decoderBlock(scope *model.Scope, low, skip nn.Act, out int) nn.Act {
	in := low.Channels()
	if !skip.None() {
		in += skip.Channels()
	}
	w1 := b.variable(scope.In("conv1"), "weight", initKaimingFanIn, 3, 3, in, out)
	h := b.L.UpConcatConv(low, skip, w1)
	h = b.batchNorm(scope.In("bn1"), h, nn.Act{}, true)
	h = b.convBN(scope.In("conv2"), scope.In("bn2"), h, nn.ConvSpec{Kernel: 3, Stride: 1, Pad: 1}, out, true, initKaimingFanIn)
	return b.dropout(scope, h)
}

// convBN is a bias-free convolution followed by batch norm and, when relu
// is set, a ReLU.
func (b *builder) convBN(convScope, bnScope *model.Scope, x nn.Act, c nn.ConvSpec, out int, relu bool, init initKind) nn.Act {
	w := b.variable(convScope, "weight", init, c.Kernel, c.Kernel, x.Channels(), out)
	return b.batchNorm(bnScope, b.L.Conv(x, w, c), nn.Act{}, relu)
}

// batchNorm is batch normalisation with the variables gamma, beta
// (trained) and mean, variance (running averages) of scope, plus the
// residual (unless the zero Act) and a ReLU when relu is set.
func (b *builder) batchNorm(scope *model.Scope, x, residual nn.Act, relu bool) nn.Act {
	c := x.Channels()
	bn := nn.BatchNorm{
		Gamma:    b.variable(scope, "gamma", initOne, c),
		Beta:     b.variable(scope, "beta", initZero, c),
		Mean:     b.stateVariable(scope, "mean", initZero, c),
		Variance: b.stateVariable(scope, "variance", initOne, c),
		Momentum: b.cfg.BNMomentum,
	}
	return b.L.BatchNorm(x, bn, residual, relu)
}

// dropout zeroes each value of x with probability Config.Dropout in
// training and scales the others by 1/(1-Dropout) (inverted dropout, so
// inference needs no scaling); it draws from the store's random generator.
func (b *builder) dropout(scope *model.Scope, x nn.Act) nn.Act {
	p := b.cfg.Dropout
	if p <= 0 || !b.L.Training() {
		return x
	}
	scope = scope.In("dropout")
	return x.Map(func(y *Node) *Node {
		keep := GreaterThan(scope.RandomUniform(b.g, y.Shape()), Scalar(b.g, y.DType(), p))
		return Where(keep, MulScalar(y, 1/(1-p)), ZerosLike(y))
	})
}

// variable returns the trainable variable name of scope, created with the
// given initialisation and dimensions on first use, as a node of the graph.
func (b *builder) variable(scope *model.Scope, name string, init initKind, dims ...int) *Node {
	v := scope.WithInitializer(initializer(b.seed, scope, name, init)).
		VariableWithShape(name, shapes.Make(dtypes.Float32, dims...))
	return v.NodeValue(b.g)
}

// stateVariable returns a non-trained variable (batch-norm running
// statistics).
func (b *builder) stateVariable(scope *model.Scope, name string, init initKind, dims ...int) *model.Variable {
	return scope.WithInitializer(initializer(b.seed, scope, name, init)).
		VariableWithShape(name, shapes.Make(dtypes.Float32, dims...)).SetTrainable(false)
}
