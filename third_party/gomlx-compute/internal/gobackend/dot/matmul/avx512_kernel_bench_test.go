// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"fmt"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute/internal/gobackend/dot"
)

// BenchmarkAVX512LargeSlice times one single-threaded float32 matrix
// product through the packed AVX-512 path (packing, kernel and writing the
// output) at shapes of the U-Net's convolutions as im2col products and of
// its Winograd tile products, with the Go kernel, its packed lhs and
// packed output ("go") and with patch 6's assembly kernel writing to the
// output ("asm"), and reports GFLOP/s.
func BenchmarkAVX512LargeSlice(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("no AVX-512")
	}
	defer func(v bool) { avx512KernelToOutput = v }(avx512KernelToOutput)
	for _, c := range []struct{ m, k, n int }{
		{4096, 576, 64},    // 32x32 x 4 images, 64 -> 64, 3x3
		{16384, 288, 32},   // 64x64 x 4 images, 32 -> 32
		{256, 2304, 256},   // 8x8 x 4 images, 256 -> 256
		{576, 4096, 64},    // a weight gradient: patches^T x dY
		{1024, 1024, 1024}, // square
		{64, 64, 64},       // a Winograd tile product: 64 tiles, 64 -> 64
		{256, 64, 64},      // 256 tiles
		{16, 256, 256},     // 16 tiles, 256 -> 256
		{64, 512, 512},     // a 3x3 tap of layer4 at 128x128: 4 images of 4x4 pixels, 512 -> 512
		{36, 36, 16384},    // a Winograd input transform: kron(B^T, B^T) x the tiles
		{16, 36, 16384},    // an F(2x2) output transform
		{64, 4608, 512},    // layer4 at 128x128 (4 images of 4x4 pixels), 3x3, 512 -> 512: forward
		{512, 64, 4608},    // its weight gradient as dY^T x patches
		{4608, 64, 512},    // the same as patches^T x dY
		{64, 256, 64},      // an F(4x4) weight-gradient tile product: dM^T x V, 64 tiles
		{256, 64, 256},     // an F(2x2) input-gradient tile product, 256 tiles, 64 -> 256
		{100, 4608, 512},   // layer4 at 320x320, one image of 10x10 pixels: forward
		{400, 2304, 256},   // layer3 at 320x320, one image of 20x20 pixels: forward
		{200, 2304, 256},   // half of it (one of two workers' rows)
	} {
		for _, v := range []struct {
			name    string
			asm     bool
			maxRows int
		}{{"go", false, 0}, {"asm", true, avx512UnpackedRHSMaxRows}, {"asm-packed", true, 0}, {"asm-unpacked", true, 1 << 30}} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", c.m, c.k, c.n, v.name), func(b *testing.B) {
				defer func(v int) { avx512UnpackedRHSMaxRows = v }(avx512UnpackedRHSMaxRows)
				avx512KernelToOutput, avx512UnpackedRHSMaxRows = v.asm, v.maxRows
				params := AVX512ParamsFloat32
				lhs := make([]float32, c.m*c.k)
				rhs := make([]float32, c.k*c.n)
				out := make([]float32, c.m*c.n)
				for i := range lhs {
					lhs[i] = float32(i%7) - 3
				}
				for i := range rhs {
					rhs[i] = float32(i%5) - 2
				}
				pl := make([]float32, params.LHSPanelCrossSize*params.PanelContractingSize)
				pr := make([]float32, params.PanelContractingSize*params.RHSPanelCrossSize)
				po := make([]float32, params.LHSPanelCrossSize*params.RHSPanelCrossSize)
				b.ResetTimer()
				for range b.N {
					avx512LargeMatrixSliceFloat32(dot.LayoutNonTransposed, lhs, rhs, out, c.m, c.n, c.k, 0, c.m, 0, c.n, params, pl, pr, po)
				}
				b.ReportMetric(2*float64(c.m*c.k*c.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
