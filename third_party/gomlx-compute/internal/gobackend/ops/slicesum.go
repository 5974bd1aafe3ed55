// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

// Patch 16 (see PATCHES.md): a chain of float32 Adds of slices of one
// tensor, ((s0 + s1) + s2) + ..., each slice of the output's shape with
// unit strides (the project's sub-pixel up-convolution: each output parity
// is the sum of 4 shifted channel blocks of one product), is computed in
// one pass from that tensor: for each run of the last axis, the slices'
// values are loaded where they lie and summed in the chain's order, and
// only the sum is written. The separate slices and the partial sums are
// then dead and not executed. Each output value is the same sequence of
// float32 additions as op by op, so the result is the same bit for bit
// (NaN payloads aside, as patch 5).

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

func init() {
	gobackend.RegisterTransformation(48, sliceSumFusion{})
}

// SliceSumFusionEnabled switches patch 16's graph transformation on (the
// default) or off; tests turn it off to compare with the op-by-op
// execution. Set it before compiling.
var SliceSumFusionEnabled = true

// sliceSumNode is the Data of the root Add of a fused chain: the node's
// single input is the sliced tensor, and the output is the sum of the
// slices in order.
type sliceSumNode struct {
	slices []*sliceNode
}

// sliceSumFusion is patch 16's graph transformation.
type sliceSumFusion struct{}

// Name implements gobackend.GraphTransformation.
func (sliceSumFusion) Name() string { return "SliceSumFusion" }

// Apply implements gobackend.GraphTransformation: every float32 Add whose
// operands are a Slice and either another Slice or such an Add used only
// by it, all slices of one node with the Add's shape and unit strides,
// becomes the root of a fused chain unless its only user continues the
// chain. No node is created.
func (sliceSumFusion) Apply(b *gobackend.Builder) (bool, error) {
	if !SliceSumFusionEnabled {
		return false, nil
	}
	uses, user := b.NodeUses()
	// chains[n]: the source and slices of the chain rooted at n, computed
	// in node order (inputs first).
	type chain struct {
		src    *gobackend.Node
		slices []*sliceNode
	}
	chains := map[*gobackend.Node]chain{}
	unitSlice := func(n, out *gobackend.Node) (*gobackend.Node, *sliceNode) {
		s, ok := n.Data.(*sliceNode)
		if n.OpType != compute.OpTypeSlice || !ok || len(n.Inputs) != 1 || !n.Shape.Equal(out.Shape) {
			return nil, nil
		}
		for _, st := range s.strides {
			if st != 1 {
				return nil, nil
			}
		}
		src := n.Inputs[0]
		if src.Shape.DType != dtypes.Float32 || src.Shape.IsDynamic() || src.Function != out.Function {
			return nil, nil
		}
		return src, s
	}
	for _, f := range b.Functions {
		for _, node := range f.Nodes {
			if node.OpType != compute.OpTypeAdd || len(node.Inputs) != 2 || node.Data != nil ||
				node.Shape.DType != dtypes.Float32 || node.Shape.IsDynamic() || node.Shape.Rank() < 1 || node.Shape.Size() == 0 {
				continue
			}
			l, r := node.Inputs[0], node.Inputs[1]
			rsrc, rs := unitSlice(r, node)
			if rs == nil {
				continue
			}
			if lc, ok := chains[l]; ok && uses[l] == 1 && lc.src == rsrc {
				chains[node] = chain{src: rsrc, slices: append(append([]*sliceNode{}, lc.slices...), rs)}
				continue
			}
			if lsrc, ls := unitSlice(l, node); ls != nil && lsrc == rsrc {
				chains[node] = chain{src: rsrc, slices: []*sliceNode{ls, rs}}
			}
		}
	}
	var roots []*gobackend.Node
	for _, f := range b.Functions {
		for _, node := range f.Nodes {
			c, ok := chains[node]
			if !ok {
				continue
			}
			if u := user[node]; uses[node] == 1 && u != nil {
				if uc, ok := chains[u]; ok && u.Inputs[0] == node && uc.src == c.src {
					continue // absorbed into its user's chain
				}
			}
			roots = append(roots, node)
		}
	}
	for _, node := range roots {
		c := chains[node]
		node.Inputs = []*gobackend.Node{c.src}
		node.Data = &sliceSumNode{slices: c.slices}
	}
	return false, nil
}

// sliceSumMinChunk is the fewest output elements per core when a fused
// chain is split between idle cores (a variable for the tests).
var sliceSumMinChunk = 32 << 10

// execSliceSum computes a fused chain's output from the sliced tensor src:
// for each position of the axes before the last, the run of the last axis
// is the sum of the slices' runs there, in order (f32SumRuns). The
// positions are walked row by row of the second-to-last axis, each
// slice's offset moving by that axis's stride; the rows are split between
// idle cores.
func execSliceSum(backend *gobackend.Backend, node *gobackend.Node, src *gobackend.Buffer, p *sliceSumNode) (*gobackend.Buffer, error) {
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	out := output.Flat.([]float32)
	in := src.Flat.([]float32)
	dims := node.Shape.Dimensions
	rank := len(dims)
	run := dims[rank-1]
	srcStrides := src.RawShape.Strides()
	// Rows: positions of the axes before the last two; each holds cols
	// runs, cols = the second-to-last axis's size (1 for rank 1).
	cols, colStride := 1, 0
	if rank >= 2 {
		cols, colStride = dims[rank-2], srcStrides[rank-2]
	}
	rowAxes := max(rank-2, 0)
	rows := len(out) / (cols * run)
	backend.ParallelFor(rows, max(1, (sliceSumMinChunk+cols*run-1)/(cols*run)), func(lo, hi int) {
		idx := make([]int, rowAxes)
		for a, rest := rowAxes-1, lo; a >= 0; a-- {
			idx[a], rest = rest%dims[a], rest/dims[a]
		}
		offsets := make([]int, len(p.slices))
		for row := lo; row < hi; row++ {
			for i, s := range p.slices {
				off := s.starts[rank-1]
				if rank >= 2 {
					off += s.starts[rank-2] * colStride
				}
				for a, x := range idx {
					off += (s.starts[a] + x) * srcStrides[a]
				}
				offsets[i] = off
			}
			o := row * cols * run
			for range cols {
				f32SumRuns(out[o:o+run], in, offsets)
				o += run
				for i := range offsets {
					offsets[i] += colStride
				}
			}
			nextPosition(idx, dims)
		}
	})
	return output, nil
}

// f32SumRunsScalar is out[j] = ((in[o0+j] + in[o1+j]) + in[o2+j]) + ...
// for the offsets o0, o1, ... (at least two), one element at a time.
func f32SumRunsScalar(out, in []float32, offsets []int) {
	n := len(out)
	a, b := in[offsets[0]:offsets[0]+n], in[offsets[1]:offsets[1]+n]
	for j := range out {
		out[j] = a[j] + b[j]
	}
	for _, o := range offsets[2:] {
		c := in[o : o+n]
		for j := range out {
			out[j] += c[j]
		}
	}
}
