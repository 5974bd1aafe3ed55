// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/ops"
	"github.com/gomlx/compute/shapes"
)

// selectEqualCase is one graph: Where(Equal(a, b), c, zeros) with a, b, c
// parameters of shape dims, c first multiplied by 1 (a buffer the
// execution owns) when owned; zero the false value's constant; condUse
// also returns the Equal; scalB makes b a scalar, broadcast.
type selectEqualCase struct {
	dims             []int
	owned, condUse   bool
	zero             float32
	wantFused, scalB bool
}

// runSelectEqual builds and runs the case with patch 18's fusion on or off;
// it returns the Where's values and whether it was fused.
func runSelectEqual(t *testing.T, c selectEqualCase, a, b, cv []float32, fusion bool) ([]float32, bool) {
	t.Helper()
	ops.SelectEqualFusionEnabled = fusion
	defer func() { ops.SelectEqualFusionEnabled = true }()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%+v: %+v", c, err)
		}
	}
	shape := shapes.Make(dtypes.Float32, c.dims...)
	builder := backend.Builder("selectequal")
	f := builder.Main()
	pa, err := f.Parameter("a", shape, nil)
	check(err)
	bShape := shape
	if c.scalB {
		bShape = shapes.Make(dtypes.Float32)
	}
	pb, err := f.Parameter("b", bShape, nil)
	check(err)
	pc, err := f.Parameter("c", shape, nil)
	check(err)
	cNode := pc
	if c.owned {
		one, err := f.Constant([]float32{1})
		check(err)
		oneB, err := f.BroadcastInDim(one, shape, nil)
		check(err)
		cNode, err = f.Mul(pc, oneB)
		check(err)
	}
	bNode := pb
	if c.scalB {
		bNode, err = f.BroadcastInDim(pb, shape, nil)
		check(err)
	}
	z, err := f.Constant([]float32{c.zero})
	check(err)
	zeros, err := f.BroadcastInDim(z, shape, nil)
	check(err)
	cond, err := f.Equal(pa, bNode)
	check(err)
	where, err := f.Where(cond, cNode, zeros)
	check(err)
	outs := []compute.Value{where}
	if c.condUse {
		outs = append(outs, cond)
	}
	check(f.Return(outs, nil))
	exec, err := builder.Compile()
	check(err)
	defer exec.Finalize()
	bufs := make([]compute.Buffer, 3)
	for i, v := range [][]float32{a, b, cv} {
		s := shape
		if i == 1 && c.scalB {
			s = bShape
		}
		bufs[i], err = backend.BufferFromFlatData(0, append([]float32(nil), v...), s)
		check(err)
	}
	res, err := exec.Execute(bufs, nil, 0)
	check(err)
	node := where.(*gobackend.Node)
	return append([]float32(nil), res[0].(*gobackend.Buffer).Flat.([]float32)...), node.Inputs[0].OpType != compute.OpTypeEqual
}

// TestSelectEqualFusionMatchesOpByOp holds patch 18's fused Where(Equal(a,
// b), c, zeros) to the op-by-op graph bit for bit: sizes with and without
// a tail of fewer than 16 values, c a parameter or a buffer the execution
// owns (computed in place), a equal to b at about a ninth of the places (as
// a max-pool's taps equal their maximum), NaNs in a and b (never equal),
// +0 against -0 (equal), -0s and NaNs in c, b broadcast from a scalar.
// Left op by op: an Equal with a second use, a false value -0 or 1.
func TestSelectEqualFusionMatchesOpByOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 1))
	negZero := float32(math.Copysign(0, -1))
	for _, c := range []selectEqualCase{
		{dims: []int{4, 32, 32, 64}, wantFused: true},
		{dims: []int{3, 5, 7, 11}, wantFused: true},
		{dims: []int{2, 9, 9, 16}, owned: true, wantFused: true},
		{dims: []int{7}, wantFused: true},
		{dims: []int{2, 9, 9, 16}, condUse: true},
		{dims: []int{2, 9, 9, 16}, zero: negZero},
		{dims: []int{2, 9, 9, 16}, zero: 1},
		{dims: []int{2, 9, 9, 16}, scalB: true, wantFused: true}, // b broadcast from a scalar first: the broadcast's values
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			n := shapes.Make(dtypes.Float32, c.dims...).Size()
			a, b, cv := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range n {
				a[i] = float32(rng.NormFloat64())
				b[i] = float32(rng.NormFloat64())
				cv[i] = float32(rng.NormFloat64())
				switch rng.IntN(20) {
				case 0, 1:
					b[i] = a[i]
				case 2:
					a[i], b[i] = float32(math.NaN()), float32(math.NaN())
				case 3:
					a[i], b[i] = 0, negZero
				case 4:
					cv[i] = negZero
				case 5:
					cv[i] = float32(math.NaN())
				}
				if rng.IntN(9) == 0 {
					b[i] = a[i]
				}
			}
			if c.scalB {
				b = b[:1]
			}
			want, fusedOff := runSelectEqual(t, c, a, b, cv, false)
			got, fused := runSelectEqual(t, c, a, b, cv, true)
			if fusedOff || fused != c.wantFused {
				t.Fatalf("fused with the pass off: %v, on: %v (want %v)", fusedOff, fused, c.wantFused)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("output[%d] = %v (%#x), op by op %v (%#x); a %v b %v c %v", i, got[i], math.Float32bits(got[i]),
						want[i], math.Float32bits(want[i]), a[i], b[min(i, len(b)-1)], cv[i])
				}
			}
		})
	}
}

// BenchmarkSelectEqual times a max-pool tap's gradient at 128² batch 8 (one
// lane: [4, 32, 32, 64]), fused by patch 18 and op by op.
func BenchmarkSelectEqual(b *testing.B) {
	shape := shapes.Make(dtypes.Float32, 4, 32, 32, 64)
	for _, fusion := range []bool{false, true} {
		b.Run(fmt.Sprintf("fused=%v", fusion), func(b *testing.B) {
			ops.SelectEqualFusionEnabled = fusion
			defer func() { ops.SelectEqualFusionEnabled = true }()
			builder := backend.Builder("selectequal")
			f := builder.Main()
			var ps [3]compute.Value
			for i := range ps {
				ps[i], _ = f.Parameter(fmt.Sprintf("p%d", i), shape, nil)
			}
			z, _ := f.Constant([]float32{0})
			zeros, _ := f.BroadcastInDim(z, shape, nil)
			cond, _ := f.Equal(ps[0], ps[1])
			where, _ := f.Where(cond, ps[2], zeros)
			if err := f.Return([]compute.Value{where}, nil); err != nil {
				b.Fatal(err)
			}
			exec, err := builder.Compile()
			if err != nil {
				b.Fatal(err)
			}
			defer exec.Finalize()
			bufs := make([]compute.Buffer, 3)
			for i := range bufs {
				bufs[i], _ = backend.BufferFromFlatData(0, make([]float32, shape.Size()), shape)
			}
			b.ResetTimer()
			for range b.N {
				out, err := exec.Execute(bufs, []bool{false, false, false}, 0)
				if err != nil {
					b.Fatal(err)
				}
				out[0].(*gobackend.Buffer).Finalize()
			}
		})
	}
}
