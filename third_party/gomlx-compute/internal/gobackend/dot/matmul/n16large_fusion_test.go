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

// im2colCase is a 3x3 convolution as the project's layers build it by
// im2col: x [B, H, W, C] zero-padded by 1 on H and W (Concatenates with
// broadcast zeros), the 9 taps' strided slices concatenated on the channel
// axis, reshaped to [B*Ho*Wo, 9*C] and multiplied by w [9*C, 16]; or, with
// dw, its weight gradient's product: w [16, B*Ho*Wo] (dY^T) times the
// matrix.
type im2colCase struct {
	name   string
	x      []int
	stride int
	dw     bool
	// otherUse: the im2col matrix is also an output (two uses): no
	// fusion.
	otherUse bool
}

// buildIm2colN16 compiles the case with patch 17's fusion on or off (and,
// with packed, patch 17 off altogether: the packed kernel); it returns
// the executable and the DotGeneral node.
func buildIm2colN16(tb testing.TB, c im2colCase, fusion, packed bool) (compute.Executable, *gobackend.Node) {
	tb.Helper()
	matmul.Im2colN16FusionEnabled, matmul.N16LargeEnabled = fusion, !packed
	defer func() { matmul.Im2colN16FusionEnabled, matmul.N16LargeEnabled = true, true }()
	check := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("%s: %+v", c.name, err)
		}
	}
	builder := backend.Builder("im2col16")
	f := builder.Main()
	x, err := f.Parameter("x", shapes.Make(dtypes.Float32, c.x...), nil)
	check(err)
	b, h, w, ch := c.x[0], c.x[1], c.x[2], c.x[3]
	s := c.stride
	ho, wo := (h+2-3)/s+1, (w+2-3)/s+1
	wt, err := f.Parameter("w", shapes.Make(dtypes.Float32, c.wShape()...), nil)
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
	var taps []compute.Value
	for dy := range 3 {
		for dx := range 3 {
			t, err := f.Slice(padded, []int{0, dy, dx, 0}, []int{b, dy + s*(ho-1) + 1, dx + s*(wo-1) + 1, ch}, []int{1, s, s, 1})
			check(err)
			taps = append(taps, t)
		}
	}
	cat, err := f.Concatenate(3, taps...)
	check(err)
	mat, err := f.Reshape(cat, b*ho*wo, 9*ch)
	check(err)
	var prod compute.Value
	if c.dw {
		prod, err = f.DotGeneral(wt, []int{1}, nil, mat, []int{0}, nil, compute.DotGeneralConfig{})
	} else {
		prod, err = f.DotGeneral(mat, []int{1}, nil, wt, []int{0}, nil, compute.DotGeneralConfig{})
	}
	check(err)
	outs := []compute.Value{prod}
	if c.otherUse {
		outs = append(outs, cat)
	}
	check(f.Return(outs, nil))
	exec, err := builder.Compile()
	check(err)
	return exec, prod.(*gobackend.Node)
}

// wShape is the case's second operand's shape: the kernel [9*C, 16], or
// with dw the [16, B*Ho*Wo] lhs.
func (c im2colCase) wShape() []int {
	if !c.dw {
		return []int{9 * c.x[3], 16}
	}
	ho, wo := (c.x[1]+2-3)/c.stride+1, (c.x[2]+2-3)/c.stride+1
	return []int{16, c.x[0] * ho * wo}
}

// runIm2colN16 runs the case on x and w; it returns the product and
// whether the DotGeneral was fused (it reads the parameter x itself).
func runIm2colN16(t *testing.T, c im2colCase, x, w []float32, fusion, packed bool) ([]float32, bool) {
	t.Helper()
	exec, node := buildIm2colN16(t, c, fusion, packed)
	defer exec.Finalize()
	xBuf, err := backend.BufferFromFlatData(0, append([]float32(nil), x...), shapes.Make(dtypes.Float32, c.x...))
	if err != nil {
		t.Fatal(err)
	}
	wBuf, err := backend.BufferFromFlatData(0, append([]float32(nil), w...), shapes.Make(dtypes.Float32, c.wShape()...))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Execute([]compute.Buffer{xBuf, wBuf}, nil, 0)
	if err != nil {
		t.Fatalf("%s: %+v", c.name, err)
	}
	got := append([]float32(nil), outs[0].(*gobackend.Buffer).Flat.([]float32)...)
	for node.OpType != compute.OpTypeDotGeneral && len(node.Inputs) == 1 {
		node = node.Inputs[0]
	}
	if node.OpType != compute.OpTypeDotGeneral {
		t.Fatalf("%s: no DotGeneral under the output (%s)", c.name, node.OpType)
	}
	if c.dw {
		return got, node.Inputs[1].OpType == compute.OpTypeParameter
	}
	return got, node.Inputs[0].OpType == compute.OpTypeParameter
}

// TestIm2colN16FusionMatchesOpByOp holds patch 17's fused im2col products
// to the op-by-op graph (the matrix written by patch 4, then the product on
// patch 17's kernel or the packed kernel) and to the packed kernel, bit for
// bit: 3x3 convolutions of 16 and 32 channels (one and three contracting
// panels), strides 1 and 2, and their weight gradients' products (rows
// of a panel from several positions, a position over several panels), on
// random values of mixed magnitudes with -0s, then with infinities and
// NaNs (NaN where the op-by-op product has NaN). A matrix with a second
// use is left op by op.
func TestIm2colN16FusionMatchesOpByOp(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(17, 2))
	value := func() float32 {
		if rng.IntN(40) == 0 {
			return float32(math.Copysign(0, -1))
		}
		return float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
	}
	for _, c := range []im2colCase{
		{name: "16ch", x: []int{2, 32, 32, 16}, stride: 1},
		{name: "32ch 3 panels", x: []int{1, 40, 40, 32}, stride: 1},
		{name: "16ch stride 2", x: []int{2, 64, 64, 16}, stride: 2},
		{name: "16ch odd width", x: []int{1, 30, 77, 16}, stride: 1},
		{name: "16ch second use", x: []int{2, 32, 32, 16}, stride: 1, otherUse: true},
		{name: "dW 16ch", x: []int{2, 32, 32, 16}, stride: 1, dw: true},
		{name: "dW 32ch", x: []int{1, 40, 40, 32}, stride: 1, dw: true},
		{name: "dW 16ch stride 2", x: []int{2, 64, 64, 16}, stride: 2, dw: true},
		{name: "dW 16ch odd sizes", x: []int{1, 30, 77, 16}, stride: 1, dw: true}, // rows cross positions inside a panel
		{name: "dW 16ch 320 wide", x: []int{1, 6, 320, 16}, stride: 1, dw: true},  // positions of 2.5 panels
		{name: "dW second use", x: []int{2, 32, 32, 16}, stride: 1, dw: true, otherUse: true},
	} {
		for _, nonFinite := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nonfinite=%v", c.name, nonFinite), func(t *testing.T) {
				x := make([]float32, shapes.Make(dtypes.Float32, c.x...).Size())
				w := make([]float32, shapes.Make(dtypes.Float32, c.wShape()...).Size())
				for i := range x {
					x[i] = value()
				}
				for i := range w {
					w[i] = value()
				}
				if nonFinite {
					for _, v := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
						x[rng.IntN(len(x))] = v
					}
				}
				want, fusedOff := runIm2colN16(t, c, x, w, false, false)
				packed, _ := runIm2colN16(t, c, x, w, false, true)
				got, fused := runIm2colN16(t, c, x, w, true, false)
				if fusedOff || fused == c.otherUse {
					t.Fatalf("fused with the pass off: %v, with it on: %v (second use %v)", fusedOff, fused, c.otherUse)
				}
				nans := 0
				for i := range want {
					if math.IsNaN(float64(want[i])) && math.IsNaN(float64(got[i])) && math.IsNaN(float64(packed[i])) {
						nans++
						continue
					}
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(packed[i]) != math.Float32bits(want[i]) {
						t.Fatalf("output[%d] = %v (%#x), op by op %v (%#x), packed kernel %v (%#x)", i, got[i], math.Float32bits(got[i]),
							want[i], math.Float32bits(want[i]), packed[i], math.Float32bits(packed[i]))
					}
				}
				if nonFinite != (nans > 0) {
					t.Fatalf("%d NaNs with non-finite inputs %v", nans, nonFinite)
				}
			})
		}
	}
}
