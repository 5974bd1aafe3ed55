package research

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestFitScoreMapLinearByHand(t *testing.T) {
	tests := []struct {
		name             string
		x, y             []float64
		intercept, slope float64
		at, want         float64 // one prediction inside [lo, hi]
		lo, hi           float64
		below, belowWant float64 // a pct whose raw prediction is < lo
		above, aboveWant float64 // a pct whose raw prediction is > hi
	}{
		{
			// x̄ = 2, ȳ = 11/3; dx = -1 0 1, dy = -5/3 1/3 4/3;
			// Σdxdy = 5/3 + 4/3 = 3, Σdx² = 2 -> b = 1.5, a = 11/3 - 3 = 2/3.
			// At 4: 2/3 + 6 = 20/3. At -2: 2/3 - 3 < 0. At 10: 2/3 + 15 > 8.
			name: "3 points", x: []float64{1, 2, 3}, y: []float64{2, 4, 5},
			intercept: 2.0 / 3, slope: 1.5, at: 4, want: 20.0 / 3,
			lo: 0, hi: 8, below: -2, belowWant: 0, above: 10, aboveWant: 8,
		},
		{
			// x̄ = 1.5, ȳ = 2.75; dx = -1.5 -.5 .5 1.5, dy = -1.75 .25 -.75 2.25;
			// Σdxdy = 2.625 - .125 - .375 + 3.375 = 5.5, Σdx² = 5 -> b = 1.1,
			// a = 2.75 - 1.1·1.5 = 1.1. At 2: 3.3. At -5: -4.4 < 0. At 10: 12.1 > 6.
			name: "4 points", x: []float64{0, 1, 2, 3}, y: []float64{1, 3, 2, 5},
			intercept: 1.1, slope: 1.1, at: 2, want: 3.3,
			lo: 0, hi: 6, below: -5, belowWant: 0, above: 10, aboveWant: 6,
		},
		{
			// Ties in x: x̄ = 1, ȳ = 2; dx = -1 -1 1 1, dy = -2 0 0 2;
			// Σdxdy = 2 + 2 = 4, Σdx² = 4 -> b = 1, a = 1. At 1.5: 2.5.
			name: "ties in x", x: []float64{0, 0, 2, 2}, y: []float64{0, 2, 2, 4},
			intercept: 1, slope: 1, at: 1.5, want: 2.5,
			lo: 0, hi: 4, below: -3, belowWant: 0, above: 7, aboveWant: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FitScoreMap(ScoreMapLinear, tc.x, tc.y, tc.lo, tc.hi)
			if err != nil {
				t.Fatal(err)
			}
			if m.Method != ScoreMapLinear || m.N != len(tc.x) || m.Lo != tc.lo || m.Hi != tc.hi {
				t.Errorf("map %+v: want method linear, n %d, range [%v, %v]", m, len(tc.x), tc.lo, tc.hi)
			}
			if !near(m.Intercept, tc.intercept, 1e-12) || !near(m.Slope, tc.slope, 1e-12) {
				t.Errorf("intercept, slope = %v, %v, want %v, %v", m.Intercept, m.Slope, tc.intercept, tc.slope)
			}
			if got := m.Predict(tc.at); !near(got, tc.want, 1e-12) {
				t.Errorf("Predict(%v) = %v, want %v", tc.at, got, tc.want)
			}
			if got := m.Predict(tc.below); got != tc.belowWant {
				t.Errorf("Predict(%v) = %v, want %v (clipped to lo)", tc.below, got, tc.belowWant)
			}
			if got := m.Predict(tc.above); got != tc.aboveWant {
				t.Errorf("Predict(%v) = %v, want %v (clipped to hi)", tc.above, got, tc.aboveWant)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestFitScoreMapSqrtExact(t *testing.T) {
	// The points lie exactly on y = 0.5 + 1.5·sqrt(x): sqrt(x) = 0 1 2 3 4,
	// y = 0.5 2 3.5 5 6.5. Least squares recovers a = 0.5, b = 1.5.
	x := []float64{0, 1, 4, 9, 16}
	y := []float64{0.5, 2, 3.5, 5, 6.5}
	m, err := FitScoreMap(ScoreMapSqrt, x, y, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.Intercept, 0.5, 1e-12) || !near(m.Slope, 1.5, 1e-12) {
		t.Errorf("intercept, slope = %v, %v, want 0.5, 1.5", m.Intercept, m.Slope)
	}
	for _, tc := range []struct{ pct, want float64 }{
		{0, 0.5},
		{2.25, 0.5 + 1.5*1.5}, // sqrt = 1.5
		{6.25, 0.5 + 1.5*2.5}, // sqrt = 2.5
		{25, 8},               // 0.5 + 7.5 = 8, at hi
		{36, 8},               // 0.5 + 9 = 9.5, clipped to 8
		{100, 8},              // 15.5, clipped
	} {
		if got := m.Predict(tc.pct); !near(got, tc.want, 1e-12) {
			t.Errorf("Predict(%v) = %v, want %v", tc.pct, got, tc.want)
		}
	}
	if got := m.Predict(-1); !math.IsNaN(got) {
		t.Errorf("Predict(-1) of a sqrt map = %v, want NaN", got)
	}
}

func TestPAVTextbook(t *testing.T) {
	tests := []struct {
		name    string
		y, want []float64
	}{
		// (3,2) and (4,3) violate: each pair is pooled to its mean.
		{"two pools", []float64{1, 3, 2, 4, 3, 5}, []float64{1, 2.5, 2.5, 3.5, 3.5, 5}},
		// 4,3 -> 3.5, which still exceeds 2: pooled again, (4+3+2)/3 = 3.
		{"backtracking", []float64{1, 4, 3, 2}, []float64{1, 3, 3, 3}},
		// 3,0 -> 1.5 < 2: pooled with 2, (2+3+0)/3 = 5/3.
		{"pool reaches the start", []float64{2, 3, 0}, []float64{5.0 / 3, 5.0 / 3, 5.0 / 3}},
		{"decreasing", []float64{3, 2, 1}, []float64{2, 2, 2}},
		{"already monotone, with a tie", []float64{1, 2, 2, 5}, []float64{1, 2, 2, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := pav(tc.y)
			for i := range tc.want {
				if !near(got[i], tc.want[i], 1e-12) {
					t.Fatalf("pav(%v) = %v, want %v", tc.y, got, tc.want)
				}
			}
		})
	}
}

func TestFitScoreMapIsotonic(t *testing.T) {
	tests := []struct {
		name         string
		x, y         []float64
		knotX, knotY []float64
		predict      [][2]float64 // pct, want
	}{
		{
			// y = 1 3 2 4 3 5 at x = 1..6: blocks {1}, {2,3}, {4,5}, {6}
			// with means 1, 2.5, 3.5, 5 at x-means 1, 2.5, 4.5, 6.
			name: "textbook", x: []float64{1, 2, 3, 4, 5, 6}, y: []float64{1, 3, 2, 4, 3, 5},
			knotX: []float64{1, 2.5, 4.5, 6}, knotY: []float64{1, 2.5, 3.5, 5},
			predict: [][2]float64{
				{0, 1},       // below the first knot: constant
				{1, 1},       // at a knot
				{2, 2},       // 1 + (2-1)/(2.5-1)·(2.5-1) = 2
				{2.5, 2.5},   // at a knot
				{3.5, 3},     // halfway between 2.5 and 3.5
				{5, 4},       // 3.5 + (5-4.5)/1.5·1.5 = 4
				{100, 5},     // beyond the last knot: constant
				{5.25, 4.25}, // 3.5 + 0.75/1.5·1.5
			},
		},
		{
			// Unsorted input gives the same fit as sorted.
			name: "unsorted", x: []float64{6, 3, 1, 5, 2, 4}, y: []float64{5, 2, 1, 3, 3, 4},
			knotX: []float64{1, 2.5, 4.5, 6}, knotY: []float64{1, 2.5, 3.5, 5},
		},
		{
			// Ties in x pooled first: x = 1 has y 0, 2 (mean 1, weight 2);
			// then 3 at x = 2 and 1 at x = 3 violate: block {2, 3}, mean 2,
			// x-mean 2.5. Knots (1, 1), (2.5, 2).
			name: "ties in x", x: []float64{1, 1, 2, 3}, y: []float64{0, 2, 3, 1},
			knotX: []float64{1, 2.5}, knotY: []float64{1, 2},
			predict: [][2]float64{{1.75, 1.5}},
		},
		{
			// Weight 1 per point, not per distinct x: x = 2 holds 0, 1, 2
			// (mean 1, weight 3), below 3 at x = 1, so everything pools:
			// y-mean (3+0+1+2)/4 = 1.5 at x-mean (1+2+2+2)/4 = 1.75.
			// (Weighting distinct x equally would give 2 at 1.5.)
			name: "point weights", x: []float64{1, 2, 2, 2}, y: []float64{3, 0, 1, 2},
			knotX: []float64{1.75}, knotY: []float64{1.5},
			predict: [][2]float64{{0, 1.5}, {50, 1.5}},
		},
		{
			// A single distinct x is a constant map.
			name: "one distinct x", x: []float64{4, 4}, y: []float64{1, 2},
			knotX: []float64{4}, knotY: []float64{1.5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FitScoreMap(ScoreMapIsotonic, tc.x, tc.y, 0, 8)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.KnotX) != len(tc.knotX) || len(m.KnotY) != len(tc.knotY) {
				t.Fatalf("knots %v, %v, want %v, %v", m.KnotX, m.KnotY, tc.knotX, tc.knotY)
			}
			for i := range tc.knotX {
				if !near(m.KnotX[i], tc.knotX[i], 1e-12) || !near(m.KnotY[i], tc.knotY[i], 1e-12) {
					t.Fatalf("knots %v, %v, want %v, %v", m.KnotX, m.KnotY, tc.knotX, tc.knotY)
				}
			}
			for _, p := range tc.predict {
				if got := m.Predict(p[0]); !near(got, p[1], 1e-12) {
					t.Errorf("Predict(%v) = %v, want %v", p[0], got, p[1])
				}
			}
			if err := m.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestScoreMapClipping(t *testing.T) {
	// Each map is fitted on points whose raw predictions leave [1, 2]
	// (lo = 1, hi = 2); predictions must not.
	tests := []struct {
		method   string
		x, y     []float64
		lowPct   float64 // raw prediction below 1
		highPct  float64 // raw prediction above 2
		midPct   float64 // raw prediction inside
		midValue float64
	}{
		// y = x: raw 0 at 0, 3 at 3, 1.5 at 1.5.
		{ScoreMapLinear, []float64{0, 3}, []float64{0, 3}, 0, 3, 1.5, 1.5},
		// y = sqrt(x): raw 0 at 0, 3 at 9, 1.5 at 2.25.
		{ScoreMapSqrt, []float64{0, 9}, []float64{0, 3}, 0, 9, 2.25, 1.5},
		// Knots (0, 0), (3, 3): raw 0 at 0, 3 at 3, 1.5 at 1.5.
		{ScoreMapIsotonic, []float64{0, 3}, []float64{0, 3}, 0, 3, 1.5, 1.5},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			m, err := FitScoreMap(tc.method, tc.x, tc.y, 1, 2)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Predict(tc.lowPct); got != 1 {
				t.Errorf("Predict(%v) = %v, want 1 (lo)", tc.lowPct, got)
			}
			if got := m.Predict(tc.highPct); got != 2 {
				t.Errorf("Predict(%v) = %v, want 2 (hi)", tc.highPct, got)
			}
			if got := m.Predict(tc.midPct); !near(got, tc.midValue, 1e-12) {
				t.Errorf("Predict(%v) = %v, want %v", tc.midPct, got, tc.midValue)
			}
			if got := m.Predict(math.NaN()); !math.IsNaN(got) {
				t.Errorf("Predict(NaN) = %v, want NaN", got)
			}
		})
	}
}

func TestFitScoreMapErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name   string
		method string
		x, y   []float64
		lo, hi float64
		want   string // part of the error
	}{
		{"length mismatch", ScoreMapLinear, []float64{1, 2, 3}, []float64{1, 2}, 0, 8, "pairs"},
		{"one point", ScoreMapIsotonic, []float64{1}, []float64{1}, 0, 8, "at least 2"},
		{"no points", ScoreMapLinear, nil, nil, 0, 8, "at least 2"},
		{"NaN x", ScoreMapLinear, []float64{1, nan}, []float64{1, 2}, 0, 8, "x[1]"},
		{"infinite y", ScoreMapIsotonic, []float64{1, 2}, []float64{inf, 2}, 0, 8, "y[0]"},
		{"unknown method", "cubic", []float64{1, 2}, []float64{1, 2}, 0, 8, "unknown method"},
		{"negative x for sqrt", ScoreMapSqrt, []float64{1, -2}, []float64{1, 2}, 0, 8, "negative"},
		{"constant x, linear", ScoreMapLinear, []float64{3, 3, 3}, []float64{1, 2, 3}, 0, 8, "distinct"},
		{"constant x, sqrt", ScoreMapSqrt, []float64{3, 3}, []float64{1, 2}, 0, 8, "distinct"},
		{"lo > hi", ScoreMapLinear, []float64{1, 2}, []float64{1, 2}, 8, 0, "lo <= hi"},
		{"NaN lo", ScoreMapLinear, []float64{1, 2}, []float64{1, 2}, nan, 8, "lo <= hi"},
		{"infinite hi", ScoreMapLinear, []float64{1, 2}, []float64{1, 2}, 0, inf, "lo <= hi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FitScoreMap(tc.method, tc.x, tc.y, tc.lo, tc.hi)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestScoreMapJSONRoundTrip(t *testing.T) {
	x := []float64{0, 4, 9, 25, 49, 64}
	y := []float64{0, 2, 1.5, 4, 6, 5.5}
	for _, method := range ScoreMapMethods {
		t.Run(method, func(t *testing.T) {
			m, err := FitScoreMap(method, x, y, 0, 6)
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var keys map[string]any
			if err := json.Unmarshal(data, &keys); err != nil {
				t.Fatal(err)
			}
			want := []string{"method", "lo", "hi", "n", "intercept", "slope"}
			if method == ScoreMapIsotonic {
				want = []string{"method", "lo", "hi", "n", "knot_x", "knot_y"}
			}
			for _, k := range want {
				if _, ok := keys[k]; !ok {
					t.Errorf("JSON %s lacks key %q", data, k)
				}
			}
			var back ScoreMap
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, m) {
				t.Errorf("read back %+v, want %+v", back, m)
			}
			if err := back.Validate(); err != nil {
				t.Errorf("Validate after reading: %v", err)
			}
			for _, p := range []float64{0, 3, 10, 30, 80} {
				if back.Predict(p) != m.Predict(p) {
					t.Errorf("Predict(%v): %v after reading, %v before", p, back.Predict(p), m.Predict(p))
				}
			}
		})
	}
}

func TestScoreMapValidate(t *testing.T) {
	tests := []struct {
		name string
		m    ScoreMap
		want string
	}{
		{"unknown method", ScoreMap{Method: "spline", Hi: 8}, "unknown method"},
		{"lo > hi", ScoreMap{Method: ScoreMapLinear, Lo: 2, Hi: 1}, "lo <= hi"},
		{"NaN slope", ScoreMap{Method: ScoreMapSqrt, Hi: 8, Slope: math.NaN()}, "finite"},
		{"no knots", ScoreMap{Method: ScoreMapIsotonic, Hi: 8}, "at least 1"},
		{"knot counts differ", ScoreMap{Method: ScoreMapIsotonic, Hi: 8, KnotX: []float64{1, 2}, KnotY: []float64{1}}, "same number"},
		{"knot x not increasing", ScoreMap{Method: ScoreMapIsotonic, Hi: 8, KnotX: []float64{1, 1}, KnotY: []float64{1, 2}}, "strictly increasing"},
		{"knot y decreasing", ScoreMap{Method: ScoreMapIsotonic, Hi: 8, KnotX: []float64{1, 2}, KnotY: []float64{2, 1}}, "non-decreasing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.m.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if got := (ScoreMap{Method: "spline", Hi: 8}).Predict(1); !math.IsNaN(got) {
		t.Errorf("Predict of an unknown method = %v, want NaN", got)
	}
	if got := (ScoreMap{Method: ScoreMapIsotonic, Hi: 8}).Predict(1); !math.IsNaN(got) {
		t.Errorf("Predict of an isotonic map without knots = %v, want NaN", got)
	}
}

func TestOutOfFoldLeaveOneGroupOutByHand(t *testing.T) {
	// Points (0, 0) and (1, 1) of patient p1, (2, 2) of p2, (3, 5) of p3.
	//   Without p1: line through (2, 2), (3, 5): b = 3, a = -4
	//     -> p1's predictions -4 at 0 and -1 at 1.
	//   Without p2: (0, 0), (1, 1), (3, 5): x̄ = 4/3, ȳ = 2, dx = -4/3 -1/3 5/3,
	//     dy = -2 -1 3, Σdxdy = 8/3 + 1/3 + 5 = 8, Σdx² = 42/9 = 14/3,
	//     b = 12/7, a = 2 - 16/7 = -2/7 -> 22/7 at 2.
	//   Without p3: (0, 0), (1, 1), (2, 2): y = x -> 3 at 3.
	x := []float64{0, 1, 2, 3}
	y := []float64{0, 1, 2, 5}
	groups := []string{"p1", "p1", "p2", "p3"}
	wide := []float64{-4, -1, 22.0 / 7, 3}
	clipped := []float64{0, 0, 22.0 / 7, 3} // [0, 8]
	for _, tc := range []struct {
		name   string
		k      int
		lo, hi float64
		want   []float64
	}{
		{"k = 0", 0, -10, 10, wide},
		{"k = -1", -1, -10, 10, wide},
		{"k = groups", 3, -10, 10, wide},
		{"k > groups", 7, -10, 10, wide},
		{"clipped to [0, 8]", 0, 0, 8, clipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OutOfFold(ScoreMapLinear, x, y, groups, tc.k, 1, tc.lo, tc.hi)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				if !near(got[i], tc.want[i], 1e-12) {
					t.Fatalf("predictions %v, want %v", got, tc.want)
				}
			}
		})
	}

	// nil groups: leave-one-out.
	//   Without (0, 0): (1, 1), (2, 2), (3, 5): x̄ = 2, ȳ = 8/3, Σdxdy = 5/3 + 7/3 = 4,
	//     Σdx² = 2, b = 2, a = 8/3 - 4 = -4/3 -> -4/3 at 0.
	//   Without (1, 1): (0, 0), (2, 2), (3, 5): x̄ = 5/3, ȳ = 7/3,
	//     dx = -5/3 1/3 4/3, dy = -7/3 -1/3 8/3, Σdxdy = 66/9, Σdx² = 42/9,
	//     b = 11/7, a = 7/3 - 55/21 = -2/7 -> 9/7 at 1.
	//   Without (2, 2): 22/7 (as without p2 above). Without (3, 5): 3.
	got, err := OutOfFold(ScoreMapLinear, x, y, nil, 0, 1, -10, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{-4.0 / 3, 9.0 / 7, 22.0 / 7, 3}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Fatalf("leave-one-out predictions %v, want %v", got, want)
		}
	}

	// Isotonic, leave-one-out on y = 1 3 2 4 at x = 1..4:
	//   without x=1: (2,3), (3,2) pool to 2.5 at 2.5; knots (2.5, 2.5), (4, 4) -> 2.5 at 1 (constant);
	//   without x=2: monotone knots (1,1), (3,2), (4,4) -> 1.5 at 2;
	//   without x=3: knots (1,1), (2,3), (4,4) -> 3.5 at 3;
	//   without x=4: (2,3), (3,2) pool; knots (1,1), (2.5,2.5) -> 2.5 at 4 (constant).
	got, err = OutOfFold(ScoreMapIsotonic, []float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}, []string{"a", "b", "c", "d"}, 0, 1, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	want = []float64{2.5, 1.5, 3.5, 2.5}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Fatalf("isotonic leave-one-out predictions %v, want %v", got, want)
		}
	}
}

// foldData is a sample of 9 patients with 1 to 3 images each and noisy
// scores.
func foldData() (x, y []float64, groups []string) {
	rng := rand.New(rand.NewPCG(7, 7))
	for p := 0; p < 9; p++ {
		for range 1 + p%3 {
			v := 100 * rng.Float64()
			x = append(x, v)
			y = append(y, math.Min(8, 0.08*v+rng.NormFloat64()))
			groups = append(groups, "patient"+strconv.Itoa(p))
		}
	}
	return x, y, groups
}

func TestOutOfFoldKFold(t *testing.T) {
	x, y, groups := foldData()
	for _, method := range ScoreMapMethods {
		t.Run(method, func(t *testing.T) {
			got, err := OutOfFold(method, x, y, groups, 3, 42, 0, 8)
			if err != nil {
				t.Fatal(err)
			}
			again, err := OutOfFold(method, x, y, groups, 3, 42, 0, 8)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, again) {
				t.Errorf("same seed, different predictions: %v and %v", got, again)
			}
			// The documented construction: folds of KFoldByPatient, each
			// predicted by a map fitted on the points outside it.
			items := make([]SplitItem, len(x))
			for i := range x {
				items[i] = SplitItem{Name: strconv.Itoa(i), Patient: groups[i]}
			}
			splits, err := KFoldByPatient(items, 3, 42, false)
			if err != nil {
				t.Fatal(err)
			}
			for f, s := range splits {
				var tx, ty []float64
				for _, i := range s.Train {
					tx = append(tx, x[i])
					ty = append(ty, y[i])
				}
				m, err := FitScoreMap(method, tx, ty, 0, 8)
				if err != nil {
					t.Fatal(err)
				}
				for _, i := range s.Test {
					if got[i] != m.Predict(x[i]) {
						t.Errorf("fold %d, point %d: %v, want %v from the map of the other folds", f, i, got[i], m.Predict(x[i]))
					}
				}
			}
			// No leakage: changing the scores of one patient leaves that
			// patient's predictions as they were.
			for _, p := range []string{"patient0", "patient4", "patient8"} {
				y2 := append([]float64(nil), y...)
				for i := range y2 {
					if groups[i] == p {
						y2[i] = 8 - y2[i] + 3
					}
				}
				changed, err := OutOfFold(method, x, y2, groups, 3, 42, 0, 8)
				if err != nil {
					t.Fatal(err)
				}
				for i := range x {
					if groups[i] == p && changed[i] != got[i] {
						t.Errorf("%s point %d: prediction %v became %v when its own score changed", p, i, got[i], changed[i])
					}
				}
			}
		})
	}
}

func TestOutOfFoldExactLine(t *testing.T) {
	// Points exactly on y = 2 + 0.05x: whatever the folds, every fitted
	// line is that line, so every out-of-fold prediction is 2 + 0.05x.
	var x, y []float64
	var groups []string
	for i := 0; i < 20; i++ {
		v := float64(5 * i)
		x = append(x, v)
		y = append(y, 2+0.05*v)
		groups = append(groups, "p"+strconv.Itoa(i/2))
	}
	for _, k := range []int{2, 3, 5, 0} {
		got, err := OutOfFold(ScoreMapLinear, x, y, groups, k, 3, 0, 8)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if !near(got[i], 2+0.05*x[i], 1e-12) {
				t.Errorf("k = %d, point %d: %v, want %v", k, i, got[i], 2+0.05*x[i])
			}
		}
	}
}

func TestOutOfFoldErrors(t *testing.T) {
	x := []float64{0, 1, 2, 3}
	y := []float64{0, 1, 2, 5}
	tests := []struct {
		name   string
		method string
		x, y   []float64
		groups []string
		k      int
		want   string
	}{
		{"k = 1", ScoreMapLinear, x, y, nil, 1, "k = 1"},
		{"one group", ScoreMapLinear, x, y, []string{"a", "a", "a", "a"}, 0, "at least 2"},
		{"empty group id", ScoreMapLinear, x, y, []string{"a", "", "b", "c"}, 0, "empty group"},
		{"group count", ScoreMapLinear, x, y, []string{"a", "b"}, 0, "group ids"},
		{"length mismatch", ScoreMapLinear, x, y[:3], nil, 0, "pairs"},
		{"NaN x", ScoreMapLinear, []float64{0, math.NaN(), 2, 3}, y, nil, 0, "x[1]"},
		{"unknown method", "cubic", x, y, nil, 0, "unknown method"},
		// Leaving out b leaves x = 0, 0: no slope.
		{"unfittable fold", ScoreMapLinear, []float64{0, 0, 1, 2}, []float64{1, 2, 3, 4}, []string{"a", "a", "b", "b"}, 0, "fold 2 of 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OutOfFold(tc.method, tc.x, tc.y, tc.groups, tc.k, 1, 0, 8)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
