// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/internal/gobackend/blocktranspose"
)

// TestPackTransposedRHSMatchesPackLHS compares patch 11's packing of a
// transposed float32 rhs (block transposes) with packLHS, the plain
// element-by-element packing, bit for bit over the whole panel (zero
// padding of a partial strip included), on panels with full and partial
// strips, contracting widths below, at and above 16 and not multiples of
// it, and offsets into a larger matrix.
func TestPackTransposedRHSMatchesPackLHS(t *testing.T) {
	if !blocktranspose.Fast {
		t.Skip("no AVX-512: packTransposedRHSFloat32 is unsafePackLHS")
	}
	rng := rand.New(rand.NewPCG(3, 11))
	for _, c := range []struct{ rows, cols, rowStart, colStart, copyRows, contractingCols int }{
		{512, 512, 0, 0, 512, 128},
		{512, 512, 64, 128, 448, 128},
		{100, 36, 0, 0, 100, 36},
		{70, 300, 3, 17, 64, 131},
		{40, 16, 0, 0, 40, 16},
		{40, 15, 0, 0, 40, 15},
		{31, 64, 0, 0, 31, 64},
		{96, 64, 32, 0, 33, 64},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			const kernelRows = 32
			rhs := make([]float32, c.rows*c.cols)
			for i := range rhs {
				rhs[i] = rng.Float32()*2 - 1
				if i%13 == 5 {
					rhs[i] = float32(math.Copysign(0, -1))
				}
			}
			strips := (c.copyRows + kernelRows - 1) / kernelRows
			got := make([]float32, strips*kernelRows*c.contractingCols)
			want := make([]float32, len(got))
			for i := range got {
				got[i], want[i] = 7, 7 // Every value must be written.
			}
			packTransposedRHSFloat32(rhs, got, c.rowStart, c.colStart, c.cols, c.copyRows, c.contractingCols, kernelRows)
			packLHS(rhs, want, c.rowStart, c.colStart, c.cols, c.copyRows, c.contractingCols, kernelRows)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("panel[%d] = %v, packLHS gives %v", i, got[i], want[i])
				}
			}
		})
	}
}
