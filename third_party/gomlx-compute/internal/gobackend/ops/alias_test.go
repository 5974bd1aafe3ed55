package ops_test

import (
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// TestAliasOfUnownedBuffers checks patch 10 of the executor: an Identity
// and a Reshape of a parameter that is not donated (and a Reshape of that
// Identity, and a Reshape of a constant) share its data instead of copying
// it; the results are right, the outputs are the caller's own copies, and
// the parameter is left as it was, also when a consumer could otherwise
// have written in place. A donated parameter goes the usual way.
func TestAliasOfUnownedBuffers(t *testing.T) {
	builder := backend.Builder("alias")
	f := builder.Main()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%+v", err)
		}
	}
	x, err := f.Parameter("x", shapes.Make(dtypes.Float32, 2, 3), nil)
	check(err)
	id, err := f.Identity(x)
	check(err)
	r1, err := f.Reshape(id, 3, 2)
	check(err)
	r2, err := f.Reshape(x, 6)
	check(err)
	c, err := f.Constant([]float32{10, 20, 30, 40, 50, 60}, 6)
	check(err)
	rc, err := f.Reshape(c, 2, 3)
	check(err)
	sum, err := f.Add(r2, r2) // both operands aliases of x: must not be written in place
	check(err)
	sum2, err := f.Add(rc, id)
	check(err)
	check(f.Return([]compute.Value{r1, sum, sum2, id}, nil))
	exec, err := builder.Compile()
	check(err)
	defer exec.Finalize()

	data := []float32{1, 2, 3, 4, 5, 6}
	for _, donate := range []bool{false, true} {
		in, err := backend.BufferFromFlatData(0, slices.Clone(data), shapes.Make(dtypes.Float32, 2, 3))
		check(err)
		outs, err := exec.Execute([]compute.Buffer{in}, []bool{donate}, 0)
		check(err)
		want := [][]float32{{1, 2, 3, 4, 5, 6}, {2, 4, 6, 8, 10, 12}, {11, 22, 33, 44, 55, 66}, {1, 2, 3, 4, 5, 6}}
		for i, o := range outs {
			got := o.(*gobackend.Buffer).Flat.([]float32)
			if !slices.Equal(got, want[i]) {
				t.Fatalf("donate %v: output %d = %v, want %v", donate, i, got, want[i])
			}
			if !donate && &got[0] == &in.(*gobackend.Buffer).Flat.([]float32)[0] {
				t.Fatalf("output %d shares the caller's parameter buffer", i)
			}
			got[0] = -1 // the caller's own copy
		}
		if !donate && !slices.Equal(in.(*gobackend.Buffer).Flat.([]float32), data) {
			t.Fatalf("the parameter changed: %v", in.(*gobackend.Buffer).Flat)
		}
	}
}

// TestAliasOfOwnedBuffers checks patch 15 of the executor: a Reshape or an
// Identity of a buffer the execution owns and other nodes still read
// shares its bytes (no copy), and then no op works in place on them while
// both live (Neg(y) is y's last use and could otherwise overwrite the
// alias r before Mul reads it), an output holding shared bytes is the
// caller's own copy, and the bytes go back to the pool only with their
// last holder. 300 executions, donated and not, on the backend's parallel
// executor (the order of the ops varies), each against values worked out
// by hand.
func TestAliasOfOwnedBuffers(t *testing.T) {
	builder := backend.Builder("alias-owned")
	f := builder.Main()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%+v", err)
		}
	}
	x, err := f.Parameter("x", shapes.Make(dtypes.Float32, 2, 3), nil)
	check(err)
	y, err := f.Add(x, x) // owned by the execution
	check(err)
	r, err := f.Reshape(y, 3, 2) // shares y's bytes: y is read again below
	check(err)
	id, err := f.Identity(y)
	check(err)
	a, err := f.Neg(y) // may be y's last use
	check(err)
	b, err := f.Mul(r, r)
	check(err)
	c, err := f.Sub(id, x)
	check(err)
	ra, err := f.Reshape(a, 6)
	check(err)
	check(f.Return([]compute.Value{a, b, r, ra, c}, nil))
	exec, err := builder.Compile()
	check(err)
	defer exec.Finalize()

	want := [][]float32{{-2, -4, -6, -8, -10, -12}, {4, 16, 36, 64, 100, 144}, {2, 4, 6, 8, 10, 12}, {-2, -4, -6, -8, -10, -12}, {1, 2, 3, 4, 5, 6}}
	checkAliasRuns(t, exec, want, false)
}

// checkAliasRuns executes exec, a function of one [2, 3] float32 parameter,
// 300 times on 1..6 (every other run donating it), and checks each time
// that the outputs are want and each holds its own bytes; with
// paramUntouched also that, when not donated, no output is the
// parameter's buffer and the parameter keeps its values.
func checkAliasRuns(t *testing.T, exec compute.Executable, want [][]float32, paramUntouched bool) {
	t.Helper()
	data := []float32{1, 2, 3, 4, 5, 6}
	for run := range 300 {
		donate := run%2 == 1
		in, err := backend.BufferFromFlatData(0, slices.Clone(data), shapes.Make(dtypes.Float32, 2, 3))
		if err != nil {
			t.Fatalf("%+v", err)
		}
		outs, err := exec.Execute([]compute.Buffer{in}, []bool{donate}, 0)
		if err != nil {
			t.Fatalf("%+v", err)
		}
		var flats [][]float32
		for i, o := range outs {
			got := o.(*gobackend.Buffer).Flat.([]float32)
			if !slices.Equal(got, want[i]) {
				t.Fatalf("run %d (donate %v): output %d = %v, want %v", run, donate, i, got, want[i])
			}
			if paramUntouched && !donate && &got[0] == &in.(*gobackend.Buffer).Flat.([]float32)[0] {
				t.Fatalf("run %d: output %d shares the caller's parameter buffer", run, i)
			}
			flats = append(flats, got)
		}
		for i := range flats { // each output its own bytes
			flats[i][0] = float32(100 + i)
		}
		for i := range flats {
			if flats[i][0] != float32(100+i) {
				t.Fatalf("run %d: outputs %d and another share bytes", run, i)
			}
		}
		if paramUntouched && !donate && !slices.Equal(in.(*gobackend.Buffer).Flat.([]float32), data) {
			t.Fatalf("run %d: the parameter changed: %v", run, in.(*gobackend.Buffer).Flat)
		}
		for _, o := range outs {
			o.(*gobackend.Buffer).Finalize()
		}
	}
}

// TestAliasOfSchedulingBarrier checks patch 20 of the executor: a
// SchedulingBarrier's result is its first operand, shared like an
// Identity's (patches 10 and 15) instead of copied: of a parameter not
// donated (left as it was), of an owned buffer other nodes still read (no
// op in place on the shared bytes: Neg(y) may be y's last use while Mul
// reads the barrier), of an owned buffer at its last use; its other
// operands only order it. 300 executions, donated and not, on the
// parallel executor, against values worked out by hand; every output the
// caller's own bytes.
func TestAliasOfSchedulingBarrier(t *testing.T) {
	builder := backend.Builder("alias-barrier")
	f := builder.Main()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%+v", err)
		}
	}
	x, err := f.Parameter("x", shapes.Make(dtypes.Float32, 2, 3), nil)
	check(err)
	y, err := f.Add(x, x) // owned by the execution
	check(err)
	bx, err := f.SchedulingBarrier(x, y) // x not owned (unless donated), ordered after y
	check(err)
	by, err := f.SchedulingBarrier(y, bx) // y owned, still read by Neg below
	check(err)
	a, err := f.Neg(y) // may be y's last use
	check(err)
	b, err := f.Mul(by, by)
	check(err)
	c, err := f.Sub(bx, x)
	check(err)
	z, err := f.Add(a, a)
	check(err)
	bz, err := f.SchedulingBarrier(z, b, c) // z's last use
	check(err)
	check(f.Return([]compute.Value{a, b, c, bx, bz}, nil))
	exec, err := builder.Compile()
	check(err)
	defer exec.Finalize()

	want := [][]float32{{-2, -4, -6, -8, -10, -12}, {4, 16, 36, 64, 100, 144}, {0, 0, 0, 0, 0, 0}, {1, 2, 3, 4, 5, 6}, {-4, -8, -12, -16, -20, -24}}
	checkAliasRuns(t, exec, want, true)
}
