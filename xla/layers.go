package xla

import (
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// maxPool3x3s2 is PyTorch's MaxPool2d(kernel_size=3, stride=2, padding=1)
// on x [B, H, W, C].
//
// The fast path requires x >= 0 (it follows a ReLU in ResNet's stem), so
// padding with zeros is the same as PyTorch's padding with -inf. It takes
// the maximum of the 9 strided slices of the padded input; the gradient goes
// to every tap equal to the maximum. Exact ties between positive values do
// not occur in practice, and ties at zero do not matter: the ReLU before the
// pool zeroes the gradient of every input that is 0.
func (o ops) maxPool3x3s2(x *Node) *Node {
	if !o.fast {
		return MaxPool(x).Window(3).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	}
	c := convSpec{k: 3, stride: 2, pad: 1}
	dims := x.Shape().Dimensions
	b, h, w, ch := dims[0], dims[1], dims[2], dims[3]
	ho, wo := c.outSize(h), c.outSize(w)
	hp, wp := h+2, w+2
	var taps []*Node
	forward := func(s []*Node) *Node {
		xp := padSpatial(s[0], 1)
		taps = taps[:0]
		var out *Node
		for dy := 0; dy < 3; dy++ {
			for dx := 0; dx < 3; dx++ {
				t := Slice(xp, AxisRange(), AxisRange(dy, dy+2*(ho-1)+1).Stride(2),
					AxisRange(dx, dx+2*(wo-1)+1).Stride(2), AxisRange())
				taps = append(taps, t)
				if out == nil {
					out = t
				} else {
					out = Max(out, t)
				}
			}
		}
		return out
	}
	backward := func(_ []*Node, y, dY *Node) []*Node {
		zero := ScalarZero(dY.Graph(), dY.DType())
		zeros := ZerosLike(dY)
		var acc *Node
		i := 0
		for dy := 0; dy < 3; dy++ {
			for dx := 0; dx < 3; dx++ {
				t := Where(Equal(taps[i], y), dY, zeros)
				i++
				t = Pad(t, zero, compute.PadAxis{},
					compute.PadAxis{Start: dy, End: hp - (dy + 2*(ho-1) + 1), Interior: 1},
					compute.PadAxis{Start: dx, End: wp - (dx + 2*(wo-1) + 1), Interior: 1},
					compute.PadAxis{})
				if acc == nil {
					acc = t
				} else {
					acc = Add(acc, t)
				}
			}
		}
		return []*Node{Slice(acc, AxisRange(), AxisRange(1, 1+h), AxisRange(1, 1+w), AxisRange())}
	}
	_ = ch
	_ = b
	return o.customVJP([]*Node{x}, forward, backward)
}

// upsample2x is nearest-neighbour upsampling by 2 of x [B, H, W, C] (what
// F.interpolate(scale_factor=2, mode="nearest") does). The fast path builds
// it from two Concatenates (block copies) and sums the four copies' adjoints
// with ReduceSum in the backward pass.
func (o ops) upsample2x(x *Node) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	if !o.fast {
		y := BroadcastToDims(Reshape(x, b, h, 1, w, 1, c), b, h, 2, w, 2, c)
		return Reshape(y, b, 2*h, 2*w, c)
	}
	forward := func(s []*Node) *Node {
		a := Reshape(s[0], b*h*w, 1, c)
		a = Concatenate([]*Node{a, a}, 1) // [BHW, 2, C]
		r := Reshape(a, b*h, 1, 2*w*c)
		r = Concatenate([]*Node{r, r}, 1) // [BH, 2, 2WC]
		return Reshape(r, b, 2*h, 2*w, c)
	}
	backward := func(_ []*Node, _, dY *Node) []*Node {
		t := ReduceSum(Reshape(dY, b*h, 2, 2*w*c), 1)
		t = ReduceSum(Reshape(t, b*h*w, 2, c), 1)
		return []*Node{Reshape(t, b, h, w, c)}
	}
	return o.customVJP([]*Node{x}, forward, backward)
}
