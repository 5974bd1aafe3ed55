//go:build amd64 && goexperiment.simd

package ops

import "simd/archsimd"

// Patch 5: the float32 kernels with AVX-512 where the CPU has it (16 lanes
// per instruction; the remainder element by element), element by element
// otherwise. A vector instruction computes each lane as the scalar one
// computes the element (IEEE single precision, same operand order).

var f32HasAVX512 = archsimd.X86.AVX512()

// f32VV is out[i] = a[i] op b[i].
func f32VV(op f32Op, out, a, b []float32) {
	n := len(a)
	i := 0
	if f32HasAVX512 {
		b, out = b[:n], out[:n]
		switch op {
		case f32Add:
			for ; i+16 <= n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i:]).Add(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		case f32Sub:
			for ; i+16 <= n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i:]).Sub(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		case f32Mul:
			for ; i+16 <= n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i:]).Mul(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		case f32Div:
			for ; i+16 <= n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i:]).Div(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		}
	}
	f32VVScalar(op, out[i:n], a[i:], b[i:n])
}

// f32VS is out[i] = a[i] op c.
func f32VS(op f32Op, out, a []float32, c float32) {
	n := len(a)
	i := 0
	if f32HasAVX512 {
		out = out[:n]
		cv := archsimd.BroadcastFloat32x16(c)
		switch op {
		case f32Add:
			for ; i+16 <= n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i:]).Add(cv).StoreSlice(out[i:])
			}
		case f32Sub:
			for ; i+16 <= n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i:]).Sub(cv).StoreSlice(out[i:])
			}
		case f32Mul:
			for ; i+16 <= n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i:]).Mul(cv).StoreSlice(out[i:])
			}
		case f32Div:
			for ; i+16 <= n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i:]).Div(cv).StoreSlice(out[i:])
			}
		}
	}
	f32VSScalar(op, out[i:n], a[i:], c)
}

// f32SV is out[i] = c op b[i].
func f32SV(op f32Op, out []float32, c float32, b []float32) {
	n := len(b)
	i := 0
	if f32HasAVX512 {
		out = out[:n]
		cv := archsimd.BroadcastFloat32x16(c)
		switch op {
		case f32Add:
			for ; i+16 <= n; i += 16 {
				cv.Add(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		case f32Sub:
			for ; i+16 <= n; i += 16 {
				cv.Sub(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		case f32Mul:
			for ; i+16 <= n; i += 16 {
				cv.Mul(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		case f32Div:
			for ; i+16 <= n; i += 16 {
				cv.Div(archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		}
	}
	f32SVScalar(op, out[i:n], c, b[i:])
}
