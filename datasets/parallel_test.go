package datasets

import (
	"sync/atomic"
	"testing"
)

func TestParallel(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 2, 7, 1000} {
		calls := make([]atomic.Int32, max(n, 0))
		var total atomic.Int32
		Parallel(n, func(i int) {
			calls[i].Add(1)
			total.Add(1)
		})
		if want := int32(max(n, 0)); total.Load() != want {
			t.Errorf("n = %d: %d calls, want %d", n, total.Load(), want)
		}
		for i := range calls {
			if c := calls[i].Load(); c != 1 {
				t.Errorf("n = %d: f(%d) called %d times, want 1", n, i, c)
			}
		}
	}
}
