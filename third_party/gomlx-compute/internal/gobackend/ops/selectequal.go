// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

// Patch 18 (see PATCHES.md): Where(Equal(a, b), c, zeros) on float32
// tensors of one shape (the project's max-pool gradient: each window tap's
// gradient is dY where the tap equals the pooled maximum, else zero) is
// computed in one pass, out = c where a == b, else +0, without the Equal's
// boolean tensor or the zeros' tensor, in AVX-512 registers where the
// build has them (selectequal_simd.go). The comparison is Go's (and the
// op-by-op Equal's) float32 ==: false with a NaN, true for +0 and -0; the
// values chosen are c's bits or +0's, as op by op.

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

func init() {
	gobackend.RegisterTransformation(47, selectEqualFusion{})
}

// SelectEqualFusionEnabled switches patch 18's graph transformation on
// (the default) or off; tests turn it off to compare with the op-by-op
// execution. Set it before compiling.
var SelectEqualFusionEnabled = true

// selectEqualNode is the Data of a Where rewritten by selectEqualFusion:
// its inputs are a, b and c.
type selectEqualNode struct{}

// selectEqualFusion is patch 18's graph transformation.
type selectEqualFusion struct{}

// Name implements gobackend.GraphTransformation.
func (selectEqualFusion) Name() string { return "SelectEqualFusion" }

// Apply implements gobackend.GraphTransformation: every float32 Where whose
// condition is an Equal used by nothing else, whose Equal operands and
// true value have its shape, and whose false value is a constant +0 (or a
// broadcast of one) gets the inputs a, b, c and selectEqualNode data. No
// node is created; the Equal, now unused, is not executed.
func (selectEqualFusion) Apply(b *gobackend.Builder) (bool, error) {
	if !SelectEqualFusionEnabled {
		return false, nil
	}
	uses, _ := b.NodeUses()
	for _, f := range b.Functions {
		for _, node := range f.Nodes {
			if node.OpType != compute.OpTypeWhere || len(node.Inputs) != 3 || node.Data != nil ||
				node.Shape.DType != dtypes.Float32 || node.Shape.IsDynamic() || node.Shape.Size() == 0 {
				continue
			}
			cond, c, zeros := node.Inputs[0], node.Inputs[1], node.Inputs[2]
			if cond.OpType != compute.OpTypeEqual || len(cond.Inputs) != 2 || uses[cond] != 1 || !isZeros(zeros) ||
				!c.Shape.Equal(node.Shape) {
				continue
			}
			a, bb := cond.Inputs[0], cond.Inputs[1]
			if !a.Shape.Equal(node.Shape) || !bb.Shape.Equal(node.Shape) {
				continue
			}
			node.Inputs = []*gobackend.Node{a, bb, c}
			node.Data = selectEqualNode{}
		}
	}
	return false, nil
}

// selectEqualMinChunk is the fewest values per core when patch 18 splits
// its pass between idle cores.
const selectEqualMinChunk = 32 << 10

// execSelectEqual computes a fused Where (selectEqualNode), in place in c's
// buffer where the execution owns it.
func execSelectEqual(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	a, b, c := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32), inputs[2].Flat.([]float32)
	output := inputs[2]
	if inputsOwned[2] {
		inputs[2] = nil // the output: the execution does not free it
	} else {
		var err error
		if output, err = backend.GetBuffer(node.Shape); err != nil {
			return nil, err
		}
	}
	out := output.Flat.([]float32)
	backend.ParallelFor(len(out), selectEqualMinChunk, func(lo, hi int) {
		f32SelectEqual(out[lo:hi], a[lo:hi], b[lo:hi], c[lo:hi])
	})
	return output, nil
}

// f32SelectEqualScalar is patch 18's pass value by value: out[i] = c[i]
// where a[i] == b[i], else +0.
func f32SelectEqualScalar(out, a, b, c []float32) {
	for i := range out {
		if a[i] == b[i] {
			out[i] = c[i]
		} else {
			out[i] = 0
		}
	}
}
