package main

import (
	"math"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	const gb = "github.com/gomlx/compute/internal/gobackend"
	exec := []string{gb + ".(*FunctionExecutable).executeNode", gb + "/workerspool.(*Pool).lockedRunTaskInGoroutine.func1"}
	for _, c := range []struct {
		leaf []string
		want string
	}{
		{[]string{gb + "/dot/matmul.avx512LargeKernelFloat32", gb + "/dot/matmul.avx512LargeMatrixSliceFloat32"}, "matmul kernel"},
		{[]string{"simd/archsimd.BroadcastFloat32x16", gb + "/dot/matmul.avx512LargeKernelFloat32"}, "matmul kernel"},
		{[]string{gb + "/dot/matmul.avx512ApplyPackedOutputFloat32"}, "matmul kernel"},
		{[]string{gb + "/dot/matmul.smallNoSIMDGeneric[go.shape.float32,go.shape.float32]"}, "matmul kernel"},
		{[]string{gb + "/dot/matmul.avx512PackLHSKernelRows4[go.shape.float32]"}, "matmul packing"},
		{[]string{gb + "/dot/matmul.avx512Transpose4x16x32bits"}, "matmul packing"},
		{[]string{"runtime.asyncPreempt", gb + "/dot/matmul.avx512LargeFloat32.func2"}, "matmul packing"},
		{[]string{gb + "/dot.execDotGeneral"}, "matmul packing"},
		{[]string{"runtime.asyncPreempt", gb + "/ops.execSliceGeneric[go.shape.float32]", gb + "/ops.execSlice"}, "slice"},
		{[]string{"runtime.memmove", gb + "/ops.execConcatenate"}, "concat/pad"},
		{[]string{gb + "/ops.execPad"}, "concat/pad"},
		{[]string{gb + "/ops.(*TransposeIterator).Next", gb + "/ops.execTransposeGeneric[go.shape.float32]"}, "transpose/reshape"},
		{[]string{"runtime.memmove", gb + ".CopyFlat", gb + "/ops.reshapeToShape"}, "transpose/reshape"},
		{[]string{gb + "/ops.execMulNumericGeneric[go.shape.float32]", gb + "/ops.execMul"}, "element-wise"},
		// Patch 5's float32 kernels, called from its executor closure.
		{[]string{gb + "/ops.f32VV", gb + "/ops.init.float32BinaryExecutor.func1", gb + ".(*FunctionExecutable).executeNode"}, "element-wise"},
		// Patch 4's fused im2col.
		{[]string{"runtime.memmove", gb + "/ops.writeSliceConcat", gb + "/ops.execSliceConcat", gb + "/ops.execConcatenate"}, "slice"},
		{[]string{gb + "/ops.execReduceSumGeneric[go.shape.float32]"}, "reduction"},
		{[]string{"runtime.memclrNoHeapPointers", gb + ".fillBufferGeneric[go.shape.float32]", gb + ".(*Buffer).Fill"}, "buffers"},
		{[]string{"runtime.chanrecv", "runtime.chanrecv2"}, "runtime"},
	} {
		if got := Classify(append(c.leaf, exec...)); got != c.want {
			t.Errorf("Classify(%q) = %q, want %q", c.leaf[0], got, c.want)
		}
	}
}

func TestParseTracesAndGroup(t *testing.T) {
	in := `File: gb
Type: cpu
Duration: 5.48s, Total samples = 3.85s (70.25%)
-----------+-------------------------------------------------------
      80ms   github.com/gomlx/compute/internal/gobackend/ops.execSliceGeneric[go.shape.float32]
             github.com/gomlx/compute/internal/gobackend/ops.execSlice
-----------+-------------------------------------------------------
     1.20s   github.com/gomlx/compute/internal/gobackend/dot/matmul.avx512LargeKernelFloat32
-----------+-------------------------------------------------------
      20ms   runtime.asyncPreempt
             github.com/gomlx/compute/internal/gobackend/ops.execSliceGeneric[go.shape.float32]
-----------+-------------------------------------------------------
`
	s, err := parseTraces(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 3 || len(s[0].stack) != 2 || len(s[2].stack) != 2 {
		t.Fatalf("parsed %+v", s)
	}
	m, total := group(s)
	for k, want := range map[string]float64{"slice": 0.1, "matmul kernel": 1.2} {
		if math.Abs(m[k]-want) > 1e-9 {
			t.Errorf("%s: %g s, want %g", k, m[k], want)
		}
	}
	if math.Abs(total-1.3) > 1e-9 {
		t.Errorf("total %g, want 1.3", total)
	}
}
