//go:build amd64 && goexperiment.simd

package ops

import "simd/archsimd"

// f32Sqrt is out[i] = sqrt(in[i]), 16 lanes per VSQRTPS with AVX-512, the
// remainder (and other CPUs) as the generated executor.
func f32Sqrt(out, in []float32) {
	n := len(in)
	i := 0
	if f32HasAVX512 {
		out = out[:n]
		for ; i+16 <= n; i += 16 {
			archsimd.LoadFloat32x16Slice(in[i:]).Sqrt().StoreSlice(out[i:])
		}
	}
	f32SqrtScalar(out[i:n], in[i:])
}
