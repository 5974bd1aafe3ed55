// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package blocktranspose

import "simd/archsimd"

// Fast reports whether Float32x16 runs in AVX-512 registers (tests turn it
// off to compare with the element-by-element transpose).
var Fast = archsimd.X86.AVX512()

// transpose16x16Float32 is Float32x16 in AVX-512 (blocktranspose_amd64.s):
// 16 loads, four rounds of 16 shuffles (32-bit and 64-bit interleaves
// within 128-bit lanes, then two rounds of 128-bit lane shuffles), 16
// stores. Strides in values.
//
//go:noescape
func transpose16x16Float32(dst *float32, dstStride int, src *float32, srcStride int)
