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

func TestImageDiceFocalLossByHand(t *testing.T) {
	ln3 := float32(math.Log(3))
	// Three images of 2x1 pixels: p = sigmoid(logits).
	//   1: p 1/2, 3/4; t 1, 0: inter 1/2, card 5/4 + 1: dice 1 - 1/(9/4) = 5/9
	//   2: p 1/4, 3/4; t 0, 0: empty mask, not in the Dice term
	//   3: p 3/4, 3/4; t 1, 1: inter 3/2, card 3/2 + 2: dice 1 - 3/(7/2) = 1/7
	// Dice term (5/9 + 1/7) / 2 = 22/63. Smoothed by 1 over every image
	// (image-dice-all-focal): 1 - 2/(13/4) = 5/13; 1 - 1/(1 + 1) = 1/2;
	// 1 - 4/(9/2) = 1/9: mean (90 + 117 + 26)/234/3 = 233/702. Focal terms (as in
	// TestDiceFocalLossByHand): ln2/16, 54 ln2/64; 3 ln(4/3)/64, 54 ln2/64;
	// ln(4/3)/64 twice: sum (112 ln2 + 5 ln(4/3))/64, mean over 6 pixels.
	logits := tensors.FromFlatDataAndDimensions([]float32{0, ln3, -ln3, ln3, ln3, ln3}, 3, 2, 1, 1)
	target := tensors.FromFlatDataAndDimensions([]float32{1, 0, 0, 0, 1, 1}, 3, 2, 1, 1)
	focal := (112*math.Ln2 + 5*math.Log(4.0/3)) / 64
	// Image 2 alone: no mask in the batch, the Dice term is 0.
	logits2 := tensors.FromFlatDataAndDimensions([]float32{-ln3, ln3}, 1, 2, 1, 1)
	target2 := tensors.FromFlatDataAndDimensions([]float32{0, 0}, 1, 2, 1, 1)
	for _, c := range []struct {
		name      string
		l, y      *tensors.Tensor
		want      float64
		wantBatch float64 // DiceFocalLoss of the same batch
		wantAll   float64 // ImageDiceAllFocalLoss of the same batch
	}{
		{"three images", logits, target, 22.0/63 + focal/6,
			// inter 1/2 + 3/2 = 2; card (1/2+3/4+1/4+3/4+3/4+3/4) + 3 = 27/4: 1 - 4/(27/4) = 11/27.
			11.0/27 + focal/6,
			233.0/702 + focal/6},
		{"no mask", logits2, target2, (3*math.Log(4.0/3) + 54*math.Ln2) / 64 / 2,
			// inter 0, card 1: Dice 1.
			1 + (3*math.Log(4.0/3)+54*math.Ln2)/64/2,
			// smoothed: 1 - 1/(1 + 1) = 1/2.
			0.5 + (3*math.Log(4.0/3)+54*math.Ln2)/64/2},
	} {
		for _, k := range []struct {
			loss string
			want float64
		}{{LossImageDiceFocal, c.want}, {LossDiceFocal, c.wantBatch}, {LossImageDiceAllFocal, c.wantAll}} {
			exec, err := NewExec(goBackend(t), func(l, y *Node) *Node { return TrainingLoss(k.loss, l, y) })
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Exec(c.l, c.y)
			if err != nil {
				t.Fatal(err)
			}
			got, err := scalarFloat(out[0])
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-k.want) > 1e-6 {
				t.Errorf("%s, %s = %.7f, want %.7f", c.name, k.loss, got, k.want)
			}
		}
	}
}

func TestCheckLoss(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{{"", true}, {LossDiceFocal, true}, {LossImageDiceFocal, true}, {LossImageDiceAllFocal, true}, {"dice", false}, {"Dice-Focal", false}} {
		if err := CheckLoss(c.name); (err == nil) != c.ok {
			t.Errorf("CheckLoss(%q) = %v, want ok %v", c.name, err, c.ok)
		}
	}
	c := DefaultConfig()
	c.Loss = "bce"
	if err := c.Validate(); err == nil {
		t.Error("Validate accepted loss bce")
	}
}

// TestWeightedTargetLosses checks the evaluation loss of padded batches,
// for each loss: with every weight 1 it is TargetLosses to the last bit,
// and with the padding weighted 0 it is TargetLosses of the valid images
// alone.
func TestWeightedTargetLosses(t *testing.T) {
	const b, h, w = 3, 4, 4
	logits := xlatest.RandTensor(5, -3, 3, b, h, w, 2)
	masks := tensors.FromFlatDataAndDimensions(func() []float32 {
		m := make([]float32, b*h*w*2)
		for i := range m {
			if i%3 == 0 && i < 2*h*w*2 { // the third image's masks are empty
				m[i] = 1
			}
		}
		return m
	}(), b, h, w, 2)
	for _, loss := range []string{LossDiceFocal, LossImageDiceFocal, LossImageDiceAllFocal} {
		losses := func(l, m *tensors.Tensor) []float32 {
			exec, err := NewExec(goBackend(t), func(l, m *Node) []*Node { return TargetLosses(loss, l, m) })
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
			exec, err := NewExec(goBackend(t), func(l, m, wt, inv *Node) []*Node { return WeightedTargetLosses(loss, l, m, wt, inv) })
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
			t.Errorf("%s, all weights 1: %v, want exactly %v", loss, got, want)
		}
		// The first and last images alone, against the batch with the second weighted 0.
		pick := func(x *tensors.Tensor) *tensors.Tensor {
			d := tensors.MustCopyFlatData[float32](x)
			n := h * w * 2
			return tensors.FromFlatDataAndDimensions(append(append([]float32(nil), d[:n]...), d[2*n:]...), 2, h, w, 2)
		}
		got, want := weighted([]float32{1, 0, 1}, 2), losses(pick(logits), pick(masks))
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Errorf("%s, target %d with the second image weighted 0: %v, want %v", loss, i, got[i], want[i])
			}
		}
	}
}
