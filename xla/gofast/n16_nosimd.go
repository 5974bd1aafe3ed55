//go:build !(goexperiment.simd && amd64)

package gofast

// n16Fused reports whether the Go backend fuses an im2col matrix into its
// product with a 16-column kernel (patch 17 of third_party/gomlx-compute:
// GOEXPERIMENT=simd on a CPU with AVX-512); never without GOEXPERIMENT=simd.
func n16Fused() bool { return false }
