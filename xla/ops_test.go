package xla

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

func TestBcastRowsMatchesBroadcast(t *testing.T) {
	v := randTensor(21, -1, 1, 1, 3)
	for _, n := range []int{1, 2, 31, 32, 33, 1023, 1024, 1025, 32*32*32 + 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			got := valueAndGrads(t, true, func(o ops, in []*Node) *Node { return o.bcastRows(in[0], n) }, v)
			want := valueAndGrads(t, false, func(o ops, in []*Node) *Node { return o.bcastRows(in[0], n) }, v)
			assertClose(t, "rows", got[0], want[0], 0)
			assertClose(t, "gradient", got[1], want[1], 1e-5)
		})
	}
}
