package unet

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
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
