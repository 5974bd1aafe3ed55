//go:build !(amd64 && goexperiment.simd)

package ops

// f32Sqrt without SIMD: element by element, as the generated executor.
func f32Sqrt(out, in []float32) { f32SqrtScalar(out, in) }
