package gofast

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// buildState is shared by the ops of one graph build.
type buildState struct {
	// links are zero-valued scalars that depend on the inputs of every
	// custom-gradient op; adding their sum (times zero) to the loss makes
	// the reverse pass reach the ops' gradient hooks. See customVJP.
	links []*Node
	// lastMatmul holds the most recent matrix multiplication of each lane
	// of the build; see ops.dot.
	lastMatmul []*Node
	// dots holds every matrix multiplication made by ops.dot (nn's
	// contract 2: Layers.Output checks that the graph has no other).
	dots map[*Node]bool
}

// customVJP builds an operation whose value is forward(inputs) and whose
// gradient is computed by backward instead of by automatic differentiation
// of the ops inside forward. It is customVJPMulti with one output.
func (o ops) customVJP(inputs []*Node, forward func(in []*Node) *Node,
	backward func(in []*Node, y, dY *Node) []*Node) *Node {
	return o.customVJPMulti(inputs,
		func(in []*Node) []*Node { return []*Node{forward(in)} },
		func(in, ys, dYs []*Node) []*Node { return backward(in, ys[0], dYs[0]) })[0]
}

// customVJPMulti builds an operation with several outputs, forward(inputs),
// whose gradient is computed by backward instead of by automatic
// differentiation of the ops inside forward.
//
// GoMLX v0.28 attaches a custom gradient only to identity nodes
// (IdentityWithCustomGradient), so this wires several:
//
//   - every input goes through an identity (a "hook") whose custom gradient
//     returns that input's gradient as computed by backward;
//   - forward runs on the hooks;
//   - each of its results goes through an identity whose custom gradient
//     records that output's adjoint dY and returns no gradient, so autodiff
//     never looks inside forward (which may use ops without gradients, such
//     as Pad);
//   - the first element of every hook is registered as a link in the
//     build state; the model adds zero times their sum to the loss, so the
//     reverse pass visits the hooks. The reverse pass visits nodes from the
//     newest to the oldest, and the hooks are older than the outputs, so it
//     reaches them after every output's adjoint is recorded.
//
// backward is called at most once, with the hooked inputs, the forward
// values ys and their adjoints dYs (zeros for an output that does not reach
// the loss); it returns one gradient per input (nil for an input that
// needs none, such as the image). The adjoints autodiff builds along the
// links are never used, and the backends do not execute unused nodes.
func (o ops) customVJPMulti(inputs []*Node, forward func(in []*Node) []*Node,
	backward func(in, ys, dYs []*Node) []*Node) []*Node {
	var ys, dYs, grads []*Node
	reached := false
	hooked := make([]*Node, len(inputs))
	for i, x := range inputs {
		hooked[i] = IdentityWithCustomGradient(x, func(x, _ *Node) *Node {
			if !reached {
				return ZerosLike(x) // No output reaches the loss.
			}
			if grads == nil {
				for j, d := range dYs {
					if d == nil {
						dYs[j] = ZerosLike(ys[j])
					}
				}
				grads = backward(hooked, ys, dYs)
			}
			if grads[i] == nil {
				return ZerosLike(x)
			}
			return grads[i]
		})
		o.state.links = append(o.state.links, firstElement(hooked[i]))
	}
	ys = forward(hooked)
	dYs = make([]*Node, len(ys))
	outs := make([]*Node, len(ys))
	for j, y := range ys {
		outs[j] = IdentityWithCustomGradient(y, func(_, v *Node) *Node {
			dYs[j] = v
			reached = true
			return nil
		})
	}
	return outs
}

// gradientLink returns zero times the sum of the links registered so far: a
// scalar 0 to add to the loss (see customVJP). It is nil when there are
// none.
func (o ops) gradientLink() *Node {
	var sum *Node
	for _, l := range o.state.links {
		if sum == nil {
			sum = l
		} else {
			sum = Add(sum, l)
		}
	}
	if sum == nil {
		return nil
	}
	return MulScalar(sum, 0)
}

// firstElement returns the first element of x as a scalar of the same dtype.
func firstElement(x *Node) *Node {
	if x.Rank() == 0 {
		return x
	}
	specs := make([]SliceAxisSpec, x.Rank())
	for i := range specs {
		specs[i] = AxisRange(0, 1)
	}
	return Reshape(Slice(x, specs...))
}
