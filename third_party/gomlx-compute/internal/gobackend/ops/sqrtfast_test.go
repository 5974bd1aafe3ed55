package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// TestSqrtFloat32MatchesGenerated runs patch 7's float32 Sqrt (and its
// split Logistic) and the generated executor on special values (negative numbers, NaNs, signed
// zeros, infinities, subnormals) and random ones, at sizes with and
// without a 16-lane remainder and large enough to be split between cores,
// the operand owned or not, and compares the results bit for bit (any NaN
// matches any NaN).
func TestSqrtFloat32MatchesGenerated(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{1, 15, 16, 17, 1000, 70001, 200000} {
		in := make([]float32, n)
		for i := range in {
			if i%3 == 0 {
				in[i] = rng.Float32() * float32(math.Pow(10, float64(rng.IntN(20)-10)))
			} else {
				in[i] = specialFloat32(rng)
			}
		}
		for _, owned := range []bool{false, true} {
			run := func(op compute.OpType, exec gobackend.NodeExecutor) []float32 {
				buf, err := backend.BufferFromFlatData(0, append([]float32(nil), in...), shapes.Make(dtypes.Float32, n))
				if err != nil {
					t.Fatal(err)
				}
				node := &gobackend.Node{OpType: op, Shape: shapes.Make(dtypes.Float32, n)}
				res, err := exec(backend, node, []*gobackend.Buffer{buf.(*gobackend.Buffer)}, []bool{owned})
				if err != nil {
					t.Fatal(err)
				}
				return append([]float32(nil), res.Flat.([]float32)...)
			}
			for _, c := range []struct {
				name       string
				op         compute.OpType
				gen, patch gobackend.NodeExecutor
			}{{"sqrt", compute.OpTypeSqrt, execSqrt, execSqrtFloat32Fast}, {"logistic", compute.OpTypeLogistic, execLogistic, execLogisticFloat32Parallel}} {
				want, got := run(c.op, c.gen), run(c.op, c.patch)
				for i := range want {
					bothNaN := got[i] != got[i] && want[i] != want[i]
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !bothNaN {
						t.Fatalf("n %d owned %v: %s(%v) = %v (%#x), the generated executor gives %v (%#x)",
							n, owned, c.name, in[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}
