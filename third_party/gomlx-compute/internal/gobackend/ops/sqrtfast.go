package ops

// Patch 7 (see PATCHES.md): float32 Sqrt (Adam's denominator over every
// weight) in AVX-512 lanes where the CPU has them (sqrtfast_simd.go), split
// between idle cores; float32 Logistic (the model's output) split between
// idle cores, each element computed by the generated code. The generated executor computes
// float32(math.Sqrt(float64(x))); the square root rounded once to float64
// and then to float32 is the correctly rounded float32 square root (53 >=
// 2*24 + 2 bits: the double rounding is innocuous), which VSQRTPS
// computes, so results are bit for bit the same (NaN payloads aside).

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeSqrt, gobackend.PriorityTyped, execSqrtFloat32Fast)
	gobackend.SetNodeExecutor(compute.OpTypeLogistic, gobackend.PriorityTyped, execLogisticFloat32Parallel)
}

// logisticMinChunk is the fewest elements per core when patch 7 splits a
// float32 Logistic (about 10 ns per element) between idle cores.
const logisticMinChunk = 8 << 10

// execLogisticFloat32Parallel is Logistic's executor: for float32 the
// generated loop split between idle cores, the generic executor otherwise.
func execLogisticFloat32Parallel(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	if inputs[0].RawShape.DType != dtypes.Float32 {
		return execLogistic(backend, node, inputs, inputsOwned)
	}
	input, output, err := unaryOperandAndOutput(backend, inputs, inputsOwned)
	if err != nil {
		return nil, err
	}
	in, out := input.Flat.([]float32), output.Flat.([]float32)
	backend.ParallelFor(len(in), logisticMinChunk, func(lo, hi int) { execLogisticGeneric(in[lo:hi], out[lo:hi]) })
	return output, nil
}

// execSqrtFloat32Fast is Sqrt's executor: patch 7's kernel for float32,
// the generic one otherwise.
func execSqrtFloat32Fast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	if inputs[0].RawShape.DType != dtypes.Float32 {
		return execSqrt(backend, node, inputs, inputsOwned)
	}
	input, output, err := unaryOperandAndOutput(backend, inputs, inputsOwned)
	if err != nil {
		return nil, err
	}
	in, out := input.Flat.([]float32), output.Flat.([]float32)
	backend.ParallelFor(len(in), f32MinChunk, func(lo, hi int) { f32Sqrt(out[lo:hi], in[lo:hi]) })
	return output, nil
}

// f32SqrtScalar is out[i] = float32(math.Sqrt(float64(in[i]))), as the
// generated executor.
func f32SqrtScalar(out, in []float32) {
	execSqrtGeneric(in, out[:len(in)])
}
