// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul_test

import (
	"fmt"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot/matmul"
	"github.com/gomlx/compute/shapes"
)

// BenchmarkN16Large times float32 products with 16 columns of the U-Net's
// training step at 128² batch 8 (one lane of 4 images), on patch 17's path
// and on the packed kernel: a full-resolution 3x3 convolution's im2col
// product [65536, 144] x [144, 16], the 36 Winograd F(4x4) products of
// 16-channel tiles [36, 4096, 16] x [36, 16, 16], and the head's input
// gradient [65536, 1] x [1, 16].
func BenchmarkN16Large(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("no AVX-512")
	}
	for _, c := range []struct {
		name        string
		batch, m, k int
	}{
		{"im2col 65536x144", 1, 65536, 144},
		{"winograd 36x4096x16", 36, 4096, 16},
		{"head 65536x1", 1, 65536, 1},
	} {
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/n16=%v", c.name, on), func(b *testing.B) {
				matmul.N16LargeEnabled = on
				defer func() { matmul.N16LargeEnabled = true }()
				builder := backend.Builder("n16")
				f := builder.Main()
				ls, rs := shapes.Make(dtypes.Float32, c.batch, c.m, c.k), shapes.Make(dtypes.Float32, c.batch, c.k, 16)
				lhs, err := f.Parameter("lhs", ls, nil)
				if err != nil {
					b.Fatal(err)
				}
				rhs, err := f.Parameter("rhs", rs, nil)
				if err != nil {
					b.Fatal(err)
				}
				prod, err := f.DotGeneral(lhs, []int{2}, []int{0}, rhs, []int{1}, []int{0}, compute.DotGeneralConfig{})
				if err != nil {
					b.Fatal(err)
				}
				if err := f.Return([]compute.Value{prod}, nil); err != nil {
					b.Fatal(err)
				}
				exec, err := builder.Compile()
				if err != nil {
					b.Fatal(err)
				}
				defer exec.Finalize()
				lb, err := backend.BufferFromFlatData(0, make([]float32, ls.Size()), ls)
				if err != nil {
					b.Fatal(err)
				}
				rb, err := backend.BufferFromFlatData(0, make([]float32, rs.Size()), rs)
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					outs, err := exec.Execute([]compute.Buffer{lb, rb}, []bool{false, false}, 0)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range outs {
						o.(*gobackend.Buffer).Finalize()
					}
				}
			})
		}
	}
}
