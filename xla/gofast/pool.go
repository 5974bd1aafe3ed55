package gofast

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// maxPool3x3s2 is PyTorch's MaxPool2d(kernel_size=3, stride=2, padding=1)
// on x [B, H, W, C], for any real x: it pads with -Inf (Concatenates of
// constant blocks, see shiftPadWith) and takes the maximum of the 9 strided
// slices of the padded input. The gradient goes to every tap equal to the
// maximum (nn's contract 3): exact ties between distinct inputs are rare
// for real-valued activations, and after a ReLU they are at zero, where the
// ReLU zeroes the gradient anyway.
func (o ops) maxPool3x3s2(x *Node) *Node {
	dims := x.Shape().Dimensions
	h, w := dims[1], dims[2]
	ho, wo := (h-1)/2+1, (w-1)/2+1
	// taps returns the 9 strided windows of the zero-padded x.
	taps := func(x *Node) []*Node {
		ninf := Infinity(x.Graph(), x.DType(), -1)
		xp := shiftPadWith(x, ninf, 1, 1, 1, 1)
		out := make([]*Node, 0, 9)
		for dy := 0; dy < 3; dy++ {
			for dx := 0; dx < 3; dx++ {
				out = append(out, Slice(xp, AxisRange(), AxisRange(dy, dy+2*(ho-1)+1).Stride(2),
					AxisRange(dx, dx+2*(wo-1)+1).Stride(2), AxisRange()))
			}
		}
		return out
	}
	forward := func(s []*Node) *Node {
		var out *Node
		for _, t := range taps(s[0]) {
			if out == nil {
				out = t
			} else {
				out = Max(out, t)
			}
		}
		return out
	}
	// The backward pass rebuilds the taps from x (kept anyway: it is the
	// decoder's first skip) instead of holding 9 pooled-size tensors, and
	// scatters the taps' gradients by parity class of the padded grid (see
	// maxPoolScatter) rather than onto the full grid one tap at a time.
	backward := func(in []*Node, y, dY *Node) []*Node {
		zeros := ZerosLike(dY)
		g := make([]*Node, 0, 9)
		for _, t := range taps(SchedulingBarrier(in[0], dY)) {
			g = append(g, Where(Equal(t, y), dY, zeros))
		}
		full := maxPoolScatter(g, ho, wo)
		return []*Node{Slice(full, AxisRange(), AxisRange(1, 1+h), AxisRange(1, 1+w), AxisRange())}
	}
	return o.customVJP([]*Node{x}, forward, backward)
}

// maxPoolScatter sums the gradients g[t] [B, Ho, Wo, C] of the 9 taps
// t = (dy, dx) of a 3x3 stride-2 window onto the padded input grid: the
// window (i, j) covers the padded rows 2i+dy and columns 2j+dx. It returns
// [B, 2(Ho+1), 2(Wo+1), C], at least the padded grid.
//
// An odd padded row 2i+1 is row dy = 1 of window i alone; an even row 2i
// is row dy = 0 of window i and row dy = 2 of window i-1; likewise for
// columns. So each of the 4 parity classes of the grid is a sum of taps'
// gradients shifted by at most one window, built at pooled size with
// shiftPad and Add, and the classes are interleaved with two Concatenates (block
// copies): about 5 full-grid passes instead of 2 per tap.
func maxPoolScatter(g []*Node, ho, wo int) *Node {
	// shift is the zero padding (before, after) that places a tap's
	// gradient at window offset 0 (dy < 2) or 1 (dy = 2) along an axis of
	// length ho+1 (wo+1).
	shift := func(d int) (int, int) {
		if d == 2 {
			return 1, 0
		}
		return 0, 1
	}
	// class sums the taps whose rows have parity pr (0 even: dy 0 and 2;
	// 1 odd: dy 1) and whose columns have parity pc.
	class := func(pr, pc int) *Node {
		var sum *Node
		for t, gt := range g {
			dy, dx := t/3, t%3
			if dy%2 != pr || dx%2 != pc {
				continue
			}
			top, bottom := shift(dy)
			left, right := shift(dx)
			sum = addOrSet(sum, shiftPad(gt, top, bottom, left, right))
		}
		return sum
	}
	d := g[0].Shape().Dimensions
	b, c := d[0], d[3]
	// rows returns the rows of parity pr: [B, Ho+1, 2(Wo+1), C], even and
	// odd columns interleaved.
	rows := func(pr int) *Node {
		return Reshape(Concatenate([]*Node{class(pr, 0), class(pr, 1)}, 3), b, ho+1, 2*(wo+1), c)
	}
	return Reshape(Concatenate([]*Node{rows(0), rows(1)}, 2), b, 2*(ho+1), 2*(wo+1), c)
}

// upsample2x is nearest-neighbour upsampling by 2 of x [B, H, W, C] (what
// F.interpolate(scale_factor=2, mode="nearest") does), built from two
// Concatenates (block copies); the backward pass sums the four copies'
// adjoints with ReduceSum.
func (o ops) upsample2x(x *Node) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	forward := func(s []*Node) *Node { return upsample2xBlocks(s[0]) }
	backward := func(_ []*Node, _, dY *Node) []*Node {
		return []*Node{upsample2xGrad(dY, b, h, w, c)}
	}
	return o.customVJP([]*Node{x}, forward, backward)
}

// upsample2xBlocks is nearest 2x upsampling of x [B, H, W, C] by two
// Concatenates, which the Go backend runs as block copies.
func upsample2xBlocks(x *Node) *Node {
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	// [B, H, W, 2C] has the layout of [B, H, 2W, C]; concatenating it with
	// itself on the width axis gives the layout of [B, H, 2, 2W, C]. No
	// reshape of x, which the Go backend would copy when x has other uses.
	a := Concatenate([]*Node{x, x}, 3)
	r := Concatenate([]*Node{a, a}, 2)
	return Reshape(r, b, 2*h, 2*w, c)
}

// upsample2xGrad sums the adjoint dY [B, 2H, 2W, C] of a nearest 2x
// upsampling over each 2x2 block, giving [B, H, W, C].
func upsample2xGrad(dY *Node, b, h, w, c int) *Node {
	t := ReduceSum(Reshape(dY, b*h, 2, 2*w*c), 1)
	t = ReduceSum(Reshape(t, b*h*w, 2, c), 1)
	return Reshape(t, b, h, w, c)
}
