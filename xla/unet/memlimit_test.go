package unet

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// TestMemoryLimitFollowsLiveHeap keeps 64 MiB live beside a limit with an
// 8 MiB headroom: the limit must rise to at least their sum, the runtime's
// limit must be the one reported, a cap below them must hold, and the limit
// must not fall once the 64 MiB are garbage.
func TestMemoryLimitFollowsLiveHeap(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	const held, headroom = 64 << 20, 8 << 20
	l := &memoryLimit{headroom: headroom, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	big := make([]byte, held)
	for i := range big {
		big[i] = byte(i)
	}
	runtime.GC()
	l.follow()
	if l.limit < held+headroom {
		t.Fatalf("limit %d with %d live and %d headroom: want at least %d", l.limit, held, headroom, held+headroom)
	}
	if got := debug.SetMemoryLimit(-1); got != l.limit {
		t.Fatalf("runtime's limit %d, reported %d", got, l.limit)
	}
	risen := l.limit
	l.cap, l.limit = held/2, 0
	l.follow()
	if l.limit != held/2 {
		t.Fatalf("limit %d with the cap %d below the live heap: want the cap", l.limit, held/2)
	}
	l.cap, l.limit = 0, risen
	runtime.KeepAlive(big)
	big = nil
	runtime.GC()
	l.follow()
	if l.limit != risen {
		t.Fatalf("limit went from %d to %d when the live heap fell: it only rises", risen, l.limit)
	}
}

// TestMemoryLimitLeavesGOMEMLIMIT checks that the variable, when set,
// decides: newMemoryLimit returns nil and it and follow leave the runtime's
// limit alone.
func TestMemoryLimitLeavesGOMEMLIMIT(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	t.Setenv("GOMEMLIMIT", "5GiB")
	const set = 5 << 30
	debug.SetMemoryLimit(set)
	l := newMemoryLimit(8, 128, 128, false, 0)
	if l != nil {
		t.Errorf("newMemoryLimit with GOMEMLIMIT set: %+v, want nil", l)
	}
	l.follow()
	if got := debug.SetMemoryLimit(-1); got != set {
		t.Fatalf("limit %d with GOMEMLIMIT set: want %d left alone", got, set)
	}
}
