package xla

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// buildState is shared by the ops of one graph build.
type buildState struct {
	// links are zero-valued scalars that depend on the inputs of every
	// custom-gradient op; adding their sum (times zero) to the loss makes
	// the reverse pass reach the ops' gradient hooks. See customVJP.
	links []*Node
	// lastMatmul is the most recent matrix multiplication of the build;
	// see ops.dot.
	lastMatmul *Node
}

// customVJP builds an operation whose value is forward(inputs) and whose
// gradient is computed by backward instead of by automatic differentiation
// of the ops inside forward.
//
// GoMLX v0.28 attaches a custom gradient only to identity nodes
// (IdentityWithCustomGradient), so this wires several:
//
//   - every input goes through an identity (a "hook") whose custom gradient
//     returns that input's gradient as computed by backward;
//   - forward runs on the hooks;
//   - its result goes through an identity whose custom gradient records
//     the adjoint dY and returns no gradient, so autodiff never looks
//     inside forward (which may use ops without gradients, such as Pad);
//   - the first element of every hook is registered as a link in the
//     build state; the model adds zero times their sum to the loss, so the
//     reverse pass visits the hooks. They come before the output in the
//     graph, so the reverse pass reaches them after dY is recorded.
//
// backward is called at most once, with the hooked inputs, the forward
// value y and dY; it returns one gradient per input (nil for an input that
// needs none, such as the image). The adjoints autodiff builds along the
// links are never used, and the backends do not execute unused nodes.
func (o ops) customVJP(inputs []*Node, forward func(in []*Node) *Node,
	backward func(in []*Node, y, dY *Node) []*Node) *Node {
	var dY, y0 *Node
	var grads []*Node
	hooked := make([]*Node, len(inputs))
	for i, x := range inputs {
		i := i
		hooked[i] = IdentityWithCustomGradient(x, func(x, _ *Node) *Node {
			if dY == nil {
				return ZerosLike(x) // The op's output does not reach the loss.
			}
			if grads == nil {
				grads = backward(hooked, y0, dY)
			}
			if grads[i] == nil {
				return ZerosLike(x)
			}
			return grads[i]
		})
		o.state.links = append(o.state.links, firstElement(hooked[i]))
	}
	y0 = forward(hooked)
	return IdentityWithCustomGradient(y0, func(_, v *Node) *Node {
		dY = v
		return nil
	})
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
