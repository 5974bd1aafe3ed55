package xla

import (
	"testing"
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
