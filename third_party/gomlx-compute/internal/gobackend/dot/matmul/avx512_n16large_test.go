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

// TestAVX512LargeN16MatchesPackedKernel holds patch 17's 16-column product
// to the packed kernel it replaces (avx512LargeMatrixSliceFloat32, one
// matrix of the batch at a time) bit for bit: rows that are and are not
// multiples of the kernel's eight, contracting lengths inside one panel,
// at a panel's end and across two and three panels (where the panels' sums
// are added), batches of 1-3, values of mixed magnitudes with -0s, then
// with infinities and NaNs (NaN where the packed kernel has NaN).
func TestAVX512LargeN16MatchesPackedKernel(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	params := AVX512ParamsFloat32
	rng := rand.New(rand.NewPCG(17, 1))
	value := func() float32 {
		if rng.IntN(30) == 0 {
			return float32(math.Copysign(0, -1))
		}
		return float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
	}
	for _, c := range []struct{ batch, m, k int }{
		{1, 8, 1}, {1, 13, 5}, {2, 37, 128}, {1, 64, 129}, {3, 100, 144}, {1, 1000, 288}, {1, 9, 300}, {2, 16, 16}, {1, 7, 700}, {1, 3, 2},
	} {
		for _, nonFinite := range []bool{false, true} {
			t.Run(fmt.Sprintf("%+v/nonfinite=%v", c, nonFinite), func(t *testing.T) {
				lhs := make([]float32, c.batch*c.m*c.k)
				rhs := make([]float32, c.batch*c.k*16)
				for i := range lhs {
					lhs[i] = value()
				}
				for i := range rhs {
					rhs[i] = value()
				}
				if nonFinite {
					for _, v := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
						lhs[rng.IntN(len(lhs))] = v
						rhs[rng.IntN(len(rhs))] = v
					}
				}
				got := make([]float32, c.batch*c.m*16)
				avx512LargeN16Float32(nil, lhs, rhs, c.batch, c.m, c.k, got)
				want := make([]float32, len(got))
				pl := make([]float32, params.LHSPanelCrossSize*params.PanelContractingSize)
				pr := make([]float32, params.PanelContractingSize*params.RHSPanelCrossSize)
				po := make([]float32, params.LHSPanelCrossSize*params.RHSPanelCrossSize)
				for b := range c.batch {
					avx512LargeMatrixSliceFloat32(dot.LayoutNonTransposed, lhs[b*c.m*c.k:(b+1)*c.m*c.k], rhs[b*c.k*16:(b+1)*c.k*16],
						want[b*c.m*16:(b+1)*c.m*16], c.m, 16, c.k, 0, c.m, 0, 16, params, pl, pr, po)
				}
				nans := 0
				for i := range got {
					if math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i])) {
						nans++
						continue
					}
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("output[%d] = %v (%#x), the packed kernel gives %v (%#x)", i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
				if nonFinite != (nans > 0) {
					t.Fatalf("%d NaNs with non-finite inputs %v", nans, nonFinite)
				}
			})
		}
	}
}
