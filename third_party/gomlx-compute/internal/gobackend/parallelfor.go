// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package gobackend

import (
	"runtime"
	"sync"
)

// ParallelFor calls fn over [0, n) in contiguous chunks of at least
// minChunk (except a shorter last one), using the cores that are idle now
// (workerspool.Pool.StartIfIdle): the caller's goroutine takes the first
// chunk, and a chunk whose helper cannot start runs on the caller's
// goroutine after it. With no idle core, or n < 2*minChunk, it is one call
// fn(0, n). It returns when every chunk is done. fn must be safe to call
// concurrently on disjoint ranges.
func (b *Backend) ParallelFor(n, minChunk int, fn func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/max(minChunk, 1))
	if b == nil || b.Workers == nil || parts < 2 {
		fn(0, n)
		return
	}
	chunk := (n + parts - 1) / parts
	var wg sync.WaitGroup
	var inline [][2]int
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		if !b.Workers.StartIfIdle(func() { defer wg.Done(); fn(lo, hi) }) {
			wg.Done()
			inline = append(inline, [2]int{lo, hi})
		}
	}
	fn(0, min(chunk, n))
	for _, r := range inline {
		fn(r[0], r[1])
	}
	wg.Wait()
}

// copyMinChunk is the fewest values per core when CopyFlatParallel splits
// a copy between idle cores.
const copyMinChunk = 64 << 10

// CopyFlatParallel is CopyFlat, a float32 copy split between the cores that
// are idle now (ParallelFor).
func (b *Backend) CopyFlatParallel(flatDst, flatSrc any) {
	dst, ok1 := flatDst.([]float32)
	src, ok2 := flatSrc.([]float32)
	if !ok1 || !ok2 {
		CopyFlat(flatDst, flatSrc)
		return
	}
	b.ParallelFor(min(len(dst), len(src)), copyMinChunk, func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
}
