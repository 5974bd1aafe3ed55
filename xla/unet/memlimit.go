package unet

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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
//
// The limit counts nothing but the step: it suits a process that holds
// little else (bench/gobench). A training run that holds its data set uses
// a memoryLimit instead, which follows what else is live.
func SetTrainingMemoryLimit(batch, height, width int, recompute bool, extraBytes int64) int64 {
	if _, ok := os.LookupEnv(memoryLimitEnvVarName); ok {
		return debug.SetMemoryLimit(-1)
	}
	l := stepMemoryLimit(batch, height, width, recompute, extraBytes)
	limit := l.bounded(l.headroom)
	debug.SetMemoryLimit(limit)
	return limit
}

// memoryLimit keeps the Go runtime's soft memory limit of a training run a
// step's headroom (SetTrainingMemoryLimit's amount) above the heap that the
// last collection found live, raising it when that heap grows: the training
// and testing images, the evaluation's cached batches and whatever else the
// process holds. A limit that left the step less room than it needs would
// make the collector run many times a step (and empty the backend's buffer
// pools, which are sync.Pools, so the step allocates again): at 192² batch 8
// the step's limit alone, with the data set held beside it, ran training
// 2.6 times slower (REPRODUCE.md, "A 192-px opacity model"). The limit only
// rises and is bounded like SetTrainingMemoryLimit's.
type memoryLimit struct {
	headroom   int64 // bytes above the live heap
	floor, cap int64 // the least and the most limit; cap 0 for no cap
	limit      int64 // the limit in force; 0 before the first follow
	sample     []metrics.Sample
}

// stepMemoryLimit returns the headroom and bounds of a training step's
// limit (see SetTrainingMemoryLimit): 1.1 × EstimatedTrainingBytes plus
// extraBytes, at least 1 GiB, at most 75% of the machine's memory.
func stepMemoryLimit(batch, height, width int, recompute bool, extraBytes int64) *memoryLimit {
	l := &memoryLimit{
		headroom: int64(memLimitOverEstimate*EstimatedTrainingBytes(batch, height, width, recompute)) + extraBytes,
		floor:    memMinimumLimitBytes,
	}
	if total := totalMemory(); total > 0 {
		l.cap = int64(memMaxLimitFraction * float64(total))
	}
	return l
}

// bounded returns bytes capped at l.cap (when set), then at least l.floor.
func (l *memoryLimit) bounded(bytes int64) int64 {
	if l.cap > 0 {
		bytes = min(bytes, l.cap)
	}
	return max(bytes, l.floor)
}

// newMemoryLimit collects the garbage (so the live heap is the data set the
// training holds, not what loading it left behind) and sets the limit to
// the live heap plus a step's headroom for batches of the given size plus
// extraBytes, bounded as SetTrainingMemoryLimit's. It returns nil, and
// leaves the limit alone, when GOMEMLIMIT is set.
func newMemoryLimit(batch, height, width int, recompute bool, extraBytes int64) *memoryLimit {
	if _, ok := os.LookupEnv(memoryLimitEnvVarName); ok {
		return nil
	}
	l := stepMemoryLimit(batch, height, width, recompute, extraBytes)
	l.sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	runtime.GC()
	l.follow()
	return l
}

// follow raises the limit to the live heap of the last collection plus the
// headroom, when that is above the limit in force. It reads one runtime
// metric and is cheap enough to call after every step; on nil it does
// nothing.
func (l *memoryLimit) follow() {
	if l == nil {
		return
	}
	metrics.Read(l.sample)
	if l.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	if want := l.bounded(int64(l.sample[0].Value.Uint64()) + l.headroom); want > l.limit {
		l.limit = want
		debug.SetMemoryLimit(want)
	}
}
