package ops

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

// execTransposeReference is execTransposeGeneric as of compute v0.1.2,
// before the copy of runs and the tiled 2-D transpose: the operand walked in
// order, each element written where the iterator says. The tests hold the
// new implementation to it, bit for bit.
func execTransposeReference[T gobackend.SupportedTypesConstraints](operand, output *gobackend.Buffer, it *TransposeIterator) {
	operandFlat := operand.Flat.([]T)
	outputFlat := output.Flat.([]T)
	for _, value := range operandFlat {
		outputFlat[it.Next()] = value
	}
}

// transposeReferenceFor returns execTransposeReference for dtype.
func transposeReferenceFor(t testing.TB, dtype dtypes.DType) func(operand, output *gobackend.Buffer, it *TransposeIterator) {
	switch dtype {
	case dtypes.Bool:
		return execTransposeReference[bool]
	case dtypes.Int8:
		return execTransposeReference[int8]
	case dtypes.Int16:
		return execTransposeReference[int16]
	case dtypes.Int32:
		return execTransposeReference[int32]
	case dtypes.Int64:
		return execTransposeReference[int64]
	case dtypes.Uint8:
		return execTransposeReference[uint8]
	case dtypes.Uint16:
		return execTransposeReference[uint16]
	case dtypes.Uint32:
		return execTransposeReference[uint32]
	case dtypes.Uint64:
		return execTransposeReference[uint64]
	case dtypes.Float16:
		return execTransposeReference[float16.Float16]
	case dtypes.BFloat16:
		return execTransposeReference[bfloat16.BFloat16]
	case dtypes.Float32:
		return execTransposeReference[float32]
	case dtypes.Float64:
		return execTransposeReference[float64]
	}
	t.Fatalf("no reference transpose for %s", dtype)
	return nil
}

// transposeCase is an operand's dimensions and a permutation of its axes.
type transposeCase struct {
	dims, perm []int
}

func (c transposeCase) String() string { return fmt.Sprintf("dims=%v perm=%v", c.dims, c.perm) }

// transposeTable are transposes of the kinds the fast paths tell apart:
// identities (with and without size-1 axes), the innermost axis kept
// innermost (runs), 2-D transposes smaller and larger than a tile and not a
// multiple of it, batched ones, axes that merge, size-1 axes moved around,
// and empty operands.
var transposeTable = []transposeCase{
	{[]int{}, []int{}},
	{[]int{7}, []int{0}},
	{[]int{3, 4}, []int{0, 1}},
	{[]int{1, 5, 1}, []int{2, 1, 0}},
	{[]int{1, 5, 1}, []int{0, 2, 1}},
	{[]int{3, 4}, []int{1, 0}},
	{[]int{1, 1}, []int{1, 0}},
	{[]int{32, 32}, []int{1, 0}},
	{[]int{33, 65}, []int{1, 0}},
	{[]int{70, 150}, []int{1, 0}},            // 16x16 blocks and edges on both axes
	{[]int{3, 3, 40, 48}, []int{0, 1, 3, 2}}, // a kernel's Cin and Cout swapped
	{[]int{100, 3}, []int{1, 0}},
	{[]int{3, 100}, []int{1, 0}},
	{[]int{2, 3, 4}, []int{2, 0, 1}},
	{[]int{2, 3, 4}, []int{1, 2, 0}},
	{[]int{2, 3, 4}, []int{1, 0, 2}},
	{[]int{2, 3, 4}, []int{0, 2, 1}},
	{[]int{2, 3, 4}, []int{2, 1, 0}},
	{[]int{5, 40, 37}, []int{0, 2, 1}},
	{[]int{40, 5, 37}, []int{2, 1, 0}},
	{[]int{8, 16, 16, 64}, []int{0, 3, 1, 2}}, // NHWC -> NCHW
	{[]int{8, 64, 16, 16}, []int{0, 2, 3, 1}}, // NCHW -> NHWC
	{[]int{3, 3, 16, 32}, []int{3, 2, 0, 1}},  // HWIO -> OIHW
	{[]int{2, 3, 4, 5}, []int{2, 3, 0, 1}},    // merges to a 2-D transpose
	{[]int{2, 3, 4, 5}, []int{1, 0, 2, 3}},    // runs of 20
	{[]int{2, 1, 3, 1, 4}, []int{4, 3, 2, 1, 0}},
	{[]int{2, 1, 3, 1, 4}, []int{1, 0, 3, 2, 4}},
	{[]int{2, 3, 5, 7, 2, 3}, []int{5, 3, 1, 4, 2, 0}},
	{[]int{0, 3}, []int{1, 0}},
	{[]int{2, 0, 3}, []int{2, 1, 0}},
}

// randomTransposeCase returns a random permutation of a random operand of
// rank 1 to 6 (dimensions 1 to 9, at most 40 for a few, so that tiles are
// partial and whole), with a random dimension of 1 here and there.
func randomTransposeCase(rng *rand.Rand) transposeCase {
	rank := 1 + rng.IntN(6)
	dims := make([]int, rank)
	for i := range dims {
		switch r := rng.IntN(10); {
		case r < 2:
			dims[i] = 1
		case r < 3 && rank <= 3:
			dims[i] = 10 + rng.IntN(60)
		default:
			dims[i] = 2 + rng.IntN(8)
		}
	}
	return transposeCase{dims: dims, perm: rng.Perm(rank)}
}

var transposeTestDTypes = []dtypes.DType{
	dtypes.Bool, dtypes.Int8, dtypes.Int16, dtypes.Int32, dtypes.Int64,
	dtypes.Uint8, dtypes.Uint16, dtypes.Uint32, dtypes.Uint64,
	dtypes.Float16, dtypes.BFloat16, dtypes.Float32, dtypes.Float64,
}

// checkTransposeCase runs the registered transpose (through
// TransposeDTypeMap, as execTranspose does) and execTransposeReference on
// the same random operand and fails unless their outputs have the same
// bytes.
func checkTransposeCase(t *testing.T, rng *rand.Rand, c transposeCase, dtype dtypes.DType) {
	t.Helper()
	operandShape := shapes.Make(dtype, c.dims...)
	outputShape, err := shapeinference.Transpose(operandShape, c.perm)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	operand := &gobackend.Buffer{RawShape: operandShape, Flat: dtypes.MakeAnySlice(dtype, operandShape.Size())}
	operandBytes, err := operand.MutableBytes()
	if err != nil {
		t.Fatal(err)
	}
	for i := range operandBytes {
		if dtype == dtypes.Bool {
			operandBytes[i] = byte(rng.IntN(2))
		} else {
			operandBytes[i] = byte(rng.Uint32())
		}
	}
	run := func(fn func(operand, output *gobackend.Buffer, it *TransposeIterator)) []byte {
		output := &gobackend.Buffer{RawShape: outputShape, Flat: dtypes.MakeAnySlice(dtype, outputShape.Size())}
		outputBytes, err := output.MutableBytes()
		if err != nil {
			t.Fatal(err)
		}
		for i := range outputBytes { // A value neither writes, to see an element left out.
			outputBytes[i] = 0xA5
		}
		fn(operand, output, NewTransposeIterator(operandShape, c.perm))
		return outputBytes
	}
	fnAny, err := TransposeDTypeMap.Get(dtype)
	if err != nil {
		t.Fatal(err)
	}
	got := run(fnAny.(func(operand, output *gobackend.Buffer, it *TransposeIterator)))
	want := run(transposeReferenceFor(t, dtype))
	if !bytes.Equal(got, want) {
		t.Fatalf("%s %s: output differs from the element-by-element reference\ngot  %v\nwant %v", dtype, c, got, want)
	}
	if dtype == dtypes.Float32 && operandShape.Size() > 0 {
		// Patch 7's split: the outer positions in up to three ranges cut at
		// random, each written by execTransposeRange.
		split := run(func(operand, output *gobackend.Buffer, it *TransposeIterator) {
			dims, in, out := transposeCanonical(it.dimensions, it.perAxisStrides)
			p := transposeOuterPositions(dims, out)
			a, b := rng.IntN(p+1), rng.IntN(p+1)
			a, b = min(a, b), max(a, b)
			for _, r := range [][2]int{{0, a}, {a, b}, {b, p}} {
				execTransposeRange(operand.Flat.([]float32), output.Flat.([]float32), dims, in, out, r[0], r[1], 0, -1)
			}
		})
		if !bytes.Equal(split, want) {
			t.Fatalf("%s %s: split by outer positions, output differs from the reference", dtype, c)
		}
		// Patch 11's split of a single 2-D transpose: its output rows in up
		// to three ranges cut at random multiples of the tile.
		split2D := run(func(operand, output *gobackend.Buffer, it *TransposeIterator) {
			dims, in, out := transposeCanonical(it.dimensions, it.perAxisStrides)
			innerA, innerB, _ := transposeAxes(dims, out)
			if len(dims) != 2 || innerA == innerB {
				execTransposeRange(operand.Flat.([]float32), output.Flat.([]float32), dims, in, out, 0, transposeOuterPositions(dims, out), 0, -1)
				return
			}
			tiles := (dims[innerA] + transposeTile - 1) / transposeTile
			a, b := rng.IntN(tiles+1)*transposeTile, rng.IntN(tiles+1)*transposeTile
			a, b = min(a, b), max(a, b)
			for _, r := range [][2]int{{0, a}, {a, b}, {b, dims[innerA]}} {
				execTransposeRange(operand.Flat.([]float32), output.Flat.([]float32), dims, in, out, 0, 1, r[0], min(r[1], dims[innerA]))
			}
		})
		if !bytes.Equal(split2D, want) {
			t.Fatalf("%s %s: 2-D transpose split by output rows, output differs from the reference", dtype, c)
		}
	}
}

func TestExecTransposeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2027))
	for i, c := range transposeTable {
		for _, dtype := range transposeTestDTypes {
			t.Run(fmt.Sprintf("table%d/%s", i, dtype), func(t *testing.T) {
				checkTransposeCase(t, rng, c, dtype)
			})
		}
	}
	for i := range 3000 {
		c := randomTransposeCase(rng)
		checkTransposeCase(t, rng, c, transposeTestDTypes[i%len(transposeTestDTypes)])
	}
}

func TestTransposeCanonical(t *testing.T) {
	for _, tc := range []struct {
		c                           transposeCase
		dims, inStrides, outStrides []int
	}{
		{transposeCase{[]int{2, 3, 4}, []int{0, 1, 2}}, []int{24}, []int{1}, []int{1}},
		{transposeCase{[]int{2, 3, 4, 5}, []int{2, 3, 0, 1}}, []int{6, 20}, []int{20, 1}, []int{1, 6}},
		{transposeCase{[]int{2, 3, 4}, []int{1, 0, 2}}, []int{2, 3, 4}, []int{12, 4, 1}, []int{4, 8, 1}},
		{transposeCase{[]int{1, 5, 1, 3}, []int{3, 2, 1, 0}}, []int{5, 3}, []int{3, 1}, []int{1, 5}},
	} {
		it := NewTransposeIterator(shapes.Make(dtypes.Float32, tc.c.dims...), tc.c.perm)
		dims, in, out := transposeCanonical(it.dimensions, it.perAxisStrides)
		if fmt.Sprint(dims, in, out) != fmt.Sprint(tc.dims, tc.inStrides, tc.outStrides) {
			t.Errorf("%s: got %v %v %v, want %v %v %v", tc.c, dims, in, out, tc.dims, tc.inStrides, tc.outStrides)
		}
	}
}

// BenchmarkExecTranspose times float32 transposes with the element-by-element
// reference ("reference") and the implementation ("fast") side by side.
func BenchmarkExecTranspose(b *testing.B) {
	for _, c := range []transposeCase{
		{[]int{1024, 1024}, []int{1, 0}},
		{[]int{8, 64, 64, 64}, []int{0, 3, 1, 2}},
		{[]int{8, 64, 64, 64}, []int{1, 0, 2, 3}},
		{[]int{3, 3, 64, 128}, []int{3, 2, 0, 1}},
	} {
		shape := shapes.Make(dtypes.Float32, c.dims...)
		outShape, _ := shapeinference.Transpose(shape, c.perm)
		operand := &gobackend.Buffer{RawShape: shape, Flat: make([]float32, shape.Size())}
		output := &gobackend.Buffer{RawShape: outShape, Flat: make([]float32, shape.Size())}
		for _, impl := range []struct {
			name string
			fn   func(operand, output *gobackend.Buffer, it *TransposeIterator)
		}{{"reference", execTransposeReference[float32]}, {"fast", execTransposeGeneric[float32]}} {
			b.Run(fmt.Sprintf("%v_%v/%s", c.dims, c.perm, impl.name), func(b *testing.B) {
				b.SetBytes(int64(shape.Memory()))
				for b.Loop() {
					impl.fn(operand, output, NewTransposeIterator(shape, c.perm))
				}
			})
		}
	}
}
