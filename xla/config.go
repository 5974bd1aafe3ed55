package xla

import (
	"encoding/json"
	"fmt"
)

// ModelConfig describes the U-Net with a ResNet-18 encoder.
//
// The zero value is not usable; start from DefaultModelConfig (the paper's
// model) or TinyModelConfig (the same layout with few channels, for tests).
type ModelConfig struct {
	// InChannels is the number of input channels: 1 for grayscale X-rays
	// (the default), 3 for ImageNet-style RGB input.
	InChannels int `json:"in_channels"`
	// Width is the channel count of the ResNet stem and first stage; the
	// four stages have Width, 2*Width, 4*Width and 8*Width channels
	// (ResNet-18: 64).
	Width int `json:"width"`
	// DecoderChannels are the output channels of the five decoder blocks,
	// deepest first (segmentation_models: 256, 128, 64, 32, 16).
	DecoderChannels [5]int `json:"decoder_channels"`
	// HeadKernel is the kernel size of the segmentation head: 1 (default;
	// 14,321,809 parameters with 1 input channel, the PyTorch reference of
	// the benchmark) or 3 (segmentation_models' head, 128 more parameters).
	HeadKernel int `json:"head_kernel"`
	// BNMomentum is the weight of the batch statistics in the running
	// averages of batch normalisation (PyTorch's momentum, 0.1).
	BNMomentum float64 `json:"bn_momentum"`
	// Ops selects the graph formulation of convolutions and pooling; the
	// default picks the fast paths on the Go backend and the native ops on
	// XLA.
	Ops OpsMode `json:"-"`
	// Recompute rebuilds the im2col patches of each convolution in the
	// backward pass instead of keeping them from the forward pass (Go
	// backend only): about 9x less memory for activations, one more im2col
	// per layer.
	Recompute bool `json:"-"`
	// Lanes is the number of parts the batch is split into on the Go
	// backend: every layer runs on each part separately except batch
	// normalisation, which uses the statistics of the whole batch, so the
	// model computes the same function (up to float rounding) while the
	// parts' element-wise work runs in parallel. 0 picks one lane per
	// core, at most 2; 1 turns the splitting off. Native ops (XLA) always
	// use one.
	Lanes int `json:"-"`
}

// DefaultModelConfig returns the paper's model: ResNet-18 encoder (64
// channels wide), decoder channels 256, 128, 64, 32, 16, a 1x1 head and one
// input channel.
func DefaultModelConfig() ModelConfig {
	return ModelConfig{
		InChannels:      1,
		Width:           64,
		DecoderChannels: [5]int{256, 128, 64, 32, 16},
		HeadKernel:      1,
		BNMomentum:      0.1,
	}
}

// TinyModelConfig returns the same architecture with 8 channels in the
// stem and decoder channels 32, 16, 16, 8, 8: fast enough for unit tests and
// quick experiments on small images.
func TinyModelConfig() ModelConfig {
	c := DefaultModelConfig()
	c.Width = 8
	c.DecoderChannels = [5]int{32, 16, 16, 8, 8}
	return c
}

// Validate reports the first problem with the configuration.
func (c ModelConfig) Validate() error {
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
	if c.Lanes < 0 {
		return fmt.Errorf("model: lanes must be 0 (automatic) or positive, got %d", c.Lanes)
	}
	if c.BNMomentum <= 0 || c.BNMomentum > 1 {
		return fmt.Errorf("model: bn_momentum must be in (0, 1], got %g", c.BNMomentum)
	}
	return nil
}

// String returns the configuration as JSON.
func (c ModelConfig) String() string {
	b, _ := json.Marshal(c)
	return string(b)
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
// should rebuild the im2col patches in the backward pass (ModelConfig.Recompute):
// when keeping them all would take more than about 1.5 GB (e.g. 320x320
// batch 8 needs about 4.3 GB; 128x128 batch 8 about 0.7 GB).
func RecomputeByDefault(batch, height, width int) bool {
	return 4*patchFloatsPerPixel*float64(batch*height*width) > recomputeThresholdBytes
}

// Memory model of a training step of the default model on the Go backend,
// calibrated on 320x320 batch 8 (peak live heap about 2.8 GB with
// recomputation) and 128x128 batch 8 (about 1.3 GB without): the weights,
// gradients and Adam state, plus per input pixel the activations kept for
// the backward pass and the largest temporaries, plus the patches when they
// are kept.
const (
	memFixedBytes         = 250e6
	memFloatsPerPixel     = 780
	memMaxLimitFraction   = 0.75 // of the machine's memory
	memLimitOverEstimate  = 1.3
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
