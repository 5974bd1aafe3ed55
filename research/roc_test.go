package research

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The small case used by several tests:
// positives 0.9, 0.7, 0.5; negatives 0.6, 0.5, 0.2.
var (
	smallScores = []float64{0.9, 0.7, 0.5, 0.6, 0.5, 0.2}
	smallLabels = []bool{true, true, true, false, false, false}
)

func TestAUCByHand(t *testing.T) {
	// The 9 (positive, negative) pairs:
	//   0.9 > 0.6, 0.5, 0.2           -> 3
	//   0.7 > 0.6, 0.5, 0.2           -> 3
	//   0.5 < 0.6, = 0.5 (1/2), > 0.2 -> 1.5
	// U = 7.5, AUC = 7.5 / 9.
	auc, err := AUC(smallScores, smallLabels)
	if err != nil {
		t.Fatal(err)
	}
	if !near(auc, 7.5/9, 1e-12) {
		t.Errorf("AUC = %v, want 7.5/9 = %v", auc, 7.5/9)
	}
}

func TestDeLongByHand(t *testing.T) {
	// Structural components (DeLong 1988):
	// V10 (each positive: share of negatives it beats, ties 1/2):
	//   0.9: 3/3 = 1;  0.7: 3/3 = 1;  0.5: (0 + 1/2 + 1)/3 = 0.5
	// V01 (each negative: share of positives beating it, ties 1/2):
	//   0.6: 2/3;  0.5: (1 + 1 + 1/2)/3 = 5/6;  0.2: 3/3 = 1
	// mean V10 = mean V01 = 5/6 = AUC.
	// S10 = ((1/6)² + (1/6)² + (1/3)²)/2 = (6/36)/2 = 1/12
	// S01 = ((1/6)² + 0 + (1/6)²)/2 = (2/36)/2 = 1/36
	// Var = S10/3 + S01/3 = 1/36 + 1/108 = 1/27.
	r, err := DeLong(smallScores, smallLabels)
	if err != nil {
		t.Fatal(err)
	}
	wantV10 := []float64{1, 1, 0.5}
	wantV01 := []float64{2.0 / 3, 5.0 / 6, 1}
	for i := range wantV10 {
		if !near(r.V10[i], wantV10[i], 1e-12) {
			t.Errorf("V10[%d] = %v, want %v", i, r.V10[i], wantV10[i])
		}
		if !near(r.V01[i], wantV01[i], 1e-12) {
			t.Errorf("V01[%d] = %v, want %v", i, r.V01[i], wantV01[i])
		}
	}
	if !near(r.S10, 1.0/12, 1e-12) || !near(r.S01, 1.0/36, 1e-12) {
		t.Errorf("S10, S01 = %v, %v, want 1/12, 1/36", r.S10, r.S01)
	}
	if !near(r.Variance, 1.0/27, 1e-12) {
		t.Errorf("variance = %v, want 1/27 = %v", r.Variance, 1.0/27)
	}
	// CI: 5/6 ± 1.959964 * sqrt(1/27) = 0.833333 ± 0.377195 -> [0.456138, 1.210528],
	// clipped to [0.456138, 1].
	lo := 5.0/6 - 1.959963984540054*math.Sqrt(1.0/27)
	if !near(r.CI95[0], lo, 1e-12) || r.CI95[1] != 1 {
		t.Errorf("CI95 = %v, want [%v, 1]", r.CI95, lo)
	}
	if !near(lo, 0.456138, 1e-6) {
		t.Errorf("hand arithmetic: lower bound %v, want 0.456138", lo)
	}
}

func TestROCCurveAndYoudenByHand(t *testing.T) {
	// Sorted by score: 0.9 P, 0.7 P, 0.6 N, 0.5 P+N, 0.2 N (3 P, 3 N).
	want := []ROCPoint{
		{math.Inf(1), 0, 0},
		{0.9, 0, 1.0 / 3},
		{0.7, 0, 2.0 / 3},
		{0.6, 1.0 / 3, 2.0 / 3},
		{0.5, 2.0 / 3, 1},
		{0.2, 1, 1},
	}
	got, err := ROCCurve(smallScores, smallLabels)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d points, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Threshold != want[i].Threshold || !near(got[i].FPR, want[i].FPR, 1e-12) || !near(got[i].TPR, want[i].TPR, 1e-12) {
			t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// J = TPR - FPR: 1/3, 2/3, 1/3, 1/3, 0 -> best at 0.7: sensitivity 2/3, specificity 1.
	y, err := YoudenPoint(smallScores, smallLabels)
	if err != nil {
		t.Fatal(err)
	}
	if y.Threshold != 0.7 || !near(y.Sensitivity, 2.0/3, 1e-12) || y.Specificity != 1 {
		t.Errorf("Youden = %+v, want threshold 0.7, sensitivity 2/3, specificity 1", y)
	}
}

// mannWhitneyDirect is the definition: U / (n1 n0) by a double loop.
func mannWhitneyDirect(scores []float64, labels []bool) float64 {
	var u float64
	var n1, n0 int
	for i := range scores {
		if !labels[i] {
			n0++
			continue
		}
		n1++
		for j := range scores {
			if labels[j] {
				continue
			}
			switch {
			case scores[i] > scores[j]:
				u++
			case scores[i] == scores[j]:
				u += 0.5
			}
		}
	}
	return u / float64(n1*n0)
}

// randomCase draws n cases with ties (scores rounded to one decimal) where
// positives score somewhat higher.
func randomCase(rng *rand.Rand, n int) ([]float64, []bool) {
	s := make([]float64, n)
	l := make([]bool, n)
	for i := range s {
		l[i] = rng.Float64() < 0.35
		v := rng.NormFloat64()
		if l[i] {
			v += 0.8
		}
		s[i] = math.Round(v*10) / 10
	}
	l[0], l[1] = true, false
	return s, l
}

func TestAUCEqualsMannWhitney(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		s, l := randomCase(rng, 5+rng.IntN(200))
		got, err := AUC(s, l)
		if err != nil {
			t.Fatal(err)
		}
		if want := mannWhitneyDirect(s, l); !near(got, want, 1e-12) {
			t.Errorf("trial %d: AUC = %v, Mann-Whitney U/(n1 n0) = %v", trial, got, want)
		}
	}
}

func TestDeLongEqualsDirectComponents(t *testing.T) {
	// Components from the definition, O(n²): psi(x, y) = 1, 1/2, 0.
	psi := func(x, y float64) float64 {
		switch {
		case x > y:
			return 1
		case x == y:
			return 0.5
		}
		return 0
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 10; trial++ {
		s, l := randomCase(rng, 10+rng.IntN(150))
		var x, y []float64
		for i := range s {
			if l[i] {
				x = append(x, s[i])
			} else {
				y = append(y, s[i])
			}
		}
		m, n := float64(len(x)), float64(len(y))
		v10 := make([]float64, len(x))
		v01 := make([]float64, len(y))
		for i := range x {
			for j := range y {
				p := psi(x[i], y[j])
				v10[i] += p / n
				v01[j] += p / m
			}
		}
		var auc float64
		for _, v := range v10 {
			auc += v / m
		}
		var s10, s01 float64
		for _, v := range v10 {
			s10 += (v - auc) * (v - auc) / (m - 1)
		}
		for _, v := range v01 {
			s01 += (v - auc) * (v - auc) / (n - 1)
		}
		want := s10/m + s01/n
		r, err := DeLong(s, l)
		if err != nil {
			t.Fatal(err)
		}
		if !near(r.AUC, auc, 1e-12) || !near(r.Variance, want, 1e-12) {
			t.Errorf("trial %d: AUC %v var %v, direct %v var %v", trial, r.AUC, r.Variance, auc, want)
		}
		if r.CI95[0] > r.AUC || r.CI95[1] < r.AUC {
			t.Errorf("trial %d: CI %v does not contain AUC %v", trial, r.CI95, r.AUC)
		}
	}
}

func TestAUCProperties(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	l := []bool{false, false, false, false, true, true, true, true}
	auc, _ := AUC(s, l)
	if auc != 1 {
		t.Errorf("perfect score: AUC = %v, want 1", auc)
	}
	rev := make([]float64, len(s))
	for i, v := range s {
		rev[i] = -v
	}
	auc, _ = AUC(rev, l)
	if auc != 0 {
		t.Errorf("reversed score: AUC = %v, want 0", auc)
	}
	same := []float64{3, 3, 3, 3, 3, 3, 3, 3}
	auc, _ = AUC(same, l)
	if auc != 0.5 {
		t.Errorf("constant score: AUC = %v, want 0.5", auc)
	}
	r, err := DeLong(s, l)
	if err != nil {
		t.Fatal(err)
	}
	if r.AUC != 1 || r.Variance != 0 || r.CI95 != [2]float64{1, 1} {
		t.Errorf("perfect score: %+v, want AUC 1, variance 0, CI [1, 1]", r)
	}
}

func TestROCBadInput(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		labels []bool
	}{
		{"length mismatch", []float64{1, 2}, []bool{true}},
		{"NaN score", []float64{1, math.NaN()}, []bool{true, false}},
		{"infinite score", []float64{1, math.Inf(1)}, []bool{true, false}},
		{"one class", []float64{1, 2}, []bool{true, true}},
		{"empty", nil, nil},
	}
	for _, c := range cases {
		if _, err := AUC(c.scores, c.labels); err == nil {
			t.Errorf("%s: AUC gave no error", c.name)
		}
		if _, err := ROCCurve(c.scores, c.labels); err == nil {
			t.Errorf("%s: ROCCurve gave no error", c.name)
		}
		if _, err := DeLong(c.scores, c.labels); err == nil {
			t.Errorf("%s: DeLong gave no error", c.name)
		}
	}
	if _, err := DeLong([]float64{1, 2, 3}, []bool{true, false, false}); err == nil {
		t.Error("DeLong with 1 positive gave no error")
	}
}

func TestPairedDeLongByHand(t *testing.T) {
	// Cases: positives a, b; negatives c, d.
	// Score 1: a=3, b=4, c=1, d=2 -> AUC 1, V10 = (1, 1), V01 = (1, 1): no variance.
	// Score 2: a=1, b=4, c=2, d=3 -> pairs a<c, a<d, b>c, b>d -> AUC 2/4 = 0.5,
	//   V10 = (0, 1), V01 = (1/2, 1/2).
	// Var2 = var(0,1)/2 + var(.5,.5)/2 = 0.5/2 + 0 = 0.25; Var1 = 0; Cov = 0 (V1 constant).
	// Var(diff) = 0.25, SE 0.5, diff 0.5, z = 1, p = 2(1 - Φ(1)) = erfc(1/√2) = 0.317311.
	l := []bool{true, true, false, false}
	r, err := PairedDeLong([]float64{3, 4, 1, 2}, []float64{1, 4, 2, 3}, l)
	if err != nil {
		t.Fatal(err)
	}
	if r.AUC1 != 1 || r.AUC2 != 0.5 || !near(r.SE, 0.5, 1e-12) || !near(r.Z, 1, 1e-12) {
		t.Errorf("got %+v, want AUC1 1, AUC2 0.5, SE 0.5, Z 1", r)
	}
	if !near(r.P, 0.3173105078629141, 1e-9) {
		t.Errorf("P = %v, want 0.317311", r.P)
	}
	// The same score twice: no difference, no variance.
	r, err = PairedDeLong(smallScores, smallScores, smallLabels)
	if err != nil {
		t.Fatal(err)
	}
	if r.Diff != 0 || r.SE != 0 || !math.IsNaN(r.P) {
		t.Errorf("identical scores: %+v, want diff 0, SE 0, P NaN", r)
	}
}

func TestPairedDeLongCovarianceDirect(t *testing.T) {
	// Covariance from the definition: Cov = cov(V10¹, V10²)/m + cov(V01¹, V01²)/n
	// with components computed by a double loop.
	rng := rand.New(rand.NewPCG(5, 6))
	s1, l := randomCase(rng, 120)
	s2 := make([]float64, len(s1))
	for i := range s2 {
		s2[i] = s1[i] + math.Round(rng.NormFloat64()*5)/10
	}
	comps := func(s []float64) (v10, v01 []float64) {
		var xi, yi []int
		for i := range s {
			if l[i] {
				xi = append(xi, i)
			} else {
				yi = append(yi, i)
			}
		}
		v10 = make([]float64, len(xi))
		v01 = make([]float64, len(yi))
		for a, i := range xi {
			for b, j := range yi {
				p := 0.0
				if s[i] > s[j] {
					p = 1
				} else if s[i] == s[j] {
					p = 0.5
				}
				v10[a] += p / float64(len(yi))
				v01[b] += p / float64(len(xi))
			}
		}
		return
	}
	cov := func(a, b []float64) float64 {
		var ma, mb float64
		for i := range a {
			ma += a[i] / float64(len(a))
			mb += b[i] / float64(len(b))
		}
		var c float64
		for i := range a {
			c += (a[i] - ma) * (b[i] - mb)
		}
		return c / float64(len(a)-1)
	}
	a10, a01 := comps(s1)
	b10, b01 := comps(s2)
	m, n := float64(len(a10)), float64(len(a01))
	want := cov(a10, b10)/m + cov(a01, b01)/n
	r, err := PairedDeLong(s1, s2, l)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.Cov, want, 1e-12) {
		t.Errorf("Cov = %v, direct %v", r.Cov, want)
	}
}
