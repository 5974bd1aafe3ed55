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
	limit := int64(memLimitOverEstimate*EstimatedTrainingBytes(batch, height, width, recompute)) + extraBytes
	if total := totalMemory(); total > 0 {
		limit = min(limit, int64(memMaxLimitFraction*float64(total)))
	}
	limit = max(limit, memMinimumLimitBytes)
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
// rises, is capped like SetTrainingMemoryLimit's, and is left alone when
// GOMEMLIMIT is set.
type memoryLimit struct {
	headroom   int64 // bytes above the live heap
	floor, cap int64 // the least and the most limit; cap 0 for no cap
	limit      int64 // the limit in force; 0 when GOMEMLIMIT decides
	sample     []metrics.Sample
}

// newMemoryLimit collects the garbage (so the live heap is the data set the
// training holds, not what loading it left behind) and sets the limit to
// the live heap plus a step's headroom for batches of the given size plus
// extraBytes, capped at 75% of the machine's memory and at least 1 GiB.
func newMemoryLimit(batch, height, width int, recompute bool, extraBytes int64) *memoryLimit {
	l := &memoryLimit{
		headroom: int64(memLimitOverEstimate*EstimatedTrainingBytes(batch, height, width, recompute)) + extraBytes,
		floor:    memMinimumLimitBytes,
		sample:   []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
	}
	if total := totalMemory(); total > 0 {
		l.cap = int64(memMaxLimitFraction * float64(total))
	}
	if _, ok := os.LookupEnv(memoryLimitEnvVarName); ok {
		return l
	}
	runtime.GC()
	l.limit = -1
	l.follow()
	return l
}

// follow raises the limit to the live heap of the last collection plus the
// headroom, when that is above the limit in force. It reads one runtime
// metric and is cheap enough to call after every step.
func (l *memoryLimit) follow() {
	if l == nil || l.limit == 0 {
		return
	}
	metrics.Read(l.sample)
	if l.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	want := max(int64(l.sample[0].Value.Uint64())+l.headroom, l.floor)
	if l.cap > 0 {
		want = min(want, l.cap)
	}
	if want > l.limit {
		l.limit = want
		debug.SetMemoryLimit(want)
	}
}
