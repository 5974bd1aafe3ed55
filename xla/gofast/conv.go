package gofast

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// convSpec describes a 2D convolution with a square k x k kernel, the same
// stride on both axes and a symmetric zero padding.
type convSpec struct {
	k, stride, pad int
	// noInputGrad marks a convolution whose input needs no gradient (the
	// first layer, on the images), so the backward pass skips it.
	noInputGrad bool
}

// outSize is the output length of an axis of length n.
func (c convSpec) outSize(n int) int { return (n+2*c.pad-c.k)/c.stride + 1 }

// padSpatial zero-pads the two spatial axes of x [B, H, W, C] by p on each
// side (see shiftPad).
func padSpatial(x *Node, p int) *Node {
	return shiftPad(x, p, p, p, p)
}

// shiftPad zero-pads x [B, H, W, C] with top and bottom rows and left and
// right columns. It is Pad without interior padding, built from
// Concatenates with blocks of zeros: the Go backend's Pad first zero-fills
// its whole output, then copies the input one pixel (C values) at a time,
// while a Concatenate on the width (height) axis copies whole rows (whole
// images) at once; about half the time of Pad.
func shiftPad(x *Node, top, bottom, left, right int) *Node {
	return shiftPadWith(x, nil, top, bottom, left, right)
}

// shiftPadWith is shiftPad with the padding value fill (a scalar node; nil
// for zero).
func shiftPadWith(x, fill *Node, top, bottom, left, right int) *Node {
	return padAxisWith(padAxisWith(x, fill, 2, left, right), fill, 1, top, bottom)
}

// zeroPadAxis zero-pads x with lo and hi zeros before and after it on
// axis, as shiftPad does.
func zeroPadAxis(x *Node, axis, lo, hi int) *Node {
	return padAxisWith(x, nil, axis, lo, hi)
}

// padAxisWith pads x with lo and hi values fill (a scalar node; nil for
// zero) before and after it on axis, as one Concatenate with blocks of
// them; x itself where both are 0.
func padAxisWith(x, fill *Node, axis, lo, hi int) *Node {
	if lo == 0 && hi == 0 {
		return x
	}
	block := func(n int) *Node {
		dims := append([]int{}, x.Shape().Dimensions...)
		dims[axis] = n
		if fill == nil {
			return Zeros(x.Graph(), shapes.Make(x.DType(), dims...))
		}
		return BroadcastToDims(fill, dims...)
	}
	parts := make([]*Node, 0, 3)
	if lo > 0 {
		parts = append(parts, block(lo))
	}
	parts = append(parts, x)
	if hi > 0 {
		parts = append(parts, block(hi))
	}
	return Concatenate(parts, axis)
}

// im2col returns the patches of x [B, H, W, C] as a [B*Ho*Wo, k*k*C] matrix
// whose columns are ordered (dy, dx, c): the row layout of a kernel
// [k, k, C, Cout] reshaped to [k*k*C, Cout], so one MatMul with no transpose
// gives the NHWC output. The k*k strided slices are concatenated on the
// channel axis; the Go backend builds the matrix in one pass from x, zero
// borders included (patch 4 of third_party/gomlx-compute).
func im2col(x *Node, c convSpec) *Node {
	dims := x.Shape().Dimensions
	b, h, w, ch := dims[0], dims[1], dims[2], dims[3]
	ho, wo := c.outSize(h), c.outSize(w)
	if c.k == 1 && c.pad == 0 {
		if c.stride > 1 {
			x = Slice(x, AxisRange(), AxisRange(0, c.stride*(ho-1)+1).Stride(c.stride),
				AxisRange(0, c.stride*(wo-1)+1).Stride(c.stride), AxisRange())
		}
		return Reshape(x, b*ho*wo, ch)
	}
	xp := padSpatial(x, c.pad)
	taps := make([]*Node, 0, c.k*c.k)
	for dy := 0; dy < c.k; dy++ {
		for dx := 0; dx < c.k; dx++ {
			taps = append(taps, Slice(xp, AxisRange(),
				AxisRange(dy, dy+c.stride*(ho-1)+1).Stride(c.stride),
				AxisRange(dx, dx+c.stride*(wo-1)+1).Stride(c.stride),
				AxisRange()))
		}
	}
	return Reshape(Concatenate(taps, -1), b*ho*wo, c.k*c.k*ch)
}

// laneGeometry is the batch size and spatial size of one lane's input.
type laneGeometry struct{ b, h, w int }

// geometries returns the [B, H, W, C] geometry of each lane of xs.
func geometries(xs []*Node) []laneGeometry {
	geo := make([]laneGeometry, len(xs))
	for l, x := range xs {
		d := x.Shape().Dimensions
		geo[l] = laneGeometry{b: d[0], h: d[1], w: d[2]}
	}
	return geo
}

// addOrSet returns sum + t, or t when sum is nil.
func addOrSet(sum, t *Node) *Node {
	if sum == nil {
		return t
	}
	return Add(sum, t)
}

// im2colConv is the convolution of every lane x [B_l, H, W, Cin] of xs with
// the kernel w [k, k, Cin, Cout] (no bias) for the Go backend: im2col and
// one MatMul per lane in the forward pass, and a hand-written backward
// pass:
//
//   - dW = (sum over lanes of dY^T P)^T, transposing only dY (Cout columns),
//     not the patches P (k*k*Cin columns), and the sum once;
//   - dX = sum over the k*k taps of dY W_t^T, each placed on the padded input
//     grid with Pad (interior padding for strides) and the padding cropped.
//
// With recompute the patches are rebuilt in the backward pass (after dY is
// ready) instead of being kept from the forward pass: this trades one more
// im2col per layer for not holding every layer's patches (k*k times its
// input) until the backward pass reaches it.
func (o ops) im2colConv(xs []*Node, w *Node, c convSpec) []*Node {
	nl := len(xs)
	wd := w.Shape().Dimensions
	cin, cout := wd[2], wd[3]
	if wd[0] != c.k || wd[1] != c.k || xs[0].Shape().Dimensions[3] != cin {
		panic(fmt.Sprintf("gofast: kernel shape %v does not match k=%d and input channels %d", wd, c.k, xs[0].Shape().Dimensions[3]))
	}
	geo := geometries(xs)
	// direct16: the patches rebuilt in the backward pass, so that the
	// forward product (used once) is fused by the backend; the input
	// gradient is the same kind of product, of dY's patches with the
	// kernel flipped.
	direct16 := direct16Applies(xs[0].Shape().Dimensions, wd, c)
	patches := make([]*Node, nl)
	forward := func(s []*Node) []*Node {
		wm := Reshape(s[nl], c.k*c.k*cin, cout)
		ys := make([]*Node, nl)
		for l, g := range geo {
			patches[l] = im2col(s[l], c)
			y := o.inLane(l).matMul(patches[l], wm)
			ys[l] = Reshape(y, g.b, c.outSize(g.h), c.outSize(g.w), cout)
		}
		return ys
	}
	backward := func(in, _, dYs []*Node) []*Node {
		w := in[nl]
		grads := make([]*Node, nl+1)
		var dWt *Node // [Cout, k*k*Cin]
		var taps []*Node
		var flipped *Node // [k*k*Cout, Cin]: w[k-1-dy, k-1-dx, ci, co] at row (dy, dx, co)
		if direct16 && !c.noInputGrad {
			flipped = Reshape(TransposeAllDims(Reverse(w, 0, 1), 0, 1, 3, 2), c.k*c.k*cout, cin)
		} else if !c.noInputGrad {
			for _, g := range geo {
				if !mergeTapProducts(g.b*c.outSize(g.h)*c.outSize(g.w), cin, cout) {
					taps = kernelTaps(w, c)
					break
				}
			}
		}
		for l, g := range geo {
			ol := o.inLane(l)
			dYm := Reshape(dYs[l], g.b*c.outSize(g.h)*c.outSize(g.w), cout)
			p := patches[l]
			if o.recompute || direct16 {
				p = im2col(SchedulingBarrier(in[l], dYs[l]), c)
			}
			dWt = addOrSet(dWt, ol.matMul(ol.transposeMat(dYm), p))
			if flipped != nil {
				grads[l] = Reshape(ol.matMul(im2col(dYs[l], c), flipped), g.b, g.h, g.w, cin)
			} else if !c.noInputGrad {
				grads[l] = ol.convInputGrad(dYm, w, taps, c, g.b, g.h, g.w)
			}
		}
		grads[nl] = Reshape(Transpose(dWt, 0, 1), c.k, c.k, cin, cout)
		return grads
	}
	return o.customVJPMulti(append(append([]*Node{}, xs...), w), forward, backward)
}

// backendLargeProductMACs is the Go backend's threshold (multiply-adds)
// between its small-matrix loop and its large kernels (the packed kernel,
// patch 17's): mergeTapsMinSize's default, and the smallest product
// (rows x 9*16 x 16) of a direct 16-channel convolution (direct16Applies),
// above which patch 17 fuses the im2col matrix into the product.
const backendLargeProductMACs = 4 << 20

// direct16Applies reports whether a convolution of one lane's input x [B,
// H, W, Cin] by w [k, k, Cin, Cout] with spec c is computed by im2col with
// the patches never written (patch 17 of third_party/gomlx-compute: the
// backend multiplies an im2col matrix by a 16-column kernel a row of
// output pixels at a time from the image) rather than by Winograd: a
// stride-1 'same' 3x3 convolution from 16 to 16 channels (the U-Net's
// full-resolution decoder layer), large enough, where the backend fuses
// (n16Fused). Its input gradient is such a product too. Winograd's
// transforms of 16-channel tiles cost more than the products they save
// there (BenchmarkWinogradConv, block4_128px_16).
func direct16Applies(x, w []int, c convSpec) bool {
	return n16Fused() && c.k == 3 && c.stride == 1 && c.pad == 1 && w[0] == 3 && w[1] == 3 && w[2] == 16 && w[3] == 16 &&
		x[0]*x[1]*x[2]*9*16*16 >= backendLargeProductMACs
}

// kernelTaps returns the k*k taps w[dy, dx] of a kernel w [k, k, Cin, Cout]
// as [Cin, Cout] matrices, in (dy, dx) order.
func kernelTaps(w *Node, c convSpec) []*Node {
	wd := w.Shape().Dimensions
	taps := make([]*Node, 0, c.k*c.k)
	for dy := 0; dy < c.k; dy++ {
		for dx := 0; dx < c.k; dx++ {
			taps = append(taps, Reshape(Slice(w, AxisElem(dy), AxisElem(dx)), wd[2], wd[3]))
		}
	}
	return taps
}

// mergeTapsMinSize is the smallest product of one tap (rows x Cin x Cout)
// for which convInputGrad computes all the taps' products as one: the Go
// backend's threshold between its small-matrix loop and its packed matrix
// kernel (backendLargeProductMACs), so that each tap's values are still
// computed by the packed kernel, which sums every output value over Cout
// in the same order whatever the number of columns: the merged product's
// columns are bit for bit the separate products. Below it nothing is
// merged (the small loop sums in another order, and gains little). A
// variable for the tests.
var mergeTapsMinSize = backendLargeProductMACs

// mergeTapProducts reports whether convInputGrad computes the k*k taps'
// products of a lane with rows output pixels as one product.
func mergeTapProducts(rows, cin, cout int) bool {
	return rows*cin*cout >= mergeTapsMinSize
}

// tapProducts returns dYm [N, Cout] times each tap of w [k, k, Cin, Cout]
// transposed, [N, Cin] each, in (dy, dx) order: with mergeTapProducts one
// product dYm x Reshape(w, k*k*Cin, Cout)^T, [N, k*k*Cin], sliced by taps
// (one large product instead of k*k narrow ones, each of which packed its
// tap's transposed kernel again), else one product per tap of taps.
func (o ops) tapProducts(dYm, w *Node, taps []*Node, c convSpec) []*Node {
	wd := w.Shape().Dimensions
	cin, cout := wd[2], wd[3]
	n := dYm.Shape().Dimensions[0]
	out := make([]*Node, c.k*c.k)
	if !mergeTapProducts(n, cin, cout) {
		for i, wt := range taps {
			out[i] = o.dot(dYm, []int{1}, wt, []int{1})
		}
		return out
	}
	all := o.dot(dYm, []int{1}, Reshape(w, c.k*c.k*cin, cout), []int{1})
	for i := range out {
		out[i] = Slice(all, AxisRange(), AxisRange(i*cin, (i+1)*cin))
	}
	return out
}

// convInputGrad is the gradient of a convolution with respect to its input
// [B, H, W, Cin], given dYm [B*Ho*Wo, Cout], the kernel w [k, k, Cin, Cout]
// and its taps (see kernelTaps; nil where tapProducts merges them).
func (o ops) convInputGrad(dYm, w *Node, taps []*Node, c convSpec, b, h, wi int) *Node {
	wd := w.Shape().Dimensions
	cin, cout := wd[2], wd[3]
	ho, wo := c.outSize(h), c.outSize(wi)
	if c.k == 1 && c.pad == 0 && c.stride == 1 {
		t := o.dot(dYm, []int{1}, Reshape(w, cin, cout), []int{1})
		return Reshape(t, b, h, wi, cin)
	}
	hp, wp := h+2*c.pad, wi+2*c.pad
	products := o.tapProducts(dYm, w, taps, c)
	var acc *Node
	if c.stride == 1 {
		// Each tap's product lands at (dy, dx) on the padded grid: the taps
		// of one column dx are shifted by rows and summed, then each
		// column's sum is shifted by columns (fewer, larger copies).
		for dx := 0; dx < c.k; dx++ {
			var col *Node
			for dy := 0; dy < c.k; dy++ {
				t := Reshape(products[dy*c.k+dx], b, ho, wo, cin)
				col = addOrSet(col, shiftPad(t, dy, hp-ho-dy, 0, 0))
			}
			acc = addOrSet(acc, shiftPad(col, 0, 0, dx, wp-wo-dx))
		}
	} else {
		zero := ScalarZero(dYm.Graph(), dYm.DType())
		for i, t := range products {
			dy, dx := i/c.k, i%c.k
			t = Reshape(t, b, ho, wo, cin) // [N, Cin] before
			t = Pad(t, zero, compute.PadAxis{},
				compute.PadAxis{Start: dy, End: hp - (dy + c.stride*(ho-1) + 1), Interior: c.stride - 1},
				compute.PadAxis{Start: dx, End: wp - (dx + c.stride*(wo-1) + 1), Interior: c.stride - 1},
				compute.PadAxis{})
			acc = addOrSet(acc, t)
		}
	}
	if c.pad > 0 {
		acc = Slice(acc, AxisRange(), AxisRange(c.pad, c.pad+h), AxisRange(c.pad, c.pad+wi), AxisRange())
	}
	return acc
}

// outputSideConv is the stride-1 convolution of x [B, H, W, Cin] with
// w [k, k, Cin, Cout] computed on the output side, for layers with fewer
// output than input channels (the U-Net decoder's convolutions of the skip
// connections):
//
//	Z = pad(x) W_all,  W_all = w as [Cin, k*k*Cout]   (one MatMul)
//	y = sum over taps t = (dy, dx) of Z[dy:dy+H, dx:dx+W, t]   (k*k slices)
//
// It moves k*k*Cout values per pixel where im2col moves k*k*Cin, and keeps
// no patches for the backward pass, which is
//
//	dZ_t = dY placed at (dy, dx) on the padded grid (Pad), concatenated
//	dX   = crop(dZ W_all^T),   dW_all = pad(x)^T dZ.
func (o ops) outputSideConv(x, w *Node, c convSpec) *Node {
	return o.outputSideConvLanes([]*Node{x}, w, c)[0]
}

// outputSideConvLanes is outputSideConv on every lane of xs; the weight
// gradient is summed over the lanes before its one transposition.
func (o ops) outputSideConvLanes(xs []*Node, w *Node, c convSpec) []*Node {
	nl := len(xs)
	wd := w.Shape().Dimensions
	cin, cout := wd[2], wd[3]
	if xs[0].Shape().Dimensions[3] != cin {
		panic(fmt.Sprintf("gofast: kernel shape %v does not match %d input channels", wd, xs[0].Shape().Dimensions[3]))
	}
	if c.stride != 1 || 2*c.pad != c.k-1 {
		panic(fmt.Sprintf("gofast: outputSideConv needs stride 1 and 'same' padding, got %+v", c))
	}
	geo := geometries(xs)
	kk := c.k * c.k
	wAll := func(w *Node) *Node { return Reshape(TransposeAllAxes(w, 2, 0, 1, 3), cin, kk*cout) }
	padded := func(x *Node, g laneGeometry) *Node {
		return Reshape(padSpatial(x, c.pad), g.b*(g.h+2*c.pad)*(g.w+2*c.pad), cin)
	}
	forward := func(s []*Node) []*Node {
		wa := wAll(s[nl])
		ys := make([]*Node, nl)
		for l, g := range geo {
			hp, wp := g.h+2*c.pad, g.w+2*c.pad
			z := Reshape(o.inLane(l).matMul(padded(s[l], g), wa), g.b, hp, wp, kk*cout)
			var y *Node
			for t := 0; t < kk; t++ {
				dy, dx := t/c.k, t%c.k
				y = addOrSet(y, Slice(z, AxisRange(), AxisRange(dy, dy+g.h), AxisRange(dx, dx+g.w), AxisRange(t*cout, (t+1)*cout)))
			}
			ys[l] = y
		}
		return ys
	}
	backward := func(in, _, dYs []*Node) []*Node {
		w := in[nl]
		wa := wAll(w)
		grads := make([]*Node, nl+1)
		var dWall *Node // [Cin, k*k*Cout]
		for l, g := range geo {
			ol := o.inLane(l)
			dY := dYs[l]
			hp, wp := g.h+2*c.pad, g.w+2*c.pad
			// Tap (dy, dx) of dZ is dY placed at (dy, dx) on the padded
			// grid: a window of dY zero-padded by k-1 on every side. As
			// slices of one padded tensor concatenated on the last axis,
			// the Go backend builds dZ in one pass (patch 4 of
			// third_party/gomlx-compute).
			far := shiftPad(dY, c.k-1, c.k-1, c.k-1, c.k-1)
			taps := make([]*Node, kk)
			for dy := 0; dy < c.k; dy++ {
				for dx := 0; dx < c.k; dx++ {
					taps[dy*c.k+dx] = Slice(far, AxisRange(), AxisRange(c.k-1-dy, c.k-1-dy+hp),
						AxisRange(c.k-1-dx, c.k-1-dx+wp), AxisRange())
				}
			}
			dZ := Reshape(Concatenate(taps, -1), g.b*hp*wp, kk*cout)
			grads[l] = ol.cropGrad(ol.dot(dZ, []int{1}, wa, []int{1}), g.b, hp, wp, g.h, g.w, cin, c.pad)
			x := SchedulingBarrier(in[l], dY)
			dWall = addOrSet(dWall, ol.matMul(ol.transposeMat(padded(x, g)), dZ))
		}
		grads[nl] = TransposeAllAxes(Reshape(dWall, cin, c.k, c.k, cout), 1, 2, 0, 3)
		return grads
	}
	return o.customVJPMulti(append(append([]*Node{}, xs...), w), forward, backward)
}

// cropGrad reshapes an input gradient computed on the padded grid,
// [B*Hp*Wp, C], and crops the padding, giving [B, H, W, C].
func (o ops) cropGrad(dp *Node, b, hp, wp, h, w, c, pad int) *Node {
	d := Reshape(dp, b, hp, wp, c)
	return Slice(d, AxisRange(), AxisRange(pad, pad+h), AxisRange(pad, pad+w), AxisRange())
}
