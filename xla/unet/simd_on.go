//go:build goexperiment.simd

package unet

// SIMD reports whether the binary was built with GOEXPERIMENT=simd, which
// gives the Go backend its AVX2/AVX-512 matrix multiplication (about 10
// times faster than the portable one; make exports it).
const SIMD = true
