package gofast

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

// benchForwardBackward times one execution of f's value and its gradients
// with respect to all inputs (the loss is the sum of squares of f's
// output), on the Go backend with the fast ops. Run with GOMAXPROCS=1 to
// compare the work of formulations, with the default to see the parallel
// speed.
func benchForwardBackward(b *testing.B, f func(o ops, in []*Node) *Node, inputs ...*tensors.Tensor) {
	exec, err := NewExec(goBackend(b), func(in []*Node) []*Node {
		o := newOps(false)
		z := f(o, in)
		loss := ReduceAllSum(Mul(z, z))
		if link := o.gradientLink(); link != nil {
			loss = Add(loss, link)
		}
		return append([]*Node{loss}, Gradient(loss, in...)...)
	})
	if err != nil {
		b.Fatal(err)
	}
	benchExec(b, exec, inputs)
}

// benchExec times exec on the inputs, after one untimed execution that
// compiles it.
func benchExec(b *testing.B, exec *Exec, inputs []*tensors.Tensor) {
	args := make([]any, len(inputs))
	for i, x := range inputs {
		args[i] = x
	}
	run := func() {
		out, err := exec.Exec(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range out {
			t.FinalizeAll()
		}
	}
	run() // compiles
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
}

// BenchmarkConvBN times forward and backward of a convolution followed by
// batch norm and ReLU, with the shapes of the default model's layers at
// 128x128 batch 8 (one lane).
func BenchmarkConvBN(b *testing.B) {
	s1 := convSpec{k: 3, stride: 1, pad: 1}
	cases := []struct {
		name         string
		h, cin, cout int
		c            convSpec
	}{
		{"stem_7x7s2_128px_1to64", 128, 1, 64, convSpec{k: 7, stride: 2, pad: 3, noInputGrad: true}},
		{"layer1_32px_64", 32, 64, 64, s1},
		{"layer2_s2_32px_64to128", 32, 64, 128, convSpec{k: 3, stride: 2, pad: 1}},
		{"layer2_16px_128", 16, 128, 128, s1},
		{"layer3_8px_256", 8, 256, 256, s1},
		{"layer4_4px_512", 4, 512, 512, s1},
		{"block2_32px_64", 32, 64, 64, s1},
		{"block3_64px_32", 64, 32, 32, s1},
		{"block4_128px_16", 128, 16, 16, s1},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			benchForwardBackward(b, func(o ops, in []*Node) *Node {
				return oneLaneBatchNorm(o, o.conv(in[0], in[1], tc.c), in[2], in[3], nil, true)
			},
				randTensor(1, -1, 1, 8, tc.h, tc.h, tc.cin), randTensor(2, -0.1, 0.1, tc.c.k, tc.c.k, tc.cin, tc.cout),
				randTensor(3, 0.5, 1.5, tc.cout), randTensor(4, -0.5, 0.5, tc.cout))
		})
	}
}

// BenchmarkUpConv compares the sub-pixel convolution of an upsampled input
// with upsampling followed by the output-side convolution (the last decoder
// block's first convolution: 64x64 -> 128x128, 32 -> 16 channels, batch 8).
func BenchmarkUpConv(b *testing.B) {
	c := convSpec{k: 3, stride: 1, pad: 1}
	x, w := randTensor(1, -1, 1, 8, 64, 64, 32), randTensor(2, -0.1, 0.1, 3, 3, 32, 16)
	b.Run("subpixel", func(b *testing.B) {
		benchForwardBackward(b, func(o ops, in []*Node) *Node { return o.upConv([]*Node{in[0]}, in[1])[0] }, x, w)
	})
	b.Run("upsample_then_conv", func(b *testing.B) {
		benchForwardBackward(b, func(o ops, in []*Node) *Node { return o.outputSideConv(o.upsample2x(in[0]), in[1], c) }, x, w)
	})
}

// BenchmarkMaxPool times the stem's max pool (64x64x64, batch 8) forward
// and backward.
func BenchmarkMaxPool(b *testing.B) {
	benchForwardBackward(b, func(o ops, in []*Node) *Node { return o.maxPool3x3s2(in[0]) },
		randTensor(1, 0, 1, 8, 64, 64, 64))
}

// BenchmarkBatchNorm times forward and backward of batch norm and ReLU
// alone (one lane), at the activations of the default model's layers at
// 128x128 batch 8 with the fewest channels (where per-channel rows are
// shortest) and the most values.
func BenchmarkBatchNorm(b *testing.B) {
	for _, tc := range []struct {
		name string
		h, c int
	}{
		{"128px_16", 128, 16},
		{"64px_32", 64, 32},
		{"64px_64", 64, 64},
		{"16px_128", 16, 128},
	} {
		b.Run(tc.name, func(b *testing.B) {
			benchForwardBackward(b, func(o ops, in []*Node) *Node {
				return oneLaneBatchNorm(o, in[0], in[1], in[2], nil, true)
			},
				randTensor(1, -1, 1, 8, tc.h, tc.h, tc.c), randTensor(3, 0.5, 1.5, tc.c), randTensor(4, -0.5, 0.5, tc.c))
		})
	}
}
