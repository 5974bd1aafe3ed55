package ops

// Patch 4 (see PATCHES.md): a Concatenate on the last axis of slices of one
// operand (an im2col matrix: the k*k taps of an image, concatenated on the
// channel axis) is built in one pass from the operand, and when that
// operand is itself zero padding around a tensor (Concatenates with
// broadcast zeros, as GoMLX code pads without Pad), from that tensor, with
// the zeros written in place. The separate slices and the padded copy are
// then dead and not executed.

import (
	"encoding/binary"
	"unsafe"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
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
// the core of its zero padding) as its only input; and (patch 12) every
// Concatenate on axis 0 whose inputs are all Slices of one node, each
// possibly reshaped, one with stackSlicesNode data (fuseStackSlices). No
// node is created, so the DAG order holds.
func (sliceConcatFusion) Apply(b *gobackend.Builder) (bool, error) {
	if !SliceConcatFusionEnabled {
		return false, nil
	}
	for _, f := range b.Functions {
		for _, node := range f.Nodes {
			if core, data := fuseSliceConcat(node); data != nil {
				node.Inputs = []*gobackend.Node{core}
				node.Data = data
			} else if core, data := fuseStackSlices(node); data != nil { // patch 12, stackslices.go
				node.Inputs = []*gobackend.Node{core}
				node.Data = data
			}
		}
	}
	return false, nil
}

// fuseSliceConcat returns the input and data of node's fused form, or nil
// data when node is not a Concatenate of slices of one node on its last
// axis.
func fuseSliceConcat(node *gobackend.Node) (*gobackend.Node, *sliceConcatNode) {
	if node.OpType != compute.OpTypeConcatenate || len(node.Inputs) == 0 || node.Shape.IsDynamic() {
		return nil, nil
	}
	axis, ok := node.Data.(int)
	rank := node.Shape.Rank()
	if !ok || rank < 2 || axis != rank-1 {
		return nil, nil
	}
	src, slices, _ := slicesOfOneNode(node.Inputs, false)
	if src == nil {
		return nil, nil
	}
	core, lo, hi := zeroPadCore(src)
	return core, &sliceConcatNode{slices: slices, padLo: lo, padHi: hi}
}

// slicesOfOneNode returns the node that every one of inputs is a Slice of
// (with reshaped, possibly through a Reshape of the slice: patch 12), each
// slice's parameters and output shape; a nil node when they are not all
// such slices, or the node's shape is dynamic or empty.
func slicesOfOneNode(inputs []*gobackend.Node, reshaped bool) (*gobackend.Node, []*sliceNode, []shapes.Shape) {
	var src *gobackend.Node
	slices := make([]*sliceNode, len(inputs))
	sliceShapes := make([]shapes.Shape, len(inputs))
	for i, in := range inputs {
		if reshaped && in.OpType == compute.OpTypeReshape && len(in.Inputs) == 1 {
			in = in.Inputs[0]
		}
		s, ok := in.Data.(*sliceNode)
		if in.OpType != compute.OpTypeSlice || !ok || len(in.Inputs) != 1 || (src != nil && in.Inputs[0] != src) {
			return nil, nil, nil
		}
		src, slices[i], sliceShapes[i] = in.Inputs[0], s, in.Shape
	}
	if src == nil || src.Shape.IsDynamic() || src.Shape.Size() == 0 {
		return nil, nil, nil
	}
	return src, slices, sliceShapes
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
// Patch 4 ran it on the calling goroutine: splitting it between the
// backend's workers was measured slower in the project's training step and
// no faster in its forward pass (the batch lanes and the matrix products
// already keep the cores busy; the pool's workers outnumber the cores).
// Patch 7 splits it only between cores that are idle at the time
// (gobackend.Backend.ParallelFor), as at the stem of a one-image forward
// pass.
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
	// Patch 7: split by positions of the axes before the last two between
	// the cores that are idle now.
	positions, perPosition := sliceConcatPositions(node.Shape)
	backend.ParallelFor(positions, max(1, (sliceConcatMinChunk+perPosition-1)/perPosition), func(lo, hi int) {
		writeSliceConcat(out, in, node.Shape, core.RawShape, p, lo, hi, 0)
	})
	return output, nil
}

// sliceConcatMinChunk is the fewest output elements per core when patch 7
// splits a fused Concatenate between idle cores (a variable for the tests).
var sliceConcatMinChunk = 64 << 10

// sliceConcatPositions returns the number of positions of the axes before
// the last two of a fused Concatenate's output (writeSliceConcat's outer
// loop) and the elements written per position.
func sliceConcatPositions(outShape shapes.Shape) (positions, perPosition int) {
	rank := outShape.Rank()
	positions = 1
	for _, d := range outShape.Dimensions[:rank-2] {
		positions *= d
	}
	return positions, outShape.Dimensions[rank-2] * outShape.Dimensions[rank-1]
}

// writeSliceConcat writes the bytes out of a fused Concatenate of shape
// outShape from those of its core tensor in (shape coreShape), at the
// positions lo...hi-1 of the axes before the last two (in row-major order;
// sliceConcatPositions counts them); out[0] is where position outLo's
// bytes go (0 for the whole output; patch 17 writes a few positions into a
// scratch).
func writeSliceConcat(out, in []byte, outShape, coreShape shapes.Shape, p *sliceConcatNode, lo, hi, outLo int) {
	if lo >= hi {
		return
	}
	es := outShape.DType.Size()
	rank := outShape.Rank()
	row, last := rank-2, rank-1
	outDims, coreDims, coreStrides := outShape.Dimensions, coreShape.Dimensions, coreShape.Strides()
	// widths[i]: slice i's length on the last axis.
	widths := make([]int, len(p.slices))
	for i, s := range p.slices {
		widths[i] = (s.limits[last] - s.starts[last] + s.strides[last] - 1) / s.strides[last]
	}
	// idx: the current position on the axes before row; base[i]: slice i's
	// offset (in elements) in the core there, or -1 when it lies in the
	// padding.
	idx := make([]int, row)
	for a, rest := row-1, lo; a >= 0; a-- {
		idx[a], rest = rest%outDims[a], rest/outDims[a]
	}
	base := make([]int, len(p.slices))
	_, perPosition := sliceConcatPositions(outShape)
	// Patch 7: every slice one 4-byte element on the last axis, read
	// inside the core there (a single-channel image's im2col taps): each
	// slice's values along the row axis are written by one strided loop.
	scalar4 := es == 4
	for i, s := range p.slices {
		first := s.starts[last] - p.padLo[last]
		scalar4 = scalar4 && widths[i] == 1 && first >= 0 && first < coreDims[last]
	}
	dst := (lo - outLo) * perPosition * es
	for pos := lo; pos < hi; pos++ {
		for i, s := range p.slices {
			base[i] = paddedOffset(s, idx, p.padLo, coreDims, coreStrides)
		}
		if scalar4 {
			writeSliceConcatScalar4(out[dst:dst+perPosition*4], in, outDims[row], coreDims[row], coreStrides[row], p, base)
			dst += perPosition * 4
			goto next
		}
		for x := 0; x < outDims[row]; x++ {
			for i, s := range p.slices {
				n := widths[i] * es
				c := s.starts[row] + x*s.strides[row] - p.padLo[row]
				if base[i] < 0 || c < 0 || c >= coreDims[row] {
					clear(out[dst : dst+n])
					dst += n
					continue
				}
				off := base[i] + c*coreStrides[row]
				first := s.starts[last] - p.padLo[last]
				if s.strides[last] == 1 && first >= 0 && first+widths[i] <= coreDims[last] {
					src := (off + first) * es
					switch n {
					case 4: // e.g. one float32 (a single-channel tap): a load and a store, not a copy call
						binary.LittleEndian.PutUint32(out[dst:], binary.LittleEndian.Uint32(in[src:]))
					case 8:
						binary.LittleEndian.PutUint64(out[dst:], binary.LittleEndian.Uint64(in[src:]))
					default:
						copy(out[dst:dst+n], in[src:src+n])
					}
					dst += n
					continue
				}
				for j := 0; j < widths[i]; j++ {
					c := first + j*s.strides[last]
					if c < 0 || c >= coreDims[last] {
						clear(out[dst : dst+es])
					} else {
						src := (off + c) * es
						copy(out[dst:dst+es], in[src:src+es])
					}
					dst += es
				}
			}
		}
	next:
		nextPosition(idx, outDims) // the axes before row
	}
}

// paddedOffset returns the offset (in elements) in the core tensor of
// slice s's value at position idx of its first len(idx) axes, the others
// at 0, or -1 where that position lies in the zero padding (padLo before
// the core on each axis; the slice's starts on the padded grid).
func paddedOffset(s *sliceNode, idx, padLo, coreDims, coreStrides []int) int {
	off := 0
	for a := range idx {
		c := s.starts[a] + idx[a]*s.strides[a] - padLo[a]
		if c < 0 || c >= coreDims[a] {
			return -1
		}
		off += c * coreStrides[a]
	}
	return off
}

// nextPosition moves idx to the next position, in row-major order, of axes
// of the dimensions dims[:len(idx)], back to all zeros after the last.
func nextPosition(idx, dims []int) {
	for a := len(idx) - 1; a >= 0; a-- {
		idx[a]++
		if idx[a] < dims[a] {
			return
		}
		idx[a] = 0
	}
}

// writeSliceConcatScalar4 is writeSliceConcat's row of one position when
// every slice is one 4-byte element on the last axis inside the core: out
// holds xs groups of len(p.slices) elements; slice i's element of group x
// is the core's at base[i] + c*rowStride + (its last-axis start), c =
// start + x*stride - padLo on the row axis, or zero where base[i] < 0
// (padding before the row axis) or c falls outside [0, rowDim).
//
// Consecutive slices whose elements are consecutive in the core (the taps
// dx = 0, 1, ... of one row dy of a k×k kernel on a single-channel image)
// form a run: where every slice of a run is inside the core, its elements
// of group x are one copy of contiguous bytes. The groups are written in
// order, each run copied or, at the edges, element by element.
func writeSliceConcatScalar4(out, in []byte, xs, rowDim, rowStride int, p *sliceConcatNode, base []int) {
	rank := len(p.padLo)
	row, last := rank-2, rank-1
	n := len(p.slices)
	group := 4 * n
	// Slice i: its elements at x in [x0, x1) are inside the core, at byte
	// src + x*step (src may lie before the core: it is only used inside).
	type tap struct{ x0, x1, src, step int }
	taps := make([]tap, n)
	for i, s := range p.slices {
		start, step := s.starts[row]-p.padLo[row], s.strides[row]
		// The x with 0 <= start + x*step < rowDim: [x0, x1).
		x0, x1 := 0, xs
		if base[i] < 0 {
			x1 = 0
		} else {
			if start < 0 {
				x0 = min(xs, (-start+step-1)/step)
			}
			if lim := rowDim - start; lim <= 0 {
				x1 = 0
			} else {
				x1 = min(xs, (lim+step-1)/step)
			}
			x1 = max(x1, x0)
		}
		taps[i] = tap{x0, x1, 4 * (base[i] + start*rowStride + s.starts[last] - p.padLo[last]), 4 * step * rowStride}
	}
	// Runs [first, end) of slices with consecutive elements, and the x
	// where all of a run's slices are inside the core: [lo, hi).
	type run struct{ first, end, lo, hi int }
	var runs []run
	for i := 0; i < n; {
		r := run{first: i, end: i + 1, lo: taps[i].x0, hi: taps[i].x1}
		for r.end < n && base[r.end] >= 0 && base[i] >= 0 && taps[r.end].step == taps[i].step && taps[r.end].src == taps[r.end-1].src+4 {
			r.lo, r.hi = max(r.lo, taps[r.end].x0), min(r.hi, taps[r.end].x1)
			r.end++
		}
		runs = append(runs, r)
		i = r.end
	}
	for x := 0; x < xs; x++ {
		g := out[x*group : (x+1)*group]
		for _, r := range runs {
			if x >= r.lo && x < r.hi {
				src := taps[r.first].src + x*taps[r.first].step
				copy(g[4*r.first:4*r.end], in[src:src+4*(r.end-r.first)])
				continue
			}
			for i := r.first; i < r.end; i++ {
				t := taps[i]
				if x >= t.x0 && x < t.x1 {
					binary.LittleEndian.PutUint32(g[4*i:], binary.LittleEndian.Uint32(in[t.src+x*t.step:]))
				} else {
					binary.LittleEndian.PutUint32(g[4*i:], 0)
				}
			}
		}
	}
}

// SliceConcatRows is a float32 Concatenate fused by patch 4 read as a
// matrix [Positions*Rows, Cols]: its output, of shape [..., Rows, Cols],
// position by position of the axes before the last two (an im2col
// matrix: a position is a row of output pixels, a row the patch of one
// pixel), for an op that consumes it a few positions at a time without
// the matrix being written (patch 17: its product with a 16-column
// kernel).
//
// Where every slice has the same width on the last axis, read with unit
// stride inside the core (Width > 0), and the same step on the rows' axis
// (Step > 0), row x of a position is, slice by slice, Width values
// contiguous in the core at Offset(i, bases, x) (bases from Bases),
// wherever x lies in [XLo, XHi) and Bases found no slice in the padding:
// the op can read them where they lie.
type SliceConcatRows struct {
	Positions, Rows, Cols int
	// Width and Step: the slices' common width on the last axis (0 where
	// it differs or a slice reads outside the core there) and step on the
	// rows' axis (0 where it differs); XLo and XHi: the rows x where every
	// slice lies inside the core on the rows' axis.
	Width, Step, XLo, XHi int
	// RowStride: the core's stride (in values) on the rows' axis.
	RowStride           int
	rowStart            []int
	xLo, xHi            []int // per slice: the rows x inside the core on the rows' axis
	outShape, coreShape shapes.Shape
	p                   *sliceConcatNode
}

// SliceConcatRowsOf returns node's SliceConcatRows when node is a float32
// Concatenate fused by patch 4 (fuseSliceConcat) on a static core;
// otherwise nil.
func SliceConcatRowsOf(node *gobackend.Node) *SliceConcatRows {
	p, ok := node.Data.(*sliceConcatNode)
	if !ok || node.Shape.DType != dtypes.Float32 || len(node.Inputs) != 1 || node.Inputs[0].Shape.IsDynamic() {
		return nil
	}
	positions, perPosition := sliceConcatPositions(node.Shape)
	rank := node.Shape.Rank()
	cols := node.Shape.Dimensions[rank-1]
	if cols == 0 {
		return nil
	}
	core := node.Inputs[0].Shape
	row, last := rank-2, rank-1
	r := &SliceConcatRows{Positions: positions, Rows: perPosition / cols, Cols: cols, RowStride: core.Strides()[row],
		rowStart: make([]int, len(p.slices)), xLo: make([]int, len(p.slices)), xHi: make([]int, len(p.slices)),
		outShape: node.Shape, coreShape: core, p: p}
	r.XLo, r.XHi = 0, r.Rows
	for i, s := range p.slices {
		width := (s.limits[last] - s.starts[last] + s.strides[last] - 1) / s.strides[last]
		first := s.starts[last] - p.padLo[last]
		if i == 0 {
			r.Width, r.Step = width, s.strides[row]
		}
		if width != r.Width || s.strides[last] != 1 || first < 0 || first+width > core.Dimensions[last] {
			r.Width = 0
		}
		if s.strides[row] != r.Step {
			r.Step = 0
		}
		start, step := s.starts[row]-p.padLo[row], s.strides[row]
		r.rowStart[i] = start
		// The x with 0 <= start + x*step < the core's rows: [lo, hi).
		lo, hi := 0, r.Rows
		if start < 0 {
			lo = (-start + step - 1) / step
		}
		if lim := core.Dimensions[row] - start; lim <= 0 {
			hi = 0
		} else {
			hi = min(hi, (lim+step-1)/step)
		}
		r.xLo[i], r.xHi[i] = lo, hi
		r.XLo, r.XHi = max(r.XLo, lo), min(r.XHi, hi)
	}
	if r.XHi < r.XLo {
		r.XHi = r.XLo
	}
	return r
}

// Bases sets bases[i] (len(bases) >= the slices) to the offset in the core
// of slice i's values at position pos, rows' axis at 0 (Offset adds the
// row's), or to -1 where the slice lies in the padding there; it reports
// whether every slice lies inside the core.
func (r *SliceConcatRows) Bases(pos int, bases []int) bool {
	rank := r.outShape.Rank()
	row, last := rank-2, rank-1
	idx := make([]int, row)
	for a, rest := row-1, pos; a >= 0; a-- {
		idx[a], rest = rest%r.outShape.Dimensions[a], rest/r.outShape.Dimensions[a]
	}
	coreDims, coreStrides := r.coreShape.Dimensions, r.coreShape.Strides()
	inside := true
	for i, s := range r.p.slices {
		off := paddedOffset(s, idx, r.p.padLo, coreDims, coreStrides)
		if off < 0 {
			bases[i], inside = -1, false
			continue
		}
		bases[i] = off + s.starts[last] - r.p.padLo[last]
	}
	return inside
}

// Slices returns the number of slices the Concatenate concatenates.
func (r *SliceConcatRows) Slices() int { return len(r.rowStart) }

// DirectRows sets the position's bases (Bases) and returns the rows
// [d0, d1) of [x0, x1) that can be read where they lie (every slice inside
// the core: [XLo, XHi) where Bases finds none in the padding), or the
// empty range at x0.
func (r *SliceConcatRows) DirectRows(pos int, bases []int, x0, x1 int) (d0, d1 int) {
	if !r.Bases(pos, bases) {
		return x0, x0
	}
	d0, d1 = max(x0, r.XLo), min(x1, r.XHi)
	if d1 <= d0 {
		return x0, x0
	}
	return d0, d1
}

// Offset returns the offset in the core of slice i's Width values in row x
// (XLo <= x < XHi), given the position's bases.
func (r *SliceConcatRows) Offset(i int, bases []int, x int) int {
	return bases[i] + (r.rowStart[i]+x*r.Step)*r.RowStride
}

// WriteRow writes row x of a position into dst (Cols values) from core,
// given the position's bases, zeros where a slice's row lies in the
// padding; Width > 0 and Step > 0.
func (r *SliceConcatRows) WriteRow(dst, core []float32, bases []int, x int) {
	w := r.Width
	for i := range r.rowStart {
		d := dst[i*w : (i+1)*w]
		if bases[i] < 0 || x < r.xLo[i] || x >= r.xHi[i] {
			clear(d)
			continue
		}
		off := r.Offset(i, bases, x)
		copy(d, core[off:off+w])
	}
}

// Write writes positions lo...hi-1 of the matrix into dst (at least
// (hi-lo)*Rows*Cols values) from core, the fused Concatenate's input, as
// the Concatenate would write them, zero padding included.
func (r *SliceConcatRows) Write(dst, core []float32, lo, hi int) {
	if lo >= hi {
		return
	}
	n := (hi - lo) * r.Rows * r.Cols
	out := unsafe.Slice((*byte)(unsafe.Pointer(&dst[:n][0])), 4*n)
	in := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(core))), 4*len(core))
	writeSliceConcat(out, in, r.outShape, r.coreShape, r.p, lo, hi, lo)
}
