package ops_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/ops"
	"github.com/gomlx/compute/shapes"
)

// sliceConcatCase is one graph: x [core], padded with zeros (or, with
// padValue != 0, a constant that is not zero) by Concatenates on padAxes in
// that order, then sliced and the slices concatenated on the last axis.
type sliceConcatCase struct {
	dtype        dtypes.DType
	core         []int
	padAxes      []int
	padLo, padHi []int // per axis
	padValue     byte  // every byte of the padding's constant
	starts       [][]int
	limits       [][]int
	strides      [][]int
	extraInput   bool // one more input that is not a slice: no fusion
	// stack (patch 12): the slices flattened and concatenated on axis 0,
	// as rank-1 vectors (stackFlat) or, when every slice has the same
	// size, as [1, size] rows (stackRows).
	stack int
}

// The forms of sliceConcatCase.stack.
const (
	stackNone = iota
	stackFlat
	stackRows
)

func (c sliceConcatCase) String() string {
	return fmt.Sprintf("%s core=%v pad=%v/%v on %v (byte %d) slices=%d starts=%v strides=%v extra=%v stack=%d",
		c.dtype, c.core, c.padLo, c.padHi, c.padAxes, c.padValue, len(c.starts), c.starts, c.strides, c.extraInput, c.stack)
}

// randomSliceConcatCase draws a case: rank 2-5, every slice with the same
// length on the axes before the last (as Concatenate needs), any length,
// start and stride on the last.
func randomSliceConcatCase(rng *rand.Rand, dtype dtypes.DType) sliceConcatCase {
	rank := 2 + rng.IntN(4)
	c := sliceConcatCase{dtype: dtype, core: make([]int, rank), padLo: make([]int, rank), padHi: make([]int, rank)}
	for a := range c.core {
		c.core[a] = 1 + rng.IntN(6)
	}
	padded := append([]int(nil), c.core...)
	for a := range c.core {
		if rng.IntN(2) == 0 {
			continue
		}
		c.padAxes = append(c.padAxes, a)
		c.padLo[a], c.padHi[a] = rng.IntN(3), rng.IntN(3)
		padded[a] += c.padLo[a] + c.padHi[a]
	}
	rng.Shuffle(len(c.padAxes), func(i, j int) { c.padAxes[i], c.padAxes[j] = c.padAxes[j], c.padAxes[i] })
	if rng.IntN(5) == 0 {
		c.padValue = byte(1 + rng.IntN(60))
	}
	c.extraInput = rng.IntN(8) == 0
	outLen := make([]int, rank)
	for a := range outLen {
		outLen[a] = 1 + rng.IntN(padded[a])
	}
	n := 1 + rng.IntN(9)
	for range n {
		st, li, sd := make([]int, rank), make([]int, rank), make([]int, rank)
		for a := range rank {
			o := outLen[a]
			if a == rank-1 {
				o = 1 + rng.IntN(padded[a])
			}
			s := 1 + rng.IntN(3)
			for s > 1 && s*(o-1)+1 > padded[a] {
				s--
			}
			span := s*(o-1) + 1
			st[a] = rng.IntN(padded[a] - span + 1)
			li[a] = st[a] + span + rng.IntN(s) // any limit that keeps o elements
			li[a] = min(li[a], padded[a])
			sd[a] = s
		}
		c.starts, c.limits, c.strides = append(c.starts, st), append(c.limits, li), append(c.strides, sd)
	}
	return c
}

// equalSliceSizes reports whether every slice of c has the same number of
// elements.
func (c sliceConcatCase) equalSliceSizes() bool {
	size := func(i int) int {
		n := 1
		for a := range c.starts[i] {
			n *= (c.limits[i][a] - c.starts[i][a] + c.strides[i][a] - 1) / c.strides[i][a]
		}
		return n
	}
	for i := range c.starts {
		if size(i) != size(0) {
			return false
		}
	}
	return true
}

// lastAxisContiguous reports whether every slice of c has stride 1 on
// the last axis (patch 12 stacks only such slices).
func (c sliceConcatCase) lastAxisContiguous() bool {
	for _, sd := range c.strides {
		if sd[len(sd)-1] != 1 {
			return false
		}
	}
	return true
}

// buildSliceConcat builds and compiles the case with the fusion pass on or
// off; it returns the executable and the output node.
func buildSliceConcat(tb testing.TB, c sliceConcatCase, fusion bool) (compute.Executable, *gobackend.Node) {
	tb.Helper()
	ops.SliceConcatFusionEnabled = fusion
	defer func() { ops.SliceConcatFusionEnabled = true }()
	builder := backend.Builder("sliceconcat")
	f := builder.Main()
	check := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("%s: %+v", c, err)
		}
	}
	x, err := f.Parameter("x", shapes.Make(c.dtype, c.core...), nil)
	check(err)
	scalar := dtypes.MakeAnySlice(c.dtype, 1)
	raw := dtypes.UnsafeByteSliceFromAny(scalar)
	for i := range raw {
		raw[i] = c.padValue
	}
	zero, err := f.Constant(scalar)
	check(err)
	padded := x
	for _, a := range c.padAxes {
		dims := padded.(*gobackend.Node).Shape.Dimensions
		parts := []compute.Value{}
		block := func(n int) {
			if n == 0 {
				return
			}
			d := append([]int(nil), dims...)
			d[a] = n
			z, err := f.BroadcastInDim(zero, shapes.Make(c.dtype, d...), nil)
			check(err)
			parts = append(parts, z)
		}
		block(c.padLo[a])
		parts = append(parts, padded)
		block(c.padHi[a])
		padded, err = f.Concatenate(a, parts...)
		check(err)
	}
	var parts []compute.Value
	for i := range c.starts {
		s, err := f.Slice(padded, c.starts[i], c.limits[i], c.strides[i])
		check(err)
		size := s.(*gobackend.Node).Shape.Size()
		switch c.stack {
		case stackFlat:
			s, err = f.Reshape(s, size)
		case stackRows:
			s, err = f.Reshape(s, 1, size)
		}
		check(err)
		parts = append(parts, s)
	}
	if c.extraInput {
		var other compute.Value
		if c.dtype == dtypes.Bool {
			other, err = f.LogicalNot(parts[0])
		} else {
			other, err = f.Neg(parts[0])
		}
		check(err)
		parts = append(parts, other)
	}
	axis := len(c.core) - 1
	if c.stack != stackNone {
		axis = 0
	}
	out, err := f.Concatenate(axis, parts...)
	check(err)
	check(f.Return([]compute.Value{out}, nil))
	exec, err := builder.Compile()
	check(err)
	return exec, out.(*gobackend.Node)
}

// newBuffer is a backend buffer holding flat.
func newBuffer(dtype dtypes.DType, dims []int, flat any) *gobackend.Buffer {
	buf, err := backend.BufferFromFlatData(0, flat, shapes.Make(dtype, dims...))
	if err != nil {
		panic(err)
	}
	return buf.(*gobackend.Buffer)
}

// runSliceConcat builds, compiles and runs the case with the fusion pass on
// or off; it returns the output's bytes, whether the Concatenate was
// fused (its inputs replaced by the core tensor) and the op of its first
// input after compilation.
func runSliceConcat(t *testing.T, c sliceConcatCase, input []byte, fusion bool) ([]byte, bool, compute.OpType) {
	t.Helper()
	exec, node := buildSliceConcat(t, c, fusion)
	defer exec.Finalize()
	xBuf := newBuffer(c.dtype, c.core, dtypes.MakeAnySlice(c.dtype, shapes.Make(c.dtype, c.core...).Size()))
	raw, err := xBuf.MutableBytes()
	if err != nil {
		t.Fatal(err)
	}
	copy(raw, input)
	outputs, err := exec.Execute([]compute.Buffer{xBuf}, nil, 0)
	if err != nil {
		t.Fatalf("%s: %+v", c, err)
	}
	got, err := outputs[0].(*gobackend.Buffer).MutableBytes()
	if err != nil {
		t.Fatal(err)
	}
	fused := len(node.Inputs) == 1 && node.Inputs[0].OpType != compute.OpTypeSlice && node.Inputs[0].OpType != compute.OpTypeReshape
	return bytes.Clone(got), fused, node.Inputs[0].OpType
}

// TestSliceConcatFusionMatchesOpByOp holds patch 4 to the op-by-op
// execution bit for bit, over random cases of every shape the pass handles
// (ranks 2-5, 1-9 slices with strides 1-3, zero padding on any axes in any
// order, padding that is not zero, an input that is not a slice), and
// checks that the pass fused exactly the cases it should.
func TestSliceConcatFusionMatchesOpByOp(t *testing.T) {
	// Split every fused output between the idle cores (patch 7), at
	// whatever position the halves meet.
	defer func(v int) { *ops.SliceConcatMinChunk = v }(*ops.SliceConcatMinChunk)
	*ops.SliceConcatMinChunk = 1
	rng := rand.New(rand.NewPCG(4, 2))
	dts := []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Float16, dtypes.Int8, dtypes.Int32, dtypes.Bool}
	fusedCount, paddedCount, stackedCount, rowsCount := 0, 0, 0, 0
	for i := range 600 {
		c := randomSliceConcatCase(rng, dts[i%len(dts)])
		if i%3 == 1 {
			if rng.IntN(5) != 0 {
				// Mostly stride 1 on the last axis, which patch 12 needs
				// (same number of elements per slice).
				for j, sd := range c.strides {
					last := len(sd) - 1
					o := (c.limits[j][last] - c.starts[j][last] + sd[last] - 1) / sd[last]
					sd[last], c.limits[j][last] = 1, c.starts[j][last]+o
				}
			}
			c.stack = stackFlat
			if c.equalSliceSizes() && rng.IntN(2) == 0 {
				c.stack = stackRows
			}
		}
		size := shapes.Make(c.dtype, c.core...).Size() * c.dtype.Size()
		input := make([]byte, size)
		for j := range input {
			if c.dtype == dtypes.Bool {
				input[j] = byte(rng.IntN(2))
			} else {
				input[j] = byte(rng.IntN(64)) // finite floats: no NaN payloads
			}
		}
		if c.dtype == dtypes.Bool && c.padValue != 0 {
			c.padValue = 1
		}
		want, fusedOff, _ := runSliceConcat(t, c, input, false)
		got, fused, _ := runSliceConcat(t, c, input, true)
		if fusedOff {
			t.Fatalf("%s: fused with the pass off", c)
		}
		if wantFused := !c.extraInput && (c.stack == stackNone || c.lastAxisContiguous()); fused != wantFused {
			t.Fatalf("%s: fused = %v, want %v", c, fused, wantFused)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: fused output differs from the op-by-op one\n got %v\nwant %v", c, got, want)
		}
		if fused {
			fusedCount++
			if len(c.padAxes) > 0 && c.padValue == 0 {
				paddedCount++
			}
			if c.stack != stackNone {
				stackedCount++
			}
			if c.stack == stackRows {
				rowsCount++
			}
		}
	}
	if fusedCount < 400 || paddedCount < 150 || stackedCount < 120 || rowsCount < 10 {
		t.Errorf("only %d cases fused, %d of them through zero padding, %d stacked (%d as rows): the table does not exercise the pass", fusedCount, paddedCount, stackedCount, rowsCount)
	}
}

// TestSliceConcatFusionFoldsPadding checks that an im2col as GoMLX code
// writes it (zero padding by Concatenates, k x k taps at stride 2) is fused
// down to the unpadded input, on a small image and on a larger one (3.6 MB
// of patches, rows of 105 output pixels), and on single-channel images
// with the stem's 7x7 taps (patch 7's one-element path; split between
// idle cores).
func TestSliceConcatFusionFoldsPadding(t *testing.T) {
	defer func(v int) { *ops.SliceConcatMinChunk = v }(*ops.SliceConcatMinChunk)
	*ops.SliceConcatMinChunk = 1
	for _, tc := range []struct {
		core   []int
		k, pad int
	}{{[]int{2, 5, 6, 3}, 3, 1}, {[]int{3, 70, 60, 32}, 3, 1}, {[]int{2, 41, 38, 1}, 7, 3}, {[]int{1, 9, 12, 1}, 3, 1}} {
		core, k, pad := tc.core, tc.k, tc.pad
		c := sliceConcatCase{dtype: dtypes.Float32, core: core, padAxes: []int{2, 1},
			padLo: []int{0, pad, pad, 0}, padHi: []int{0, pad, pad, 0}}
		ho, wo := (core[1]+2*pad-k)/2+1, (core[2]+2*pad-k)/2+1
		for dy := range k {
			for dx := range k {
				c.starts = append(c.starts, []int{0, dy, dx, 0})
				c.limits = append(c.limits, []int{core[0], dy + 2*(ho-1) + 1, dx + 2*(wo-1) + 1, core[3]})
				c.strides = append(c.strides, []int{1, 2, 2, 1})
			}
		}
		input := make([]byte, shapes.Make(c.dtype, core...).Size()*4)
		for i := range input {
			input[i] = byte(i % 61)
		}
		want, _, _ := runSliceConcat(t, c, input, false)
		got, fused, op := runSliceConcat(t, c, input, true)
		if !fused || op != compute.OpTypeParameter || !bytes.Equal(got, want) {
			t.Fatalf("%v: fused %v, reading %s (want the parameter), equal %v", core, fused, op, bytes.Equal(got, want))
		}
	}
}

// TestStackSlicesFoldsPadding checks patch 12 on Winograd tiles as the
// project's gofast writes them: an image zero-padded by 1 by Concatenates,
// its alpha*alpha slices every m pixels (F(4x4, 3x3): alpha 6, m 4;
// F(2x2, 3x3): 4 and 2) each reshaped to a [1, tiles*C] row and stacked on
// axis 0: fused down to the unpadded input, bit for bit the op-by-op
// output, split between idle cores.
func TestStackSlicesFoldsPadding(t *testing.T) {
	defer func(v int) { *ops.SliceConcatMinChunk = v }(*ops.SliceConcatMinChunk)
	*ops.SliceConcatMinChunk = 1
	for _, tc := range []struct {
		core     []int
		m, alpha int
	}{{[]int{2, 8, 12, 3}, 4, 6}, {[]int{4, 32, 32, 16}, 4, 6}, {[]int{2, 6, 4, 5}, 2, 4}, {[]int{1, 16, 16, 1}, 2, 4}} {
		core, m, alpha := tc.core, tc.m, tc.alpha
		th, tw := core[1]/m, core[2]/m
		c := sliceConcatCase{dtype: dtypes.Float32, core: core, padAxes: []int{2, 1},
			padLo: []int{0, 1, 1, 0}, padHi: []int{0, 1, 1, 0}, stack: stackRows}
		for a := range alpha {
			for b := range alpha {
				c.starts = append(c.starts, []int{0, a, b, 0})
				c.limits = append(c.limits, []int{core[0], a + m*(th-1) + 1, b + m*(tw-1) + 1, core[3]})
				c.strides = append(c.strides, []int{1, m, m, 1})
			}
		}
		input := make([]byte, shapes.Make(c.dtype, core...).Size()*4)
		for i := range input {
			input[i] = byte(i % 59)
		}
		want, _, _ := runSliceConcat(t, c, input, false)
		got, fused, op := runSliceConcat(t, c, input, true)
		if !fused || op != compute.OpTypeParameter || !bytes.Equal(got, want) {
			t.Fatalf("%v: fused %v, reading %s (want the parameter), equal %v", core, fused, op, bytes.Equal(got, want))
		}
	}
}

// BenchmarkSliceConcat times im2col matrices of 3x3 taps (stride 1, zero
// padding 1) of float32 images [B, H, W, C] as the U-Net has them, fused and
// op by op.
func BenchmarkSliceConcat(b *testing.B) {
	for _, dims := range [][]int{{4, 80, 80, 64}, {4, 320, 320, 16}, {4, 160, 160, 32}, {4, 20, 20, 256}, {1, 320, 320, 1}} {
		// 3x3, stride 1, padding 1; the single-channel image: the stem's
		// 7x7, stride 2, padding 3.
		k, stride, pad := 3, 1, 1
		if dims[3] == 1 {
			k, stride, pad = 7, 2, 3
		}
		c := sliceConcatCase{dtype: dtypes.Float32, core: dims, padAxes: []int{2, 1},
			padLo: []int{0, pad, pad, 0}, padHi: []int{0, pad, pad, 0}}
		for dy := range k {
			for dx := range k {
				c.starts = append(c.starts, []int{0, dy, dx, 0})
				c.limits = append(c.limits, []int{dims[0], dy + dims[1] + 2*pad - k + 1, dx + dims[2] + 2*pad - k + 1, dims[3]})
				c.strides = append(c.strides, []int{1, stride, stride, 1})
			}
		}
		benchSliceConcatCase(b, fmt.Sprint(dims), c)
	}
}

// benchSliceConcatCase times the float32 case c, fused and op by op, as
// sub-benchmarks name/fused=false and name/fused=true.
func benchSliceConcatCase(b *testing.B, name string, c sliceConcatCase) {
	for _, fusion := range []bool{false, true} {
		b.Run(fmt.Sprintf("%s/fused=%v", name, fusion), func(b *testing.B) {
			exec, _ := buildSliceConcat(b, c, fusion)
			defer exec.Finalize()
			x := newBuffer(c.dtype, c.core, make([]float32, shapes.Make(c.dtype, c.core...).Size()))
			b.ResetTimer()
			for range b.N {
				out, err := exec.Execute([]compute.Buffer{x}, []bool{false}, 0)
				if err != nil {
					b.Fatal(err)
				}
				out[0].(*gobackend.Buffer).Finalize()
			}
		})
	}
}

// BenchmarkStackSlices times Winograd F(4x4, 3x3) input tiles as gofast
// gathers them (36 slices every 4 pixels of the zero-padded image, each a
// [1, tiles*C] row, stacked on axis 0), fused (patch 12) and op by op.
func BenchmarkStackSlices(b *testing.B) {
	for _, dims := range [][]int{{4, 128, 128, 16}, {1, 320, 320, 16}, {4, 32, 32, 64}} {
		const m, alpha = 4, 6
		th, tw := dims[1]/m, dims[2]/m
		c := sliceConcatCase{dtype: dtypes.Float32, core: dims, padAxes: []int{2, 1},
			padLo: []int{0, 1, 1, 0}, padHi: []int{0, 1, 1, 0}, stack: stackRows}
		for a := range alpha {
			for bb := range alpha {
				c.starts = append(c.starts, []int{0, a, bb, 0})
				c.limits = append(c.limits, []int{dims[0], a + m*(th-1) + 1, bb + m*(tw-1) + 1, dims[3]})
				c.strides = append(c.strides, []int{1, m, m, 1})
			}
		}
		for _, fusion := range []bool{false, true} {
			b.Run(fmt.Sprintf("%v/fused=%v", dims, fusion), func(b *testing.B) {
				exec, _ := buildSliceConcat(b, c, fusion)
				defer exec.Finalize()
				x := newBuffer(c.dtype, c.core, make([]float32, shapes.Make(c.dtype, dims...).Size()))
				b.ResetTimer()
				for range b.N {
					out, err := exec.Execute([]compute.Buffer{x}, []bool{false}, 0)
					if err != nil {
						b.Fatal(err)
					}
					out[0].(*gobackend.Buffer).Finalize()
				}
			})
		}
	}
}

// BenchmarkSliceConcatSubpixelGrad times the gradient of an up-convolution's
// sub-pixel products as gofast builds it (xla/gofast upConv): dY [4, 320,
// 320, 16] viewed as [4, 160, 2, 160, 32], zero-padded by 2 on the two
// spatial axes, 16 slices of [4, 162, 1, 162, 16] (each parity at 4
// offsets) concatenated on the last axis, fused and op by op.
func BenchmarkSliceConcatSubpixelGrad(b *testing.B) {
	dims := []int{4, 160, 2, 160, 32}
	c := sliceConcatCase{dtype: dtypes.Float32, core: dims, padAxes: []int{1, 3},
		padLo: []int{0, 2, 0, 2, 0}, padHi: []int{0, 2, 0, 2, 0}}
	for a := range 2 {
		for bb := range 2 {
			for e := range 2 {
				for f := range 2 {
					r, col := 2-a-e, 2-bb-f
					c.starts = append(c.starts, []int{0, r, a, col, bb * 16})
					c.limits = append(c.limits, []int{4, r + 162, a + 1, col + 162, (bb + 1) * 16})
					c.strides = append(c.strides, []int{1, 1, 1, 1, 1})
				}
			}
		}
	}
	benchSliceConcatCase(b, "dY_4x320x320x16", c)
}
