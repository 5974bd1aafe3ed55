// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"fmt"
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute/internal/gobackend/dot"
)

// TestAVX512KernelToOutputMatchesGoKernel holds the assembly kernel,
// writing to the output directly and reading the lhs unpacked, to the Go
// kernel with its packed lhs and packed output, bit for bit, over shapes
// whose rows, columns and contracting length are and are not multiples of
// the kernel's 4 x 32 and of the panels' sizes, over a whole matrix and
// over a slice of rows and columns (as one worker gets), in both rhs
// layouts, with a non-transposed rhs read unpacked (up to
// avx512UnpackedRHSMaxRows rows) and packed (more rows); and both to a
// float64 product within float32 rounding.
func TestAVX512KernelToOutputMatchesGoKernel(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	defer func(v bool) { avx512KernelToOutput = v }(avx512KernelToOutput)
	params := AVX512ParamsFloat32
	rng := rand.New(rand.NewPCG(1, 2))
	type window struct{ r0, r1, c0, c1 int }
	for _, c := range []struct {
		m, k, n int
		w       *window
	}{
		{4, 1, 32, nil},
		{1, 1, 1, nil},
		{3, 5, 7, nil},
		{8, 128, 64, nil},
		{27, 129, 33, nil},
		{50, 300, 70, nil},
		{24, 256, 512, nil},
		{25, 257, 513, nil},
		{100, 40, 600, &window{12, 61, 64, 577}},
		{64, 130, 96, &window{5, 63, 32, 95}},
		{200, 131, 45, nil},
		{130, 20, 64, &window{3, 130, 5, 50}},
	} {
		for _, layout := range []dot.Layout{dot.LayoutNonTransposed, dot.LayoutTransposed} {
			t.Run(fmt.Sprintf("%dx%dx%d/%v/%v", c.m, c.k, c.n, c.w != nil, layout), func(t *testing.T) {
				lhs := make([]float32, c.m*c.k)
				rhs := make([]float32, c.k*c.n)
				for i := range lhs {
					lhs[i] = rng.Float32()*2 - 1
				}
				for i := range rhs {
					rhs[i] = rng.Float32()*2 - 1
				}
				w := window{0, c.m, 0, c.n}
				if c.w != nil {
					w = *c.w
				}
				run := func(asm bool) []float32 {
					avx512KernelToOutput = asm
					out := make([]float32, c.m*c.n)
					for i := range out {
						out[i] = float32(math.NaN()) // must be overwritten inside the window
					}
					pl := make([]float32, params.LHSPanelCrossSize*params.PanelContractingSize)
					pr := make([]float32, params.PanelContractingSize*params.RHSPanelCrossSize)
					po := make([]float32, params.LHSPanelCrossSize*params.RHSPanelCrossSize)
					avx512LargeMatrixSliceFloat32(layout, lhs, rhs, out, c.m, c.n, c.k, w.r0, w.r1, w.c0, w.c1, params, pl, pr, po)
					return out
				}
				got, want := run(true), run(false)
				for i := 0; i < c.m; i++ {
					for j := 0; j < c.n; j++ {
						g, x := got[i*c.n+j], want[i*c.n+j]
						inside := i >= w.r0 && i < w.r1 && j >= w.c0 && j < w.c1
						if !inside {
							if !math.IsNaN(float64(g)) {
								t.Fatalf("[%d,%d] outside the window written: %g", i, j, g)
							}
							continue
						}
						if math.Float32bits(g) != math.Float32bits(x) {
							t.Fatalf("[%d,%d] = %g, the Go kernel gives %g", i, j, g, x)
						}
						var exact float64
						for p := range c.k {
							r := rhs[p*c.n+j]
							if layout == dot.LayoutTransposed {
								r = rhs[j*c.k+p]
							}
							exact += float64(lhs[i*c.k+p]) * float64(r)
						}
						if d := math.Abs(float64(g) - exact); d > 1e-5*float64(c.k) {
							t.Fatalf("[%d,%d] = %g, exact %g", i, j, g, exact)
						}
					}
				}
			})
		}
	}
}
