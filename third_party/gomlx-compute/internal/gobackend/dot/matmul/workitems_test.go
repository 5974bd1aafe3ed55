// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package matmul

import (
	"fmt"
	"testing"
)

// TestFeedWorkItems checks that the work items of a batched product cover
// every (example, row, column) exactly once, (patch 7) that a product
// narrower than two RHS panels is still split between two workers, and
// (patch 19) that they fit the work channel workChanCap sizes.
func TestFeedWorkItems(t *testing.T) {
	params := CacheParams{LHSL1KernelRows: 4, RHSL1KernelCols: 32, PanelContractingSize: 128, LHSPanelCrossSize: 24, RHSPanelCrossSize: 512}
	for _, c := range []struct{ batch, rows, cols, workers, wantItems int }{
		{1, 100, 512, 2, 2}, // layer 4's 3x3 product at 320x320: was one item
		{1, 144, 4096, 2, 2},
		{1, 400, 256, 2, 0},
		{1, 10, 48, 2, 2},
		{1, 10, 16, 2, 1},
		{3, 7, 1000, 2, 0},
		{36, 64, 64, 2, 0},
		{1, 5000, 33, 4, 0},
		{2, 30, 700, 4, 0},
		{5, 100, 64, 2, 0},     // the batch split with a remainder
		{1, 100, 100, 2, 0},    // rows rounded down to panels of 24
		{1, 1000, 4608, 16, 0}, // many workers
		{3, 4800, 8, 8, 0},
		{36, 64, 64, 4, 0},
		{16, 64, 256, 2, 0},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d/%d", c.batch, c.rows, c.cols, c.workers), func(t *testing.T) {
			ch := make(chan workItem, 10000)
			feedWorkItems(c.batch, c.rows, c.cols, &params, c.workers, ch)
			seen := make([]int, c.batch*c.rows*c.cols)
			items := 0
			for it := range ch {
				items++
				for b := it.batchStart; b < it.batchEnd; b++ {
					for r := it.lhsRowStart; r < it.lhsRowEnd; r++ {
						for col := it.rhsColStart; col < it.rhsColEnd; col++ {
							seen[(b*c.rows+r)*c.cols+col]++
						}
					}
				}
			}
			for i, n := range seen {
				if n != 1 {
					t.Fatalf("element %d covered %d times", i, n)
				}
			}
			if capacity := workChanCap(c.batch, c.workers); items > capacity {
				t.Errorf("%d work items, more than the channel's %d (patch 19: the feeder would wait)", items, capacity)
			}
			if c.wantItems > 0 && items != c.wantItems {
				t.Errorf("%d work items, want %d", items, c.wantItems)
			}
		})
	}
}
