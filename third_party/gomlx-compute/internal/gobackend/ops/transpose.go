// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/blocktranspose"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

func init() {
	gobackend.RegisterTranspose.Register(Transpose, gobackend.PriorityGeneric)
	gobackend.SetNodeExecutor(compute.OpTypeTranspose, gobackend.PriorityGeneric, execTranspose)
}

// Transpose axes of x.
// There must be one value in permutations for each axis in the operand.
// The output will have: output.Shape.Dimension[ii] = operand.Shape.Dimension[permutations[i]].
func Transpose(f *gobackend.Function, operandValue compute.Value, permutations ...int) (compute.Value, error) {
	opType := compute.OpTypeTranspose
	inputs, err := f.VerifyAndCastValues(opType.String(), operandValue)
	if err != nil {
		return nil, err
	}
	operand := inputs[0]

	outputShape, err := shapeinference.Transpose(operand.Shape, permutations)
	if err != nil {
		// This should have been validated during graph build, but we check again just in case.
		return nil, err
	}
	node, _ := f.GetOrCreateNode(opType, outputShape, inputs, permutations)
	return node, nil
}

// TransposeDTypeMap is used to dispatch Transpose to type-specific implementations.
// gobackend:dtypemap execTransposeGeneric ints,uints,floats,half,bool
var TransposeDTypeMap = gobackend.NewDTypeMap("Transpose")

func init() {
	TransposeDTypeMap.Register(dtypes.Float16, gobackend.PriorityTyped, execTransposeFloat16)
	TransposeDTypeMap.Register(dtypes.BFloat16, gobackend.PriorityTyped, execTransposeBFloat16)
}

// execTranspose implements Transpose.
// The output will have: output.Shape.Dimension[ii] = operand.Shape.Dimension[permutations[i]].
func execTranspose(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	operand := inputs[0]
	permutations := node.Data.([]int)
	_ = inputsOwned // We don't reuse the inputs.

	// We can't write to the same buffer we read from because it's not done with swaps.
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	it := NewTransposeIterator(operand.RawShape, permutations)
	dtype := node.Shape.DType
	tmpAny, tmpErr := TransposeDTypeMap.Get(dtype)
	if tmpErr != nil {
		panic(tmpErr)
	}
	if dtype == dtypes.Float32 && node.Shape.Size() >= 2*transposeMinChunk {
		// Patch 7: split by the outer axes' positions between idle cores.
		in, out := operand.Flat.([]float32), output.Flat.([]float32)
		dims, inStrides, outStrides := transposeCanonical(it.dimensions, it.perAxisStrides)
		positions := transposeOuterPositions(dims, outStrides)
		perPosition := node.Shape.Size() / positions
		if innerA, innerB, _ := transposeAxes(dims, outStrides); positions == 1 && len(dims) == 2 && innerA != innerB {
			// Patch 11: a single 2-D transpose is split by its tiles'
			// rows of the output instead.
			dimA := dims[innerA]
			tileRows := (dimA + transposeTile - 1) / transposeTile
			backend.ParallelFor(tileRows, max(1, transposeMinChunk/(transposeTile*dims[innerB])), func(lo, hi int) {
				execTransposeRange(in, out, dims, inStrides, outStrides, 0, 1, lo*transposeTile, min(hi*transposeTile, dimA))
			})
			return output, nil
		}
		backend.ParallelFor(positions, max(1, transposeMinChunk/max(perPosition, 1)), func(lo, hi int) {
			execTransposeRange(in, out, dims, inStrides, outStrides, lo, hi, 0, -1)
		})
		return output, nil
	}
	transposeFn := tmpAny.(func(operand, output *gobackend.Buffer, it *TransposeIterator))
	transposeFn(operand, output, it)
	return output, nil
}

// TransposeIterator creates a dynamic iterator that yields output flat indices
// for the corresponding flat index on the input operand, assuming the operand flat index is moving
// incrementally.
type TransposeIterator struct {
	flatIdx                                int
	perAxisIdx, perAxisStrides, dimensions []int
}

// NewTransposeIterator creates a dynamic iterator that yields output flat indices
// for the corresponding flat index on the input operand, assuming the operand flat index is moving
// incrementally.
func NewTransposeIterator(operand shapes.Shape, permutations []int) *TransposeIterator {
	rank := operand.Rank()

	it := &TransposeIterator{
		perAxisIdx:     make([]int, rank),
		perAxisStrides: make([]int, rank),
		dimensions:     slices.Clone(operand.Dimensions),
	}

	// First, calculate strides on the output.
	stridesOnOutput := make([]int, rank)
	stride := 1
	reversePermutations := make([]int, rank)
	for outputAxis := rank - 1; outputAxis >= 0; outputAxis-- {
		stridesOnOutput[outputAxis] = stride
		operandAxis := permutations[outputAxis]
		stride *= operand.Dimensions[operandAxis]
		reversePermutations[operandAxis] = outputAxis
	}

	// Calculate per operand axis, what is the stride on the output.
	for operandAxis := range rank {
		outputAxis := reversePermutations[operandAxis]
		it.perAxisStrides[operandAxis] = stridesOnOutput[outputAxis]
	}
	return it
}

// Next returns the next flat index in the output.
func (it *TransposeIterator) Next() int {
	// Store current flatIdx first
	nextFlatIdx := it.flatIdx

	// Cache rank to avoid repeated len() calls
	rank := len(it.perAxisIdx)

	// Use local variables for array access to avoid repeated indirection
	perAxisIdx := it.perAxisIdx
	perAxisStrides := it.perAxisStrides
	dimensions := it.dimensions

	// Handle remaining axes only when needed
	for axis := rank - 1; axis >= 0; axis-- {
		perAxisIdx[axis]++
		it.flatIdx += perAxisStrides[axis]
		if perAxisIdx[axis] < dimensions[axis] {
			// We are done.
			return nextFlatIdx
		}
		perAxisIdx[axis] = 0
		it.flatIdx -= perAxisStrides[axis] * dimensions[axis]
	}

	return nextFlatIdx
}

// execTransposeGeneric writes the transpose of operand into output. it must
// be a fresh iterator (from NewTransposeIterator): its dimensions and
// per-axis output strides describe the transpose; it is not advanced.
//
// The axes are first put in canonical form (transposeCanonical): size-1
// axes dropped, and operand axes that stay next to each other, in the same
// order, in the output merged into one. Then:
//
//   - a single axis left (an identity permutation, up to size-1 axes): one
//     copy;
//   - the operand's innermost axis stays innermost in the output: one copy
//     of a run of that axis per position of the other axes (e.g. swapping
//     the two outer axes of [A, B, C]);
//   - otherwise the operand's innermost axis A and the output's innermost
//     axis B form a 2-D transpose per position of the other axes, done in
//     tiles of transposeTile x transposeTile elements (each output row of a
//     tile written contiguously, its operand column read at the stride of
//     B), so that both sides stay in cache.
//
// The other axes are walked with a carry loop in operand order. Every output
// element is a copy of the same operand element as in the element-by-element
// loop of compute v0.1.2 (kept in transpose_reference_test.go), which the
// tests hold it to.
func execTransposeGeneric[T gobackend.SupportedTypesConstraints](operand, output *gobackend.Buffer, it *TransposeIterator) {
	operandFlat := operand.Flat.([]T)
	outputFlat := output.Flat.([]T)
	if len(operandFlat) == 0 {
		return
	}
	dims, inStrides, outStrides := transposeCanonical(it.dimensions, it.perAxisStrides)
	execTransposeRange(operandFlat, outputFlat, dims, inStrides, outStrides, 0, transposeOuterPositions(dims, outStrides), 0, -1)
}

// transposeAxes returns, for a canonical transpose (transposeCanonical),
// the operand's innermost axis (innerA), the output's (innerB), and the
// other axes in operand order (outer).
func transposeAxes(dims, outStrides []int) (innerA, innerB int, outer []int) {
	n := len(dims)
	innerA = n - 1 // The operand's innermost axis: inStrides[innerA] == 1.
	innerB = -1    // The output's innermost axis: outStrides[innerB] == 1.
	for axis, s := range outStrides {
		if s == 1 {
			innerB = axis
		}
	}
	outer = make([]int, 0, n)
	for axis := range n {
		if axis != innerA && axis != innerB {
			outer = append(outer, axis)
		}
	}
	return innerA, innerB, outer
}

// transposeOuterPositions is the number of positions of a canonical
// transpose's outer axes (transposeAxes): the units execTransposeRange
// splits the work by; 1 for a single axis.
func transposeOuterPositions(dims, outStrides []int) int {
	if len(dims) <= 1 {
		return 1
	}
	_, _, outer := transposeAxes(dims, outStrides)
	p := 1
	for _, axis := range outer {
		p *= dims[axis]
	}
	return p
}

// execTransposeRange writes the part of a canonical transpose (dims,
// inStrides, outStrides: transposeCanonical) at the positions lo...hi-1 of
// its outer axes, in operand order (patch 7 splits a float32 transpose
// between idle cores by them), and of a 2-D transpose per position only
// the output rows aLo...aHi-1 (aHi < 0: all; patch 11 splits a single 2-D
// transpose by them). Float32 tiles are transposed 16x16 at a time in
// SIMD registers where the CPU has them (blocktranspose, patch 11).
func execTransposeRange[T gobackend.SupportedTypesConstraints](operandFlat, outputFlat []T, dims, inStrides, outStrides []int, lo, hi, aLo, aHi int) {
	n := len(dims)
	if n <= 1 {
		copy(outputFlat, operandFlat)
		return
	}
	if lo >= hi {
		return
	}
	innerA, innerB, outer := transposeAxes(dims, outStrides)
	idx := make([]int, len(outer))
	inIdx, outIdx := 0, 0
	for k, rest := len(outer)-1, lo; k >= 0; k-- {
		axis := outer[k]
		idx[k], rest = rest%dims[axis], rest/dims[axis]
		inIdx += idx[k] * inStrides[axis]
		outIdx += idx[k] * outStrides[axis]
	}
	remaining := hi - lo
	// next moves (inIdx, outIdx) to the next position of the outer axes, in
	// operand order; it returns false after the last one of the range.
	next := func() bool {
		remaining--
		if remaining == 0 {
			return false
		}
		for k := len(outer) - 1; k >= 0; k-- {
			axis := outer[k]
			idx[k]++
			inIdx += inStrides[axis]
			outIdx += outStrides[axis]
			if idx[k] < dims[axis] {
				return true
			}
			idx[k] = 0
			inIdx -= inStrides[axis] * dims[axis]
			outIdx -= outStrides[axis] * dims[axis]
		}
		return false
	}

	if innerB == innerA {
		// The innermost axis stays innermost: copy runs.
		run := dims[innerA]
		for {
			copy(outputFlat[outIdx:outIdx+run], operandFlat[inIdx:inIdx+run])
			if !next() {
				return
			}
		}
	}

	// A 2-D transpose of [dimB, dimA] (operand layout, A contiguous) into
	// [dimA, dimB] (output layout, B contiguous) per outer position.
	dimA, outStrideA := dims[innerA], outStrides[innerA]
	dimB, inStrideB := dims[innerB], inStrides[innerB]
	if aHi < 0 {
		aLo, aHi = 0, dimA
	}
	in32, _ := any(operandFlat).([]float32)
	out32, _ := any(outputFlat).([]float32)
	blocks := in32 != nil && blocktranspose.Fast
	for {
		for a0 := aLo; a0 < aHi; a0 += transposeTile {
			a1 := min(a0+transposeTile, aHi)
			for b0 := 0; b0 < dimB; b0 += transposeTile {
				b1 := min(b0+transposeTile, dimB)
				if blocks {
					blocktranspose.Float32(out32[outIdx+a0*outStrideA+b0:], outStrideA, in32[inIdx+b0*inStrideB+a0:], inStrideB, b1-b0, a1-a0)
					continue
				}
				for a := a0; a < a1; a++ {
					dst := outputFlat[outIdx+a*outStrideA+b0 : outIdx+a*outStrideA+b1]
					src := inIdx + b0*inStrideB + a
					for i := range dst {
						dst[i] = operandFlat[src]
						src += inStrideB
					}
				}
			}
		}
		if !next() {
			return
		}
	}
}

// transposeTile is the side of the tiles of a 2-D transpose, in elements.
const transposeTile = 32

// transposeMinChunk is the fewest elements per core when patch 7 splits a
// float32 transpose between idle cores.
const transposeMinChunk = 64 << 10

// transposeCanonical returns the axes of a transpose of an operand with
// the given dimensions, whose axis i moves by outStrides[i] in the output,
// in canonical form: size-1 axes dropped, and each operand axis merged into
// the one before it (kept) when the two are also adjacent, in the same
// order, in the output (the kept one's output stride is this one's times its
// dimension). It returns, per remaining axis in operand order, the
// dimension and the strides in the operand and in the output. Each output
// element still receives the same operand element.
func transposeCanonical(dimensions, outStrides []int) (dims, inStrides, outs []int) {
	rank := len(dimensions)
	operandStrides := make([]int, rank)
	stride := 1
	for axis := rank - 1; axis >= 0; axis-- {
		operandStrides[axis] = stride
		stride *= dimensions[axis]
	}
	for axis := range rank {
		d := dimensions[axis]
		if d == 1 {
			continue
		}
		if n := len(dims); n > 0 && outs[n-1] == outStrides[axis]*d {
			dims[n-1] *= d
			inStrides[n-1] = operandStrides[axis]
			outs[n-1] = outStrides[axis]
			continue
		}
		dims = append(dims, d)
		inStrides = append(inStrides, operandStrides[axis])
		outs = append(outs, outStrides[axis])
	}
	return dims, inStrides, outs
}

func execTransposeFloat16(operand, output *gobackend.Buffer, it *TransposeIterator) {
	execTransposeGeneric[float16.Float16](operand, output, it)
}

func execTransposeBFloat16(operand, output *gobackend.Buffer, it *TransposeIterator) {
	execTransposeGeneric[bfloat16.BFloat16](operand, output, it)
}
