// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"fmt"
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute/internal/gobackend/dot"
)

// wideRHSKron is the Kronecker product m ⊗ m of a small matrix, as the
// Winograd transforms use them: row i*r+j, column a*c+b is m[i][a]*m[j][b].
func wideRHSKron(m [][]float32) (out []float32, rows, cols int) {
	r, c := len(m), len(m[0])
	out = make([]float32, r*r*c*c)
	for i := range r {
		for j := range r {
			for a := range c {
				for b := range c {
					out[(i*r+j)*c*c+a*c+b] = m[i][a] * m[j][b]
				}
			}
		}
	}
	return out, r * r, c * c
}

// The Winograd transforms the tests use (Lavin and Gray's): B^T and A^T of
// F(2x2, 3x3) and F(4x4, 3x3), and G of F(4x4, 3x3).
var (
	winoBT2 = [][]float32{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	winoAT2 = [][]float32{{1, 1, 1, 0}, {0, 1, -1, -1}}
	winoBT4 = [][]float32{{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}}
	winoAT4 = [][]float32{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
	winoG4  = [][]float32{{1. / 4, 0, 0}, {-1. / 6, -1. / 6, -1. / 6}, {-1. / 6, 1. / 6, -1. / 6}, {1. / 24, 1. / 12, 1. / 6}, {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}}
)

// wideRHSLHSCases are the lhs matrices of TestAVX512WideRHSMatchesDenseKernels:
// the transforms of Winograd F(2x2, 3x3) and F(4x4, 3x3) (their input
// transforms B^T ⊗ B^T are 25% and 37% non-zero), random dense ones and
// random ones with most values zero.
func wideRHSLHSCases(rng *rand.Rand) []struct {
	name string
	lhs  []float32
	m, k int
} {
	type c = struct {
		name string
		lhs  []float32
		m, k int
	}
	var cases []c
	add := func(name string, m [][]float32) {
		l, r, k := wideRHSKron(m)
		cases = append(cases, c{name, l, r, k})
	}
	add("F2-BT", winoBT2)
	add("F4-BT", winoBT4)
	add("F4-AT", winoAT4)
	add("F2-AT", winoAT2)
	add("F4-G", winoG4)
	for _, d := range []struct{ m, k int }{{4, 1}, {8, 64}, {64, 7}, {12, 33}} {
		for _, density := range []float64{1, 0.2} {
			l := make([]float32, d.m*d.k)
			for i := range l {
				if rng.Float64() < density {
					l[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(5)-2)))
				}
			}
			cases = append(cases, c{fmt.Sprintf("random-%dx%d-%.1f", d.m, d.k, density), l, d.m, d.k})
		}
	}
	return cases
}

// TestAVX512WideRHSMatchesDenseKernels holds patch 14's streamed product to
// the two float32 paths it replaces, the packed AVX-512 kernel
// (avx512LargeMatrixSliceFloat32) and the small one (avx512SmallFloat32),
// bit for bit: Winograd transforms and random lhs matrices, dense and
// sparse, times random rhs values of mixed magnitudes with -0s among them,
// at widths that end in a whole block, in 16-column steps and both, split
// at random between "cores" at multiples of 16 columns. The rhs then gets
// infinities and NaNs in some blocks: the dense kernels give NaN wherever
// a zero lhs value meets them, and so must the streamed one (NaN for NaN,
// any payload).
func TestAVX512WideRHSMatchesDenseKernels(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	defer func(v bool) { avx512KernelToOutput = v }(avx512KernelToOutput)
	avx512KernelToOutput = true
	rng := rand.New(rand.NewPCG(14, 3))
	params := AVX512ParamsFloat32
	pl := make([]float32, params.LHSPanelCrossSize*params.PanelContractingSize)
	pr := make([]float32, params.PanelContractingSize*params.RHSPanelCrossSize)
	po := make([]float32, params.LHSPanelCrossSize*params.RHSPanelCrossSize)
	for _, lc := range wideRHSLHSCases(rng) {
		for _, n := range []int{1024, 1024 + 16, 1024 + 112, 4096 + 48} {
			for _, nonFinite := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/n=%d/nonfinite=%v", lc.name, n, nonFinite), func(t *testing.T) {
					rhs := make([]float32, lc.k*n)
					for i := range rhs {
						switch rng.IntN(50) {
						case 0:
							rhs[i] = float32(math.Copysign(0, -1))
						case 1:
							rhs[i] = 0
						default:
							rhs[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
						}
					}
					if nonFinite {
						for _, v := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
							for range 3 {
								rhs[rng.IntN(len(rhs))] = v
							}
						}
					}
					if !wideRHSApplies(lc.m, n, lc.k) {
						t.Fatalf("patch 14 does not apply to [%d, %d] x [%d, %d]", lc.m, lc.k, lc.k, n)
					}
					fill := wideRHSFillFrom(rhs, n, lc.k)
					got := make([]float32, lc.m*n)
					for i := range got {
						got[i] = float32(math.NaN()) // every value must be written
					}
					sparse := newWideRHSTerms(lc.lhs, lc.m, lc.k, true)
					dense := newWideRHSTerms(lc.lhs, lc.m, lc.k, false)
					// Random splits between cores, as ParallelFor makes them.
					for c := 0; c < n; {
						next := min(n, c+16*(1+rng.IntN(n/16)))
						wideRHSColumns(&sparse, &dense, fill, got, lc.m, n, lc.k, c, next)
						c = next
					}
					large := make([]float32, lc.m*n)
					avx512LargeMatrixSliceFloat32(dot.LayoutNonTransposed, lc.lhs, rhs, large, lc.m, n, lc.k, 0, lc.m, 0, n, params, pl, pr, po)
					small := make([]float32, lc.m*n)
					avx512SmallFloat32(lc.lhs, rhs, 0, 1, lc.m, n, lc.k, small)
					whole := make([]float32, lc.m*n)
					avx512WideRHSFloat32(nil, lc.lhs, fill, lc.m, n, lc.k, whole)
					nans := 0
					for i := range got {
						for _, w := range []struct {
							name string
							v    float32
						}{{"the packed kernel", large[i]}, {"the small kernel", small[i]}, {"one call", whole[i]}} {
							g := got[i]
							if math.IsNaN(float64(w.v)) && math.IsNaN(float64(g)) {
								continue
							}
							if math.Float32bits(g) != math.Float32bits(w.v) {
								t.Fatalf("output[%d, %d] = %v (%#x), %s gives %v (%#x)", i/n, i%n, g, math.Float32bits(g), w.name, w.v, math.Float32bits(w.v))
							}
						}
						if math.IsNaN(float64(got[i])) {
							nans++
						}
					}
					if nonFinite != (nans > 0) {
						t.Fatalf("%d NaNs in the output with non-finite rhs values %v", nans, nonFinite)
					}
				})
			}
		}
	}
}

// TestWideRHSApplies checks which product sizes take patch 14's path.
func TestWideRHSApplies(t *testing.T) {
	for _, c := range []struct {
		m, n, k int
		want    bool
	}{
		{36, 16384, 36, true},
		{4, 1024, 16, true},
		{64, 65536, 64, true},
		{6, 16384, 36, false},  // rows not a multiple of 4
		{68, 16384, 36, false}, // too many rows
		{36, 16384, 65, false}, // too deep
		{36, 16392, 36, false}, // columns not a multiple of 16
		{36, 1008, 36, false},  // too narrow
	} {
		if got := wideRHSApplies(c.m, c.n, c.k); got != c.want {
			t.Errorf("%+v: applies %v, want %v", c, got, c.want)
		}
	}
}

// wideRHSFillFrom reads the rows of a [k, n] matrix rhs.
func wideRHSFillFrom(rhs []float32, n, k int) wideRHSFill {
	return func(dst []float32, c, width int) bool {
		for j := range k {
			copy(dst[j*wideRHSBlock:j*wideRHSBlock+width], rhs[j*n+c:])
		}
		return wideRHSFinite(dst, k, width)
	}
}

// BenchmarkAVX512WideRHS times patch 14's kernel on one core, its rhs read
// from a matrix (not from the image, as in the training step: see
// BenchmarkWideRHSFusion), against the paths the router takes (the packed
// kernel, or the small one under 4 Mi multiply-adds), at the Winograd
// transforms of the U-Net's 128² training step, and reports GFLOP/s of
// the dense product.
func BenchmarkAVX512WideRHS(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bt4, _, _ := wideRHSKron(winoBT4)
	at4, _, _ := wideRHSKron(winoAT4)
	bt2, _, _ := wideRHSKron(winoBT2)
	at2, _, _ := wideRHSKron(winoAT2)
	at4T := make([]float32, len(at4)) // kron(A^T)^T [36, 16]: the weight gradient's dY tiles
	for i := range 16 {
		for j := range 36 {
			at4T[j*16+i] = at4[i*36+j]
		}
	}
	params := AVX512ParamsFloat32
	pl := make([]float32, params.LHSPanelCrossSize*params.PanelContractingSize)
	pr := make([]float32, params.PanelContractingSize*params.RHSPanelCrossSize)
	po := make([]float32, params.LHSPanelCrossSize*params.RHSPanelCrossSize)
	for _, c := range []struct {
		name    string
		lhs     []float32
		m, k, n int
	}{
		{"F4-input", bt4, 36, 36, 16384},
		{"F4-input", bt4, 36, 36, 65536},
		{"F4-output", at4, 16, 36, 16384},
		{"F4-dY", at4T, 36, 16, 16384},
		{"F2-input", bt2, 16, 16, 32768},
		{"F2-output", at2, 4, 16, 32768},
	} {
		rhs := make([]float32, c.k*c.n)
		for i := range rhs {
			rhs[i] = float32(rng.NormFloat64())
		}
		out := make([]float32, c.m*c.n)
		for _, path := range []string{"before", "streamed"} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/%s", c.name, c.m, c.k, c.n, path), func(b *testing.B) {
				for range b.N {
					switch {
					case path == "streamed":
						avx512WideRHSFloat32(nil, c.lhs, wideRHSFillFrom(rhs, c.n, c.k), c.m, c.n, c.k, out)
					case c.m*c.k*c.n < noSIMDSmallMatMulSizeThreshold:
						avx512SmallFloat32(c.lhs, rhs, 0, 1, c.m, c.n, c.k, out)
					default:
						avx512LargeMatrixSliceFloat32(dot.LayoutNonTransposed, c.lhs, rhs, out, c.m, c.n, c.k, 0, c.m, 0, c.n, params, pl, pr, po)
					}
				}
				b.ReportMetric(2*float64(c.m*c.k*c.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
