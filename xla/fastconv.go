package xla

import (
	"fmt"

	"github.com/gomlx/compute"
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
// side. It has no gradient: callers use it on stop-gradient values only.
func padSpatial(x *Node, p int) *Node {
	if p == 0 {
		return x
	}
	zero := ScalarZero(x.Graph(), x.DType())
	return Pad(x, zero, compute.PadAxis{}, compute.PadAxis{Start: p, End: p},
		compute.PadAxis{Start: p, End: p}, compute.PadAxis{})
}

// im2col returns the patches of x [B, H, W, C] as a [B*Ho*Wo, k*k*C] matrix
// whose columns are ordered (dy, dx, c): the row layout of a kernel
// [k, k, C, Cout] reshaped to [k*k*C, Cout], so one MatMul with no transpose
// gives the NHWC output. The k*k strided slices are concatenated on the
// channel axis, which the Go backend copies as contiguous blocks of C values.
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

// im2colConv is the convolution of x [B, H, W, Cin] with kernel
// w [k, k, Cin, Cout] (no bias) for the Go backend: im2col and one MatMul in
// the forward pass, and a hand-written backward pass:
//
//   - dW = (dY^T P)^T, transposing only dY (Cout columns), not the patches
//     P (k*k*Cin columns);
//   - dX = sum over the k*k taps of dY W_t^T, each placed on the padded input
//     grid with Pad (interior padding for strides) and the padding cropped.
//
// With recompute the patches are rebuilt in the backward pass (after dY is
// ready) instead of being kept from the forward pass: this trades one more
// im2col per layer for not holding every layer's patches (k*k times its
// input) until the backward pass reaches it.
func (o ops) im2colConv(x, w *Node, c convSpec) *Node {
	xd, wd := x.Shape().Dimensions, w.Shape().Dimensions
	b, h, wi, cin := xd[0], xd[1], xd[2], xd[3]
	if wd[0] != c.k || wd[1] != c.k || wd[2] != cin {
		panic(fmt.Sprintf("xla: kernel shape %v does not match k=%d and input channels %d", wd, c.k, cin))
	}
	cout := wd[3]
	ho, wo := c.outSize(h), c.outSize(wi)
	n := b * ho * wo
	var patches *Node
	forward := func(s []*Node) *Node {
		patches = im2col(s[0], c)
		y := o.matMul(patches, Reshape(s[1], c.k*c.k*cin, cout))
		return Reshape(y, b, ho, wo, cout)
	}
	backward := func(in []*Node, _, dY *Node) []*Node {
		x, w := in[0], in[1]
		dYm := Reshape(dY, n, cout)
		p := patches
		if o.recompute {
			p = im2col(SchedulingBarrier(x, dY), c)
		}
		dWt := o.matMul(o.transposeMat(dYm), p) // [Cout, k*k*Cin]
		dW := Reshape(Transpose(dWt, 0, 1), c.k, c.k, cin, cout)
		var dX *Node
		if !c.noInputGrad {
			dX = o.convInputGrad(dYm, w, c, b, h, wi)
		}
		return []*Node{dX, dW}
	}
	return o.customVJP([]*Node{x, w}, forward, backward)
}

// convInputGrad is the gradient of a convolution with respect to its input
// [B, H, W, Cin], given dYm [B*Ho*Wo, Cout] and the kernel w [k, k, Cin, Cout].
func (o ops) convInputGrad(dYm, w *Node, c convSpec, b, h, wi int) *Node {
	wd := w.Shape().Dimensions
	cin, cout := wd[2], wd[3]
	ho, wo := c.outSize(h), c.outSize(wi)
	if c.k == 1 && c.pad == 0 && c.stride == 1 {
		t := o.dot(dYm, []int{1}, Reshape(w, cin, cout), []int{1})
		return Reshape(t, b, h, wi, cin)
	}
	hp, wp := h+2*c.pad, wi+2*c.pad
	zero := ScalarZero(dYm.Graph(), dYm.DType())
	var acc *Node
	for dy := 0; dy < c.k; dy++ {
		for dx := 0; dx < c.k; dx++ {
			wt := Reshape(Slice(w, AxisElem(dy), AxisElem(dx)), cin, cout)
			t := o.dot(dYm, []int{1}, wt, []int{1}) // [N, Cin]
			t = Reshape(t, b, ho, wo, cin)
			t = Pad(t, zero, compute.PadAxis{},
				compute.PadAxis{Start: dy, End: hp - (dy + c.stride*(ho-1) + 1), Interior: c.stride - 1},
				compute.PadAxis{Start: dx, End: wp - (dx + c.stride*(wo-1) + 1), Interior: c.stride - 1},
				compute.PadAxis{})
			if acc == nil {
				acc = t
			} else {
				acc = Add(acc, t)
			}
		}
	}
	if c.pad > 0 {
		acc = Slice(acc, AxisRange(), AxisRange(c.pad, c.pad+h), AxisRange(c.pad, c.pad+wi), AxisRange())
	}
	return acc
}

// nativeConv is the convolution through the backend's own ConvGeneral (cuDNN
// on a GPU), with GoMLX's gradient.
func nativeConv(x, w *Node, c convSpec) *Node {
	conv := Convolve(x, w).Strides(c.stride)
	if c.pad > 0 {
		conv = conv.PaddingPerDim([][2]int{{c.pad, c.pad}, {c.pad, c.pad}})
	}
	return conv.Done()
}

// outputSideConv is the stride-1 convolution of x [B, H, W, Cin] with
// w [k, k, Cin, Cout] computed on the output side, for layers with fewer
// output than input channels (the U-Net decoder's first convolutions):
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
	return o.decoderConv(x, nil, false, w, c)
}

// decoderConv is outputSideConv on the channel concatenation of first
// (nearest-upsampled by 2 when upsample is set) and skip (nil for none):
// the first convolution of a U-Net decoder block. The upsampled and
// concatenated input is rebuilt in the backward pass rather than kept, and
// the input gradient is computed per part (one MatMul each), so no
// concatenation-sized tensor is held between the passes.
func (o ops) decoderConv(first, skip *Node, upsample bool, w *Node, c convSpec) *Node {
	fd, wd := first.Shape().Dimensions, w.Shape().Dimensions
	b, h, wi, c1 := fd[0], fd[1], fd[2], fd[3]
	if upsample {
		h, wi = 2*h, 2*wi
	}
	c2 := 0
	if skip != nil {
		c2 = skip.Shape().Dimensions[3]
	}
	cin, cout := c1+c2, wd[3]
	if wd[2] != cin {
		panic(fmt.Sprintf("xla: kernel shape %v does not match %d input channels", wd, cin))
	}
	if c.stride != 1 || 2*c.pad != c.k-1 {
		panic(fmt.Sprintf("xla: outputSideConv needs stride 1 and 'same' padding, got %+v", c))
	}
	hp, wp := h+2*c.pad, wi+2*c.pad
	np := b * hp * wp
	kk := c.k * c.k
	wAll := func(w *Node) *Node { return Reshape(TransposeAllAxes(w, 2, 0, 1, 3), cin, kk*cout) }
	inputs := []*Node{first}
	if skip != nil {
		inputs = append(inputs, skip)
	}
	inputs = append(inputs, w)
	// paddedInput assembles pad(concat(upsample(first), skip)) as [Np, Cin].
	paddedInput := func(parts []*Node) *Node {
		x := parts[0]
		if upsample {
			x = upsample2xBlocks(x)
		}
		if skip != nil {
			x = Concatenate([]*Node{x, parts[1]}, -1)
		}
		return Reshape(padSpatial(x, c.pad), np, cin)
	}
	forward := func(s []*Node) *Node {
		z := Reshape(o.matMul(paddedInput(s), wAll(s[len(s)-1])), b, hp, wp, kk*cout)
		var y *Node
		t := 0
		for dy := 0; dy < c.k; dy++ {
			for dx := 0; dx < c.k; dx++ {
				tap := Slice(z, AxisRange(), AxisRange(dy, dy+h), AxisRange(dx, dx+wi), AxisRange(t*cout, (t+1)*cout))
				t++
				if y == nil {
					y = tap
				} else {
					y = Add(y, tap)
				}
			}
		}
		return y
	}
	backward := func(in []*Node, _, dY *Node) []*Node {
		w := in[len(in)-1]
		zero := ScalarZero(dY.Graph(), dY.DType())
		taps := make([]*Node, 0, kk)
		for dy := 0; dy < c.k; dy++ {
			for dx := 0; dx < c.k; dx++ {
				taps = append(taps, Pad(dY, zero, compute.PadAxis{},
					compute.PadAxis{Start: dy, End: hp - h - dy},
					compute.PadAxis{Start: dx, End: wp - wi - dx}, compute.PadAxis{}))
			}
		}
		dZ := Reshape(Concatenate(taps, -1), np, kk*cout)
		wa := wAll(w)
		grads := make([]*Node, len(in))
		dFirst := o.cropGrad(o.dot(dZ, []int{1}, rowsOf(wa, 0, c1, cin), []int{1}), b, hp, wp, h, wi, c1, c.pad)
		if upsample {
			dFirst = upsample2xGrad(dFirst, b, h/2, wi/2, c1)
		}
		grads[0] = dFirst
		if skip != nil {
			grads[1] = o.cropGrad(o.dot(dZ, []int{1}, rowsOf(wa, c1, cin, cin), []int{1}), b, hp, wp, h, wi, c2, c.pad)
		}
		parts := make([]*Node, len(in)-1)
		for i := range parts {
			parts[i] = SchedulingBarrier(in[i], dY)
		}
		dWall := o.matMul(o.transposeMat(paddedInput(parts)), dZ) // [Cin, k*k*Cout]
		grads[len(in)-1] = TransposeAllAxes(Reshape(dWall, cin, c.k, c.k, cout), 1, 2, 0, 3)
		return grads
	}
	return o.customVJP(inputs, forward, backward)
}

// rowsOf returns rows [from, to) of m (all n rows when that is everything).
func rowsOf(m *Node, from, to, n int) *Node {
	if from == 0 && to == n {
		return m
	}
	return Slice(m, AxisRange(from, to))
}

// cropGrad reshapes an input gradient computed on the padded grid,
// [B*Hp*Wp, C], and crops the padding, giving [B, H, W, C].
func (o ops) cropGrad(dp *Node, b, hp, wp, h, w, c, pad int) *Node {
	d := Reshape(dp, b, hp, wp, c)
	return Slice(d, AxisRange(), AxisRange(pad, pad+h), AxisRange(pad, pad+w), AxisRange())
}
