package gobackend

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// zipIndicesReference is ZipIterator.IterFlatIndices as of compute v0.1.2
// (the carry over all axes after every element), collected into a slice.
func zipIndicesReference(zi *ZipIterator) []ZippedIndices {
	var all []ZippedIndices
	rank := len(zi.tgtDims)
	perAxesIdx := make([]int, rank)
	lhsFlatIdx := 0
	rhsFlatIdx := 0
	for dstFlatIdx := range zi.tgtSize {
		all = append(all, ZippedIndices{LHSFlatIdx: lhsFlatIdx, RHSFlatIdx: rhsFlatIdx, TgtFlatIdx: dstFlatIdx})
		lhsFlatIdx++
		rhsFlatIdx++
		for axis := rank - 1; axis >= 0; axis-- {
			perAxesIdx[axis]++
			if perAxesIdx[axis] < zi.tgtDims[axis] {
				if zi.lhsIsBroadcast[axis] {
					lhsFlatIdx -= zi.lhsStrides[axis]
				}
				if zi.rhsIsBroadcast[axis] {
					rhsFlatIdx -= zi.rhsStrides[axis]
				}
				break
			}
			perAxesIdx[axis] = 0
		}
	}
	return all
}

func TestZipIteratorMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 4))
	check := func(lhsDims, rhsDims []int) {
		t.Helper()
		tgtDims := make([]int, len(lhsDims))
		for axis := range tgtDims {
			tgtDims[axis] = max(lhsDims[axis], rhsDims[axis])
		}
		zi := NewZippedBroadcastIterator(shapes.Make(dtypes.Float32, lhsDims...),
			shapes.Make(dtypes.Float32, rhsDims...), shapes.Make(dtypes.Float32, tgtDims...))
		want := zipIndicesReference(zi)
		got := slices.Collect(zi.IterFlatIndices())
		if !slices.Equal(got, want) {
			t.Fatalf("lhs %v, rhs %v: got %v, want %v", lhsDims, rhsDims, got, want)
		}
		// Stopping early yields a prefix.
		if len(want) > 1 {
			stop := rng.IntN(len(want))
			var prefix []ZippedIndices
			for idx := range zi.IterFlatIndices() {
				prefix = append(prefix, idx)
				if len(prefix) == stop+1 {
					break
				}
			}
			if !slices.Equal(prefix, want[:stop+1]) {
				t.Fatalf("lhs %v, rhs %v, stopped after %d: got %v, want %v", lhsDims, rhsDims, stop+1, prefix, want[:stop+1])
			}
		}
	}
	check([]int{}, []int{})
	check([]int{3, 1, 4, 1}, []int{1, 2, 4, 5})
	check([]int{1, 1}, []int{3, 4})
	check([]int{2, 0}, []int{2, 1})
	for range 2000 {
		rank := 1 + rng.IntN(5)
		lhs, rhs := make([]int, rank), make([]int, rank)
		for axis := range rank {
			dim := 1 + rng.IntN(4)
			lhs[axis], rhs[axis] = dim, dim
			switch rng.IntN(3) {
			case 0:
				lhs[axis] = 1
			case 1:
				rhs[axis] = 1
			}
		}
		check(lhs, rhs)
	}
}
