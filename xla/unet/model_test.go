package xla

import (
	"fmt"
	"image"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func TestParameterCount(t *testing.T) {
	// Expected counts from the PyTorch reference (unet_r18.py prints them):
	// ResNet-18 encoder 11,176,512 with 3 input channels (torchvision's
	// resnet18 without fc: 11,689,512 - 513,000); conv1 has 64*7*7*3 = 9,408
	// weights, so 6,272 fewer with 1 channel; decoder 3,151,552; head
	// 16*k*k + 1.
	cases := []struct {
		name     string
		channels int
		head     int
		want     int
	}{
		{"1ch_head1", 1, 1, 11176512 - 6272 + 3151552 + 17},       // 14,321,809
		{"1ch_head3", 1, 3, 11176512 - 6272 + 3151552 + 16*9 + 1}, // 14,321,937
		{"3ch_head1", 3, 1, 11176512 + 3151552 + 17},              // 14,328,081
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultModelConfig()
			cfg.InChannels = tc.channels
			cfg.HeadKernel = tc.head
			m, err := NewModel(goBackend(t), cfg, 1, DefaultLearningRate)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.infer.Compile(imageShape(1, 32, 32, tc.channels)); err != nil {
				t.Fatal(err)
			}
			if got := m.NumTrainableParameters(); got != tc.want {
				t.Errorf("trainable parameters = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestNativeOpsMatchFast builds the tiny model with the native ops (what
// runs on XLA: ConvGeneral, MaxPool, broadcasts) and with the Go backend's
// fast ops, on the same weights, and compares their logits in training mode
// (batch statistics) and inference mode. The Go backend runs both; it has
// no gradient for the native max pool, so only the forward pass is checked
// here.
func TestNativeOpsMatchFast(t *testing.T) {
	set := syntheticSet(2, 64, 4)
	images, _ := imagesTensor([]*image.Gray{set[0].Image, set[1].Image}, 64, 1)
	for _, training := range []bool{true, false} {
		var outs []*tensors.Tensor
		for _, mode := range []OpsMode{OpsFast, OpsNative} {
			cfg := TinyModelConfig()
			cfg.Ops = mode
			store := model.NewStore()
			store.SetParam(ParamSeed, int64(2))
			exec, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, x *Node) *Node {
				logits, _ := cfg.Logits(scope, normalizeImages(x), training)
				return logits
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Exec(images)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out[0])
		}
		assertClose(t, fmt.Sprintf("logits (training=%v)", training), outs[0], outs[1], 1e-4)
	}
}
