package nn

import (
	"math"
	"testing"

	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

// TestNativeByHand checks the native layers on tensors small enough to
// work out by hand: batch statistics and normalisation with a residual and
// ReLU, nearest upsampling, and the running averages' update.
func TestNativeByHand(t *testing.T) {
	backend := gobackend.GetBackend()
	// y [2, 1, 1, 1] = {1, 3}: mean 2, biased variance 1, so the normalised
	// values are -+1/sqrt(1+1e-5); gamma 2, beta 0.5, residual {0, 1}:
	// out = 2*(-0.999995) + 0.5 + 0 = -1.49999 -> ReLU 0, and
	// 2*0.999995 + 0.5 + 1 = 3.49999.
	exec, err := NewExec(backend, func(y, gamma, beta, res *Node) []*Node {
		out, mean, variance := BatchNormTraining(y, gamma, beta, res, true)
		return []*Node{out, mean, variance}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions([]float32{1, 3}, 2, 1, 1, 1), []float32{2}, []float32{0.5},
		tensors.FromFlatDataAndDimensions([]float32{0, 1}, 2, 1, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	inv := 1 / math.Sqrt(1+Epsilon)
	want := [][]float64{{0, 2*inv + 1.5}, {2}, {1}}
	for i, o := range outs {
		got := tensors.MustCopyFlatData[float32](o)
		for j := range want[i] {
			if math.Abs(float64(got[j])-want[i][j]) > 1e-6 {
				t.Errorf("output %d element %d = %v, want %v", i, j, got[j], want[i][j])
			}
		}
	}

	// Upsampling [1, 1, 2, 1] = {1, 2} -> [1, 2, 4, 1] rows 1 1 2 2.
	up, err := NewExec(backend, Upsample2x)
	if err != nil {
		t.Fatal(err)
	}
	u, err := up.Exec(tensors.FromFlatDataAndDimensions([]float32{1, 2}, 1, 1, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[float32](u[0]); len(got) != 8 || got[0] != 1 || got[1] != 1 || got[2] != 2 || got[3] != 2 || got[4] != 1 || got[7] != 2 {
		t.Errorf("Upsample2x = %v, want 1 1 2 2 / 1 1 2 2", got)
	}
}

func TestConvSpecOutSize(t *testing.T) {
	for _, tc := range []struct {
		c       ConvSpec
		n, want int
	}{
		{ConvSpec{Kernel: 7, Stride: 2, Pad: 3}, 64, 32},
		{ConvSpec{Kernel: 3, Stride: 1, Pad: 1}, 17, 17},
		{ConvSpec{Kernel: 1, Stride: 2}, 9, 5},
	} {
		if got := tc.c.OutSize(tc.n); got != tc.want {
			t.Errorf("%+v.OutSize(%d) = %d, want %d", tc.c, tc.n, got, tc.want)
		}
	}
}
