// Package nn is the small layer interface that the U-Net of package
// xla/unet is written against, and its native implementation.
//
// A model is written once, top to bottom, against Layers: convolutions,
// batch normalisation (with an optional residual and ReLU), max pooling,
// nearest upsampling concatenated with a skip connection and convolved, and
// matrix multiplication. Two implementations exist:
//
//   - Native (this package): the backend's own operations (ConvGeneral, which
//     is cuDNN on a GPU; ReduceWindow max pooling) with GoMLX's automatic
//     gradients. It is what runs on XLA.
//   - xla/gofast: formulations written for GoMLX's pure-Go backend, which has
//     no fast convolution and single-threaded element-wise operations
//     (im2col convolutions, hand-written gradients, the batch split into
//     lanes that run in parallel).
//
// Activations between layers are Acts: a batch of feature maps held as one
// or more lanes (parts of the batch). Element-wise work written in the model
// file (a bias, a dropout) goes through Act.Map, which applies it to every
// lane.
//
// # Contracts
//
// Every implementation keeps these, and the Go-backend one checks them when
// the graph is built (it panics with a message that names the rule):
//
//  1. The first convolution of the images is marked ConvSpec.Images: it
//     computes no gradient for its input. Nothing trainable may sit between
//     Input and that convolution, or its gradient would be lost.
//  2. Every matrix multiplication of the model goes through Layers.MatMul:
//     on the Go backend independent multiplications must run one at a time
//     per lane, or they can deadlock its worker pool.
//  3. MaxPool takes any real input (its padding is -Inf, as PyTorch's).
//     Where several taps of a window hold the same maximum, the gradient
//     goes to each of them; PyTorch routes it to one. After a ReLU such ties
//     are at zero, where the ReLU's own gradient is zero anyway.
//  4. Output is called once, on the logits: the Go-backend implementation
//     adds to them, in training, the zero that connects its hand-written
//     gradients to the loss.
package nn

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
)

// Act is a batch of feature maps [B, H, W, C] held as one or more lanes:
// consecutive parts of the batch, each [B_i, H, W, C]. The zero Act stands
// for "none" (for example no residual).
type Act struct {
	Lanes []*Node
}

// None reports whether a is the zero Act.
func (a Act) None() bool { return len(a.Lanes) == 0 }

// Channels returns the number of channels (the last axis).
func (a Act) Channels() int {
	d := a.Lanes[0].Shape().Dimensions
	return d[len(d)-1]
}

// Spatial returns the height and width of the feature maps.
func (a Act) Spatial() (h, w int) {
	d := a.Lanes[0].Shape().Dimensions
	return d[1], d[2]
}

// Map applies an element-wise function to every lane (a bias, a dropout):
// f sees one lane [B_i, H, W, C] and returns a tensor of the same batch
// size.
func (a Act) Map(f func(lane *Node) *Node) Act {
	out := Act{Lanes: make([]*Node, len(a.Lanes))}
	for i, x := range a.Lanes {
		out.Lanes[i] = f(x)
	}
	return out
}

// ConvSpec describes a 2D convolution with a square kernel, the same stride
// on both axes and a symmetric zero padding.
type ConvSpec struct {
	Kernel, Stride, Pad int
	// Images marks the convolution of the model's input images: it needs no
	// gradient for its input (contract 1).
	Images bool
}

// OutSize is the output length of an axis of length n.
func (c ConvSpec) OutSize(n int) int { return (n+2*c.Pad-c.Kernel)/c.Stride + 1 }

// BatchNorm holds the variables of one batch normalisation layer.
type BatchNorm struct {
	Gamma, Beta    *Node           // trained scale and shift, [C]
	Mean, Variance *model.Variable // running averages, [C], not trained
	// Momentum is the weight of the batch statistics in the running
	// averages (PyTorch's momentum).
	Momentum float64
}

// Epsilon is added to the variance before its square root (PyTorch's
// BatchNorm2d default).
const Epsilon = 1e-5

// Layers is what a model is built from. A Layers value belongs to one graph
// build, in training or in inference mode.
type Layers interface {
	// Training reports whether the graph is a training step: batch norms
	// use and update batch statistics, dropout drops.
	Training() bool
	// Input turns the images [B, H, W, C] into the activation the layers
	// work on.
	Input(images *Node) Act
	// Output joins the lanes of the logits into [B, H, W, T] (contract 4).
	Output(logits Act) *Node
	// Conv is a bias-free convolution of x with kernel [k, k, Cin, Cout].
	Conv(x Act, kernel *Node, c ConvSpec) Act
	// BatchNorm normalises x per channel (with the batch statistics in
	// training, the running averages otherwise), scales and shifts it, adds
	// residual unless it is the zero Act, and applies a ReLU when relu is
	// set:
	//
	//	out = act((x - mean) / sqrt(var + Epsilon) * gamma + beta + residual)
	//
	// In training it also moves the running averages towards the batch's
	// statistics (the unbiased variance, as PyTorch).
	BatchNorm(x Act, bn BatchNorm, residual Act, relu bool) Act
	// MaxPool is a 3x3 max pool with stride 2 and padding 1 (contract 3).
	MaxPool(x Act) Act
	// UpConcatConv upsamples low by 2 (nearest neighbour), concatenates skip
	// on the channel axis (unless it is the zero Act) and applies the
	// stride-1 'same' 3x3 convolution with kernel [3, 3, C_low+C_skip, Cout]:
	// the first convolution of a U-Net decoder block.
	UpConcatConv(low, skip Act, kernel *Node) Act
	// MatMul is the matrix product a [N, K] x b [K, M] (contract 2).
	MatMul(a, b *Node) *Node
}

// CheckKernel panics when kernel [k, k, Cin, Cout] does not fit c and an
// input of cin channels.
func CheckKernel(kernel *Node, c ConvSpec, cin int) {
	d := kernel.Shape().Dimensions
	if len(d) != 4 || d[0] != c.Kernel || d[1] != c.Kernel || d[2] != cin {
		panic(fmt.Sprintf("nn: kernel shape %v does not fit a %dx%d convolution of %d channels", d, c.Kernel, c.Kernel, cin))
	}
}

// UpdateRunning moves the running averages of bn towards a batch's
// statistics: mean and the biased variance [C] over count values per
// channel (the running variance gets the unbiased one, as PyTorch).
func UpdateRunning(bn BatchNorm, mean, variance *Node, count int) {
	g := mean.Graph()
	unbiased := variance
	if count > 1 {
		unbiased = MulScalar(variance, float64(count)/float64(count-1))
	}
	m := bn.Momentum
	bn.Mean.SetNodeValue(Add(MulScalar(bn.Mean.NodeValue(g), 1-m), MulScalar(StopGradient(mean), m)))
	bn.Variance.SetNodeValue(Add(MulScalar(bn.Variance.NodeValue(g), 1-m), MulScalar(StopGradient(unbiased), m)))
}

// BatchNormInference normalises y [..., C] with the running averages of bn
// (see Layers.BatchNorm); residual may be nil.
func BatchNormInference(y *Node, bn BatchNorm, residual *Node, relu bool) *Node {
	g := y.Graph()
	c := y.Shape().Dimensions[y.Rank()-1]
	shape := func(v *Node) *Node {
		dims := make([]int, y.Rank())
		for i := range dims {
			dims[i] = 1
		}
		dims[len(dims)-1] = c
		return Reshape(v, dims...)
	}
	invstd := Inverse(Sqrt(AddScalar(shape(bn.Variance.NodeValue(g)), Epsilon)))
	scale := Mul(shape(bn.Gamma), invstd)
	shift := Sub(shape(bn.Beta), Mul(shape(bn.Mean.NodeValue(g)), scale))
	z := Add(Mul(y, scale), shift)
	if residual != nil {
		z = Add(z, residual)
	}
	if relu {
		z = Max(z, ScalarZero(g, z.DType()))
	}
	return z
}
