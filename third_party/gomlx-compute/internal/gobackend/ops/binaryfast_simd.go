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
		case f32Max:
			for ; i+16 <= n; i += 16 {
				f32x16Max(archsimd.LoadFloat32x16Slice(a[i:]), archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		case f32Min:
			for ; i+16 <= n; i += 16 {
				f32x16Min(archsimd.LoadFloat32x16Slice(a[i:]), archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
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
		case f32Max:
			for ; i+16 <= n; i += 16 {
				f32x16Max(archsimd.LoadFloat32x16Slice(a[i:]), cv).StoreSlice(out[i:])
			}
		case f32Min:
			for ; i+16 <= n; i += 16 {
				f32x16Min(archsimd.LoadFloat32x16Slice(a[i:]), cv).StoreSlice(out[i:])
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
		case f32Max:
			for ; i+16 <= n; i += 16 {
				f32x16Max(cv, archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		case f32Min:
			for ; i+16 <= n; i += 16 {
				f32x16Min(cv, archsimd.LoadFloat32x16Slice(b[i:])).StoreSlice(out[i:])
			}
		}
	}
	f32SVScalar(op, out[i:n], c, b[i:])
}

// f32x16Max is Go's max(x, y) lane by lane, as the runtime's fmax computes
// it: y where y is NaN or y > x; else x, except that of two zeros of
// either sign it is their bitwise and (+0 unless both are -0). VMAXPS
// alone differs on NaNs and signed zeros.
func f32x16Max(x, y archsimd.Float32x16) archsimd.Float32x16 {
	r := x.AsUint32x16().And(y.AsUint32x16()).AsFloat32x16().Merge(x, x.Equal(y))
	r = y.Merge(r, y.Greater(x))
	return y.Merge(r, y.IsNaN())
}

// f32x16Min is Go's min(x, y) lane by lane, as the runtime's fmin: y where
// y is NaN or y < x; else x, except that of two zeros it is their bitwise
// or (-0 unless both are +0).
func f32x16Min(x, y archsimd.Float32x16) archsimd.Float32x16 {
	r := x.AsUint32x16().Or(y.AsUint32x16()).AsFloat32x16().Merge(x, x.Equal(y))
	r = y.Merge(r, y.Less(x))
	return y.Merge(r, y.IsNaN())
}

// f32RowsVV computes every row of v (rows of len(row) values) op row, or
// row op every row of v when rowFirst, for rows of 16 or 32 values (a
// per-channel scale or shift of 16 or 32 channels), the row held in
// registers, instead of one f32VV call per row; it returns false, doing
// nothing, for other row lengths or without AVX-512. Each lane is the
// same operation on the same two operands, in the same order, as f32VV's.
func f32RowsVV(op f32Op, out, v, row []float32, rowFirst bool) bool {
	w := len(row)
	if !f32HasAVX512 || (w != 16 && w != 32) || len(v)%w != 0 || op > f32Div {
		return false
	}
	out = out[:len(v)]
	r0 := archsimd.LoadFloat32x16Slice(row)
	r1 := r0
	if w == 32 {
		r1 = archsimd.LoadFloat32x16Slice(row[16:])
	}
	apply := func(x, r archsimd.Float32x16) archsimd.Float32x16 {
		if rowFirst {
			x, r = r, x
		}
		switch op {
		case f32Add:
			return x.Add(r)
		case f32Sub:
			return x.Sub(r)
		case f32Mul:
			return x.Mul(r)
		default:
			return x.Div(r)
		}
	}
	for i := 0; i < len(v); i += w {
		apply(archsimd.LoadFloat32x16Slice(v[i:]), r0).StoreSlice(out[i:])
		if w == 32 {
			apply(archsimd.LoadFloat32x16Slice(v[i+16:]), r1).StoreSlice(out[i+16:])
		}
	}
	return true
}
