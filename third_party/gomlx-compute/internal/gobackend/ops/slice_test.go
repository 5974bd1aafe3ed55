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
	"github.com/gomlx/compute/shapes"
)

// execSliceReference is execSliceGeneric as of compute v0.1.2, before the
// copy of contiguous runs: one element at a time, with a carry loop over
// all axes. The tests hold the new implementation to it, bit for bit.
func execSliceReference[T gobackend.SupportedTypesConstraints](operand, output *gobackend.Buffer, params *sliceNode) {
	rank := operand.RawShape.Rank()
	outputFlat := output.Flat.([]T)
	operandFlat := operand.Flat.([]T)

	outputDimensions := output.RawShape.Dimensions
	operandFlatStrides := operand.RawShape.Strides()
	outputAxisIdxs := make([]int, rank)

	// Find operandFlatIdx start value.
	var operandFlatIdx int
	for axis, start := range params.starts {
		operandFlatIdx += start * operandFlatStrides[axis]
	}

	for outputFlatIdx := 0; outputFlatIdx < len(outputFlat); outputFlatIdx++ {
		// Copy value at current position.
		outputFlat[outputFlatIdx] = operandFlat[operandFlatIdx]

		// Iterate to the next position.
		for axis := rank - 1; axis >= 0; axis-- {
			outputAxisIdxs[axis]++
			if outputAxisIdxs[axis] < outputDimensions[axis] {
				operandFlatIdx += params.strides[axis] * operandFlatStrides[axis]
				break
			}
			// Reset axis
			operandFlatIdx -= (outputDimensions[axis] - 1) * params.strides[axis] * operandFlatStrides[axis]
			outputAxisIdxs[axis] = 0
		}
	}
}

// sliceReferenceFor returns execSliceReference for dtype.
func sliceReferenceFor(t testing.TB, dtype dtypes.DType) func(operand, output *gobackend.Buffer, params *sliceNode) {
	switch dtype {
	case dtypes.Bool:
		return execSliceReference[bool]
	case dtypes.Int8:
		return execSliceReference[int8]
	case dtypes.Int16:
		return execSliceReference[int16]
	case dtypes.Int32:
		return execSliceReference[int32]
	case dtypes.Int64:
		return execSliceReference[int64]
	case dtypes.Uint8:
		return execSliceReference[uint8]
	case dtypes.Uint16:
		return execSliceReference[uint16]
	case dtypes.Uint32:
		return execSliceReference[uint32]
	case dtypes.Uint64:
		return execSliceReference[uint64]
	case dtypes.Float16:
		return execSliceReference[float16.Float16]
	case dtypes.BFloat16:
		return execSliceReference[bfloat16.BFloat16]
	case dtypes.Float32:
		return execSliceReference[float32]
	case dtypes.Float64:
		return execSliceReference[float64]
	}
	t.Fatalf("no reference slice for %s", dtype)
	return nil
}

// sliceTestDTypes are the dtypes sliceDTypeMap registers.
var sliceTestDTypes = []dtypes.DType{
	dtypes.Float32, dtypes.Float64, dtypes.Float16, dtypes.BFloat16, dtypes.Bool,
	dtypes.Int8, dtypes.Int16, dtypes.Int32, dtypes.Int64,
	dtypes.Uint8, dtypes.Uint16, dtypes.Uint32, dtypes.Uint64,
}

// sliceCase is an operand's dimensions and a slice of it (starts, limits
// and strides already normalised, as Slice stores them in sliceNode).
type sliceCase struct {
	dims                    []int
	starts, limits, strides []int
}

func (c sliceCase) String() string {
	return fmt.Sprintf("dims=%v starts=%v limits=%v strides=%v", c.dims, c.starts, c.limits, c.strides)
}

// outputDims returns the slice's output dimensions.
func (c sliceCase) outputDims() []int {
	out := make([]int, len(c.dims))
	for i := range c.dims {
		out[i] = (c.limits[i] - c.starts[i] + c.strides[i] - 1) / c.strides[i]
	}
	return out
}

// fullAxis, rangeAxis, elemAxis build one axis of a sliceCase: the whole
// axis, [start, limit) with stride, one element.
type axisSpec struct{ dim, start, limit, stride int }

func fullAxis(dim int) axisSpec                        { return axisSpec{dim, 0, dim, 1} }
func rangeAxis(dim, start, limit, stride int) axisSpec { return axisSpec{dim, start, limit, stride} }
func elemAxis(dim, i int) axisSpec                     { return axisSpec{dim, i, i + 1, 1} }

func makeSliceCase(axes ...axisSpec) sliceCase {
	var c sliceCase
	for _, a := range axes {
		c.dims = append(c.dims, a.dim)
		c.starts = append(c.starts, a.start)
		c.limits = append(c.limits, a.limit)
		c.strides = append(c.strides, a.stride)
	}
	return c
}

// randomSliceCase draws an operand of rank 1..5 with dimensions 1..6 and a
// slice of it where each axis is, with equal odds, whole, a partial range
// with stride 1, a range with stride 2..4, or a single element.
func randomSliceCase(rng *rand.Rand) sliceCase {
	rank := 1 + rng.IntN(5)
	axes := make([]axisSpec, rank)
	for i := range axes {
		dim := 1 + rng.IntN(6)
		start := rng.IntN(dim)
		limit := start + 1 + rng.IntN(dim-start)
		switch rng.IntN(4) {
		case 0:
			axes[i] = fullAxis(dim)
		case 1:
			axes[i] = rangeAxis(dim, start, limit, 1)
		case 2:
			axes[i] = rangeAxis(dim, start, limit, 2+rng.IntN(3))
		default:
			axes[i] = elemAxis(dim, start)
		}
	}
	return makeSliceCase(axes...)
}

// sliceTable is the fixed table of cases: the shapes the Go backend's
// convolutions, crops, lanes and pools slice, and edge cases.
var sliceTable = []sliceCase{
	// Rank 0 and 1.
	{dims: []int{}, starts: []int{}, limits: []int{}, strides: []int{}},
	makeSliceCase(fullAxis(7)),
	makeSliceCase(rangeAxis(7, 2, 5, 1)),
	makeSliceCase(rangeAxis(7, 1, 7, 3)),
	makeSliceCase(elemAxis(7, 6)),
	makeSliceCase(fullAxis(1)),
	// im2col taps of an NHWC image padded by 1: stride 1 and 2, full channels.
	makeSliceCase(fullAxis(2), rangeAxis(10, 1, 9, 1), rangeAxis(10, 2, 10, 1), fullAxis(8)),
	makeSliceCase(fullAxis(2), rangeAxis(10, 0, 7, 2), rangeAxis(10, 1, 8, 2), fullAxis(8)),
	makeSliceCase(fullAxis(2), rangeAxis(11, 2, 11, 2), rangeAxis(11, 2, 11, 2), fullAxis(3)),
	// One input channel (the stem): runs of one element.
	makeSliceCase(fullAxis(2), rangeAxis(13, 3, 13, 2), rangeAxis(13, 6, 13, 2), fullAxis(1)),
	makeSliceCase(fullAxis(2), rangeAxis(9, 1, 8, 1), rangeAxis(9, 1, 8, 1), fullAxis(1)),
	// Crops and channel ranges, a single channel.
	makeSliceCase(fullAxis(3), rangeAxis(8, 1, 7, 1), rangeAxis(8, 1, 7, 1), rangeAxis(12, 4, 8, 1)),
	makeSliceCase(fullAxis(3), fullAxis(5), fullAxis(5), elemAxis(4, 2)),
	// Batch lanes (one contiguous block) and whole operands.
	makeSliceCase(rangeAxis(8, 4, 8, 1), fullAxis(5), fullAxis(5), fullAxis(3)),
	makeSliceCase(rangeAxis(8, 0, 8, 2), fullAxis(5), fullAxis(5), fullAxis(3)),
	makeSliceCase(fullAxis(4), fullAxis(5), fullAxis(5), fullAxis(3)),
	makeSliceCase(elemAxis(4, 3), fullAxis(5), fullAxis(5), fullAxis(3)),
	// Kernel taps [k, k, Cin, Cout] -> one (dy, dx).
	makeSliceCase(elemAxis(3, 1), elemAxis(3, 2), fullAxis(4), fullAxis(5)),
	// Size-1 axes inside, outside and between ranged axes.
	makeSliceCase(fullAxis(1), rangeAxis(6, 1, 5, 1), fullAxis(1), fullAxis(3)),
	makeSliceCase(fullAxis(5), fullAxis(1), rangeAxis(6, 1, 6, 2), fullAxis(1)),
	makeSliceCase(rangeAxis(5, 1, 5, 3), fullAxis(1), fullAxis(1), fullAxis(1), rangeAxis(4, 0, 4, 3)),
	// A single element in the middle, whole axes inside and outside it.
	makeSliceCase(fullAxis(3), elemAxis(4, 2), fullAxis(5)),
	makeSliceCase(fullAxis(3), fullAxis(4), elemAxis(2, 1), fullAxis(5), elemAxis(2, 0), fullAxis(3)),
	// Strides larger than the range (one element per axis).
	makeSliceCase(rangeAxis(6, 1, 3, 5), rangeAxis(6, 4, 6, 3), rangeAxis(6, 0, 6, 6)),
	// Rank 5 with every kind of axis.
	makeSliceCase(rangeAxis(4, 1, 4, 2), elemAxis(3, 1), rangeAxis(7, 0, 7, 3), rangeAxis(6, 1, 5, 1), fullAxis(3)),
	makeSliceCase(fullAxis(2), fullAxis(3), fullAxis(4), rangeAxis(5, 1, 4, 1), fullAxis(2)),
}

// checkSliceCase runs execSliceGeneric (through sliceDTypeMap, as execSlice
// does) and execSliceReference on the same random operand and fails unless
// their outputs have the same bytes.
func checkSliceCase(t *testing.T, rng *rand.Rand, c sliceCase, dtype dtypes.DType) {
	t.Helper()
	operandShape := shapes.Make(dtype, c.dims...)
	outputShape := shapes.Make(dtype, c.outputDims()...)
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
	params := &sliceNode{starts: c.starts, limits: c.limits, strides: c.strides}
	run := func(fn func(operand, output *gobackend.Buffer, params *sliceNode)) []byte {
		output := &gobackend.Buffer{RawShape: outputShape, Flat: dtypes.MakeAnySlice(dtype, outputShape.Size())}
		outputBytes, err := output.MutableBytes()
		if err != nil {
			t.Fatal(err)
		}
		for i := range outputBytes { // A value neither writes, to see an element left out.
			outputBytes[i] = 0xA5
		}
		fn(operand, output, params)
		return outputBytes
	}
	fnAny, err := sliceDTypeMap.Get(dtype)
	if err != nil {
		t.Fatal(err)
	}
	got := run(fnAny.(func(operand, output *gobackend.Buffer, params *sliceNode)))
	want := run(sliceReferenceFor(t, dtype))
	if !bytes.Equal(got, want) {
		t.Fatalf("%s %s: output differs from the element-by-element reference\ngot  %v\nwant %v", dtype, c, got, want)
	}
}

func TestExecSliceMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2026))
	for i, c := range sliceTable {
		for _, dtype := range sliceTestDTypes {
			t.Run(fmt.Sprintf("table%d/%s", i, dtype), func(t *testing.T) {
				checkSliceCase(t, rng, c, dtype)
			})
		}
	}
	// Random cases, each with every dtype in turn.
	for i := range 3000 {
		c := randomSliceCase(rng)
		dtype := sliceTestDTypes[i%len(sliceTestDTypes)]
		checkSliceCase(t, rng, c, dtype)
	}
}

func TestExecSliceRunLength(t *testing.T) {
	for _, tc := range []struct {
		name         string
		c            sliceCase
		run, runAxis int
	}{
		{"whole", makeSliceCase(fullAxis(2), fullAxis(3), fullAxis(4)), 24, 0},
		{"lanes", makeSliceCase(rangeAxis(8, 2, 6, 1), fullAxis(3), fullAxis(4)), 48, 0},
		{"tap stride 1", makeSliceCase(fullAxis(2), rangeAxis(10, 1, 9, 1), rangeAxis(10, 2, 10, 1), fullAxis(8)), 64, 2},
		{"tap stride 2", makeSliceCase(fullAxis(2), rangeAxis(10, 0, 7, 2), rangeAxis(10, 1, 8, 2), fullAxis(8)), 8, 3},
		{"channel", makeSliceCase(fullAxis(2), fullAxis(5), elemAxis(4, 1)), 1, 2},
		{"inner stride", makeSliceCase(fullAxis(2), rangeAxis(9, 0, 9, 2)), 1, 2},
		{"element between whole axes", makeSliceCase(fullAxis(3), elemAxis(4, 2), fullAxis(5)), 5, 1},
		{"size-1 axes", makeSliceCase(fullAxis(1), rangeAxis(6, 1, 5, 1), fullAxis(1), fullAxis(3)), 12, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			strides := shapes.Make(dtypes.Float32, tc.c.dims...).Strides()
			run, runAxis := execSliceRunLength(tc.c.outputDims(), strides, tc.c.strides)
			if run != tc.run || runAxis != tc.runAxis {
				t.Errorf("%s: got run %d, runAxis %d; want %d, %d", tc.c, run, runAxis, tc.run, tc.runAxis)
			}
		})
	}
}

// BenchmarkExecSlice times the slices the convolutions of a U-Net take
// (float32), with the element-by-element reference ("reference") and the
// implementation ("runs") side by side.
func BenchmarkExecSlice(b *testing.B) {
	for _, bc := range []struct {
		name string
		c    sliceCase
	}{
		// One of the 9 im2col taps of a 3x3 convolution at 64x64, 64 channels, batch 8.
		{"tap3x3_b8_66x66x64", makeSliceCase(fullAxis(8), rangeAxis(66, 1, 65, 1), rangeAxis(66, 2, 66, 1), fullAxis(64))},
		// The same at 320x320, 32 channels, batch 2.
		{"tap3x3_b2_322x322x32", makeSliceCase(fullAxis(2), rangeAxis(322, 1, 321, 1), rangeAxis(322, 2, 322, 1), fullAxis(32))},
		// A stride-2 tap (downsampling convolution, max pool window): 66x66x64 -> 32x32x64.
		{"tap3x3s2_b8_66x66x64", makeSliceCase(fullAxis(8), rangeAxis(66, 1, 64, 2), rangeAxis(66, 2, 65, 2), fullAxis(64))},
		// A tap of the 7x7 stride-2 stem on one channel: 134x134x1 -> 64x64x1.
		{"tap7x7s2_b8_134x134x1", makeSliceCase(fullAxis(8), rangeAxis(134, 3, 130, 2), rangeAxis(134, 6, 133, 2), fullAxis(1))},
		// A crop of the padding: 130x130x16 -> 128x128x16.
		{"crop_b8_130x130x16", makeSliceCase(fullAxis(8), rangeAxis(130, 1, 129, 1), rangeAxis(130, 1, 129, 1), fullAxis(16))},
		// A channel range (a tap's block of a weight gradient product): 64x64x576 -> 64 channels.
		{"channels_b8_64x64x576", makeSliceCase(fullAxis(8), fullAxis(64), fullAxis(64), rangeAxis(576, 128, 192, 1))},
		// A block of the decoder's last up-convolution at 320x320 (subpixel Z of 16 blocks of 16 channels).
		{"upconv_b1_162x162x256", makeSliceCase(fullAxis(1), rangeAxis(162, 1, 161, 1), rangeAxis(162, 2, 162, 1), rangeAxis(256, 48, 64, 1))},
		// The same at 160x160, 16 blocks of 32 channels.
		{"upconv_b1_82x82x512", makeSliceCase(fullAxis(1), rangeAxis(82, 0, 80, 1), rangeAxis(82, 1, 81, 1), rangeAxis(512, 96, 128, 1))},
		// A batch lane: half the batch of 128x128x32.
		{"lane_b8_128x128x32", makeSliceCase(rangeAxis(8, 4, 8, 1), fullAxis(128), fullAxis(128), fullAxis(32))},
	} {
		dtype := dtypes.Float32
		operandShape := shapes.Make(dtype, bc.c.dims...)
		outputShape := shapes.Make(dtype, bc.c.outputDims()...)
		operand := &gobackend.Buffer{RawShape: operandShape, Flat: make([]float32, operandShape.Size())}
		output := &gobackend.Buffer{RawShape: outputShape, Flat: make([]float32, outputShape.Size())}
		params := &sliceNode{starts: bc.c.starts, limits: bc.c.limits, strides: bc.c.strides}
		for _, impl := range []struct {
			name string
			fn   func(operand, output *gobackend.Buffer, params *sliceNode)
		}{{"reference", execSliceReference[float32]}, {"runs", execSliceGeneric[float32]}} {
			b.Run(bc.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(outputShape.Memory()))
				for b.Loop() {
					impl.fn(operand, output, params)
				}
			})
		}
	}
}
