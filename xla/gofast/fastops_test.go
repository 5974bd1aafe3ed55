package gofast

import (
	"fmt"
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/covidxray/opacity/xla/internal/xlatest"
	"github.com/covidxray/opacity/xla/nn"
)

// goBackend, randTensor and assertClose are the shared test helpers.
var (
	goBackend   = xlatest.GoBackend
	randTensor  = xlatest.RandTensor
	assertClose = xlatest.AssertClose
)

// valueAndGrads runs fn on the inputs and returns its output and the
// gradients of sum(output * weights) with respect to every input, where
// weights is a fixed random tensor (so every output element matters with a
// different weight).
func valueAndGrads(t *testing.T, fn func(o ops, in []*Node) *Node, inputs ...*tensors.Tensor) []*tensors.Tensor {
	t.Helper()
	exec, err := NewExec(goBackend(t), func(in []*Node) []*Node {
		o := newOps(false)
		y := fn(o, in)
		w := Const(y.Graph(), randTensor(99, -1, 1, y.Shape().Dimensions...))
		loss := ReduceAllSum(Mul(y, w))
		if link := o.gradientLink(); link != nil {
			loss = Add(loss, link)
		}
		return append([]*Node{y}, Gradient(loss, in...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, len(inputs))
	for i, x := range inputs {
		args[i] = x
	}
	out, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIm2colConvMatchesNative(t *testing.T) {
	cases := []struct {
		c         convSpec
		h, w      int
		cin, cout int
	}{
		{convSpec{k: 3, stride: 1, pad: 1}, 8, 6, 3, 4},
		{convSpec{k: 3, stride: 2, pad: 1}, 8, 8, 2, 5},
		{convSpec{k: 1, stride: 2}, 8, 6, 3, 2},
		{convSpec{k: 1, stride: 1}, 4, 4, 3, 2},
		{convSpec{k: 7, stride: 2, pad: 3}, 16, 16, 1, 4},
	}
	for _, tc := range cases {
		for _, recompute := range []bool{false, true} {
			for _, lanes := range []int{1, 3} {
				name := fmt.Sprintf("k%d_s%d_p%d_recompute=%v_lanes=%d", tc.c.k, tc.c.stride, tc.c.pad, recompute, lanes)
				t.Run(name, func(t *testing.T) {
					x := randTensor(1, -1, 1, 3, tc.h, tc.w, tc.cin)
					w := randTensor(2, -1, 1, tc.c.k, tc.c.k, tc.cin, tc.cout)
					fast := valueAndGrads(t, func(o ops, in []*Node) *Node {
						o.recompute = recompute
						return Concatenate(o.im2colConv(splitBatch(in[0], lanes), in[1], tc.c), 0)
					}, x, w)
					ref := valueAndGrads(t, func(_ ops, in []*Node) *Node { return nativeConv(in[0], in[1], tc.c) }, x, w)
					for i, what := range []string{"output", "dX", "dW"} {
						assertClose(t, what, fast[i], ref[i], 1e-5)
					}
				})
			}
		}
	}
}

// TestDirect16ConvMatchesNative checks the direct 16-channel convolution
// (direct16Applies: im2col products the backend fuses, the input gradient
// a product of dY's patches with the flipped kernel) against GoMLX's
// convolution, forward and both gradients, on one and two lanes of a batch
// large enough for it, and that it is the one convLanes takes where the
// backend fuses.
func TestDirect16ConvMatchesNative(t *testing.T) {
	c := convSpec{k: 3, stride: 1, pad: 1}
	x := randTensor(1, -1, 1, 4, 32, 32, 16)
	w := randTensor(2, -0.3, 0.3, 3, 3, 16, 16)
	for _, lanes := range []int{1, 2} {
		t.Run(fmt.Sprintf("lanes=%d", lanes), func(t *testing.T) {
			lane := []int{4 / lanes, 32, 32, 16}
			if got := direct16Applies(lane, []int{3, 3, 16, 16}, c); got != n16Fused() {
				t.Fatalf("direct16Applies(%v) = %v, backend fuses: %v", lane, got, n16Fused())
			}
			fast := valueAndGrads(t, func(o ops, in []*Node) *Node {
				return Concatenate(o.convLanes(splitBatch(in[0], lanes), in[1], c), 0)
			}, x, w)
			ref := valueAndGrads(t, func(_ ops, in []*Node) *Node { return nativeConv(in[0], in[1], c) }, x, w)
			for i, what := range []string{"output", "dX", "dW"} {
				assertClose(t, what, fast[i], ref[i], 1e-5)
			}
		})
	}
}

// TestDirect16Applies checks which convolutions are computed directly by
// fused im2col products (direct16Applies) where the backend fuses them.
func TestDirect16Applies(t *testing.T) {
	if !n16Fused() {
		t.Skip("the backend does not fuse im2col products here (GOEXPERIMENT=simd on AVX-512)")
	}
	s1 := convSpec{k: 3, stride: 1, pad: 1}
	for _, tc := range []struct {
		x, w []int
		c    convSpec
		want bool
	}{
		{[]int{4, 128, 128, 16}, []int{3, 3, 16, 16}, s1, true},                                 // the full-resolution decoder layer
		{[]int{1, 320, 320, 16}, []int{3, 3, 16, 16}, s1, true},                                 // the same at the paper's size, batch 1
		{[]int{1, 43, 43, 16}, []int{3, 3, 16, 16}, s1, true},                                   // 1849 pixels: the least above 4 Mi multiply-adds
		{[]int{1, 42, 43, 16}, []int{3, 3, 16, 16}, s1, false},                                  // 1806 pixels: below
		{[]int{4, 128, 128, 16}, []int{3, 3, 16, 1}, s1, false},                                 // the head's 1 output channel
		{[]int{4, 64, 64, 32}, []int{3, 3, 32, 16}, s1, false},                                  // 32 input channels
		{[]int{4, 128, 128, 16}, []int{3, 3, 16, 16}, convSpec{k: 3, stride: 2, pad: 1}, false}, // stride 2
	} {
		if got := direct16Applies(tc.x, tc.w, tc.c); got != tc.want {
			t.Errorf("direct16Applies(%v, %v, %+v) = %v, want %v", tc.x, tc.w, tc.c, got, tc.want)
		}
	}
}

// TestMergedTapProductsExact holds convInputGrad's merged tap products
// (one product for the k*k taps, tapProducts) to the separate products
// bit for bit, on layers whose taps are each large enough to merge
// (a 3x3 stride-1 and a stride-2 convolution of 256 channels, as the
// U-Net's layer 4 at 128x128), and to the native convolution's gradient.
func TestMergedTapProductsExact(t *testing.T) {
	for _, tc := range []struct {
		c         convSpec
		h, w      int
		cin, cout int
	}{
		{convSpec{k: 3, stride: 1, pad: 1}, 8, 8, 256, 256},
		{convSpec{k: 3, stride: 2, pad: 1}, 16, 16, 256, 256},
	} {
		t.Run(fmt.Sprintf("k%d_s%d", tc.c.k, tc.c.stride), func(t *testing.T) {
			if !mergeTapProducts(tc.c.outSize(tc.h)*tc.c.outSize(tc.w), tc.cin, tc.cout) {
				t.Fatal("the case does not merge its taps")
			}
			x := randTensor(3, -1, 1, 1, tc.h, tc.w, tc.cin)
			w := randTensor(4, -1, 1, tc.c.k, tc.c.k, tc.cin, tc.cout)
			conv := func(o ops, in []*Node) *Node { return o.im2colConv(in[:1], in[1], tc.c)[0] }
			merged := valueAndGrads(t, conv, x, w)
			defer func(v int) { mergeTapsMinSize = v }(mergeTapsMinSize)
			mergeTapsMinSize = math.MaxInt
			separate := valueAndGrads(t, conv, x, w)
			a, b := merged[1].Value().([][][][]float32), separate[1].Value().([][][][]float32)
			for i := range a[0] {
				for j := range a[0][i] {
					for k := range a[0][i][j] {
						if math.Float32bits(a[0][i][j][k]) != math.Float32bits(b[0][i][j][k]) {
							t.Fatalf("dX[0][%d][%d][%d]: merged %v, separate %v", i, j, k, a[0][i][j][k], b[0][i][j][k])
						}
					}
				}
			}
			ref := valueAndGrads(t, func(_ ops, in []*Node) *Node { return nativeConv(in[0], in[1], tc.c) }, x, w)
			assertClose(t, "dX", merged[1], ref[1], 1e-5)
		})
	}
}

// referenceBatchNorm is batch normalisation written with plain ops, its
// gradient left to autodiff.
func referenceBatchNorm(y, gamma, beta, residual *Node, relu bool) *Node {
	c := y.Shape().Dimensions[3]
	mean := ReduceAndKeep(y, ReduceMean, 0, 1, 2)
	d := Sub(y, mean)
	variance := ReduceAndKeep(Mul(d, d), ReduceMean, 0, 1, 2)
	z := Add(Mul(Div(d, Sqrt(AddScalar(variance, nn.Epsilon))), Reshape(gamma, 1, 1, 1, c)), Reshape(beta, 1, 1, 1, c))
	if residual != nil {
		z = Add(z, residual)
	}
	if relu {
		z = Max(z, ScalarZero(z.Graph(), z.DType()))
	}
	return z
}

// oneLaneBatchNorm is batchNormTrain on a batch that is one lane.
func oneLaneBatchNorm(o ops, y, gamma, beta, residual *Node, relu bool) *Node {
	var residuals []*Node
	if residual != nil {
		residuals = []*Node{residual}
	}
	out, _ := o.batchNormTrain([]*Node{y}, gamma, beta, residuals, relu)
	return out[0]
}

// splitBatch cuts x [B, ...] into lanes of consecutive items as
// Layers.Input does.
func splitBatch(x *Node, lanes int) []*Node {
	b := x.Shape().Dimensions[0]
	if lanes <= 1 {
		return []*Node{x}
	}
	xs := make([]*Node, lanes)
	for l := range xs {
		xs[l] = Slice(x, AxisRange(l*b/lanes, (l+1)*b/lanes))
	}
	return xs
}

// nativeConv is nn.NativeConv with a convSpec.
func nativeConv(x, w *Node, c convSpec) *Node {
	return nn.NativeConv(x, w, nn.ConvSpec{Kernel: c.k, Stride: c.stride, Pad: c.pad})
}

func TestBatchNormTrainGradient(t *testing.T) {
	dims := []int{3, 4, 3, 5}
	y := randTensor(3, -2, 3, dims...)
	gamma := randTensor(4, 0.5, 1.5, 5)
	beta := randTensor(5, -0.5, 0.5, 5)
	r := randTensor(6, -1, 1, dims...)
	{
		for _, relu := range []bool{false, true} {
			for _, lanes := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("relu=%v_lanes=%d", relu, lanes), func(t *testing.T) {
					got := valueAndGrads(t, func(o ops, in []*Node) *Node {
						out, _ := o.batchNormTrain(splitBatch(in[0], lanes), in[1], in[2], splitBatch(in[3], lanes), relu)
						return Concatenate(out, 0)
					}, y, gamma, beta, r)
					want := valueAndGrads(t, func(_ ops, in []*Node) *Node {
						return referenceBatchNorm(in[0], in[1], in[2], in[3], relu)
					}, y, gamma, beta, r)
					for i, what := range []string{"output", "dY", "dGamma", "dBeta", "dResidual"} {
						assertClose(t, what, got[i], want[i], 1e-4)
					}
				})
			}
		}
	}
}

// referenceMaxPool is the 3x3/2 max pool with -inf padding written with
// slices and Max, its gradient left to autodiff.
func referenceMaxPool(x *Node) *Node {
	dims := x.Shape().Dimensions
	g := x.Graph()
	ninf := Infinity(g, x.DType(), -1)
	col := BroadcastToDims(ninf, dims[0], dims[1], 1, dims[3])
	x = Concatenate([]*Node{col, x, col}, 2)
	row := BroadcastToDims(ninf, dims[0], 1, dims[2]+2, dims[3])
	x = Concatenate([]*Node{row, x, row}, 1)
	ho, wo := (dims[1]-1)/2+1, (dims[2]-1)/2+1
	var out *Node
	for dy := 0; dy < 3; dy++ {
		for dx := 0; dx < 3; dx++ {
			t := Slice(x, AxisRange(), AxisRange(dy, dy+2*(ho-1)+1).Stride(2),
				AxisRange(dx, dx+2*(wo-1)+1).Stride(2), AxisRange())
			if out == nil {
				out = t
			} else {
				out = Max(out, t)
			}
		}
	}
	return out
}

func TestMaxPoolMatchesReference(t *testing.T) {
	for _, dims := range [][]int{{2, 8, 6, 3}, {2, 7, 5, 3}, {1, 2, 2, 4}, {1, 1, 3, 2}} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			// Values of both signs (contract 3: any real input, padding
			// -Inf); random values have no ties.
			x := randTensor(7, -1, 1, dims...)
			got := valueAndGrads(t, func(o ops, in []*Node) *Node { return o.maxPool3x3s2(in[0]) }, x)
			want := valueAndGrads(t, func(_ ops, in []*Node) *Node { return referenceMaxPool(in[0]) }, x)
			assertClose(t, "output", got[0], want[0], 0)
			assertClose(t, "dX", got[1], want[1], 1e-6)
		})
	}
}

func TestOutputSideConvMatchesNative(t *testing.T) {
	x := randTensor(14, -1, 1, 2, 6, 8, 6)
	w := randTensor(15, -1, 1, 3, 3, 6, 3)
	c := convSpec{k: 3, stride: 1, pad: 1}
	got := valueAndGrads(t, func(o ops, in []*Node) *Node { return o.outputSideConv(in[0], in[1], c) }, x, w)
	want := valueAndGrads(t, func(_ ops, in []*Node) *Node { return nativeConv(in[0], in[1], c) }, x, w)
	for i, what := range []string{"output", "dX", "dW"} {
		assertClose(t, what, got[i], want[i], 1e-5)
	}
}

// nativeUpConcatConv is nn.Native's UpConcatConv on one lane.
func nativeUpConcatConv(low, skip, w *Node) *Node {
	return nn.NewNative(true).UpConcatConv(nn.Act{Lanes: []*Node{low}}, nn.Act{Lanes: []*Node{skip}}, w).Lanes[0]
}

func TestDecoderConvMatchesNative(t *testing.T) {
	low := randTensor(11, -1, 1, 2, 3, 4, 6)
	skip := randTensor(12, -1, 1, 2, 6, 8, 5)
	w := randTensor(13, -1, 1, 3, 3, 11, 4)
	want := valueAndGrads(t, func(_ ops, in []*Node) *Node { return nativeUpConcatConv(in[0], in[1], in[2]) }, low, skip, w)
	for _, lanes := range []int{1, 2} {
		got := valueAndGrads(t, func(o ops, in []*Node) *Node {
			return Concatenate(o.upConcatConvLanes(splitBatch(in[0], lanes), splitBatch(in[1], lanes), in[2]), 0)
		}, low, skip, w)
		for i, what := range []string{"output", "dLow", "dSkip", "dW"} {
			assertClose(t, fmt.Sprintf("lanes %d %s", lanes, what), got[i], want[i], 1e-5)
		}
	}
}

func TestOutputSideWins(t *testing.T) {
	c := convSpec{k: 3, stride: 1, pad: 1}
	cases := []struct {
		x, w []int
		c    convSpec
		want bool
	}{
		{[]int{8, 64, 64, 128}, []int{3, 3, 128, 32}, c, true},                       // decoder at 64x64: 66*66/4096 = 1.06
		{[]int{8, 16, 16, 384}, []int{3, 3, 384, 128}, c, false},                     // 18*18/256 = 1.27
		{[]int{8, 64, 64, 32}, []int{3, 3, 32, 32}, c, false},                        // no narrowing
		{[]int{8, 64, 64, 64}, []int{3, 3, 64, 32}, convSpec{3, 2, 1, false}, false}, // stride 2
	}
	for _, tc := range cases {
		if got := outputSideWins(tc.x, tc.w, tc.c); got != tc.want {
			t.Errorf("outputSideWins(%v, %v, %+v) = %v, want %v", tc.x, tc.w, tc.c, got, tc.want)
		}
	}
}

func TestUpsampleFastMatchesNative(t *testing.T) {
	x := randTensor(8, -1, 1, 2, 3, 4, 5)
	got := valueAndGrads(t, func(o ops, in []*Node) *Node { return o.upsample2x(in[0]) }, x)
	want := valueAndGrads(t, func(_ ops, in []*Node) *Node { return nn.Upsample2x(in[0]) }, x)
	assertClose(t, "output", got[0], want[0], 0)
	assertClose(t, "dX", got[1], want[1], 1e-6)
}
