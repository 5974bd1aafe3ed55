package nn

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// Native is the Layers implementation on the backend's own operations, with
// GoMLX's automatic gradients: what runs on XLA (CPU or GPU). It keeps the
// batch as one lane.
type Native struct {
	training bool
}

// NewNative returns the native layers of one graph build.
func NewNative(training bool) *Native { return &Native{training: training} }

// Training implements Layers.
func (n *Native) Training() bool { return n.training }

// Input implements Layers: one lane.
func (n *Native) Input(images *Node) Act { return Act{Lanes: []*Node{images}} }

// Output implements Layers.
func (n *Native) Output(logits Act) *Node { return join(logits) }

// join concatenates the lanes of a on the batch axis.
func join(a Act) *Node {
	if len(a.Lanes) == 1 {
		return a.Lanes[0]
	}
	return Concatenate(a.Lanes, 0)
}

// Conv implements Layers with the backend's ConvGeneral.
func (n *Native) Conv(x Act, kernel *Node, c ConvSpec) Act {
	CheckKernel(kernel, c, x.Channels())
	return x.Map(func(x *Node) *Node { return NativeConv(x, kernel, c) })
}

// NativeConv is the convolution of x [B, H, W, Cin] with kernel
// [k, k, Cin, Cout] through the backend's ConvGeneral.
func NativeConv(x, kernel *Node, c ConvSpec) *Node {
	conv := Convolve(x, kernel).Strides(c.Stride)
	if c.Pad > 0 {
		conv = conv.PaddingPerDim([][2]int{{c.Pad, c.Pad}, {c.Pad, c.Pad}})
	}
	return conv.Done()
}

// BatchNorm implements Layers with plain operations: the batch statistics
// over (B, H, W) and their gradient left to GoMLX's automatic
// differentiation (Div by Sqrt; Rsqrt has no gradient in GoMLX).
func (n *Native) BatchNorm(x Act, bn BatchNorm, residual Act, relu bool) Act {
	var res *Node
	if !residual.None() {
		res = join(residual)
	}
	y := join(x)
	if !n.training {
		return Act{Lanes: []*Node{BatchNormInference(y, bn, res, relu)}}
	}
	out, mean, variance := BatchNormTraining(y, bn.Gamma, bn.Beta, res, relu)
	d := y.Shape().Dimensions
	UpdateRunning(bn, mean, variance, d[0]*d[1]*d[2])
	return Act{Lanes: []*Node{out}}
}

// BatchNormTraining normalises y [B, H, W, C] with its own statistics over
// (B, H, W) with plain operations (see Layers.BatchNorm) and returns the
// output and the batch mean and biased variance [C]. residual may be nil.
func BatchNormTraining(y, gamma, beta, residual *Node, relu bool) (out, mean, variance *Node) {
	c := y.Shape().Dimensions[3]
	m := ReduceAndKeep(y, ReduceMean, 0, 1, 2)
	d := Sub(y, m)
	v := ReduceAndKeep(Mul(d, d), ReduceMean, 0, 1, 2)
	z := Add(Mul(Div(d, Sqrt(AddScalar(v, Epsilon))), Reshape(gamma, 1, 1, 1, c)), Reshape(beta, 1, 1, 1, c))
	if residual != nil {
		z = Add(z, residual)
	}
	if relu {
		z = Max(z, ScalarZero(z.Graph(), z.DType()))
	}
	return z, Reshape(m, c), Reshape(v, c)
}

// MaxPool implements Layers with the backend's ReduceWindow (padding -Inf).
func (n *Native) MaxPool(x Act) Act {
	return x.Map(func(x *Node) *Node {
		return MaxPool(x).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	})
}

// UpConcatConv implements Layers: upsampling by broadcasting, concatenation,
// native convolution.
func (n *Native) UpConcatConv(low, skip Act, kernel *Node) Act {
	x := low.Map(Upsample2x)
	if !skip.None() {
		for i := range x.Lanes {
			x.Lanes[i] = Concatenate([]*Node{x.Lanes[i], skip.Lanes[i]}, -1)
		}
	}
	return n.Conv(x, kernel, ConvSpec{Kernel: 3, Stride: 1, Pad: 1})
}

// Upsample2x is nearest-neighbour upsampling by 2 of x [B, H, W, C] (what
// F.interpolate(scale_factor=2, mode="nearest") does), by broadcasting.
func Upsample2x(x *Node) *Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	y := BroadcastToDims(Reshape(x, b, h, 1, w, 1, c), b, h, 2, w, 2, c)
	return Reshape(y, b, 2*h, 2*w, c)
}

// MatMul implements Layers.
func (n *Native) MatMul(a, b *Node) *Node { return MatMul(a, b) }

var _ Layers = (*Native)(nil)
