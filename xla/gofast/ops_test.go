package gofast

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

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
