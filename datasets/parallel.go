package datasets

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Parallel calls f(0), ..., f(n-1), each once, on up to GOMAXPROCS
// goroutines, and returns when all have returned. The calls run in no set
// order: f must be safe to call concurrently (typically each i writes only
// its own slot of a result).
func Parallel(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		}()
	}
	wg.Wait()
}
