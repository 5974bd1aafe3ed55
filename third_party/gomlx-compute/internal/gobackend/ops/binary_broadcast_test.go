package ops

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// binaryExecs are the binary ops' node executors (gen_exec_binary.go).
var binaryExecs = []struct {
	op         compute.OpType
	exec       gobackend.NodeExecutor
	comparison bool
}{
	{compute.OpTypeAdd, execAdd, false},
	{compute.OpTypeMul, execMul, false},
	{compute.OpTypeSub, execSub, false},
	{compute.OpTypeDiv, execDiv, false},
	{compute.OpTypeRem, execRem, false},
	{compute.OpTypePow, execPow, false},
	{compute.OpTypeAtan2, execAtan2, false},
	{compute.OpTypeMax, execMax, false},
	{compute.OpTypeMin, execMin, false},
	{compute.OpTypeBitwiseAnd, execBitwiseAnd, false},
	{compute.OpTypeBitwiseOr, execBitwiseOr, false},
	{compute.OpTypeBitwiseXor, execBitwiseXor, false},
	{compute.OpTypeLogicalAnd, execLogicalAnd, false},
	{compute.OpTypeLogicalOr, execLogicalOr, false},
	{compute.OpTypeLogicalXor, execLogicalXor, false},
	{compute.OpTypeEqual, execEqual, true},
	{compute.OpTypeNotEqual, execNotEqual, true},
	{compute.OpTypeGreaterOrEqual, execGreaterOrEqual, true},
	{compute.OpTypeGreaterThan, execGreaterThan, true},
	{compute.OpTypeLessOrEqual, execLessOrEqual, true},
	{compute.OpTypeLessThan, execLessThan, true},
}

// binaryTestDTypes are the dtypes the test runs each op with (an op that
// does not support one returns an error and is skipped for it).
var binaryTestDTypes = []dtypes.DType{
	dtypes.Float32, dtypes.Float64, dtypes.BFloat16, dtypes.Float16,
	dtypes.Int8, dtypes.Int32, dtypes.Int64, dtypes.Uint8, dtypes.Uint32, dtypes.Bool,
}

// randomBinaryBuffer returns a buffer of shape with random values: for
// integers 1..7 (no zero divisors, small powers), for floats multiples of
// 1/8 in [-4, 4) (exact in every float dtype; zero and repeats included, so
// divisions make infinities and NaNs and comparisons see equal values).
func randomBinaryBuffer(rng *rand.Rand, shape shapes.Shape) *gobackend.Buffer {
	flat := dtypes.MakeAnySlice(shape.DType, shape.Size())
	value := func() float32 { return float32(rng.IntN(64)-32) / 8 }
	switch f := flat.(type) {
	case []float32:
		for i := range f {
			f[i] = value()
		}
	case []float64:
		for i := range f {
			f[i] = float64(value())
		}
	case []bfloat16.BFloat16:
		for i := range f {
			f[i] = bfloat16.FromFloat32(value())
		}
	case []float16.Float16:
		for i := range f {
			f[i] = float16.FromFloat32(value())
		}
	case []bool:
		for i := range f {
			f[i] = rng.IntN(2) == 1
		}
	default:
		buf := &gobackend.Buffer{RawShape: shape, Flat: flat}
		b, _ := buf.MutableBytes()
		size := shape.DType.Size()
		for i := 0; i < len(b); i += size {
			b[i] = byte(1 + rng.IntN(7)) // little-endian: the value 1..7
		}
	}
	return &gobackend.Buffer{RawShape: shape, Flat: flat}
}

// sameValues reports whether two results hold the same values: the same
// bits, except that any NaN equals any NaN (which NaN payload an operation
// on NaNs returns depends on the operand order the compiler picked, and
// IEEE 754 leaves it open).
func sameValues(got, want *gobackend.Buffer) bool {
	isNaN := func(flat any, i int) bool {
		switch f := flat.(type) {
		case []float32:
			return math.IsNaN(float64(f[i]))
		case []float64:
			return math.IsNaN(f[i])
		case []bfloat16.BFloat16:
			return math.IsNaN(float64(f[i].Float32()))
		case []float16.Float16:
			return math.IsNaN(float64(f[i].Float32()))
		}
		return false
	}
	gotBytes, _ := got.MutableBytes()
	wantBytes, _ := want.MutableBytes()
	if len(gotBytes) != len(wantBytes) {
		return false
	}
	size := got.RawShape.DType.Size()
	for i := 0; i < len(gotBytes); i += size {
		if !bytes.Equal(gotBytes[i:i+size], wantBytes[i:i+size]) && !(isNaN(got.Flat, i/size) && isNaN(want.Flat, i/size)) {
			return false
		}
	}
	return true
}

// broadcastBuffer returns src broadcast to tgtShape, materialised by the
// (unchanged) BroadcastIterator.
func broadcastBuffer(src *gobackend.Buffer, tgtShape shapes.Shape) *gobackend.Buffer {
	out := &gobackend.Buffer{RawShape: tgtShape, Flat: dtypes.MakeAnySlice(tgtShape.DType, tgtShape.Size())}
	srcBytes, _ := src.MutableBytes()
	outBytes, _ := out.MutableBytes()
	size := tgtShape.DType.Size()
	for srcIdx, tgtIdx := range gobackend.NewBroadcastIterator(src.RawShape, tgtShape).IterFlatIndices() {
		copy(outBytes[tgtIdx*size:(tgtIdx+1)*size], srcBytes[srcIdx*size:(srcIdx+1)*size])
	}
	return out
}

// binaryBroadcastCases are pairs of operand dimensions: one side repeated
// along leading axes (the row-by-row cases 2b and 2c), and other
// broadcasts (the zipped iterator).
var binaryBroadcastCases = [][2][]int{
	{{2, 3, 4}, {1, 3, 4}},
	{{2, 3, 4}, {1, 1, 4}},
	{{1, 1, 4}, {2, 3, 4}},
	{{5, 1, 3}, {1, 1, 3}},
	{{2, 5, 1, 3}, {1, 5, 1, 3}},
	{{3, 4}, {1, 4}},
	{{1, 4}, {3, 4}},
	{{2, 3, 4}, {2, 1, 4}},
	{{2, 3, 4}, {2, 3, 1}},
	{{2, 3, 1}, {2, 3, 4}},
	{{1, 3, 1}, {2, 1, 4}},
	{{2, 1, 4}, {1, 3, 1}},
	{{3, 1}, {1, 5}},
	{{4, 2, 3, 2, 5}, {1, 1, 3, 2, 5}},
	{{4, 2, 3, 2, 5}, {4, 1, 3, 1, 5}},
}

func TestBinaryBroadcastMatchesMaterialised(t *testing.T) {
	b, err := gobackend.New("")
	if err != nil {
		t.Fatal(err)
	}
	backend := b.(*gobackend.Backend)
	rng := rand.New(rand.NewPCG(16, 3))
	cases := binaryBroadcastCases
	for range 200 { // Random pairs of rank 1-5, each axis of each side full or 1.
		rank := 1 + rng.IntN(5)
		lhs, rhs := make([]int, rank), make([]int, rank)
		for axis := range rank {
			dim := 1 + rng.IntN(4)
			lhs[axis], rhs[axis] = dim, dim
			switch rng.IntN(3) {
			case 0:
				lhs[axis] = 1
			case 1:
				rhs[axis] = 1
			}
		}
		cases = append(cases, [2][]int{lhs, rhs})
	}
	for _, bc := range binaryExecs {
		for _, dtype := range binaryTestDTypes {
			for _, dims := range cases {
				lhsShape := shapes.Make(dtype, dims[0]...)
				rhsShape := shapes.Make(dtype, dims[1]...)
				outDims := make([]int, len(dims[0]))
				for axis := range outDims {
					outDims[axis] = max(dims[0][axis], dims[1][axis])
				}
				outShape := shapes.Make(dtype, outDims...)
				lhs, rhs := randomBinaryBuffer(rng, lhsShape), randomBinaryBuffer(rng, rhsShape)
				nodeShape := outShape
				if bc.comparison {
					nodeShape = shapes.Make(dtypes.Bool, outDims...)
				}
				node := &gobackend.Node{OpType: bc.op, Shape: nodeShape}
				got, err := bc.exec(backend, node, []*gobackend.Buffer{lhs, rhs}, []bool{false, false})
				if err != nil {
					continue // dtype not supported by the op
				}
				want, err := bc.exec(backend, node, []*gobackend.Buffer{broadcastBuffer(lhs, outShape), broadcastBuffer(rhs, outShape)}, []bool{false, false})
				if err != nil {
					t.Fatalf("%s %s on materialised operands: %v", bc.op, dtype, err)
				}
				if !sameValues(got, want) {
					t.Errorf("%s %s %v with %v: broadcast result differs from the same-shape one\ngot  %v\nwant %v",
						bc.op, dtype, dims[0], dims[1], got.Flat, want.Flat)
				}
			}
		}
	}
}

func TestIsTrailingBroadcast(t *testing.T) {
	for _, tc := range []struct {
		src, tgt []int
		want     bool
	}{
		{[]int{1, 1, 1, 8}, []int{2, 4, 4, 8}, true},
		{[]int{1, 4, 8}, []int{2, 4, 8}, true},
		{[]int{2, 4, 8}, []int{2, 4, 8}, true},
		{[]int{1, 1}, []int{3, 4}, true},
		{[]int{}, []int{}, true},
		{[]int{1, 1, 1}, []int{2, 1, 3}, true},
		{[]int{1, 1, 3}, []int{2, 1, 3}, true},
		{[]int{2, 1, 1}, []int{2, 4, 8}, false},
		{[]int{1, 4, 1}, []int{2, 4, 8}, false},
		{[]int{2, 1, 8}, []int{2, 4, 8}, false},
		{[]int{8}, []int{4, 8}, false}, // ranks differ
	} {
		got := gobackend.IsTrailingBroadcast(shapes.Make(dtypes.Float32, tc.src...), shapes.Make(dtypes.Float32, tc.tgt...))
		if got != tc.want {
			t.Errorf("IsTrailingBroadcast(%v, %v) = %v, want %v", tc.src, tc.tgt, got, tc.want)
		}
	}
}

// BenchmarkBinaryBroadcast times float32 Add and Mul where one operand is
// broadcast: a per-channel scale or shift of an NHWC activation (batch norm
// in inference), a per-image value, a per-pixel value; and, for scale, two
// operands of the same shape.
func BenchmarkBinaryBroadcast(b *testing.B) {
	for _, bc := range []struct {
		name     string
		lhs, rhs []int
	}{
		{"same_b8_64x64x64", []int{8, 64, 64, 64}, []int{8, 64, 64, 64}},
		{"channels_b8_64x64x64", []int{8, 64, 64, 64}, []int{1, 1, 1, 64}},
		{"channels_b8_160x160x16", []int{8, 160, 160, 16}, []int{1, 1, 1, 16}},
		{"image_b8_64x64x64", []int{8, 64, 64, 64}, []int{8, 1, 1, 1}},
		{"pixel_b8_64x64x64", []int{8, 64, 64, 64}, []int{8, 64, 64, 1}},
	} {
		lhsShape := shapes.Make(dtypes.Float32, bc.lhs...)
		rhsShape := shapes.Make(dtypes.Float32, bc.rhs...)
		lhs := make([]float32, lhsShape.Size())
		rhs := make([]float32, rhsShape.Size())
		for i := range lhs {
			lhs[i] = float32(i%97) * 0.25
		}
		for i := range rhs {
			rhs[i] = float32(i%13) + 0.5
		}
		out := make([]float32, lhsShape.Size())
		for _, op := range []struct {
			name string
			fn   func(lhs, rhs, output []float32, lhsShape, rhsShape, outputShape shapes.Shape)
		}{{"Add", execAddNumericGeneric[float32]}, {"Mul", execMulNumericGeneric[float32]}} {
			b.Run(fmt.Sprintf("%s/%s", bc.name, op.name), func(b *testing.B) {
				b.SetBytes(int64(lhsShape.Memory()))
				for b.Loop() {
					op.fn(lhs, rhs, out, lhsShape, rhsShape, lhsShape)
				}
			})
		}
	}
}
