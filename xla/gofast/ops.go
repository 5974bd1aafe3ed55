package gofast

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

// ops holds the choices that shape the graph of one model build, and the
// state the build's ops share.
type ops struct {
	recompute bool // rebuild im2col patches in the backward pass (less memory)
	// forwardOnly marks a graph without a backward pass (inference), where
	// a convolution costs only its forward part (see winogradChoice).
	forwardOnly bool
	// lane is the batch lane whose chain of matrix multiplications this
	// op's multiplications join (see dot and Layers.Input).
	lane  int
	state *buildState
}

// newOps returns the ops of one graph build.
func newOps(recompute bool) ops {
	return ops{recompute: recompute, state: &buildState{dots: map[*Node]bool{}}}
}

// inLane returns o with its matrix multiplications in lane i's chain.
func (o ops) inLane(i int) ops {
	o.lane = i
	return o
}

// dot is DotGeneral(lhs, lhsContracting, rhs, rhsContracting) with no batch
// axes. The matrix multiplications of each lane run one at a time: each
// waits (through a SchedulingBarrier on its smaller operand) for the lane's
// previous one.
//
// The Go backend (compute v0.1.2) runs independent nodes in parallel, each
// holding a slot of its worker pool (2*GOMAXPROCS slots), and a large
// multiplication waits inside the node for free slots for its own workers;
// when every slot is held by a multiplication waiting that way, none can
// proceed (seen with the 9 independent tap products of a convolution's
// input gradient). With one chain per lane, at most as many
// multiplications wait at once as there are lanes, fewer than the slots
// (see laneCount), while the element-wise work of the lanes and of
// independent branches runs in parallel, and each multiplication uses every
// core.
func (o ops) dot(lhs *Node, lhsContracting []int, rhs *Node, rhsContracting []int) *Node {
	return o.batchDot(lhs, lhsContracting, nil, rhs, rhsContracting, nil)
}

// batchDot is DotGeneral(lhs, lhsContracting, lhsBatch, rhs,
// rhsContracting, rhsBatch) in the lane's chain of matrix multiplications
// (see dot).
func (o ops) batchDot(lhs *Node, lhsContracting, lhsBatch []int, rhs *Node, rhsContracting, rhsBatch []int) *Node {
	var last *Node
	if o.lane < len(o.state.lastMatmul) {
		last = o.state.lastMatmul[o.lane]
	}
	if last != nil {
		if lhs.Shape().Size() <= rhs.Shape().Size() {
			lhs = SchedulingBarrier(lhs, last)
		} else {
			rhs = SchedulingBarrier(rhs, last)
		}
	}
	out := DotGeneral(lhs, lhsContracting, lhsBatch, rhs, rhsContracting, rhsBatch)
	for len(o.state.lastMatmul) <= o.lane {
		o.state.lastMatmul = append(o.state.lastMatmul, nil)
	}
	o.state.lastMatmul[o.lane] = out
	o.state.dots[out] = true
	return out
}

// matMul is the matrix product lhs [N, K] x rhs [K, M] (see dot).
func (o ops) matMul(lhs, rhs *Node) *Node {
	return o.dot(lhs, []int{1}, rhs, []int{0})
}

// identityTransposeMaxDim is the largest column count for which transposeMat
// multiplies by an identity matrix instead of using Transpose.
const identityTransposeMaxDim = 128

// transposeMat transposes m [N, C] to [C, N]. The Go backend's Transpose
// walks an index iterator per element (about 5.5 ns per value on 2 cores);
// for C <= 128 the product I_C m^T, which its matrix multiplication computes
// in the transposed-operand layout without moving m, is faster. The result
// is exact (each value is 1*x plus zeros).
func (o ops) transposeMat(m *Node) *Node {
	c := m.Shape().Dimensions[1]
	if c > identityTransposeMaxDim {
		return Transpose(m, 0, 1)
	}
	return o.dot(identityMatrix(m.Graph(), c), []int{1}, m, []int{1})
}

// identityMatrix is the c x c float32 identity as a constant.
func identityMatrix(g *Graph, c int) *Node {
	data := make([]float32, c*c)
	for i := 0; i < c; i++ {
		data[i*c+i] = 1
	}
	return Const(g, tensors.FromFlatDataAndDimensions(data, c, c))
}

// conv is a bias-free 2D convolution of x [B, H, W, Cin] with w [k, k, Cin, Cout].
func (o ops) conv(x, w *Node, c convSpec) *Node {
	return o.convLanes([]*Node{x}, w, c)[0]
}

// convLanes is conv on every lane of a batch, with one kernel w: one
// custom-gradient op whose weight gradient is the sum of the lanes' (one
// transposition for all of them), by Winograd F(4x4, 3x3) or F(2x2, 3x3)
// where that is cheaper (see winogradChoice), else on the output side where
// that is cheaper (see outputSideWins), else by im2col. With recompute (the
// largest batches, under a tight memory limit) each algorithm rebuilds what
// its backward pass needs (patches, transformed tiles) from the input.
func (o ops) convLanes(xs []*Node, w *Node, c convSpec) []*Node {
	if direct16Applies(xs[0].Shape().Dimensions, w.Shape().Dimensions, c) {
		return o.im2colConv(xs, w, c)
	}
	if alg := winogradChoice(xs[0].Shape().Dimensions, w.Shape().Dimensions, c, o.forwardOnly); alg != nil {
		return o.winogradConv(xs, w, c, *alg)
	}
	if outputSideWins(xs[0].Shape().Dimensions, w.Shape().Dimensions, c) {
		return o.outputSideConvLanes(xs, w, c)
	}
	return o.im2colConv(xs, w, c)
}

// upConcatConvLanes is the first convolution of a U-Net decoder block on
// every lane of a batch: nearest 2x upsampling of the lane's low,
// concatenation with its skip on the channel axis, then the stride-1 'same'
// 3x3 convolution with w. lows and skips (nil for none) hold one tensor per
// lane. It convolves the upsampled part without upsampling (see upConv) and
// the skip part separately (see convLanes), and adds them: the kernel's
// input channels are the upsampled ones, then the skip's.
func (o ops) upConcatConvLanes(lows, skips []*Node, w *Node) []*Node {
	c1 := lows[0].Shape().Dimensions[3]
	wd := w.Shape().Dimensions
	if skips == nil {
		return o.upConv(lows, w)
	}
	up := o.upConv(lows, Slice(w, AxisRange(), AxisRange(), AxisRange(0, c1), AxisRange()))
	skip := o.convLanes(skips, Slice(w, AxisRange(), AxisRange(), AxisRange(c1, wd[2]), AxisRange()), convSpec{k: 3, stride: 1, pad: 1})
	for l := range up {
		up[l] = Add(up[l], skip[l])
	}
	return up
}

// maxOutputSidePadding is the largest ratio of padded to unpadded pixels,
// (H+2p)(W+2p)/(HW), for which the output-side convolution is used: it
// multiplies on the padded grid, which costs that much more arithmetic
// (1.56x at 8x8, 1.27x at 16x16, 1.13x at 32x32), while at small sizes the
// im2col patches it saves are small anyway.
const maxOutputSidePadding = 1.2

// outputSideWins reports whether a convolution of an input with dimensions
// x [B, H, W, Cin] by a kernel w [k, k, Cin, Cout] should be computed on the
// output side (see outputSideConv) rather than by im2col: a stride-1 'same'
// convolution that narrows the channels, on an image large enough.
func outputSideWins(x, w []int, c convSpec) bool {
	if c.stride != 1 || c.k == 1 || 2*c.pad != c.k-1 || c.noInputGrad || w[3] >= w[2] {
		return false
	}
	h, wd := float64(x[1]), float64(x[2])
	return (h+2*float64(c.pad))*(wd+2*float64(c.pad))/(h*wd) <= maxOutputSidePadding
}

// colSum sums m [N, C] over its rows, giving [1, C]. On the Go backend a
// MatMul with a row of ones is about twice as fast as ReduceSum.
func (o ops) colSum(m *Node) *Node {
	n := m.Shape().Dimensions[0]
	return o.matMul(Ones(m.Graph(), shapes.Make(m.DType(), 1, n)), m)
}
