package ops

// Patch 4 (see PATCHES.md): a Concatenate on the last axis of slices of one
// operand (an im2col matrix: the k*k taps of an image, concatenated on the
// channel axis) is built in one pass from the operand, and when that
// operand is itself zero padding around a tensor (Concatenates with
// broadcast zeros, as GoMLX code pads without Pad), from that tensor, with
// the zeros written in place. The separate slices and the padded copy are
// then dead and not executed.

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
)

func init() {
	gobackend.RegisterTransformation(50, sliceConcatFusion{})
}

// SliceConcatFusionEnabled switches the slice-concatenate fusion pass on
// (the default) or off; tests turn it off to compare the fused execution
// with the op-by-op one. Set it before compiling.
var SliceConcatFusionEnabled = true

// sliceConcatNode is the Data of a Concatenate node rewritten by
// sliceConcatFusion: the node's single input is the core tensor, and the
// output is the concatenation on the last axis of slices of the core
// padded with padLo/padHi zeros on each axis. The slices' starts and
// limits are on the padded tensor's grid.
type sliceConcatNode struct {
	slices       []*sliceNode
	padLo, padHi []int
}

// sliceConcatFusion is the graph transformation of patch 4.
type sliceConcatFusion struct{}

// Name implements gobackend.GraphTransformation.
func (sliceConcatFusion) Name() string { return "SliceConcatFusion" }

// Apply implements gobackend.GraphTransformation: every Concatenate on its
// last axis (rank >= 2, static shapes) whose inputs are all Slices of one
// node becomes a Concatenate with sliceConcatNode data and that node (or
// the core of its zero padding) as its only input. No node is created, so
// the DAG order holds.
func (sliceConcatFusion) Apply(b *gobackend.Builder) (bool, error) {
	if !SliceConcatFusionEnabled {
		return false, nil
	}
	for _, f := range b.Functions {
		for _, node := range f.Nodes {
			if fused := fuseSliceConcat(node); fused != nil {
				node.Inputs = []*gobackend.Node{fused.core}
				node.Data = fused.data
			}
		}
	}
	return false, nil
}

// fusedSliceConcat is what fuseSliceConcat found.
type fusedSliceConcat struct {
	core *gobackend.Node
	data *sliceConcatNode
}

// fuseSliceConcat returns the fused form of node, or nil when node is not
// a Concatenate of slices of one node on its last axis.
func fuseSliceConcat(node *gobackend.Node) *fusedSliceConcat {
	if node.OpType != compute.OpTypeConcatenate || len(node.Inputs) == 0 || node.Shape.IsDynamic() {
		return nil
	}
	axis, ok := node.Data.(int)
	rank := node.Shape.Rank()
	if !ok || rank < 2 || axis != rank-1 {
		return nil
	}
	operand := node.Inputs[0].Inputs
	if len(operand) != 1 {
		return nil
	}
	src := operand[0]
	slices := make([]*sliceNode, len(node.Inputs))
	for i, in := range node.Inputs {
		if in.OpType != compute.OpTypeSlice || len(in.Inputs) != 1 || in.Inputs[0] != src {
			return nil
		}
		s, ok := in.Data.(*sliceNode)
		if !ok {
			return nil
		}
		slices[i] = s
	}
	if src.Shape.IsDynamic() || src.Shape.Size() == 0 {
		return nil
	}
	core, lo, hi := zeroPadCore(src)
	return &fusedSliceConcat{core: core, data: &sliceConcatNode{slices: slices, padLo: lo, padHi: hi}}
}

// zeroPadCore follows Concatenates of n with broadcast zeros on either
// side, on any axes, down to the tensor they pad; it returns that tensor
// and the zeros before and after it on each axis.
func zeroPadCore(n *gobackend.Node) (core *gobackend.Node, lo, hi []int) {
	rank := n.Shape.Rank()
	lo, hi = make([]int, rank), make([]int, rank)
	for {
		if n.OpType != compute.OpTypeConcatenate {
			return n, lo, hi
		}
		axis, ok := n.Data.(int)
		if !ok {
			return n, lo, hi
		}
		var inner *gobackend.Node
		before, after := 0, 0
		for _, in := range n.Inputs {
			switch {
			case inner == nil && isZeros(in):
				before += in.Shape.Dimensions[axis]
			case inner == nil:
				inner = in
			case isZeros(in):
				after += in.Shape.Dimensions[axis]
			default:
				return n, lo, hi
			}
		}
		if inner == nil || inner.Shape.IsDynamic() {
			return n, lo, hi
		}
		lo[axis] += before
		hi[axis] += after
		n = inner
	}
}

// isZeros reports whether n is a constant of zero bytes, or a broadcast of
// one.
func isZeros(n *gobackend.Node) bool {
	if n.OpType == compute.OpTypeBroadcastInDim && len(n.Inputs) == 1 {
		n = n.Inputs[0]
	}
	if n.OpType != compute.OpTypeConstant {
		return false
	}
	buf, ok := n.Data.(*gobackend.Buffer)
	if !ok {
		return false
	}
	raw, err := buf.MutableBytes()
	if err != nil {
		return false
	}
	for _, v := range raw {
		if v != 0 {
			return false
		}
	}
	return true
}

// execSliceConcat writes the output of a fused Concatenate (see
// sliceConcatNode) in order: for each position of the axes before the last
// one, each slice's run on the last axis, copied from the core, or zeros
// where the slice reads the padding. Bytes are copied as they are, so the
// output is the op-by-op one bit for bit, for every dtype.
//
// It runs on the calling goroutine: splitting it between the backend's
// workers was measured slower in the project's training step and no faster
// in its forward pass (the batch lanes and the matrix products already keep
// the cores busy; the pool's workers outnumber the cores).
func execSliceConcat(backend *gobackend.Backend, node *gobackend.Node, core *gobackend.Buffer, p *sliceConcatNode) (*gobackend.Buffer, error) {
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
	w := newSliceConcatWriter(node, core, p)
	rows := 1
	for _, d := range node.Shape.Dimensions[:w.row] {
		rows *= d
	}
	w.write(out, in, 0, rows)
	return output, nil
}

// sliceConcatWriter holds what execSliceConcat's rows need.
type sliceConcatWriter struct {
	p                   *sliceConcatNode
	es, row, last       int
	outDims, coreDims   []int
	coreStrides, widths []int
	rowBytes            int // output bytes per row (all positions of axis row)
}

func newSliceConcatWriter(node *gobackend.Node, core *gobackend.Buffer, p *sliceConcatNode) *sliceConcatWriter {
	rank := node.Shape.Rank()
	w := &sliceConcatWriter{p: p, es: node.Shape.DType.Size(), row: rank - 2, last: rank - 1,
		outDims: node.Shape.Dimensions, coreDims: core.RawShape.Dimensions, coreStrides: core.RawShape.Strides(),
		widths: make([]int, len(p.slices))}
	for i, s := range p.slices {
		w.widths[i] = (s.limits[w.last] - s.starts[w.last] + s.strides[w.last] - 1) / s.strides[w.last]
	}
	w.rowBytes = w.outDims[w.row] * w.outDims[w.last] * w.es
	return w
}

// write writes rows [from, to) of the output: the positions, in order, of
// the axes before w.row.
func (w *sliceConcatWriter) write(out, in []byte, from, to int) {
	p, es, row, last := w.p, w.es, w.row, w.last
	// idx: the position of row from on the axes before row.
	idx := make([]int, row)
	for a, r := row-1, from; a >= 0; a-- {
		idx[a] = r % w.outDims[a]
		r /= w.outDims[a]
	}
	// base[i]: slice i's byte offset in the core at the current position of
	// the axes before row, or -1 when it lies in the padding.
	base := make([]int, len(p.slices))
	dst := from * w.rowBytes
	for r := from; r < to; r++ {
		for i, s := range p.slices {
			off := 0
			for a := 0; a < row; a++ {
				c := s.starts[a] + idx[a]*s.strides[a] - p.padLo[a]
				if c < 0 || c >= w.coreDims[a] {
					off = -1
					break
				}
				off += c * w.coreStrides[a]
			}
			base[i] = off
		}
		for x := 0; x < w.outDims[row]; x++ {
			for i, s := range p.slices {
				n := w.widths[i] * es
				c := s.starts[row] + x*s.strides[row] - p.padLo[row]
				if base[i] < 0 || c < 0 || c >= w.coreDims[row] {
					clear(out[dst : dst+n])
					dst += n
					continue
				}
				off := base[i] + c*w.coreStrides[row]
				first := s.starts[last] - p.padLo[last]
				if s.strides[last] == 1 && first >= 0 && first+w.widths[i] <= w.coreDims[last] {
					src := (off + first) * es
					copy(out[dst:dst+n], in[src:src+n])
					dst += n
					continue
				}
				for j := 0; j < w.widths[i]; j++ {
					c := first + j*s.strides[last]
					if c < 0 || c >= w.coreDims[last] {
						clear(out[dst : dst+es])
					} else {
						src := (off + c) * es
						copy(out[dst:dst+es], in[src:src+es])
					}
					dst += es
				}
			}
		}
		// Next position of the axes before row.
		for a := row - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < w.outDims[a] {
				break
			}
			idx[a] = 0
		}
	}
}
