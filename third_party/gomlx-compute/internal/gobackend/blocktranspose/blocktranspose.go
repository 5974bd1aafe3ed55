// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

// Package blocktranspose transposes blocks of float32 matrices, 16x16 at
// a time in AVX-512 registers where the CPU has them (patch 11 of
// third_party/gomlx-compute: the Transpose op's 2-D tiles and the matrix
// product's packing of a transposed operand). Values are moved, never
// computed: the result is the element-by-element transpose bit for bit.
package blocktranspose

// Float32 writes the transpose of the rows x cols block of src (row r at
// src[r*srcStride:], r < rows) to dst: dst[c*dstStride+r] =
// src[r*srcStride+c] for r < rows and c < cols. Full 16x16 sub-blocks go
// through the 16x16 kernel (Float32x16) when Fast, the edges and
// everything else element by element. The two blocks must not overlap.
func Float32(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	r0 := 0 // the rows from which every column is left to copy one by one
	if Fast && rows >= 16 && cols >= 16 {
		fullRows, fullCols := rows&^15, cols&^15
		for r := 0; r < fullRows; r += 16 {
			for c := 0; c < fullCols; c += 16 {
				Float32x16(dst[c*dstStride+r:], dstStride, src[r*srcStride+c:], srcStride)
			}
		}
		// Left: the columns fullCols... of the full rows, then the rows
		// fullRows... of every column.
		for r := 0; r < fullRows; r++ {
			for c := fullCols; c < cols; c++ {
				dst[c*dstStride+r] = src[r*srcStride+c]
			}
		}
		r0 = fullRows
	}
	for c := 0; c < cols; c++ {
		d := dst[c*dstStride:]
		for r := r0; r < rows; r++ {
			d[r] = src[r*srcStride+c]
		}
	}
}

// Float32x16 writes the transpose of the 16x16 block of src (rows
// srcStride values apart) to dst (rows dstStride values apart):
// dst[c*dstStride+r] = src[r*srcStride+c] for r, c < 16, in AVX-512
// registers when Fast. It panics when either slice is too short for its
// block.
func Float32x16(dst []float32, dstStride int, src []float32, srcStride int) {
	_ = src[15*srcStride+15]
	_ = dst[15*dstStride+15]
	if Fast {
		transpose16x16Float32(&dst[0], dstStride, &src[0], srcStride)
		return
	}
	for r := range 16 {
		for c := range 16 {
			dst[c*dstStride+r] = src[r*srcStride+c]
		}
	}
}
