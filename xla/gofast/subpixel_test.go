package gofast

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive

	"github.com/covidxray/opacity/xla/nn"
)

// TestUpConvMatchesNative compares the sub-pixel convolution of the
// upsampled input with upsampling followed by the native convolution:
// values and gradients, for one and several lanes and odd sizes.
func TestUpConvMatchesNative(t *testing.T) {
	c := convSpec{k: 3, stride: 1, pad: 1}
	for _, tc := range []struct{ b, h, w, cin, cout, lanes int }{
		{2, 3, 4, 5, 3, 1},
		{3, 2, 2, 4, 6, 2},
		{2, 1, 5, 2, 2, 2},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			x := randTensor(31, -1, 1, tc.b, tc.h, tc.w, tc.cin)
			w := randTensor(32, -1, 1, 3, 3, tc.cin, tc.cout)
			got := valueAndGrads(t, func(o ops, in []*Node) *Node {
				return Concatenate(o.upConv(splitBatch(in[0], tc.lanes), in[1]), 0)
			}, x, w)
			want := valueAndGrads(t, func(_ ops, in []*Node) *Node {
				return nativeConv(nn.Upsample2x(in[0]), in[1], c)
			}, x, w)
			for i, what := range []string{"output", "dX", "dW"} {
				assertClose(t, what, got[i], want[i], 1e-5)
			}
		})
	}
}
