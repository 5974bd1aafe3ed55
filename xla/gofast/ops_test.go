package gofast

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

func TestBcastRowsMatchesBroadcast(t *testing.T) {
	v := randTensor(21, -1, 1, 1, 3)
	for _, n := range []int{1, 2, 31, 32, 33, 1023, 1024, 1025, 32*32*32 + 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			got := valueAndGrads(t, func(o ops, in []*Node) *Node { return o.bcastRows(in[0], n) }, v)
			want := valueAndGrads(t, func(_ ops, in []*Node) *Node { return BroadcastToDims(in[0], n, in[0].Shape().Dimensions[1]) }, v)
			assertClose(t, "rows", got[0], want[0], 0)
			assertClose(t, "gradient", got[1], want[1], 1e-5)
		})
	}
}

func TestReluMask(t *testing.T) {
	// Outputs of a ReLU: zero, the smallest normal float32, ordinary values,
	// values whose product with the scale overflows.
	values := []float32{0, 1.1754944e-38, 1e-30, 0.5, 1, 3.5, 1e30, 3.4e38}
	want := []float32{0, 1, 1, 1, 1, 1, 1, 1}
	exec, err := NewExec(goBackend(t), func(x *Node) *Node { return reluMask(x) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(values, len(values)))
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](out[0])
	for i := range values {
		if got[i] != want[i] {
			t.Errorf("reluMask(%g) = %g, want %g", values[i], got[i], want[i])
		}
	}
}
