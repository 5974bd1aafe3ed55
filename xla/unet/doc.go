// Package unet is the segmentation model of the paper (Tang et al. 2020,
// section 2.5) in GoMLX: a U-Net with a ResNet encoder predicting one or
// more target masks (opacity, lungs), trained with soft Dice plus binary
// focal loss and Adam, with its training loop (per-epoch metrics, phase
// timings, an evaluation callback, checkpoints, resume), inference and
// backend selection. It lives under xla/, the model's home; the model runs on
// XLA through PJRT or on GoMLX's pure-Go backend.
//
// # Model
//
// unet.go is the model, read top to bottom. Encoder: torchvision's
// ResNet-18 (the paper's) or ResNet-34 (7x7/2 convolution, batch norm,
// ReLU, 3x3/2 max pool, four stages of basic blocks with 64, 128, 256 and
// 512 channels: 2, 2, 2, 2 blocks or 3, 4, 6, 3). Decoder: the U-Net of the
// segmentation_models libraries (decoder channels 256, 128, 64, 32, 16;
// each block upsamples by 2 with nearest neighbours, concatenates the
// encoder feature of the same scale, then applies two 3x3 convolution +
// batch norm + ReLU), with optional dropout on each block's output. Head: a
// convolution to one logit per target. Config.Parameters counts the
// trainable parameters from the definition; with one input channel, one
// target and the 1x1 head the ResNet-18 model has the parameters of the
// PyTorch reference (unet_r18.py, which scripts/bench.sh times beside it;
// not part of this repository). Layout NHWC;
// image sides must be multiples of 32.
//
// The model is written against the layer interface of package xla/nn, whose
// native implementation runs on XLA and whose Go-backend implementation is
// package xla/gofast (OpsAuto picks by backend). To change the architecture,
// edit unet.go and Config; the layers need no change.
//
// # Targets
//
// Config.Targets lists the masks the model predicts (datasets.TargetOpacity,
// datasets.TargetLungs), one output channel and one sigmoid each; the loss
// is the sum of the targets' Dice + focal losses, and the metrics of every
// epoch are reported per target. The paper's model is the opacity target
// alone.
//
// # Backends
//
// NewBackend picks the GoMLX backend from its argument or, when that is
// empty, from the environment variable GOMLX_BACKEND (BackendSpec is the one
// place that reads it):
//
//   - "go" (the default when unset): GoMLX's pure-Go backend, on the CPU,
//     no cgo. Binaries built with -tags=noxla (make build) contain only it.
//   - "xla:cpu", "xla:cuda", "xla:/path/to/pjrt_plugin.so": XLA through a
//     PJRT plugin, in binaries built without the noxla tag (cgo; make
//     build-xla). The plugin is looked up in PJRT_PLUGIN_LIBRARY_PATH,
//     ~/.local/lib/go-xla, /usr/local/lib/go-xla and LD_LIBRARY_PATH, or
//     given as an absolute path; on a GPU machine with JAX, the CUDA plugin
//     that JAX installs (jax-cuda*-pjrt) can be used. Set
//     GOMLX_NO_AUTO_INSTALL=1 offline, otherwise go-xla tries to download
//     a plugin.
//
// # Training for minutes on a CPU
//
// DefaultTrainConfig is the paper's training: a constant Adam 1e-4 and the
// full augmentation of transform.DefaultAugment. In the few hundred steps a
// 2-core CPU affords at 64x64 it leaves the model barely started; Adam 1e-3
// decayed along a cosine (ScheduleCosine) with horizontal flips only
// (transform.AugmentFlip) trains the same model in minutes. REPRODUCE.md
// gives the measured IoUs of both recipes and the commands.
package unet
