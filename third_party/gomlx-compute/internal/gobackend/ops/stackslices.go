// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

// Patch 12 (see PATCHES.md): a Concatenate on axis 0 of slices of one
// operand, each possibly reshaped (the project's Winograd tiles: the
// alpha*alpha strided slices of a zero-padded image, each flattened to a
// row, stacked into [alpha*alpha, tiles*C]), is written in one pass from
// the operand, or from the tensor inside its zero padding, as patch 4
// writes an im2col matrix. On axis 0 the inputs' bytes follow one another
// in the output, and a Reshape keeps an input's bytes in order, so slice
// i's values, in row-major order, are block i of the output.

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// stackSlicesNode is the Data of a Concatenate node rewritten by
// sliceConcatFusion on axis 0 (patch 12): the node's single input is the
// core tensor, and the output is the slices of the core padded with
// padLo/padHi zeros on each axis (starts and limits on the padded grid),
// one after the other, each in row-major order; shapes holds each slice's
// shape (rank >= 2).
type stackSlicesNode struct {
	slices       []*sliceNode
	shapes       []shapes.Shape
	padLo, padHi []int
}

// fuseStackSlices returns the input and data of node's fused form, or nil
// data when node is not a Concatenate on axis 0 whose inputs are all
// Slices (rank >= 2, static shapes, stride 1 on the last axis) of one
// node, each possibly through a Reshape.
func fuseStackSlices(node *gobackend.Node) (*gobackend.Node, *stackSlicesNode) {
	if node.OpType != compute.OpTypeConcatenate || len(node.Inputs) == 0 || node.Shape.IsDynamic() {
		return nil, nil
	}
	if axis, ok := node.Data.(int); !ok || axis != 0 {
		return nil, nil
	}
	src, slices, sliceShapes := slicesOfOneNode(node.Inputs, true)
	if src == nil {
		return nil, nil
	}
	for i, s := range slices {
		if sliceShapes[i].IsDynamic() || sliceShapes[i].Rank() < 2 {
			return nil, nil
		}
		if s.strides[len(s.strides)-1] != 1 {
			// Runs that are not contiguous on the last axis are moved
			// one value per copy call by writeSliceConcat: slower than
			// the Slice op's strided loops (a Winograd gradient's m x m
			// output tiles measured 2x slower fused); left op by op.
			return nil, nil
		}
	}
	core, lo, hi := zeroPadCore(src)
	return core, &stackSlicesNode{slices: slices, shapes: sliceShapes, padLo: lo, padHi: hi}
}

// execStackSlices writes the output of a fused Concatenate on axis 0 (see
// stackSlicesNode): each slice's block as writeSliceConcat writes a
// concatenation of that one slice. Bytes are copied as they are, so the
// output is the op-by-op one bit for bit, for every dtype. The slices are
// split between the cores that are idle at the time
// (gobackend.Backend.ParallelFor), as patch 7 splits a fused im2col.
func execStackSlices(backend *gobackend.Backend, node *gobackend.Node, core *gobackend.Buffer, p *stackSlicesNode) (*gobackend.Buffer, error) {
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	if node.Shape.Size() == 0 {
		return output, nil
	}
	out, err := output.MutableBytes()
	if err != nil {
		return nil, err
	}
	in, err := core.MutableBytes()
	if err != nil {
		return nil, err
	}
	es := node.Shape.DType.Size()
	offsets := make([]int, len(p.slices)+1)
	for i, s := range p.shapes {
		offsets[i+1] = offsets[i] + s.Size()*es
	}
	perSlice := max(1, node.Shape.Size()/len(p.slices))
	backend.ParallelFor(len(p.slices), max(1, (sliceConcatMinChunk+perSlice-1)/perSlice), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			one := &sliceConcatNode{slices: p.slices[i : i+1], padLo: p.padLo, padHi: p.padHi}
			positions, _ := sliceConcatPositions(p.shapes[i])
			writeSliceConcat(out[offsets[i]:offsets[i+1]], in, p.shapes[i], core.RawShape, one, 0, positions, 0)
		}
	})
	return output, nil
}

// StackedRows is a float32 Concatenate fused by patch 12 read as a matrix
// [Rows, Cols] (slice i, in row-major order, is row i), for an op that
// consumes it a block of columns at a time without the matrix being
// written (patch 14: a Winograd input transform). Each row is a sequence
// of runs, one per position of the slice's axes before the last, of Width
// values contiguous in the core tensor: run p of row i starts at
// Offsets[i][p] in the core, or is Width zeros (padding) where that is -1.
type StackedRows struct {
	Rows, Cols, Width int
	Offsets           [][]int32
}

// StackedRowsOf returns node's StackedRows when node is a float32
// Concatenate fused by patch 12 (fuseStackSlices) whose slices all have the
// same shape, lie inside the core on their last axis, and whose core is
// small enough for int32 offsets; otherwise nil.
func StackedRowsOf(node *gobackend.Node) *StackedRows {
	p, ok := node.Data.(*stackSlicesNode)
	if !ok || node.Shape.DType != dtypes.Float32 || len(node.Inputs) != 1 {
		return nil
	}
	core := node.Inputs[0].Shape
	if core.IsDynamic() || core.Size() >= 1<<31 {
		return nil
	}
	s0 := p.shapes[0]
	rank := s0.Rank()
	last := rank - 1
	width := s0.Dimensions[last]
	if width == 0 {
		return nil
	}
	coreDims, coreStrides := core.Dimensions, core.Strides()
	r := &StackedRows{Rows: len(p.slices), Cols: s0.Size(), Width: width, Offsets: make([][]int32, len(p.slices))}
	positions := s0.Size() / width
	idx := make([]int, last)
	for i, s := range p.slices {
		if !p.shapes[i].Equal(s0) {
			return nil
		}
		first := s.starts[last] - p.padLo[last]
		if s.strides[last] != 1 || first < 0 || first+width > coreDims[last] {
			return nil
		}
		offs := make([]int32, positions)
		clear(idx)
		for pos := range positions {
			off := paddedOffset(s, idx, p.padLo, coreDims, coreStrides)
			if off >= 0 {
				off += first
			}
			offs[pos] = int32(off)
			nextPosition(idx, s0.Dimensions)
		}
		r.Offsets[i] = offs
	}
	return r
}
