// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import "simd/archsimd"

// f32SelectEqual is patch 18's pass (selectequal.go), 16 values at a time
// in AVX-512 registers where the CPU has them: the mask of a == b (VCMPPS
// with an ordered equality: false with a NaN, +0 == -0), c kept where it
// is set and zeroed elsewhere.
func f32SelectEqual(out, a, b, c []float32) {
	if !archsimd.X86.AVX512() {
		f32SelectEqualScalar(out, a, b, c)
		return
	}
	n := len(out)
	a, b, c = a[:n], b[:n], c[:n]
	i := 0
	for ; i+16 <= n; i += 16 {
		m := archsimd.LoadFloat32x16Slice(a[i:]).Equal(archsimd.LoadFloat32x16Slice(b[i:]))
		archsimd.LoadFloat32x16Slice(c[i:]).Masked(m).StoreSlice(out[i:])
	}
	f32SelectEqualScalar(out[i:], a[i:], b[i:], c[i:])
}
