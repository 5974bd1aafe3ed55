//go:build !(amd64 && goexperiment.simd)

package ops

// Patch 5 without SIMD: the kernels element by element.

// f32VV is out[i] = a[i] op b[i].
func f32VV(op f32Op, out, a, b []float32) { f32VVScalar(op, out, a, b) }

// f32VS is out[i] = a[i] op c.
func f32VS(op f32Op, out, a []float32, c float32) { f32VSScalar(op, out, a, c) }

// f32SV is out[i] = c op b[i].
func f32SV(op f32Op, out []float32, c float32, b []float32) { f32SVScalar(op, out, c, b) }

// f32RowsVV is patch 7's short-row kernel (binaryfast_simd.go); without
// SIMD it declines and the rows are done one f32VV call each.
func f32RowsVV(op f32Op, out, v, row []float32, rowFirst bool) bool { return false }
