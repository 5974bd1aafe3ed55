// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

// Patch 19 (see PATCHES.md): a tree of float32 element-wise ops of one
// shape (Add, Sub, Mul, Div, Max, Min with same-shape or scalar operands,
// and Sqrt), each inner op used only by its parent, is computed by its
// root in one pass: 256 values at a time, every op of the tree applied
// with patches 5 and 7's kernels to blocks that stay in L1, and only the
// root's values written. Adam's update of a weight (about 14 ops: each
// moment's two scaled terms and their sum, the bias corrections, the
// square root, the step and the update) becomes 3 passes (the two moments,
// used twice each, and the weight), a batch norm's affine map one. Each
// value is the same sequence of float32 operations as op by op, so the
// result is the same bit for bit (NaN payloads aside, as patch 5).

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

func init() {
	gobackend.RegisterTransformation(46, f32TreeFusion{})
}

// F32TreeFusionEnabled switches patch 19's graph transformation on (the
// default) or off; tests turn it off to compare with the op-by-op
// execution. Set it before compiling.
var F32TreeFusionEnabled = true

const (
	f32TreeMinSize  = 4096 // fewest values of a fused tree's output
	f32TreeMaxOps   = 32   // most ops in one tree
	f32TreeBlock    = 256  // values per block: the ops' temporaries stay in L1
	f32TreeMinChunk = 32 << 10
)

// f32TreeRef is an operand of a tree op: leaf i of the root's inputs
// (vector or scalar) or the result of op i.
type f32TreeRef struct {
	leaf, scalar bool
	i            int
}

// f32TreeOp is one op of a fused tree, in evaluation order.
type f32TreeOp struct {
	op   compute.OpType
	a, b f32TreeRef // b unused for Sqrt
}

// f32TreeNode is the Data of the root of a fused tree: its inputs are the
// tree's leaves, its ops evaluated in order, the last one the root.
type f32TreeNode struct {
	ops []f32TreeOp
}

// f32TreeFusion is patch 19's graph transformation.
type f32TreeFusion struct{}

// Name implements gobackend.GraphTransformation.
func (f32TreeFusion) Name() string { return "F32TreeFusion" }

// f32TreeOps are the op types a tree may hold and their kernels' ops.
var f32TreeOps = map[compute.OpType]f32Op{compute.OpTypeAdd: f32Add, compute.OpTypeSub: f32Sub, compute.OpTypeMul: f32Mul,
	compute.OpTypeDiv: f32Div, compute.OpTypeMax: f32Max, compute.OpTypeMin: f32Min}

// f32TreeEligible reports whether node can be an op of a tree: a float32
// op of f32TreeOps or Sqrt, of a static shape of at least f32TreeMinSize
// values, no other patch's data, operands float32 of its shape or scalars
// (not both scalars).
func f32TreeEligible(node *gobackend.Node) bool {
	_, binary := f32TreeOps[node.OpType]
	if !binary && node.OpType != compute.OpTypeSqrt || node.Data != nil || node.Shape.DType != dtypes.Float32 ||
		node.Shape.IsDynamic() || node.Shape.Size() < f32TreeMinSize || len(node.Inputs) != map[bool]int{true: 2, false: 1}[binary] {
		return false
	}
	vectors := 0
	for _, in := range node.Inputs {
		switch {
		case in.Shape.DType != dtypes.Float32 || in.Shape.IsDynamic():
			return false
		case in.Shape.Equal(node.Shape):
			vectors++
		case in.Shape.Size() != 1:
			return false
		}
	}
	return vectors > 0 && (binary || vectors == 1)
}

// Apply implements gobackend.GraphTransformation: each eligible node
// absorbs every operand that is itself eligible, of its shape, and used
// by it alone (and that operand's absorbed operands); a node that absorbed
// something and is not absorbed itself becomes a tree's root, with the
// tree's leaves as its inputs. No node is created; the absorbed nodes, now
// unused, are not executed.
func (f32TreeFusion) Apply(b *gobackend.Builder) (bool, error) {
	if !F32TreeFusionEnabled {
		return false, nil
	}
	uses, user := b.NodeUses()
	type tree struct {
		leaves []*gobackend.Node
		ops    []f32TreeOp
	}
	trees := map[*gobackend.Node]*tree{}
	absorbed := map[*gobackend.Node]bool{}
	for _, f := range b.Functions {
		for _, node := range f.Nodes {
			if !f32TreeEligible(node) {
				continue
			}
			t := &tree{}
			leafRef := func(in *gobackend.Node) f32TreeRef {
				for i, l := range t.leaves {
					if l == in {
						return f32TreeRef{leaf: true, scalar: !in.Shape.Equal(node.Shape), i: i}
					}
				}
				t.leaves = append(t.leaves, in)
				return f32TreeRef{leaf: true, scalar: !in.Shape.Equal(node.Shape), i: len(t.leaves) - 1}
			}
			// merge copies sub's ops into t (its leaves mapped), returning
			// the ref of sub's root.
			merge := func(sub *tree) f32TreeRef {
				base := len(t.ops)
				mapRef := func(r f32TreeRef) f32TreeRef {
					if r.leaf {
						return leafRef(sub.leaves[r.i])
					}
					return f32TreeRef{i: base + r.i}
				}
				for _, o := range sub.ops {
					t.ops = append(t.ops, f32TreeOp{op: o.op, a: mapRef(o.a), b: mapRef(o.b)})
				}
				return f32TreeRef{i: len(t.ops) - 1}
			}
			refs := make([]f32TreeRef, len(node.Inputs))
			for k, in := range node.Inputs {
				if sub, ok := trees[in]; ok && uses[in] == 1 && user[in] == node && in.Shape.Equal(node.Shape) &&
					len(t.ops)+len(sub.ops)+1 <= f32TreeMaxOps && in.Function == node.Function {
					refs[k] = merge(sub)
					absorbed[in] = true
					continue
				}
				refs[k] = leafRef(in)
			}
			o := f32TreeOp{op: node.OpType, a: refs[0]}
			if len(refs) == 2 {
				o.b = refs[1]
			}
			t.ops = append(t.ops, o)
			trees[node] = t
		}
	}
	for _, f := range b.Functions {
		for _, node := range f.Nodes {
			t, ok := trees[node]
			if !ok || absorbed[node] || len(t.ops) < 2 {
				continue
			}
			node.Inputs = t.leaves
			node.Data = &f32TreeNode{ops: t.ops}
		}
	}
	return false, nil
}

// execF32Tree computes a fused tree's root (f32TreeNode), block by block,
// the blocks split between idle cores; in place in an owned vector leaf's
// buffer when there is one (each block's leaves are read before its
// output is written).
func execF32Tree(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool, t *f32TreeNode) (*gobackend.Buffer, error) {
	var output *gobackend.Buffer
	for i, in := range inputs {
		if inputsOwned[i] && in.RawShape.Equal(node.Shape) {
			output, inputs[i] = in, nil // the output: the execution does not free it
			break
		}
	}
	leaves := make([][]float32, len(node.Inputs))
	for i := range node.Inputs {
		if inputs[i] != nil {
			leaves[i] = inputs[i].Flat.([]float32)
		} else {
			leaves[i] = output.Flat.([]float32)
		}
	}
	if output == nil {
		var err error
		if output, err = backend.GetBuffer(node.Shape); err != nil {
			return nil, err
		}
	}
	out := output.Flat.([]float32)
	backend.ParallelFor(len(out), f32TreeMinChunk, func(lo, hi int) {
		f32TreeRun(t, leaves, out, lo, hi)
	})
	return output, nil
}

// f32TreeRun evaluates the tree over out[lo:hi], f32TreeBlock values at a
// time, each op's block of results kept in a scratch.
func f32TreeRun(t *f32TreeNode, leaves [][]float32, out []float32, lo, hi int) {
	scratch := make([]float32, len(t.ops)*f32TreeBlock)
	last := len(t.ops) - 1
	for s := lo; s < hi; s += f32TreeBlock {
		n := min(f32TreeBlock, hi-s)
		vec := func(r f32TreeRef) []float32 {
			if r.leaf {
				return leaves[r.i][s : s+n]
			}
			return scratch[r.i*f32TreeBlock : r.i*f32TreeBlock+n]
		}
		for k, o := range t.ops {
			dst := scratch[k*f32TreeBlock : k*f32TreeBlock+n]
			if k == last {
				dst = out[s : s+n]
			}
			if o.op == compute.OpTypeSqrt {
				f32Sqrt(dst, vec(o.a))
				continue
			}
			op := f32TreeOps[o.op]
			switch {
			case o.b.scalar:
				f32VS(op, dst, vec(o.a), leaves[o.b.i][0])
			case o.a.scalar && (op == f32Add || op == f32Mul || op == f32Max || op == f32Min):
				f32VS(op, dst, vec(o.b), leaves[o.a.i][0]) // as patch 5's executor: a scalar lhs of a commutative op on the right
			case o.a.scalar:
				f32SV(op, dst, leaves[o.a.i][0], vec(o.b))
			default:
				f32VV(op, dst, vec(o.a), vec(o.b))
			}
		}
	}
}
