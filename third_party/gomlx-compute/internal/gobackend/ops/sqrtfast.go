package ops

// Patch 7 (see PATCHES.md): float32 Sqrt (Adam's denominator over every
// weight) in AVX-512 lanes where the CPU has them (sqrtfast_simd.go), and
// float32 Logistic (the model's output) by the generated loop, both split
// between idle cores. The generated Sqrt computes
// float32(math.Sqrt(float64(x))); the square root rounded once to float64
// and then to float32 is the correctly rounded float32 square root (53 >=
// 2*24 + 2 bits: the double rounding is innocuous), which VSQRTPS
// computes, so results are bit for bit the same (NaN payloads aside).

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

// logisticMinChunk is the fewest elements per core when patch 7 splits a
// float32 Logistic (about 10 ns per element) between idle cores.
const logisticMinChunk = 8 << 10

var (
	// execSqrtFloat32Fast is Sqrt's executor: patch 7's kernel for
	// float32, the generic one otherwise.
	execSqrtFloat32Fast = float32UnaryExecutor(execSqrt, f32MinChunk, f32Sqrt)
	// execLogisticFloat32Parallel is Logistic's executor: for float32 the
	// generated loop split between idle cores, the generic one otherwise.
	execLogisticFloat32Parallel = float32UnaryExecutor(execLogistic, logisticMinChunk,
		func(out, in []float32) { execLogisticGeneric(in, out) })
)

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeSqrt, gobackend.PriorityTyped, execSqrtFloat32Fast)
	gobackend.SetNodeExecutor(compute.OpTypeLogistic, gobackend.PriorityTyped, execLogisticFloat32Parallel)
}

// float32UnaryExecutor returns an executor that runs kernel(out, in) on a
// float32 operand, split between idle cores in chunks of at least minChunk
// elements, and generic on any other dtype.
func float32UnaryExecutor(generic gobackend.NodeExecutor, minChunk int, kernel func(out, in []float32)) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		if inputs[0].RawShape.DType != dtypes.Float32 {
			return generic(backend, node, inputs, inputsOwned)
		}
		input, output, err := unaryOperandAndOutput(backend, inputs, inputsOwned)
		if err != nil {
			return nil, err
		}
		in, out := input.Flat.([]float32), output.Flat.([]float32)
		backend.ParallelFor(len(in), minChunk, func(lo, hi int) { kernel(out[lo:hi], in[lo:hi]) })
		return output, nil
	}
}

// f32SqrtScalar is out[i] = float32(math.Sqrt(float64(in[i]))), as the
// generated executor.
func f32SqrtScalar(out, in []float32) {
	execSqrtGeneric(in, out[:len(in)])
}
