// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import "github.com/gomlx/compute/internal/gobackend/blocktranspose"

// packTransposedRHSFloat32 is unsafePackLHS for a float32 rhs in the
// transposed layout ([rhsCross, contracting]; patch 11): each full strip
// of kernelRows rhs rows is one block transpose (16x16 blocks in AVX-512
// registers, blocktranspose) into the panel's [contractingCols,
// kernelRows] strip, the last, partial strip (zero-padded) and narrow
// panels as unsafePackLHS writes them. The same values land in the same
// places.
func packTransposedRHSFloat32(rhs, panel []float32, rowStart, colStart, rhsCols, copyRows, contractingCols, kernelRows int) {
	full := 0
	if blocktranspose.Fast && kernelRows%16 == 0 && contractingCols >= 16 {
		full = copyRows / kernelRows * kernelRows
		for s := 0; s < full; s += kernelRows {
			blocktranspose.Float32(panel[s*contractingCols:], kernelRows, rhs[(rowStart+s)*rhsCols+colStart:], rhsCols, kernelRows, contractingCols)
		}
	}
	if full < copyRows {
		unsafePackLHS(rhs, panel[full*contractingCols:], rowStart+full, colStart, rhsCols, copyRows-full, contractingCols, kernelRows)
	}
}
