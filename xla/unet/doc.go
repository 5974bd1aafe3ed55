// Package xla is the segmentation model of the paper (Tang et al. 2020,
// section 2.5) in GoMLX: a U-Net with a ResNet-18 encoder, trained with soft
// Dice plus binary focal loss and Adam, with its training loop (per-epoch
// metrics, checkpoints, resume), inference and opacity percentages.
//
// # Model
//
// Encoder: torchvision's ResNet-18 (7x7/2 convolution, batch norm, ReLU,
// 3x3/2 max pool, four stages of two basic blocks with 64, 128, 256 and 512
// channels). Decoder: the U-Net of the segmentation_models libraries
// (decoder channels 256, 128, 64, 32, 16; each block upsamples by 2 with
// nearest neighbours, concatenates the encoder feature of the same scale
// (layer3, layer2, layer1, the stem before the pool, none), then applies two
// 3x3 convolution + batch norm + ReLU). Head: a 1x1 convolution to one logit
// per pixel. With one input channel (grayscale X-rays, the default) the
// model has 14,321,809 trainable parameters, the PyTorch reference of
// ../shared/bench/pytorch-unet-r18; HeadKernel 3 gives segmentation_models'
// 3x3 head (128 more). Layout NHWC; image sides must be multiples of 32.
//
// # Backends
//
// NewBackend picks the GoMLX backend from its argument or, when that is
// empty, from the environment variable GOMLX_BACKEND:
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
// # Fast paths on the Go backend
//
// The Go backend (compute v0.1.2) has no fast convolution, no gradient for
// max pooling, batch-norm training or Pad, and its element-wise ops are
// single threaded and memory bound. On it (OpsAuto resolves to OpsFast) the
// model is built from formulations that suit it:
//
//   - convolutions as im2col (k*k strided slices concatenated on the
//     channel axis, which gives the MatMul operand layout directly) and one
//     matrix multiplication; layers with fewer output than input channels
//     (the decoder's first convolutions) on the output side instead (one
//     MatMul into k*k*Cout columns, then k*k shifted slices summed);
//   - hand-written gradients for convolutions, batch norm (the full one,
//     through the batch statistics), max pooling and upsampling (see
//     customVJP), so the backward pass takes a few passes over the data;
//   - per-channel sums and transposes of narrow matrices as matrix
//     multiplications, per-channel broadcasts as block copies;
//   - matrix multiplications serialised, everything else run in parallel.
//
// On XLA (OpsNative) the backend's own convolution (cuDNN on a GPU) and
// GoMLX's automatic gradients are used.
//
// # Training for minutes on a CPU
//
// DefaultTrainConfig is the paper's training: a constant Adam 1e-4 and the
// full augmentation of datasets.DefaultAugment. In the few hundred steps a
// 2-core CPU affords at 64x64 it leaves the model barely started. On the
// 40-patient phantom cohort (datasets.WritePhantom, seed s; 48 training
// images), measured on 2026-11-26 on a 2-core machine, the per-image IoU of
// the testing images whose truth has opacity (convention (d), opacity eval's
// iou_d_non_empty_truth) after
//
//	opacity train --size 64 --epochs 40 --batch 8 --seed s --lr 1e-3 --lr-schedule cosine --augment flip
//
// was 0.722 (seed 1, 14 images, 3 min 12 s), 0.654 (seed 2, 15 images,
// 3 min 48 s) and 0.708 (seed 3, 18 images); 60 epochs gave 0.717, 0.669
// and 0.719; on seed 2, the default augmentation gave 0.525, batches of 4
// gave 0.661, and flips with the default brightness/contrast and noise gave
// 0.584 (but 0.62 instead of 0.41 on the differently exposed Cohen-like
// validation images). The same cohort's training images reach 0.85-0.88:
// the rest of the gap is generalisation from 48 images. This is the smoke
// preset of package paper.
package xla
