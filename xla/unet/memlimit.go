package unet

import (
	"os"
	"runtime/debug"
)

// SetTrainingMemoryLimit sets the Go runtime's soft memory limit for
// training batches of the given size, plus extraBytes held beside the
// training (a checkpoint's snapshot of the weights and optimiser state
// while it is written), unless the environment variable GOMEMLIMIT sets
// one, and returns the limit in force (bytes; 0 when none was set).
//
// The Go backend allocates every intermediate tensor as a Go buffer and
// returns it to a pool; by default the garbage collector lets the heap (live
// tensors plus pooled ones) grow to about twice what a step needs. A limit a
// little above EstimatedTrainingBytes (10% more) makes it collect before
// that, for some more CPU time in the collector; tighter limits slow the
// step (REPRODUCE.md, "CPU"). It is capped at 75%
// of the machine's memory and is at least 1 GiB.
func SetTrainingMemoryLimit(batch, height, width int, recompute bool, extraBytes int64) int64 {
	if _, ok := os.LookupEnv(memoryLimitEnvVarName); ok {
		return debug.SetMemoryLimit(-1)
	}
	limit := int64(memLimitOverEstimate*EstimatedTrainingBytes(batch, height, width, recompute)) + extraBytes
	if total := totalMemory(); total > 0 {
		limit = min(limit, int64(memMaxLimitFraction*float64(total)))
	}
	limit = max(limit, memMinimumLimitBytes)
	debug.SetMemoryLimit(limit)
	return limit
}
