// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build !(amd64 && goexperiment.simd)

package blocktranspose

// Fast reports whether Float32x16 runs in SIMD registers: never without
// AVX-512 support in this build.
var Fast = false

// transpose16x16Float32 is not used without AVX-512 (Fast is false).
func transpose16x16Float32(dst *float32, dstStride int, src *float32, srcStride int) {
	panic("blocktranspose: no AVX-512 in this build")
}
