package unet

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/covidxray/opacity/datasets"
)

// Encoders of Config.Encoder: torchvision's ResNets with basic blocks.
const (
	EncoderResNet18 = "resnet18" // stages of 2, 2, 2, 2 blocks (the paper's)
	EncoderResNet34 = "resnet34" // stages of 3, 4, 6, 3 blocks
)

// encoderBlocks gives the number of basic blocks of each of the four stages
// of an encoder.
var encoderBlocks = map[string][4]int{
	EncoderResNet18: {2, 2, 2, 2},
	EncoderResNet34: {3, 4, 6, 3},
}

// OpsMode selects the implementation of the layer interface (package
// xla/nn) a model is built with.
type OpsMode int

const (
	// OpsAuto picks OpsFast on GoMLX's pure-Go backend and OpsNative on
	// every other backend (XLA on CPU or GPU).
	OpsAuto OpsMode = iota
	// OpsNative uses nn.Native: the backend's own convolution (ConvGeneral;
	// cuDNN on a GPU) and GoMLX's automatic gradients.
	OpsNative
	// OpsFast uses package xla/gofast: the formulations written for the Go
	// backend.
	OpsFast
)

// String returns the mode's name as used in configurations.
func (m OpsMode) String() string {
	switch m {
	case OpsNative:
		return "native"
	case OpsFast:
		return "fast"
	default:
		return "auto"
	}
}

// Config describes the U-Net: its ResNet encoder, its decoder, its head and
// the targets it predicts.
//
// The zero value is not usable; start from DefaultConfig (the paper's model)
// or TinyConfig (the same layout with few channels, for tests).
type Config struct {
	// Encoder is the ResNet of the encoder: EncoderResNet18 (the paper's;
	// empty means the same) or EncoderResNet34.
	Encoder string `json:"encoder,omitempty"`
	// InChannels is the number of input channels: 1 for grayscale X-rays
	// (the default), 3 for ImageNet-style RGB input.
	InChannels int `json:"in_channels"`
	// Width is the channel count of the ResNet stem and first stage; the
	// four stages have Width, 2*Width, 4*Width and 8*Width channels
	// (ResNet-18 and -34: 64).
	Width int `json:"width"`
	// DecoderChannels are the output channels of the five decoder blocks,
	// deepest first (segmentation_models: 256, 128, 64, 32, 16).
	DecoderChannels [5]int `json:"decoder_channels"`
	// HeadKernel is the kernel size of the segmentation head: 1 (default;
	// the PyTorch reference of the benchmark) or 3 (segmentation_models'
	// head).
	HeadKernel int `json:"head_kernel"`
	// Dropout is the probability with which the output of each decoder
	// block is zeroed, per value, in training (the kept values are scaled
	// by 1/(1-Dropout)); 0 (the default) turns it off.
	Dropout float64 `json:"dropout,omitempty"`
	// Loss is the training loss of each target: LossDiceFocal (the
	// paper's; empty means the same), LossImageDiceFocal or
	// LossImageDiceAllFocal.
	Loss string `json:"loss,omitempty"`
	// Targets are the masks the model predicts, one output channel (one
	// sigmoid) each, in this order (datasets.TargetOpacity, the paper's,
	// when empty).
	Targets []string `json:"targets,omitempty"`
	// BNMomentum is the weight of the batch statistics in the running
	// averages of batch normalisation (PyTorch's momentum, 0.1).
	BNMomentum float64 `json:"bn_momentum"`
	// Ops selects the implementation of the layers; the default picks the
	// Go-backend one on the Go backend and the native one on XLA.
	Ops OpsMode `json:"-"`
	// Recompute rebuilds the im2col patches of each convolution in the
	// backward pass (Go backend only; see gofast.Options).
	Recompute bool `json:"-"`
	// Lanes is the number of parts the batch is split into on the Go
	// backend (see gofast.Options); 0 picks it.
	Lanes int `json:"-"`
}

// DefaultConfig returns the paper's model: ResNet-18 encoder (64 channels
// wide), decoder channels 256, 128, 64, 32, 16, a 1x1 head, one input
// channel and the opacity target.
func DefaultConfig() Config {
	return Config{
		Encoder:         EncoderResNet18,
		InChannels:      1,
		Width:           64,
		DecoderChannels: [5]int{256, 128, 64, 32, 16},
		HeadKernel:      1,
		Targets:         []string{datasets.TargetOpacity},
		BNMomentum:      0.1,
	}
}

// TinyConfig returns the same architecture with 8 channels in the stem and
// decoder channels 32, 16, 16, 8, 8: fast enough for unit tests and quick
// experiments on small images.
func TinyConfig() Config {
	c := DefaultConfig()
	c.Width = 8
	c.DecoderChannels = [5]int{32, 16, 16, 8, 8}
	return c
}

// encoder returns the encoder's name, the empty one spelled out.
func (c Config) encoder() string {
	if c.Encoder == "" {
		return EncoderResNet18
	}
	return c.Encoder
}

// TargetList returns the model's targets, the empty list spelled out.
func (c Config) TargetList() []string {
	if len(c.Targets) == 0 {
		return []string{datasets.TargetOpacity}
	}
	return c.Targets
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if _, ok := encoderBlocks[c.encoder()]; !ok {
		return fmt.Errorf("model: encoder %q: want %s or %s", c.Encoder, EncoderResNet18, EncoderResNet34)
	}
	if c.InChannels != 1 && c.InChannels != 3 {
		return fmt.Errorf("model: in_channels must be 1 or 3, got %d", c.InChannels)
	}
	if c.Width < 1 {
		return fmt.Errorf("model: width must be positive, got %d", c.Width)
	}
	for i, d := range c.DecoderChannels {
		if d < 1 {
			return fmt.Errorf("model: decoder channel %d must be positive, got %d", i, d)
		}
	}
	if c.HeadKernel != 1 && c.HeadKernel != 3 {
		return fmt.Errorf("model: head_kernel must be 1 or 3, got %d", c.HeadKernel)
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		return fmt.Errorf("model: dropout must be in [0, 1), got %g", c.Dropout)
	}
	if err := datasets.CheckTargets(c.TargetList()); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if err := CheckLoss(c.Loss); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if c.Lanes < 0 {
		return fmt.Errorf("model: lanes must be 0 (automatic) or positive, got %d", c.Lanes)
	}
	if c.BNMomentum <= 0 || c.BNMomentum > 1 || math.IsNaN(c.BNMomentum) {
		return fmt.Errorf("model: bn_momentum must be in (0, 1], got %g", c.BNMomentum)
	}
	return nil
}

// String returns the configuration as JSON.
func (c Config) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Parameters returns the number of trainable parameters of the model,
// counted from the architecture: every convolution kernel (k*k*Cin*Cout,
// no biases but the head's), two per channel for every batch norm (scale
// and shift), and the head's bias per target.
func (c Config) Parameters() int {
	conv := func(k, cin, cout int) int { return k * k * cin * cout }
	bn := func(ch int) int { return 2 * ch }
	w := c.Width
	n := conv(7, c.InChannels, w) + bn(w) // stem
	in := w
	for s, blocks := range encoderBlocks[c.encoder()] {
		planes := w << s
		for b := 0; b < blocks; b++ {
			n += conv(3, in, planes) + bn(planes) + conv(3, planes, planes) + bn(planes)
			if in != planes || (b == 0 && s > 0) {
				n += conv(1, in, planes) + bn(planes) // projection shortcut
			}
			in = planes
		}
	}
	skips := []int{4 * w, 2 * w, w, w, 0} // layer3, layer2, layer1, stem, none
	for i, ch := range c.DecoderChannels {
		n += conv(3, in+skips[i], ch) + bn(ch) + conv(3, ch, ch) + bn(ch)
		in = ch
	}
	t := len(c.TargetList())
	return n + conv(c.HeadKernel, in, t) + t
}

// CheckInputSize reports whether images of size h x w fit the model: the
// encoder halves the resolution five times, so both must be multiples of 32.
func CheckInputSize(h, w int) error {
	if h <= 0 || w <= 0 || h%32 != 0 || w%32 != 0 {
		return fmt.Errorf("model input must be a positive multiple of 32 on each side, got %dx%d", w, h)
	}
	return nil
}

// patchFloatsPerPixel is about how many float32 values the im2col patches of
// all the default model's convolutions hold per input pixel (21.5 M for a
// 128x128 image).
const patchFloatsPerPixel = 1312

// recomputeThresholdBytes is the patch memory above which
// RecomputeByDefault turns recomputation on.
const recomputeThresholdBytes = 1.5e9

// RecomputeByDefault reports whether training batches of the given size
// should rebuild the im2col patches in the backward pass (Config.Recompute):
// when keeping them all would take more than about 1.5 GB (e.g. 320x320
// batch 8 needs about 4.3 GB; 128x128 batch 8 about 0.7 GB).
func RecomputeByDefault(batch, height, width int) bool {
	return 4*patchFloatsPerPixel*float64(batch*height*width) > recomputeThresholdBytes
}

// Memory model of a training step of the default model on the Go backend:
// the weights, gradients and Adam state, plus per input pixel the
// activations kept for the backward pass and the largest temporaries, plus
// the patches when they are kept. Calibrated on 320x320 batch 8 with
// recomputation: first as the lowest soft memory limit at which the step
// kept its speed (with the im2col matrices built in one pass, patch 4 of
// third_party/gomlx-compute), then lowered to the limit at which the
// step's peak RSS is within 1.2 times PyTorch's for the same step, at the
// cost of a few percent of step time in the collector (REPRODUCE.md,
// "CPU"); checked on 128x128 batch 8 without recomputation, where the
// limit does not bind.
const (
	memFixedBytes         = 250e6
	memFloatsPerPixel     = 565
	memMaxLimitFraction   = 0.75 // of the machine's memory
	memLimitOverEstimate  = 1.1
	memMinimumLimitBytes  = 1 << 30
	memoryLimitEnvVarName = "GOMEMLIMIT"
)

// EstimatedTrainingBytes estimates the peak live memory of a training step
// of the default model on the Go backend.
func EstimatedTrainingBytes(batch, height, width int, recompute bool) float64 {
	perPixel := float64(memFloatsPerPixel)
	if !recompute {
		perPixel += patchFloatsPerPixel
	}
	return memFixedBytes + 4*perPixel*float64(batch*height*width)
}
