// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package blocktranspose

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestFloat32MatchesDefinition compares Float32 (16x16 kernel where Fast)
// with the definition dst[c*dstStride+r] = src[r*srcStride+c], bit for bit
// (NaN payloads and signed zeros among the values), on blocks smaller
// than, equal to and not multiples of 16, with strides wider than the
// block, and checks that nothing outside the block is written.
func TestFloat32MatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []float32{float32(math.NaN()), math.Float32frombits(0x7fc01234), float32(math.Copysign(0, -1)), float32(math.Inf(-1))}
	for _, c := range []struct{ rows, cols, srcExtra, dstExtra int }{
		{16, 16, 0, 0}, {16, 16, 3, 5}, {32, 128, 0, 0}, {32, 36, 7, 0}, {17, 33, 0, 2},
		{15, 16, 0, 0}, {16, 15, 1, 1}, {1, 40, 0, 0}, {40, 1, 0, 0}, {48, 64, 16, 16}, {5, 7, 2, 3},
	} {
		for _, fast := range []bool{Fast, false} {
			t.Run(fmt.Sprintf("%dx%d+%d+%d/fast=%v", c.rows, c.cols, c.srcExtra, c.dstExtra, fast), func(t *testing.T) {
				defer func(v bool) { Fast = v }(Fast)
				Fast = fast
				srcStride, dstStride := c.cols+c.srcExtra, c.rows+c.dstExtra
				src := make([]float32, c.rows*srcStride)
				for i := range src {
					src[i] = rng.Float32()*2 - 1
					if i%11 == 3 {
						src[i] = special[i%len(special)]
					}
				}
				const guard = -12345
				dst := make([]float32, c.cols*dstStride)
				for i := range dst {
					dst[i] = guard
				}
				Float32(dst, dstStride, src, srcStride, c.rows, c.cols)
				for cc := range c.cols {
					for r := range dstStride {
						got := math.Float32bits(dst[cc*dstStride+r])
						want := math.Float32bits(guard)
						if r < c.rows {
							want = math.Float32bits(src[r*srcStride+cc])
						}
						if got != want {
							t.Fatalf("dst[%d*%d+%d] = %#x, want %#x", cc, dstStride, r, got, want)
						}
					}
				}
			})
		}
	}
}

// BenchmarkFloat32 times the transpose of a [512, 4608] matrix (a weight
// gradient of the U-Net's layer 4) with and without the 16x16 kernel.
func BenchmarkFloat32(b *testing.B) {
	const rows, cols = 512, 4608
	src := make([]float32, rows*cols)
	dst := make([]float32, rows*cols)
	for _, fast := range []bool{Fast, false} {
		b.Run(fmt.Sprintf("fast=%v", fast), func(b *testing.B) {
			defer func(v bool) { Fast = v }(Fast)
			Fast = fast
			for range b.N {
				for r0 := 0; r0 < rows; r0 += 32 {
					for c0 := 0; c0 < cols; c0 += 32 {
						Float32(dst[c0*rows+r0:], rows, src[r0*cols+c0:], cols, 32, 32)
					}
				}
			}
			b.ReportMetric(float64(rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
		})
	}
}
