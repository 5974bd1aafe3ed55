package gofast

import (
	"regexp"
	"runtime"
	"strconv"

	"github.com/gomlx/compute"
)

// maxAutoLanes is the most lanes Options.Lanes = 0 picks: one per core
// (GOMAXPROCS), at most this many. Two lanes keep both cores of the
// benchmark machine busy while the matrix multiplications stay large.
const maxAutoLanes = 2

// parallelismRE finds the worker pool size in the Go backend's description
// ("Go Portable Compute Backend (parallelism=4)").
var parallelismRE = regexp.MustCompile(`parallelism=(-?\d+)`)

// laneCount returns the number of batch lanes (see Layers.Input) for a batch
// of the given size on backend b: requested, or for 0 one per core up to
// maxAutoLanes; never more than the batch.
//
// Each lane has its own chain of matrix multiplications (see ops.dot), so up
// to one multiplication per lane waits for worker slots at a time. The
// count is kept below the size of the backend's worker pool (2*GOMAXPROCS
// by default; "go:parallelism=N" sets N), so that such waits can never hold
// every slot: a free slot always goes to a node or worker that finishes and
// wakes the next waiter.
func laneCount(b compute.Backend, requested, batch int) int {
	return lanesFor(b.Description(), runtime.GOMAXPROCS(0), requested, batch)
}

// lanesFor is laneCount for a backend described by desc, on procs cores.
func lanesFor(desc string, procs, requested, batch int) int {
	n := requested
	if n <= 0 {
		n = min(procs, maxAutoLanes)
	}
	if p, ok := workerPoolSize(desc); ok && p > 0 {
		n = min(n, max(1, p-1))
	}
	return max(1, min(n, batch))
}

// workerPoolSize returns the worker pool size of a Go backend, read from its
// description desc (negative: unlimited; 0: no parallelism), and whether
// it was found.
func workerPoolSize(desc string) (int, bool) {
	m := parallelismRE.FindStringSubmatch(desc)
	if m == nil {
		return 0, false
	}
	p, err := strconv.Atoi(m[1])
	return p, err == nil
}
