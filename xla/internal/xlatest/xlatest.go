// Package xlatest holds the helpers that the tests of the model's packages
// (xla/gofast, xla/unet) share: the Go backend, random tensors, and
// comparison of tensors within a tolerance.
package xlatest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/tensors"
)

// GoBackend returns GoMLX's pure-Go backend.
func GoBackend(t testing.TB) compute.Backend {
	t.Helper()
	return gobackend.GetBackend()
}

// RandTensor returns a float32 tensor of the given dimensions with values
// drawn uniformly from [lo, hi) by a generator seeded with seed.
func RandTensor(seed uint64, lo, hi float64, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// AssertClose fails the test when the float32 tensors differ in shape or
// by more than tol (absolute, relative to the largest magnitude of want),
// naming what is compared.
func AssertClose(t *testing.T, what string, got, want *tensors.Tensor, tol float64) {
	t.Helper()
	if !got.Shape().Equal(want.Shape()) {
		t.Fatalf("%s: shape %s, want %s", what, got.Shape(), want.Shape())
	}
	g := tensors.MustCopyFlatData[float32](got)
	w := tensors.MustCopyFlatData[float32](want)
	scale := 0.0
	for _, v := range w {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	if scale == 0 {
		scale = 1
	}
	for i := range g {
		if d := math.Abs(float64(g[i] - w[i])); d > tol*scale || math.IsNaN(float64(g[i])) {
			t.Fatalf("%s: element %d = %g, want %g (scale %g)", what, i, g[i], w[i], scale)
		}
	}
}
