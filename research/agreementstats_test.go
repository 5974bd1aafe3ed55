package research

import (
	"math"
	"strings"
	"testing"
)

func TestPearsonByHand(t *testing.T) {
	// x = 1..5, y = 1 3 2 4 7: x̄ = 3, ȳ = 3.4; dx = -2 -1 0 1 2,
	// dy = -2.4 -0.4 -1.4 0.6 3.6; Σdxdy = 4.8 + 0.4 + 0 + 0.6 + 7.2 = 13,
	// Σdx² = 10, Σdy² = 5.76 + 0.16 + 1.96 + 0.36 + 12.96 = 21.2,
	// r = 13/sqrt(212) = 0.892844.
	// CI: atanh(r) = 1.435773, half width 1.959964/sqrt(5-3) = 1.385904,
	// tanh(0.049869) = 0.049828, tanh(2.821677) = 0.992943.
	c, err := Pearson([]float64{1, 2, 3, 4, 5}, []float64{1, 3, 2, 4, 7})
	if err != nil {
		t.Fatal(err)
	}
	if !near(c.Rho, 13/math.Sqrt(212), 1e-12) || c.N != 5 {
		t.Errorf("r = %v, n = %d, want %v, 5", c.Rho, c.N, 13/math.Sqrt(212))
	}
	if !near(c.CI95[0], 0.049828, 1e-6) || !near(c.CI95[1], 0.992943, 1e-6) {
		t.Errorf("CI = %v, want [0.049828, 0.992943]", c.CI95)
	}

	// An exact line, increasing and decreasing: r = ±1, interval [r, r].
	for _, tc := range []struct {
		y    []float64
		want float64
	}{
		{[]float64{3, 5, 7, 9}, 1},
		{[]float64{9, 7, 5, 3}, -1},
	} {
		c, err := Pearson([]float64{1, 2, 3, 4}, tc.y)
		if err != nil {
			t.Fatal(err)
		}
		if !near(c.Rho, tc.want, 1e-12) || !near(c.CI95[0], tc.want, 1e-12) || !near(c.CI95[1], tc.want, 1e-12) {
			t.Errorf("y = %v: %+v, want r = CI = %v", tc.y, c, tc.want)
		}
	}
}

func TestPearsonErrors(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want string
	}{
		{"3 pairs", []float64{1, 2, 3}, []float64{1, 2, 3}, "at least 4"},
		{"length mismatch", []float64{1, 2, 3, 4}, []float64{1, 2, 3}, "pairs"},
		{"constant y", []float64{1, 2, 3, 4}, []float64{2, 2, 2, 2}, "constant"},
		{"NaN", []float64{1, 2, 3, 4}, []float64{1, math.NaN(), 3, 4}, "y[1]"},
		{"infinite", []float64{1, 2, math.Inf(-1), 4}, []float64{1, 2, 3, 4}, "x[2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Pearson(tc.x, tc.y); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCompareScoreValuesByHand(t *testing.T) {
	// |pred - truth| = 0 1 1 0 2: MAE = 4/5 = 0.8.
	// Pearson: r = 13/sqrt(212) (TestPearsonByHand).
	// Spearman: ranks of truth 1 3 2 4 5, of pred 1..5: d = 0 -1 1 0 0,
	// Σd² = 2, rho = 1 - 6·2/(5·24) = 0.9.
	pred := []float64{1, 2, 3, 4, 5}
	truth := []float64{1, 3, 2, 4, 7}
	a, err := CompareScoreValues(pred, truth, nil, BootstrapOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if a.N != 5 || a.Groups != 5 || a.Level != 0.95 {
		t.Errorf("n, groups, level = %d, %d, %v, want 5, 5, 0.95", a.N, a.Groups, a.Level)
	}
	if !near(a.MAE, 0.8, 1e-12) {
		t.Errorf("MAE = %v, want 0.8", a.MAE)
	}
	if !near(a.Pearson.Rho, 13/math.Sqrt(212), 1e-12) || a.Pearson.N != 5 {
		t.Errorf("Pearson %+v, want r = 13/sqrt(212), n 5", a.Pearson)
	}
	if !near(a.Spearman.Rho, 0.9, 1e-12) {
		t.Errorf("Spearman rho = %v, want 0.9", a.Spearman.Rho)
	}
	// Every resample's MAE is a mean of errors in [0, 2].
	if !(a.MAECI95[0] >= 0 && a.MAECI95[0] <= a.MAECI95[1] && a.MAECI95[1] <= 2) {
		t.Errorf("MAE interval %v: want 0 <= lo <= hi <= 2", a.MAECI95)
	}
	b, err := CompareScoreValues(pred, truth, nil, BootstrapOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b.MAECI95 != a.MAECI95 {
		t.Errorf("same seed, intervals %v and %v", a.MAECI95, b.MAECI95)
	}
}

func TestCompareScoreValuesResamplesPatients(t *testing.T) {
	// Patient A: 4 images predicted exactly (error 0); patient B: 1 image,
	// error 4. MAE = 4/5 = 0.8.
	// Resampling patients, a resample is A+A (MAE 0, probability 1/4),
	// A+B or B+A (4/5, 1/2) or B+B (4, 1/4): with 2000 resamples about
	// 500 are 0 and 500 are 4, so the 2.5% and 97.5% quantiles are exactly
	// 0 and 4.
	// Resampling images instead, an MAE of 4 needs all 5 draws to be B's
	// image (probability 0.2^5 = 0.00032, about 0.6 in 2000), so the
	// 97.5% quantile is below 4.
	pred := []float64{1, 2, 3, 4, 9}
	truth := []float64{1, 2, 3, 4, 5}
	groups := []string{"A", "A", "A", "A", "B"}
	a, err := CompareScoreValues(pred, truth, groups, BootstrapOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if a.Groups != 2 || !near(a.MAE, 0.8, 1e-12) {
		t.Errorf("groups %d, MAE %v, want 2, 0.8", a.Groups, a.MAE)
	}
	if a.MAECI95 != [2]float64{0, 4} {
		t.Errorf("patient bootstrap interval %v, want [0, 4]", a.MAECI95)
	}
	img, err := CompareScoreValues(pred, truth, nil, BootstrapOptions{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !(img.MAECI95[1] < 4) {
		t.Errorf("image bootstrap upper bound %v, want < 4", img.MAECI95[1])
	}
}

func TestCompareScoreValuesErrors(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	tests := []struct {
		name        string
		pred, truth []float64
		groups      []string
		opt         BootstrapOptions
		want        string
	}{
		{"length mismatch", x, x[:3], nil, BootstrapOptions{}, "pairs"},
		{"group count", x, x, []string{"a"}, BootstrapOptions{}, "group ids"},
		{"level", x, x, nil, BootstrapOptions{Level: 1.5}, "level"},
		{"resamples", x, x, nil, BootstrapOptions{Resamples: -1}, "resamples"},
		{"constant prediction", []float64{2, 2, 2, 2}, x, nil, BootstrapOptions{}, "constant"},
		{"3 pairs", x[:3], x[:3], nil, BootstrapOptions{}, "at least 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompareScoreValues(tc.pred, tc.truth, tc.groups, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestMeanCI95ByHand(t *testing.T) {
	tests := []struct {
		name     string
		values   []float64
		mean     float64
		lo, hi   float64
		tolerant float64
	}{
		// Mean 3, s² = (4+1+0+1+4)/4 = 2.5, SE = sqrt(2.5/5) = 0.707107,
		// t_{0.975,4} = 2.776445: half width 1.963243.
		{"1..5", []float64{1, 2, 3, 4, 5}, 3, 1.036757, 4.963243, 1e-6},
		// Mean 4.5, s² = 82.5/9, SE = sqrt(82.5/90) = 0.957427,
		// t_{0.975,9} = 2.262157: half width 2.165851.
		{"0..9", []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4.5, 2.334149, 6.665851, 1e-6},
		// n = 2: mean 1, s = sqrt(2), SE = 1, t_{0.975,1} = 12.706205.
		{"two values", []float64{0, 2}, 1, 1 - 12.706205, 1 + 12.706205, 1e-6},
		{"equal values", []float64{7, 7, 7}, 7, 7, 7, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ci, err := MeanCI95(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if !near(m, tc.mean, 1e-12) || !near(ci[0], tc.lo, tc.tolerant) || !near(ci[1], tc.hi, tc.tolerant) {
				t.Errorf("mean %v, CI %v, want %v, [%v, %v]", m, ci, tc.mean, tc.lo, tc.hi)
			}
		})
	}
	for _, bad := range [][]float64{nil, {1}, {1, math.NaN(), 2}} {
		if _, _, err := MeanCI95(bad); err == nil {
			t.Errorf("MeanCI95(%v): no error", bad)
		}
	}
}

func TestStudentTQuantileTable(t *testing.T) {
	// Printed t tables (3 decimals) and the normal quantile for large df.
	tests := []struct {
		p, df, want, tol float64
	}{
		{0.975, 1, 12.706, 5e-4},
		{0.975, 2, 4.303, 5e-4},
		{0.975, 4, 2.776, 5e-4},
		{0.975, 9, 2.262, 5e-4},
		{0.975, 29, 2.045, 5e-4},
		{0.95, 10, 1.812, 5e-4},
		{0.995, 5, 4.032, 5e-4},
		{0.9, 20, 1.325, 5e-4},
		{0.975, 1e7, 1.959964, 1e-5}, // ≈ the normal 0.975 quantile
		{0.025, 4, -2.776, 5e-4},     // symmetry
		{0.5, 3, 0, 0},
	}
	for _, tc := range tests {
		if got := studentTQuantile(tc.p, tc.df); !near(got, tc.want, tc.tol) {
			t.Errorf("t quantile(%v, df %v) = %v, want %v", tc.p, tc.df, got, tc.want)
		}
	}
	// Closed forms: df = 1 (Cauchy) t = tan(π(p - 1/2)); df = 2:
	// t = (2p - 1)/sqrt(2p(1 - p)).
	for _, p := range []float64{0.6, 0.9, 0.975, 0.999} {
		if got, want := studentTQuantile(p, 1), math.Tan(math.Pi*(p-0.5)); !near(got, want, 1e-10*want) {
			t.Errorf("df 1, p %v: %v, want %v", p, got, want)
		}
		if got, want := studentTQuantile(p, 2), (2*p-1)/math.Sqrt(2*p*(1-p)); !near(got, want, 1e-10*want) {
			t.Errorf("df 2, p %v: %v, want %v", p, got, want)
		}
	}
	for _, bad := range [][2]float64{{0, 3}, {1, 3}, {0.9, 0}, {math.NaN(), 3}} {
		if got := studentTQuantile(bad[0], bad[1]); !math.IsNaN(got) {
			t.Errorf("t quantile(%v, df %v) = %v, want NaN", bad[0], bad[1], got)
		}
	}
}

func TestRegIncBetaClosedForms(t *testing.T) {
	// I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1-x)^b;
	// I_x(1/2, 1/2) = (2/π) asin(sqrt(x)).
	for _, x := range []float64{0.01, 0.2, 0.5, 0.7, 0.99} {
		for _, tc := range []struct {
			a, b, want float64
		}{
			{1, 1, x},
			{3, 1, x * x * x},
			{1, 2.5, 1 - math.Pow(1-x, 2.5)},
			{0.5, 0.5, 2 / math.Pi * math.Asin(math.Sqrt(x))},
		} {
			if got := regIncBeta(tc.a, tc.b, x); !near(got, tc.want, 1e-13) {
				t.Errorf("I_%v(%v, %v) = %v, want %v", x, tc.a, tc.b, got, tc.want)
			}
		}
	}
	if regIncBeta(2, 3, 0) != 0 || regIncBeta(2, 3, 1) != 1 {
		t.Error("I_0 and I_1: want 0 and 1")
	}
}

func TestDiceIoUByHand(t *testing.T) {
	tests := []struct {
		name      string
		a, b      []uint8
		dice, iou float64
		defined   bool
	}{
		// |a| = 3, |b| = 3, |a ∩ b| = 2 (pixels 0, 4), |a ∪ b| = 4:
		// Dice 4/6, IoU 2/4.
		{"overlap", []uint8{1, 1, 0, 0, 1}, []uint8{1, 0, 1, 0, 1}, 2.0 / 3, 0.5, true},
		{"identical", []uint8{0, 1, 1}, []uint8{0, 1, 1}, 1, 1, true},
		{"disjoint", []uint8{1, 0, 0}, []uint8{0, 0, 1}, 0, 0, true},
		// One empty: intersection 0 over a non-empty sum/union.
		{"one empty", []uint8{0, 0}, []uint8{1, 0}, 0, 0, true},
		// Any non-zero pixel is set: |a| = 2, |b| = 1, ∩ = 1: Dice 2/3, IoU 1/2.
		{"255 as set", []uint8{255, 1, 0}, []uint8{1, 0, 0}, 2.0 / 3, 0.5, true},
		{"both empty", []uint8{0, 0, 0}, []uint8{0, 0, 0}, math.NaN(), math.NaN(), false},
		{"no pixels", nil, nil, math.NaN(), math.NaN(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := Dice(tc.a, tc.b)
			if ok != tc.defined || (tc.defined && !near(d, tc.dice, 1e-12)) || (!tc.defined && !math.IsNaN(d)) {
				t.Errorf("Dice = %v, %v, want %v, %v", d, ok, tc.dice, tc.defined)
			}
			j, ok := MaskIoU(tc.a, nil, tc.b, nil, math.NaN())
			if ok != tc.defined || (tc.defined && !near(j, tc.iou, 1e-12)) || (!tc.defined && !math.IsNaN(j)) {
				t.Errorf("IoU = %v, %v, want %v, %v", j, ok, tc.iou, tc.defined)
			}
		})
	}
}

// TestMaskIoUByHand checks the regions and the caller's convention for two
// empty masks.
func TestMaskIoUByHand(t *testing.T) {
	tests := []struct {
		name         string
		a, ra, b, rb []uint8
		bothEmpty    float64
		want         float64
		wantNotEmpty bool
	}{
		// No regions: |a ∩ b| = 1 (pixel 0), |a ∪ b| = 3 (pixels 0, 1, 2).
		{"plain", []uint8{1, 1, 0, 0}, nil, []uint8{1, 0, 1, 0}, nil, 1, 1.0 / 3, true},
		// a within ra = {0, 2}, b within rb = {0, 1, 2}: x = {0}, y = {0, 2}
		// (pixels 1 and 3 of a lie outside ra and count for neither): 1/2.
		{"regions", []uint8{1, 1, 0, 1}, []uint8{1, 0, 1, 0}, []uint8{1, 0, 1, 0}, []uint8{1, 1, 1, 0}, 1, 0.5, true},
		// Only one region: x = a = {0, 1}, y = b within rb = {1}: 1/2.
		{"one region", []uint8{1, 1, 0}, nil, []uint8{1, 1, 1}, []uint8{0, 1, 0}, math.NaN(), 0.5, true},
		// Opacity only outside the regions: both empty, the convention.
		{"outside the regions, 1", []uint8{1, 0}, []uint8{0, 1}, []uint8{1, 0}, []uint8{0, 1}, 1, 1, false},
		{"both empty, 1", []uint8{0, 0}, nil, []uint8{0, 0}, nil, 1, 1, false},
		{"both empty, 0", []uint8{0, 0}, nil, []uint8{0, 0}, nil, 0, 0, false},
		{"both empty, NaN", []uint8{0, 0}, nil, []uint8{0, 0}, nil, math.NaN(), math.NaN(), false},
		// One empty: 0 whatever the convention.
		{"one empty", []uint8{0, 0}, nil, []uint8{0, 7}, nil, 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := MaskIoU(tc.a, tc.ra, tc.b, tc.rb, tc.bothEmpty)
			same := got == tc.want || (math.IsNaN(got) && math.IsNaN(tc.want))
			if !same || ok != tc.wantNotEmpty {
				t.Errorf("MaskIoU = %v, %v, want %v, %v", got, ok, tc.want, tc.wantNotEmpty)
			}
		})
	}
}

func TestDiceLengthMismatchPanics(t *testing.T) {
	iou := func(a, b []uint8) (float64, bool) { return MaskIoU(a, nil, b, nil, math.NaN()) }
	region := func(a, b []uint8) (float64, bool) { return MaskIoU(a, a, a, []uint8{1}, math.NaN()) }
	for name, f := range map[string]func(a, b []uint8) (float64, bool){"Dice": Dice, "MaskIoU": iou, "MaskIoU with a short region": region} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s of masks of 2 and 3 pixels: no panic", name)
				}
			}()
			f([]uint8{1, 0}, []uint8{1, 0, 0})
		}()
	}
}
