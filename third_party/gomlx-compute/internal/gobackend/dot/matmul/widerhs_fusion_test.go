// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot/matmul"
	"github.com/gomlx/compute/shapes"
)

// winogradTransformCase is a Winograd input transform as the project's
// layers build it: x [B, H, W, C] zero-padded by 1 on H and W
// (Concatenates with broadcast zeros), the alpha² slices taken every m
// pixels, each reshaped to a row [1, tiles*C], concatenated on axis 0 and
// multiplied by lhs [rows, alpha²].
type winogradTransformCase struct {
	name     string
	x        []int
	m, alpha int
	lhs      [][]float32 // B^T; the product's lhs is B^T ⊗ B^T
	// otherUse: the stack of slices is also an output (two uses): no
	// fusion.
	otherUse bool
}

// buildWinogradTransform compiles the case with patch 14's fusion on or
// off; it returns the executable and the DotGeneral node.
func buildWinogradTransform(tb testing.TB, c winogradTransformCase, fusion bool) (compute.Executable, *gobackend.Node) {
	tb.Helper()
	matmul.WideRHSFusionEnabled = fusion
	defer func() { matmul.WideRHSFusionEnabled = true }()
	check := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("%s: %+v", c.name, err)
		}
	}
	builder := backend.Builder("winograd")
	f := builder.Main()
	x, err := f.Parameter("x", shapes.Make(dtypes.Float32, c.x...), nil)
	check(err)
	zero, err := f.Constant([]float32{0})
	check(err)
	padded := x
	for _, axis := range []int{2, 1} {
		d := append([]int(nil), padded.(*gobackend.Node).Shape.Dimensions...)
		d[axis] = 1
		z, err := f.BroadcastInDim(zero, shapes.Make(dtypes.Float32, d...), nil)
		check(err)
		padded, err = f.Concatenate(axis, z, padded, z)
		check(err)
	}
	b, h, w, ch := c.x[0], c.x[1], c.x[2], c.x[3]
	th, tw := h/c.m, w/c.m
	var rows []compute.Value
	for a := range c.alpha {
		for bb := range c.alpha {
			s, err := f.Slice(padded, []int{0, a, bb, 0}, []int{b, a + c.m*(th-1) + 1, bb + c.m*(tw-1) + 1, ch}, []int{1, c.m, c.m, 1})
			check(err)
			s, err = f.Reshape(s, 1, b*th*tw*ch)
			check(err)
			rows = append(rows, s)
		}
	}
	tiles, err := f.Concatenate(0, rows...)
	check(err)
	lhsData, r, k := matmul.WideRHSKron(c.lhs)
	lhs, err := f.Constant(lhsData, r, k)
	check(err)
	prod, err := f.DotGeneral(lhs, []int{1}, nil, tiles, []int{0}, nil, compute.DotGeneralConfig{})
	check(err)
	outs := []compute.Value{prod}
	if c.otherUse {
		outs = append(outs, tiles)
	}
	check(f.Return(outs, nil))
	exec, err := builder.Compile()
	check(err)
	return exec, prod.(*gobackend.Node)
}

// runWinogradTransform runs the case on input, with patch 14's fusion on or
// off; it returns the product and whether the DotGeneral was fused (it
// reads the parameter x itself).
func runWinogradTransform(t *testing.T, c winogradTransformCase, input []float32, fusion bool) ([]float32, bool) {
	t.Helper()
	exec, node := buildWinogradTransform(t, c, fusion)
	defer exec.Finalize()
	xBuf, err := backend.BufferFromFlatData(0, append([]float32(nil), input...), shapes.Make(dtypes.Float32, c.x...))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Execute([]compute.Buffer{xBuf}, nil, 0)
	if err != nil {
		t.Fatalf("%s: %+v", c.name, err)
	}
	got := append([]float32(nil), outs[0].(*gobackend.Buffer).Flat.([]float32)...)
	for node.OpType != compute.OpTypeDotGeneral && len(node.Inputs) == 1 { // the normalised product's reshape
		node = node.Inputs[0]
	}
	if node.OpType != compute.OpTypeDotGeneral {
		t.Fatalf("%s: no DotGeneral under the output (%s)", c.name, node.OpType)
	}
	return got, node.Inputs[1].OpType == compute.OpTypeParameter
}

// TestWideRHSFusionMatchesOpByOp holds patch 14's fused Winograd input
// transform to the op-by-op graph (the stack of slices written by patch
// 12, then the matrix product) bit for bit, for F(2x2, 3x3) and F(4x4,
// 3x3) tiles, images whose tiles*C is and is not a multiple of the kernel's
// 128-column block, channels fewer and more than a block, on random values
// of mixed magnitudes with -0s, then with infinities and NaNs (NaN where
// the op-by-op product has NaN, any payload). A stack with a second use is
// left op by op.
func TestWideRHSFusionMatchesOpByOp(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	f2, f4 := matmul.WinoBT2, matmul.WinoBT4
	rng := rand.New(rand.NewPCG(14, 12))
	for _, c := range []winogradTransformCase{
		{name: "F4 16ch", x: []int{2, 16, 32, 16}, m: 4, alpha: 6, lhs: f4},
		{name: "F4 48ch", x: []int{1, 24, 20, 48}, m: 4, alpha: 6, lhs: f4}, // 30 tiles * 48 = 1440: a short last block
		{name: "F4 256ch", x: []int{2, 8, 4, 256}, m: 4, alpha: 6, lhs: f4},
		{name: "F2 32ch", x: []int{2, 12, 16, 32}, m: 2, alpha: 4, lhs: f2},
		{name: "F2 16ch", x: []int{1, 18, 30, 16}, m: 2, alpha: 4, lhs: f2},
		{name: "F4 second use", x: []int{2, 16, 32, 16}, m: 4, alpha: 6, lhs: f4, otherUse: true},
	} {
		for _, nonFinite := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nonfinite=%v", c.name, nonFinite), func(t *testing.T) {
				size := shapes.Make(dtypes.Float32, c.x...).Size()
				input := make([]float32, size)
				for i := range input {
					switch rng.IntN(40) {
					case 0:
						input[i] = float32(math.Copysign(0, -1))
					default:
						input[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
					}
				}
				if nonFinite {
					for _, v := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
						input[rng.IntN(size)] = v
					}
				}
				want, fusedOff := runWinogradTransform(t, c, input, false)
				got, fused := runWinogradTransform(t, c, input, true)
				if fusedOff || fused == c.otherUse {
					t.Fatalf("fused with the pass off: %v, with it on: %v (second use %v)", fusedOff, fused, c.otherUse)
				}
				nans := 0
				for i := range want {
					if math.IsNaN(float64(want[i])) && math.IsNaN(float64(got[i])) {
						nans++
						continue
					}
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("output[%d] = %v (%#x), op by op %v (%#x)", i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
				if nonFinite != (nans > 0) {
					t.Fatalf("%d NaNs with non-finite inputs %v", nans, nonFinite)
				}
			})
		}
	}
}

// BenchmarkWideRHSFusion times Winograd input transforms of the U-Net
// (F(4x4, 3x3) of 4 images of 64x64x16 and 1 of 160x160x64, F(2x2, 3x3) of
// 4 images of 32x32x32), fused by patch 14 and op by op (patch 12's stack
// of slices, then the packed product), on the backend's cores.
func BenchmarkWideRHSFusion(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("no AVX-512")
	}
	f2, f4 := matmul.WinoBT2, matmul.WinoBT4
	for _, c := range []winogradTransformCase{
		{name: "F4 4x64x64x16", x: []int{4, 64, 64, 16}, m: 4, alpha: 6, lhs: f4},
		{name: "F4 1x160x160x64", x: []int{1, 160, 160, 64}, m: 4, alpha: 6, lhs: f4},
		{name: "F2 4x32x32x32", x: []int{4, 32, 32, 32}, m: 2, alpha: 4, lhs: f2},
	} {
		for _, fusion := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/fused=%v", c.name, fusion), func(b *testing.B) {
				exec, _ := buildWinogradTransform(b, c, fusion)
				defer exec.Finalize()
				x, err := backend.BufferFromFlatData(0, make([]float32, shapes.Make(dtypes.Float32, c.x...).Size()), shapes.Make(dtypes.Float32, c.x...))
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					outs, err := exec.Execute([]compute.Buffer{x}, []bool{false}, 0)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range outs {
						o.(*gobackend.Buffer).Finalize()
					}
				}
			})
		}
	}
}
