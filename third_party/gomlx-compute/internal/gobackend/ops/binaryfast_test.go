package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// newTestBackend is a Go backend for the tests of this package.
func newTestBackend(tb testing.TB) *gobackend.Backend {
	tb.Helper()
	b, err := gobackend.New("")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Finalize)
	return b.(*gobackend.Backend)
}

// specialFloat32 draws a float32 that is often special: NaNs with several
// payloads, infinities, signed zeros, subnormals, extremes.
func specialFloat32(rng *rand.Rand) float32 {
	switch rng.IntN(12) {
	case 0:
		return math.Float32frombits(0x7fc00000 | uint32(rng.IntN(1<<22))) // quiet NaN, payload
	case 1:
		return math.Float32frombits(0xff800001 + uint32(rng.IntN(1<<10))) // negative signalling NaN
	case 2:
		return float32(math.Inf(1 - 2*rng.IntN(2)))
	case 3:
		return math.Float32frombits(uint32(rng.IntN(2)) << 31) // +0, -0
	case 4:
		return math.Float32frombits(uint32(rng.IntN(1<<23)) | uint32(rng.IntN(2))<<31) // subnormal
	case 5:
		return float32(1-2*rng.IntN(2)) * math.MaxFloat32 * rng.Float32()
	default:
		return float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
	}
}

// TestFloat32BinaryMatchesGenerated holds patch 5's executors to the
// generated ones bit for bit, except that any NaN matches any NaN (of an
// operation on two NaNs the CPU returns the payload of the operand the
// compiler put first, and for Add and Mul the compiler may put either
// first, in the generated executors as in these): Add, Sub, Mul, Div on
// float32 operands full of special values, for every operand form of the
// fast path (equal shapes, a scalar on either side, a repeated side on
// either side) at sizes with and without a SIMD remainder, shapes that
// fall back to the generated executor, and outputs written in place of an
// owned operand.
func TestFloat32BinaryMatchesGenerated(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(5, 5))
	generic := map[compute.OpType]gobackend.NodeExecutor{
		compute.OpTypeAdd: execAdd, compute.OpTypeSub: execSub, compute.OpTypeMul: execMul, compute.OpTypeDiv: execDiv,
		compute.OpTypeMax: execMax, compute.OpTypeMin: execMin,
	}
	pairs := [][2][]int{
		{{1}, {1}}, {{7}, {7}}, {{16}, {16}}, {{33}, {33}}, {{1000}, {1000}}, {{70001}, {70001}}, {{4, 100, 300}, {4, 100, 300}},
		{{33}, {1}}, {{70001}, {1}}, {{70001}, {}}, {{}, {70001}}, {{1}, {33}}, {{1, 1}, {5, 7}}, {{5, 7}, {1, 1}},
		{{8, 64, 64, 32}, {1, 1, 1, 32}}, {{1, 1, 1, 32}, {8, 64, 64, 32}}, {{3, 10, 17}, {1, 10, 17}}, {{1, 10, 17}, {3, 10, 17}},
		{{2, 3, 40000}, {1, 1, 40000}}, {{3, 5000, 16}, {1, 1, 16}}, {{1, 1, 16}, {3, 5000, 16}}, {{7, 16}, {1, 16}},
		{{4, 1}, {1, 5}}, {{4, 5, 1}, {4, 5, 6}}, {{6, 1, 3}, {6, 2, 3}}, // fall back: the index iterator
	}
	for opType, gen := range generic {
		fast := float32BinaryExecutor(opType, gen)
		for _, p := range pairs {
			ls, rs := shapes.Make(dtypes.Float32, p[0]...), shapes.Make(dtypes.Float32, p[1]...)
			out := broadcastShape(ls, rs)
			la, ra := make([]float32, ls.Size()), make([]float32, rs.Size())
			for i := range la {
				la[i] = specialFloat32(rng)
			}
			for i := range ra {
				ra[i] = specialFloat32(rng)
			}
			for _, owned := range [][]bool{{false, false}, {true, false}, {false, true}} {
				run := func(exec gobackend.NodeExecutor) []float32 {
					l, err := backend.BufferFromFlatData(0, append([]float32(nil), la...), ls)
					if err != nil {
						t.Fatal(err)
					}
					r, err := backend.BufferFromFlatData(0, append([]float32(nil), ra...), rs)
					if err != nil {
						t.Fatal(err)
					}
					node := &gobackend.Node{OpType: opType, Shape: out}
					res, err := exec(backend, node, []*gobackend.Buffer{l.(*gobackend.Buffer), r.(*gobackend.Buffer)}, append([]bool(nil), owned...))
					if err != nil {
						t.Fatal(err)
					}
					return append([]float32(nil), res.Flat.([]float32)...)
				}
				want, got := run(gen), run(fast)
				if len(got) != len(want) || len(got) != out.Size() {
					t.Fatalf("%s %v %v: %d values, want %d", opType, ls, rs, len(got), len(want))
				}
				for i := range want {
					bothNaN := got[i] != got[i] && want[i] != want[i]
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !bothNaN {
						t.Fatalf("%s %v %v owned %v: element %d is %v (%#x), the generated executor gives %v (%#x)",
							opType, ls, rs, owned, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

// broadcastShape is the shape of a binary op's output.
func broadcastShape(a, b shapes.Shape) shapes.Shape {
	if a.Rank() == 0 {
		return b
	}
	if b.Rank() == 0 {
		return a
	}
	dims := make([]int, a.Rank())
	for i := range dims {
		dims[i] = max(a.Dimensions[i], b.Dimensions[i])
	}
	return shapes.Make(a.DType, dims...)
}

// BenchmarkFloat32Binary times Add of two [8, 64, 64, 64] float32 tensors
// and Mul by a per-channel row of 64 and of 16 channels (patch 7's
// short-row kernel), generated executor against patches 5 and 7.
func BenchmarkFloat32Binary(b *testing.B) {
	backend := newTestBackend(b)
	for _, c := range []struct {
		name         string
		op           compute.OpType
		gen          gobackend.NodeExecutor
		full, rshape shapes.Shape
	}{
		{"add", compute.OpTypeAdd, execAdd, shapes.Make(dtypes.Float32, 8, 64, 64, 64), shapes.Make(dtypes.Float32, 8, 64, 64, 64)},
		{"mul-row", compute.OpTypeMul, execMul, shapes.Make(dtypes.Float32, 8, 64, 64, 64), shapes.Make(dtypes.Float32, 1, 1, 1, 64)},
		{"mul-row16", compute.OpTypeMul, execMul, shapes.Make(dtypes.Float32, 1, 320, 320, 16), shapes.Make(dtypes.Float32, 1, 1, 1, 16)},
	} {
		full := c.full
		l, _ := backend.BufferFromFlatData(0, make([]float32, full.Size()), full)
		r, _ := backend.BufferFromFlatData(0, make([]float32, c.rshape.Size()), c.rshape)
		node := &gobackend.Node{OpType: c.op, Shape: full}
		for _, impl := range []struct {
			name string
			exec gobackend.NodeExecutor
		}{{"generated", c.gen}, {"patched", float32BinaryExecutor(c.op, c.gen)}} {
			b.Run(fmt.Sprintf("%s/%s", c.name, impl.name), func(b *testing.B) {
				for range b.N {
					out, err := impl.exec(backend, node, []*gobackend.Buffer{l.(*gobackend.Buffer), r.(*gobackend.Buffer)}, []bool{false, false})
					if err != nil {
						b.Fatal(err)
					}
					backend.PutBuffer(out)
				}
			})
		}
	}
}
