// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"fmt"
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"
)

// TestAVX512SmallN16MatchesGeneric holds patch 13's 16-column product to
// the generic scalar loop it replaces (smallNoSIMDGeneric) bit for bit, on
// random values of mixed magnitudes (so that the rounding of each product
// and each sum matters), 1-7 rows, batches of 1-3, contracting sizes
// from 1 to a batch norm's 65536.
func TestAVX512SmallN16MatchesGeneric(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(5, 8))
	for _, c := range []struct{ batch, rows, k int }{
		{1, 1, 65536}, {1, 1, 1}, {1, 3, 17}, {1, 7, 300}, {2, 4, 64}, {3, 5, 1000}, {1, 6, 4096},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			lhs := make([]float32, c.batch*c.rows*c.k)
			rhs := make([]float32, c.batch*c.k*16)
			for i := range lhs {
				lhs[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
			}
			for i := range rhs {
				rhs[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
			}
			got := make([]float32, c.batch*c.rows*16)
			want := make([]float32, len(got))
			avx512SmallN16Float32(lhs, rhs, c.batch, c.rows, c.k, got)
			smallNoSIMDGeneric(lhs, rhs, 0, c.batch, c.rows, 16, c.k, want)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("output[%d] = %v, the generic loop gives %v", i, got[i], want[i])
				}
			}
		})
	}
}
