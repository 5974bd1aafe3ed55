// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import "simd/archsimd"

// f32SumRuns is out[j] = ((in[o0+j] + in[o1+j]) + in[o2+j]) + ... for the
// offsets o0, o1, ... (at least two): patch 16's run, 16 lanes at a time
// held in a register across the slices where the CPU has AVX-512 (each
// lane the scalar sum, in the same order), the rest element by element.
func f32SumRuns(out, in []float32, offsets []int) {
	n := len(out)
	j := 0
	if f32HasAVX512 && len(offsets) == 4 {
		// The up-convolution's chains: four loads, each its own
		// instruction, so that the stride prefetchers follow each slice.
		o0, o1, o2, o3 := offsets[0], offsets[1], offsets[2], offsets[3]
		for ; j+16 <= n; j += 16 {
			v := archsimd.LoadFloat32x16Slice(in[o0+j:]).Add(archsimd.LoadFloat32x16Slice(in[o1+j:]))
			v = v.Add(archsimd.LoadFloat32x16Slice(in[o2+j:]))
			v.Add(archsimd.LoadFloat32x16Slice(in[o3+j:])).StoreSlice(out[j:])
		}
	}
	if f32HasAVX512 {
		for ; j+16 <= n; j += 16 {
			v := archsimd.LoadFloat32x16Slice(in[offsets[0]+j:]).Add(archsimd.LoadFloat32x16Slice(in[offsets[1]+j:]))
			for _, o := range offsets[2:] {
				v = v.Add(archsimd.LoadFloat32x16Slice(in[o+j:]))
			}
			v.StoreSlice(out[j:])
		}
	}
	if j < n {
		var buf [16]int
		rest := buf[:0]
		for _, o := range offsets {
			rest = append(rest, o+j)
		}
		f32SumRunsScalar(out[j:], in, rest)
	}
}
