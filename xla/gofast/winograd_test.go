package gofast

import (
	"fmt"
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

// TestKron checks the Kronecker product against entries worked out by hand.
func TestKron(t *testing.T) {
	got := kron([][]float32{{1, 2}, {3, 4}})
	// [[1*1 1*2 2*1 2*2] [1*3 1*4 2*3 2*4] [3*1 3*2 4*1 4*2] [3*3 3*4 4*3 4*4]]
	want := []float32{1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("kron = %v, want %v", got, want)
		}
	}
}

// TestWinoFlip checks that the transformed kernel of a 3x3 kernel turned by
// 180 degrees is the transformed kernel at the positions winoFlip names.
func TestWinoFlip(t *testing.T) {
	g := []float32{0.3, -1.2, 2.5, 0.7, 1.1, -0.4, -2.2, 0.9, 1.6}
	turned := make([]float32, 9)
	for i := 0; i < 9; i++ {
		turned[i] = g[8-i] // J g J: rows and columns reversed
	}
	kg, _, _ := kronData(winoG, false) // 16 x 9
	transform := func(k []float32) []float64 {
		u := make([]float64, 16)
		for r := 0; r < 16; r++ {
			for i := 0; i < 9; i++ {
				u[r] += float64(kg[r*9+i]) * float64(k[i])
			}
		}
		return u
	}
	u, uTurned := transform(g), transform(turned)
	for r, src := range winoFlip {
		if math.Abs(uTurned[r]-u[src]) > 1e-12 {
			t.Errorf("position %d: transform of the turned kernel %g, transform at position %d %g", r, uTurned[r], src, u[src])
		}
	}
}

// TestWinogradConvMatchesNative holds the Winograd convolutions' output and
// both gradients to the backend's own convolution and its automatic
// gradient, on odd and even tile counts, one-tile images, several channels
// and lanes of unequal size, with the transformed tiles kept or rebuilt
// in the backward pass (recompute), both within 1e-5 of the largest value
// (F(4x4, 3x3)'s larger transform entries give errors up to about 2e-6 of
// it here, 1e-6 fails).
func TestWinogradConvMatchesNative(t *testing.T) {
	c := convSpec{k: 3, stride: 1, pad: 1}
	for _, alg := range []struct {
		algo   winoAlgo
		tol    float64
		shapes []struct{ b, h, w, cin, cout int }
	}{
		{winoF2, 1e-5, []struct{ b, h, w, cin, cout int }{{3, 8, 6, 3, 4}, {3, 4, 4, 5, 2}, {3, 2, 2, 1, 1}, {4, 6, 10, 7, 9}}},
		{winoF4, 1e-5, []struct{ b, h, w, cin, cout int }{{3, 8, 12, 3, 4}, {3, 4, 4, 5, 2}, {3, 4, 8, 1, 1}, {4, 12, 8, 16, 9}}},
	} {
		for i, tc := range alg.shapes {
			for _, lanes := range []int{1, 3} {
				recompute := (i+lanes)%2 == 0 // the transformed tiles kept, or rebuilt in the backward pass
				t.Run(fmt.Sprintf("F%d_%dx%dx%d_%dto%d_lanes=%d_recompute=%v", alg.algo.m, tc.b, tc.h, tc.w, tc.cin, tc.cout, lanes, recompute), func(t *testing.T) {
					x := randTensor(1, -1, 1, tc.b, tc.h, tc.w, tc.cin)
					w := randTensor(2, -1, 1, 3, 3, tc.cin, tc.cout)
					fast := valueAndGrads(t, func(o ops, in []*Node) *Node {
						o.recompute = recompute
						return Concatenate(o.winogradConv(splitBatch(in[0], lanes), in[1], c, alg.algo), 0)
					}, x, w)
					ref := valueAndGrads(t, func(_ ops, in []*Node) *Node { return nativeConv(in[0], in[1], c) }, x, w)
					for i, what := range []string{"output", "dX", "dW"} {
						assertClose(t, what, fast[i], ref[i], alg.tol)
					}
				})
			}
		}
	}
}

// TestWinogradChoice checks which convolutions fit which Winograd
// algorithm and which algorithm each uses (see winogradChoice): 0 for the
// direct convolution, 2 for F(2x2, 3x3), 4 for F(4x4, 3x3).
func TestWinogradChoice(t *testing.T) {
	s1 := convSpec{k: 3, stride: 1, pad: 1}
	for _, tc := range []struct {
		x, w         []int
		c            convSpec
		forwardOnly  bool
		fits2, fits4 bool
		use          int
	}{
		{[]int{4, 32, 32, 64}, []int{3, 3, 64, 64}, s1, false, true, true, 4},                                  // 256 4x4 tiles
		{[]int{4, 16, 16, 128}, []int{3, 3, 128, 128}, s1, false, true, true, 4},                               // 64 4x4 tiles, the least
		{[]int{1, 32, 32, 64}, []int{3, 3, 64, 64}, s1, false, true, true, 4},                                  // 64 4x4 tiles
		{[]int{1, 20, 20, 256}, []int{3, 3, 256, 256}, s1, false, true, true, 2},                               // 25 4x4 tiles: too few in training, 100 2x2
		{[]int{4, 8, 8, 256}, []int{3, 3, 256, 256}, s1, false, true, true, 2},                                 // 64 2x2 tiles, the least
		{[]int{4, 4, 4, 512}, []int{3, 3, 512, 512}, s1, false, true, true, 0},                                 // 16 2x2 tiles
		{[]int{1, 16, 14, 128}, []int{3, 3, 128, 128}, s1, false, true, false, 0},                              // 56 2x2 tiles
		{[]int{2, 24, 20, 64}, []int{3, 3, 64, 64}, s1, false, true, true, 2},                                  // 60 4x4 tiles: too few, 240 2x2
		{[]int{4, 128, 128, 16}, []int{3, 3, 16, 16}, s1, false, true, true, 4},                                // 16 output channels, the least
		{[]int{4, 128, 128, 16}, []int{3, 3, 16, 1}, s1, false, true, true, 0},                                 // the head: 1 output channel
		{[]int{4, 36, 36, 64}, []int{3, 3, 64, 64}, s1, false, true, true, 4},                                  // 324 4x4 tiles
		{[]int{4, 34, 34, 64}, []int{3, 3, 64, 64}, s1, false, true, false, 2},                                 // not a multiple of 4
		{[]int{1, 32, 32, 64}, []int{3, 3, 64, 64}, s1, true, true, true, 4},                                   // forward only: 64 4x4 tiles, the least
		{[]int{1, 16, 16, 128}, []int{3, 3, 128, 128}, s1, true, true, true, 0},                                // forward only: 16 4x4 tiles
		{[]int{1, 30, 30, 64}, []int{3, 3, 64, 64}, s1, true, true, false, 0},                                  // forward only: 225 2x2 tiles
		{[]int{1, 82, 82, 64}, []int{3, 3, 64, 64}, s1, true, true, false, 2},                                  // forward only: 1681 2x2 tiles
		{[]int{4, 31, 32, 64}, []int{3, 3, 64, 64}, s1, false, false, false, 0},                                // odd height
		{[]int{4, 32, 32, 64}, []int{3, 3, 64, 64}, convSpec{k: 3, stride: 2, pad: 1}, false, false, false, 0}, // stride 2
		{[]int{4, 32, 32, 64}, []int{1, 1, 64, 64}, convSpec{k: 1, stride: 1}, false, false, false, 0},         // 1x1
		{[]int{4, 32, 32, 64}, []int{7, 7, 64, 64}, convSpec{k: 7, stride: 1, pad: 3}, false, false, false, 0}, // 7x7
	} {
		if got := winogradFits(tc.x, tc.w, tc.c, winoF2); got != tc.fits2 {
			t.Errorf("winogradFits(%v, %v, %+v, F2) = %v, want %v", tc.x, tc.w, tc.c, got, tc.fits2)
		}
		if got := winogradFits(tc.x, tc.w, tc.c, winoF4); got != tc.fits4 {
			t.Errorf("winogradFits(%v, %v, %+v, F4) = %v, want %v", tc.x, tc.w, tc.c, got, tc.fits4)
		}
		use := 0
		if alg := winogradChoice(tc.x, tc.w, tc.c, tc.forwardOnly); alg != nil {
			use = alg.m
		}
		if use != tc.use {
			t.Errorf("winogradChoice(%v, %v, %+v, forward only %v) = F%d, want F%d (0: direct)", tc.x, tc.w, tc.c, tc.forwardOnly, use, tc.use)
		}
	}
}

// BenchmarkWinogradConv compares forward and backward of the Winograd
// convolution with the direct one (im2col, or output-side where
// outputSideWins) at the stride-1 3x3 layers of the default model at
// 128x128 batch 8 (one lane of 4 images, as training runs them on 2 cores).
func BenchmarkWinogradConv(b *testing.B) {
	for _, tc := range []struct {
		name         string
		h, cin, cout int
	}{
		{"layer1_32px_64", 32, 64, 64}, {"layer2_16px_128", 16, 128, 128}, {"layer3_8px_256", 8, 256, 256},
		{"layer4_4px_512", 4, 512, 512}, {"block3_skip_64px_64to32", 64, 64, 32}, {"block3_64px_32", 64, 32, 32},
		{"block4_128px_16", 128, 16, 16}, {"head_128px_16to1", 128, 16, 1},
	} {
		benchConvAlgorithms(b, tc.name, benchForwardBackward,
			randTensor(1, -1, 1, 4, tc.h, tc.h, tc.cin), randTensor(2, -0.1, 0.1, 3, 3, tc.cin, tc.cout))
	}
}

// benchConvAlgorithms times, with bench, the stride-1 3x3 convolution of x
// by w directly (directConv) and by each Winograd algorithm that fits, as
// sub-benchmarks name/direct and name/winograd_F<m>.
func benchConvAlgorithms(b *testing.B, name string, bench func(*testing.B, func(ops, []*Node) *Node, ...*tensors.Tensor), x, w *tensors.Tensor) {
	s1 := convSpec{k: 3, stride: 1, pad: 1}
	b.Run(name+"/direct", func(b *testing.B) {
		bench(b, func(o ops, in []*Node) *Node { return directConv(o, in[0], in[1], s1) }, x, w)
	})
	for _, alg := range []winoAlgo{winoF2, winoF4} {
		if !winogradFits(x.Shape().Dimensions, w.Shape().Dimensions, s1, alg) {
			continue
		}
		b.Run(fmt.Sprintf("%s/winograd_F%d", name, alg.m), func(b *testing.B) {
			bench(b, func(o ops, in []*Node) *Node { return o.winogradConv([]*Node{in[0]}, in[1], s1, alg)[0] }, x, w)
		})
	}
}

// benchForward times one execution of f's value alone (a graph without
// backward pass, as at inference), on the Go backend with the fast ops.
func benchForward(b *testing.B, f func(o ops, in []*Node) *Node, inputs ...*tensors.Tensor) {
	exec, err := NewExec(goBackend(b), func(in []*Node) *Node { return f(newOps(false), in) })
	if err != nil {
		b.Fatal(err)
	}
	benchExec(b, exec, inputs)
}

// BenchmarkWinogradForward compares the forward pass alone of the Winograd
// and the direct convolution at the stride-1 3x3 layers of the default
// model at batch 1 (opacity analyze), 128x128 and 320x320.
func BenchmarkWinogradForward(b *testing.B) {
	for _, tc := range []struct {
		name             string
		bs, h, cin, cout int
	}{
		{"b1_32px_64", 1, 32, 64, 64}, {"b1_16px_128", 1, 16, 128, 128}, {"b1_64px_64to32", 1, 64, 64, 32}, {"b1_64px_32", 1, 64, 32, 32}, {"b1_128px_16", 1, 128, 16, 16},
		{"b1_80px_64", 1, 80, 64, 64}, {"b1_40px_128", 1, 40, 128, 128}, {"b1_20px_256", 1, 20, 256, 256}, {"b1_320px_16", 1, 320, 16, 16},
	} {
		benchConvAlgorithms(b, tc.name, benchForward,
			randTensor(1, -1, 1, tc.bs, tc.h, tc.h, tc.cin), randTensor(2, -0.1, 0.1, 3, 3, tc.cin, tc.cout))
	}
}

// directConv is the convolution convLanes used before Winograd: on the
// output side where outputSideWins, else by im2col.
func directConv(o ops, x, w *Node, c convSpec) *Node {
	if outputSideWins(x.Shape().Dimensions, w.Shape().Dimensions, c) {
		return o.outputSideConv(x, w, c)
	}
	return o.im2colConv([]*Node{x}, w, c)[0]
}

// BenchmarkWinogradParts times the parts of an F(4x4, 3x3) forward pass
// (one lane of 4 images): the input tiles gathered (padding, 36 strided
// slices, a concatenation), the input transform (the tiles and the product
// with kron(B^T)), and the whole forward convolution.
func BenchmarkWinogradParts(b *testing.B) {
	s1 := convSpec{k: 3, stride: 1, pad: 1}
	for _, tc := range []struct{ h, cin, cout int }{{32, 64, 64}, {64, 64, 32}, {128, 16, 16}} {
		x, w := randTensor(1, -1, 1, 4, tc.h, tc.h, tc.cin), randTensor(2, -0.1, 0.1, 3, 3, tc.cin, tc.cout)
		name := fmt.Sprintf("%dpx_%dto%d", tc.h, tc.cin, tc.cout)
		b.Run(name+"/tiles", func(b *testing.B) {
			benchForward(b, func(o ops, in []*Node) *Node { return winogradTiles(in[0], winoF4) }, x)
		})
		b.Run(name+"/input_transform", func(b *testing.B) {
			benchForward(b, func(o ops, in []*Node) *Node {
				return o.winogradInput(in[0], kronConst(in[0].Graph(), winoF4.bt, false), winoF4)
			}, x)
		})
		b.Run(name+"/forward", func(b *testing.B) {
			benchForward(b, func(o ops, in []*Node) *Node { return o.winogradConv([]*Node{in[0]}, in[1], s1, winoF4)[0] }, x, w)
		})
	}
}
