package gofast

import "testing"

func TestLaneCount(t *testing.T) {
	cases := []struct {
		desc                          string
		procs, requested, batch, want int
	}{
		{"Go Portable Compute Backend (parallelism=4)", 2, 0, 8, 2},
		{"Go Portable Compute Backend (parallelism=32)", 16, 0, 8, maxAutoLanes},
		{"Go Portable Compute Backend (parallelism=32)", 16, 6, 8, 6},
		{"Go Portable Compute Backend (parallelism=32)", 16, 6, 4, 4}, // no more lanes than images
		{"Go Portable Compute Backend (parallelism=2)", 1, 0, 8, 1},   // one core
		{"Go Portable Compute Backend (parallelism=4)", 8, 4, 8, 3},   // fewer lanes than the pool has slots
		{"Go Portable Compute Backend (parallelism=-1)", 2, 3, 8, 3},  // unlimited pool
		{"Go Portable Compute Backend (parallelism=0)", 2, 0, 8, 2},   // no pool: nodes run inline
		{"XLA", 2, 0, 8, 2},
	}
	for _, tc := range cases {
		if got := lanesFor(tc.desc, tc.procs, tc.requested, tc.batch); got != tc.want {
			t.Errorf("lanesFor(%q, procs %d, requested %d, batch %d) = %d, want %d",
				tc.desc, tc.procs, tc.requested, tc.batch, got, tc.want)
		}
	}
}
