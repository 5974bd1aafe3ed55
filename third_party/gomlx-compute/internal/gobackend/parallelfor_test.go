// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package gobackend_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gomlx/compute/internal/gobackend"
)

// TestParallelFor checks that ParallelFor calls fn on disjoint ranges that
// cover [0, n) exactly once, each at least minChunk long but the last, for
// sizes below, at and above the split threshold; and that CopyFlatParallel
// copies every value.
func TestParallelFor(t *testing.T) {
	b, err := gobackend.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	be := b.(*gobackend.Backend)
	for _, c := range []struct{ n, minChunk int }{{0, 1}, {1, 1}, {5, 1}, {7, 3}, {100, 10}, {1000, 1}, {1 << 20, 1 << 16}, {999, 1000}} {
		t.Run(fmt.Sprintf("%d/%d", c.n, c.minChunk), func(t *testing.T) {
			seen := make([]atomic.Int32, c.n)
			var calls atomic.Int32
			be.ParallelFor(c.n, c.minChunk, func(lo, hi int) {
				calls.Add(1)
				if hi-lo < c.minChunk && hi != c.n {
					t.Errorf("range [%d, %d) shorter than %d", lo, hi, c.minChunk)
				}
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			for i := range seen {
				if v := seen[i].Load(); v != 1 {
					t.Fatalf("index %d visited %d times", i, v)
				}
			}
			if c.n < 2*c.minChunk && calls.Load() != 1 {
				t.Errorf("%d calls below the threshold, want 1", calls.Load())
			}
		})
	}
	src := make([]float32, 300_001)
	for i := range src {
		src[i] = float32(i)
	}
	dst := make([]float32, len(src))
	be.CopyFlatParallel(dst, src)
	for i := range dst {
		if dst[i] != src[i] {
			t.Fatalf("CopyFlatParallel: dst[%d] = %g, want %g", i, dst[i], src[i])
		}
	}
}
