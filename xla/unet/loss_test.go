package unet

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/covidxray/opacity/xla/internal/xlatest"
)

func TestDiceFocalLossByHand(t *testing.T) {
	ln3 := math.Log(3)
	logits := tensors.FromFlatDataAndDimensions([]float32{0, float32(ln3), float32(-ln3), float32(ln3)}, 1, 2, 2, 1)
	target := tensors.FromFlatDataAndDimensions([]float32{1, 1, 0, 0}, 1, 2, 2, 1)
	// p = sigmoid(logits) = 1/2, 3/4, 1/4, 3/4; targets 1, 1, 0, 0.
	// Dice: inter = 1/2 + 3/4 = 5/4; card = (1/2+3/4+1/4+3/4) + 2 = 17/4;
	//       dice = 1 - 2(5/4)/(17/4) = 7/17.
	// Focal, per pixel (bce = -ln p_t, p_t = exp(-bce), weight 1/4 for t=1, 3/4 for t=0):
	//   1: bce ln 2,   (1-1/2)^2 = 1/4,  * 1/4 -> ln2/16
	//   2: bce ln 4/3, (1-3/4)^2 = 1/16, * 1/4 -> ln(4/3)/64
	//   3: bce ln 4/3, (1-3/4)^2 = 1/16, * 3/4 -> 3 ln(4/3)/64
	//   4: bce ln 4,   (1-1/4)^2 = 9/16, * 3/4 -> 27 ln(4)/64 = 54 ln2/64
	//   mean = (4 ln2 + 4 ln(4/3) + 54 ln2) / 64 / 4 = (58 ln2 + 4 ln(4/3)) / 256.
	want := 7.0/17 + (58*math.Ln2+4*math.Log(4.0/3))/256 // 0.573301...
	exec, err := NewExec(goBackend(t), func(l, y *Node) *Node { return DiceFocalLoss(l, y) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(logits, target)
	if err != nil {
		t.Fatal(err)
	}
	got, err := scalarFloat(out[0])
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-6 {
		t.Errorf("DiceFocalLoss = %.7f, want %.7f", got, want)
	}
}

func TestDiceFocalLossPerfectPrediction(t *testing.T) {
	// Logits of +-30 give p within 1e-13 of the targets: Dice = 1 - 2*2/(2+2) = 0
	// and every focal term is (1-p_t)^2 bce ~ 0, so the loss is ~0.
	logits := tensors.FromFlatDataAndDimensions([]float32{30, -30, 30, -30}, 1, 2, 2, 1)
	target := tensors.FromFlatDataAndDimensions([]float32{1, 0, 1, 0}, 1, 2, 2, 1)
	exec, err := NewExec(goBackend(t), func(l, y *Node) *Node { return DiceFocalLoss(l, y) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(logits, target)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := scalarFloat(out[0]); math.Abs(got) > 1e-6 {
		t.Errorf("loss of a perfect prediction = %g, want ~0", got)
	}
}

// TestWeightedTargetLosses checks the evaluation loss of padded batches:
// with every weight 1 it is TargetLosses to the last bit, and with the
// padding weighted 0 it is TargetLosses of the valid images alone.
func TestWeightedTargetLosses(t *testing.T) {
	const b, h, w = 3, 4, 4
	logits := xlatest.RandTensor(5, -3, 3, b, h, w, 2)
	masks := tensors.FromFlatDataAndDimensions(func() []float32 {
		m := make([]float32, b*h*w*2)
		for i := range m {
			if i%3 == 0 {
				m[i] = 1
			}
		}
		return m
	}(), b, h, w, 2)
	losses := func(l, m *tensors.Tensor) []float32 {
		exec, err := NewExec(goBackend(t), func(l, m *Node) []*Node { return TargetLosses(l, m) })
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(l, m)
		if err != nil {
			t.Fatal(err)
		}
		return []float32{out[0].Value().(float32), out[1].Value().(float32)}
	}
	weighted := func(weights []float32, valid int) []float32 {
		exec, err := NewExec(goBackend(t), func(l, m, wt, inv *Node) []*Node { return WeightedTargetLosses(l, m, wt, inv) })
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(logits, masks, weights, float32(1/float64(valid*h*w)))
		if err != nil {
			t.Fatal(err)
		}
		return []float32{out[0].Value().(float32), out[1].Value().(float32)}
	}
	if got, want := weighted([]float32{1, 1, 1}, 3), losses(logits, masks); got[0] != want[0] || got[1] != want[1] {
		t.Errorf("all weights 1: %v, want exactly %v", got, want)
	}
	// The first two images alone, against the batch with the third weighted 0.
	first2 := func(x *tensors.Tensor) *tensors.Tensor {
		d := tensors.MustCopyFlatData[float32](x)
		return tensors.FromFlatDataAndDimensions(d[:2*h*w*2], 2, h, w, 2)
	}
	got, want := weighted([]float32{1, 1, 0}, 2), losses(first2(logits), first2(masks))
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("target %d with the padding weighted 0: %v, want %v", i, got[i], want[i])
		}
	}
}
