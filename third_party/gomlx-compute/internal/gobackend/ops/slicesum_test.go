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

// sliceSumCase is one graph: x [src], slices of it at starts (each of
// shape out, with strides, 1 unless set), summed by a chain of Adds
// ((s0 + s1) + s2) + ...; extraUse also returns the first partial sum,
// and foreign makes the last slice one of a second parameter.
type sliceSumCase struct {
	src, out []int
	starts   [][]int
	strides  []int // the last slice's strides (nil: 1)
	extraUse bool
	foreign  bool
}

func (c sliceSumCase) String() string {
	return fmt.Sprintf("src %v out %v starts %v strides %v extraUse %v foreign %v", c.src, c.out, c.starts, c.strides, c.extraUse, c.foreign)
}

// buildSliceSum compiles the case with patch 16 on or off and returns the
// executable and the chain's last Add.
func buildSliceSum(tb testing.TB, c sliceSumCase, fusion bool) (compute.Executable, *gobackend.Node) {
	tb.Helper()
	ops.SliceSumFusionEnabled = fusion
	defer func() { ops.SliceSumFusionEnabled = true }()
	check := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("%s: %+v", c, err)
		}
	}
	builder := backend.Builder("slicesum")
	f := builder.Main()
	x, err := f.Parameter("x", shapes.Make(dtypes.Float32, c.src...), nil)
	check(err)
	y, err := f.Parameter("y", shapes.Make(dtypes.Float32, c.src...), nil)
	check(err)
	var sum, first compute.Value
	for i, st := range c.starts {
		limits := make([]int, len(st))
		strides := make([]int, len(st))
		for a := range st {
			strides[a] = 1
			if i == len(c.starts)-1 && c.strides != nil {
				strides[a] = c.strides[a]
			}
			limits[a] = st[a] + (c.out[a]-1)*strides[a] + 1
		}
		from := x
		if c.foreign && i == len(c.starts)-1 {
			from = y
		}
		s, err := f.Slice(from, st, limits, strides)
		check(err)
		if sum == nil {
			sum = s
			continue
		}
		sum, err = f.Add(sum, s)
		check(err)
		if first == nil {
			first = sum
		}
	}
	outs := []compute.Value{sum}
	if c.extraUse {
		outs = append(outs, first)
	}
	check(f.Return(outs, nil))
	exec, err := builder.Compile()
	check(err)
	return exec, sum.(*gobackend.Node)
}

// runSliceSum runs the case on the given source values; it returns the
// chain's output and whether its last Add was fused.
func runSliceSum(t *testing.T, c sliceSumCase, xs, ys []float32, fusion bool) ([]float32, bool) {
	t.Helper()
	exec, node := buildSliceSum(t, c, fusion)
	defer exec.Finalize()
	outputs, err := exec.Execute([]compute.Buffer{
		newBuffer(dtypes.Float32, c.src, append([]float32{}, xs...)),
		newBuffer(dtypes.Float32, c.src, append([]float32{}, ys...)),
	}, nil, 0)
	if err != nil {
		t.Fatalf("%s: %+v", c, err)
	}
	got := append([]float32{}, outputs[0].(*gobackend.Buffer).Flat.([]float32)...)
	return got, len(node.Inputs) == 1
}

// TestSliceSumFusionMatchesOpByOp holds patch 16 to the op-by-op execution
// bit for bit (NaN payloads aside) over random cases: ranks 1-5, 2-6
// slices, runs shorter and longer than 16 lanes, values with -0, ±Inf and
// NaN; and checks that it fuses exactly the chains it should: not a slice
// with a stride, nor one of another tensor, and with a partial sum used
// elsewhere only the chain up to it.
func TestSliceSumFusionMatchesOpByOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2026))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e30, -1e30, 1e-40}
	cases := []sliceSumCase{
		// The up-convolution's parity: 4 blocks of 16 channels at shifted positions.
		{src: []int{2, 6, 7, 64}, out: []int{2, 4, 5, 16}, starts: [][]int{{0, 0, 0, 0}, {0, 0, 1, 16}, {0, 1, 0, 32}, {0, 1, 1, 48}}},
		{src: []int{2, 6, 11, 64}, out: []int{2, 4, 5, 16}, starts: [][]int{{0, 0, 0, 0}, {0, 0, 1, 16}, {0, 1, 0, 32}}, strides: []int{1, 1, 2, 1}},
		{src: []int{2, 6, 7, 64}, out: []int{2, 4, 5, 16}, starts: [][]int{{0, 0, 0, 0}, {0, 0, 1, 16}, {0, 1, 0, 32}}, foreign: true},
		{src: []int{2, 6, 7, 64}, out: []int{2, 4, 5, 16}, starts: [][]int{{0, 0, 0, 0}, {0, 0, 1, 16}, {0, 1, 0, 32}, {0, 1, 1, 48}}, extraUse: true},
	}
	for range 300 {
		rank := 1 + rng.IntN(5)
		c := sliceSumCase{src: make([]int, rank), out: make([]int, rank), extraUse: rng.IntN(8) == 0}
		for a := range rank {
			c.out[a] = 1 + rng.IntN(5)
			if a == rank-1 {
				c.out[a] = 1 + rng.IntN(40)
			}
			c.src[a] = c.out[a] + rng.IntN(4)
		}
		for range 2 + rng.IntN(5) {
			st := make([]int, rank)
			for a := range rank {
				st[a] = rng.IntN(c.src[a] - c.out[a] + 1)
			}
			c.starts = append(c.starts, st)
		}
		cases = append(cases, c)
	}
	for i, c := range cases {
		n := shapes.Make(dtypes.Float32, c.src...).Size()
		xs, ys := make([]float32, n), make([]float32, n)
		for j := range xs {
			xs[j], ys[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			if rng.IntN(10) == 0 {
				xs[j] = special[rng.IntN(len(special))]
			}
		}
		want, fusedOff := runSliceSum(t, c, xs, ys, false)
		got, fused := runSliceSum(t, c, xs, ys, true)
		if fusedOff {
			t.Fatalf("case %d %s: fused with the pass off", i, c)
		}
		wantFused := c.strides == nil && !c.foreign && !(c.extraUse && len(c.starts) > 2)
		if fused != wantFused {
			t.Errorf("case %d %s: fused %v, want %v", i, c, fused, wantFused)
		}
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) && !(got[j] != got[j] && want[j] != want[j]) {
				t.Fatalf("case %d %s: element %d = %v (%#x), op by op %v (%#x)", i, c, j, got[j], math.Float32bits(got[j]), want[j], math.Float32bits(want[j]))
			}
		}
	}
}

// BenchmarkSliceSum times an output parity of the decoder's last
// up-convolution at 320x320 (batch 4): 4 blocks of 16 channels of the
// [4, 162, 162, 256] product summed, fused and op by op.
func BenchmarkSliceSum(b *testing.B) {
	c := sliceSumCase{src: []int{4, 162, 162, 256}, out: []int{4, 160, 160, 16},
		starts: [][]int{{0, 0, 0, 0}, {0, 0, 1, 16}, {0, 1, 0, 32}, {0, 1, 1, 48}}}
	n := shapes.Make(dtypes.Float32, c.src...).Size()
	for _, fusion := range []bool{false, true} {
		b.Run(fmt.Sprintf("fused=%v", fusion), func(b *testing.B) {
			exec, _ := buildSliceSum(b, c, fusion)
			defer exec.Finalize()
			x := newBuffer(dtypes.Float32, c.src, make([]float32, n))
			y := newBuffer(dtypes.Float32, c.src, make([]float32, n))
			b.ResetTimer()
			for range b.N {
				out, err := exec.Execute([]compute.Buffer{x, y}, []bool{false, false}, 0)
				if err != nil {
					b.Fatal(err)
				}
				out[0].(*gobackend.Buffer).Finalize()
			}
		})
	}
}
