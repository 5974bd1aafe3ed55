package unet

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/covidxray/opacity/datasets"
)

func TestParameterCount(t *testing.T) {
	// Expected counts worked out from the definitions. ResNet-18 encoder:
	// 11,176,512 with 3 input channels (torchvision's resnet18 without fc:
	// 11,689,512 - 513,000, as the PyTorch reference unet_r18.py prints);
	// conv1 has 64*7*7*3 = 9,408 weights, so 6,272 fewer with 1 channel;
	// decoder 3,151,552; head 16*k*k*T + T for T targets.
	//
	// ResNet-34 encoder, 1 channel, by stage (conv k*k*Cin*Cout, BN 2*C):
	//   stem    7*7*1*64 + 128                                   =      3,264
	//   layer1  3 blocks * (2 * (3*3*64*64 + 128))                =    221,952
	//   layer2  (3*3*64*128 + 256 + 3*3*128*128 + 256 + 64*128 + 256)
	//           + 3 blocks * 2 * (3*3*128*128 + 256)              =  1,116,416
	//   layer3  (3*3*128*256 + 512 + 3*3*256*256 + 512 + 128*256 + 512)
	//           + 5 blocks * 2 * (3*3*256*256 + 512)              =  6,822,400
	//   layer4  (3*3*256*512 + 1024 + 3*3*512*512 + 1024 + 256*512 + 1024)
	//           + 2 blocks * 2 * (3*3*512*512 + 1024)             = 13,114,368
	//   total                                                     = 21,278,400
	// (torchvision's resnet34 has 21,797,672 with 3 channels and fc:
	// 21,797,672 - 513,000 - 6,272 = 21,278,400.) Its decoder is the
	// ResNet-18 one: the skips have the same channels.
	const r18, r34, decoder = 11176512 - 6272, 21278400, 3151552
	cases := []struct {
		name     string
		encoder  string
		channels int
		head     int
		targets  []string
		want     int
	}{
		{"resnet18_1ch_head1", EncoderResNet18, 1, 1, nil, r18 + decoder + 17},                                                        // 14,321,809
		{"resnet18_1ch_head3", EncoderResNet18, 1, 3, nil, r18 + decoder + 16*9 + 1},                                                  // 14,321,937
		{"resnet18_3ch_head1", EncoderResNet18, 3, 1, nil, 11176512 + decoder + 17},                                                   // 14,328,081
		{"resnet18_lungs_opacity", EncoderResNet18, 1, 1, []string{datasets.TargetLungs, datasets.TargetOpacity}, r18 + decoder + 34}, // 14,321,826
		{"resnet34_1ch_head1", EncoderResNet34, 1, 1, nil, r34 + decoder + 17},                                                        // 24,429,969
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Encoder, cfg.InChannels, cfg.HeadKernel = tc.encoder, tc.channels, tc.head
			if tc.targets != nil {
				cfg.Targets = tc.targets
			}
			if got := cfg.Parameters(); got != tc.want {
				t.Errorf("Config.Parameters() = %d, want %d", got, tc.want)
			}
			m, err := NewModel(goBackend(t), cfg, 1, DefaultLearningRate)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.infer.Compile(imageShape(1, 32, 32, tc.channels)); err != nil {
				t.Fatal(err)
			}
			if got := m.NumTrainableParameters(); got != tc.want {
				t.Errorf("trainable parameters of the built model = %d, want %d", got, tc.want)
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
	images, _ := setTensors(t, set, 64)
	for _, training := range []bool{true, false} {
		var outs []*tensors.Tensor
		for _, mode := range []OpsMode{OpsFast, OpsNative} {
			cfg := TinyConfig()
			cfg.Ops = mode
			store := model.NewStore()
			store.SetParam(ParamSeed, int64(2))
			exec, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, x *Node) *Node {
				return cfg.Logits(scope, cfg.Layers(goBackend(t), training, store), normalizeImages(x))
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
