package gofast

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// TestStemCompositionMatchesReference chains the fast ops as in ResNet's
// stem and first block (7x7/2 conv, BN+ReLU, max pool, 3x3 conv, BN with
// residual, shared scale and shift) and compares values and gradients with
// the same chain of reference ops differentiated by GoMLX.
func TestStemCompositionMatchesReference(t *testing.T) {
	x := randTensor(1, 0, 1, 2, 32, 32, 1)
	w1 := randTensor(2, -0.3, 0.3, 7, 7, 1, 8)
	w2 := randTensor(3, -0.3, 0.3, 3, 3, 8, 8)
	g := randTensor(4, 0.5, 1.5, 8)
	b := randTensor(5, -0.5, 0.5, 8)
	type f = func(o ops, in []*Node) *Node
	fast := func(stage int) f {
		return func(o ops, in []*Node) *Node {
			h := o.conv(in[0], in[1], convSpec{k: 7, stride: 2, pad: 3, noInputGrad: true})
			if stage >= 1 {
				h = oneLaneBatchNorm(o, h, in[3], in[4], nil, true)
			}
			if stage >= 2 {
				h = o.maxPool3x3s2(h)
			}
			if stage >= 3 {
				h2 := o.conv(h, in[2], convSpec{k: 3, stride: 1, pad: 1})
				h = oneLaneBatchNorm(o, h2, in[3], in[4], h, true)
			}
			return h
		}
	}
	ref := func(stage int) f {
		return func(o ops, in []*Node) *Node {
			h := nativeConv(in[0], in[1], convSpec{k: 7, stride: 2, pad: 3})
			if stage >= 1 {
				h = referenceBatchNorm(h, in[3], in[4], nil, true)
			}
			if stage >= 2 {
				h = referenceMaxPool(h)
			}
			if stage >= 3 {
				h2 := nativeConv(h, in[2], convSpec{k: 3, stride: 1, pad: 1})
				h = referenceBatchNorm(h2, in[3], in[4], h, true)
			}
			return h
		}
	}
	for stage := 0; stage <= 3; stage++ {
		got := valueAndGrads(t, fast(stage), x, w1, w2, g, b)
		want := valueAndGrads(t, ref(stage), x, w1, w2, g, b)
		for i, what := range []string{"out", "dx", "dw1", "dw2", "dg", "db"} {
			if i == 1 {
				continue // the fast stem computes no gradient for its input (noInputGrad)
			}
			assertClose(t, fmt.Sprintf("stage %d %s", stage, what), got[i], want[i], 1e-3)
		}
	}
}
