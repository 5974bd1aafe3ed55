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

// runAdamGraph builds GoMLX's Adam update of one weight as the backend sees
// it (scalars b1, 1-b1, b2, 1-b2, the bias corrections, lr, eps; tensors g,
// m, v, w of shape dims) and returns m', v' and w', with patch 19's fusion
// on or off, and the number of DotGeneral-free nodes the outputs' roots
// read (the fused roots' inputs).
func runAdamGraph(t *testing.T, dims []int, g, m, v, w []float32, fusion bool) ([][]float32, int) {
	t.Helper()
	ops.F32TreeFusionEnabled = fusion
	defer func() { ops.F32TreeFusionEnabled = true }()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%+v", err)
		}
	}
	shape := shapes.Make(dtypes.Float32, dims...)
	builder := backend.Builder("adam")
	f := builder.Main()
	var p [4]compute.Value
	for i := range p {
		var err error
		p[i], err = f.Parameter(fmt.Sprintf("p%d", i), shape, nil)
		check(err)
	}
	scalar := func(v float32) compute.Value {
		c, err := f.Constant([]float32{v})
		check(err)
		return c
	}
	op := func(fn func(a, b compute.Value) (compute.Value, error), a, b compute.Value) compute.Value {
		r, err := fn(a, b)
		check(err)
		return r
	}
	b1, omb1, b2, omb2 := scalar(0.9), scalar(0.1), scalar(0.999), scalar(0.001)
	d1, d2, lr, eps := scalar(1.9), scalar(3.7), scalar(0.001), scalar(1e-8)
	gr, m0, v0, w0 := p[0], p[1], p[2], p[3]
	m1 := op(f.Add, op(f.Mul, b1, m0), op(f.Mul, omb1, gr))
	v1 := op(f.Add, op(f.Mul, b2, v0), op(f.Mul, omb2, op(f.Mul, gr, gr)))
	sq, err := f.Sqrt(op(f.Mul, v1, d2))
	check(err)
	den := op(f.Add, sq, eps)
	step := op(f.Div, op(f.Mul, lr, op(f.Mul, m1, d1)), den)
	w1 := op(f.Sub, w0, op(f.Max, step, op(f.Min, step, scalar(-5)))) // Max and Min too
	check(f.Return([]compute.Value{m1, v1, w1}, nil))
	exec, err := builder.Compile()
	check(err)
	defer exec.Finalize()
	bufs := make([]compute.Buffer, 4)
	for i, x := range [][]float32{g, m, v, w} {
		bufs[i], err = backend.BufferFromFlatData(0, append([]float32(nil), x...), shape)
		check(err)
	}
	res, err := exec.Execute(bufs, nil, 0)
	check(err)
	outs := make([][]float32, len(res))
	for i, r := range res {
		outs[i] = append([]float32(nil), r.(*gobackend.Buffer).Flat.([]float32)...)
	}
	return outs, len(w1.(*gobackend.Node).Inputs)
}

// TestF32TreeFusionMatchesOpByOp holds patch 19's fused trees to the
// op-by-op graph bit for bit on an Adam update (two moments used twice
// each, the weight's tree of Mul, Sqrt, Add, Div, Max, Min and Sub with
// scalar operands on either side), sizes with and without a partial last
// block, values of mixed magnitudes with -0s, NaNs and infinities; the
// weight's root must read the tree's leaves (fused) with the pass on.
func TestF32TreeFusionMatchesOpByOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 1))
	for _, dims := range [][]int{{3, 3, 64, 64}, {4099}, {2, 5000}} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			n := shapes.Make(dtypes.Float32, dims...).Size()
			data := make([][]float32, 4)
			for i := range data {
				data[i] = make([]float32, n)
				for j := range data[i] {
					x := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
					switch rng.IntN(50) {
					case 0:
						x = float32(math.Copysign(0, -1))
					case 1:
						x = float32(math.NaN())
					case 2:
						x = float32(math.Inf(1 - 2*rng.IntN(2)))
					}
					if i == 2 { // v >= 0, as Adam's
						x = float32(math.Abs(float64(x)))
					}
					data[i][j] = x
				}
			}
			want, inputsOff := runAdamGraph(t, dims, data[0], data[1], data[2], data[3], false)
			got, inputsOn := runAdamGraph(t, dims, data[0], data[1], data[2], data[3], true)
			if inputsOff != 2 || inputsOn <= 2 {
				t.Fatalf("the weight's root reads %d inputs op by op, %d fused", inputsOff, inputsOn)
			}
			for k := range want {
				for i := range want[k] {
					if math.IsNaN(float64(want[k][i])) && math.IsNaN(float64(got[k][i])) {
						continue
					}
					if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
						t.Fatalf("output %d [%d] = %v, op by op %v", k, i, got[k][i], want[k][i])
					}
				}
			}
		})
	}
}
