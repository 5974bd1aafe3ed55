package research

import (
	"math"
	"testing"
)

func TestSpearmanByHand(t *testing.T) {
	// No ties: x = 1..5, y = 2 1 4 3 5; rank differences d = -1 1 -1 1 0,
	// Σd² = 4, rho = 1 - 6·4/(5·(25-1)) = 1 - 24/120 = 0.8.
	// CI: z = atanh(0.8) = 1.098612, half width 1.959964·sqrt(1.06/2) = 1.959964·0.728011 = 1.426875,
	// tanh(-0.328263) = -0.316959, tanh(2.525487) = 0.987275.
	c, err := Spearman([]float64{1, 2, 3, 4, 5}, []float64{2, 1, 4, 3, 5})
	if err != nil {
		t.Fatal(err)
	}
	if !near(c.Rho, 0.8, 1e-12) {
		t.Errorf("rho = %v, want 0.8", c.Rho)
	}
	if !near(c.CI95[0], -0.316959, 1e-5) || !near(c.CI95[1], 0.987275, 1e-5) {
		t.Errorf("CI = %v, want [-0.316959, 0.987275]", c.CI95)
	}
	// Ties: x = 1 2 2 3 -> midranks 1 2.5 2.5 4; y = 1 3 2 4 -> ranks 1 3 2 4.
	// Deviations from 2.5: dx = -1.5 0 0 1.5, dy = -1.5 .5 -.5 1.5;
	// Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 -> rho = 4.5/sqrt(22.5) = 0.948683.
	c, err = Spearman([]float64{1, 2, 2, 3}, []float64{1, 3, 2, 4})
	if err != nil {
		t.Fatal(err)
	}
	if !near(c.Rho, 4.5/math.Sqrt(22.5), 1e-12) {
		t.Errorf("rho with ties = %v, want %v", c.Rho, 4.5/math.Sqrt(22.5))
	}
	// Perfect monotone: rho 1, interval [1, 1].
	c, err = Spearman([]float64{1, 2, 3, 4, 5}, []float64{1, 4, 9, 16, 25})
	if err != nil {
		t.Fatal(err)
	}
	if c.Rho != 1 || c.CI95 != [2]float64{1, 1} {
		t.Errorf("monotone: %+v, want rho 1, CI [1, 1]", c)
	}
}

func TestSpearmanBadInput(t *testing.T) {
	if _, err := Spearman([]float64{1, 2, 3}, []float64{1, 2, 3}); err == nil {
		t.Error("3 pairs: no error")
	}
	if _, err := Spearman([]float64{1, 1, 1, 1}, []float64{1, 2, 3, 4}); err == nil {
		t.Error("constant x: no error")
	}
	if _, err := Spearman([]float64{1, 2, 3, math.NaN()}, []float64{1, 2, 3, 4}); err == nil {
		t.Error("NaN: no error")
	}
	if _, err := Spearman([]float64{1, 2, 3, 4}, []float64{1, 2, 3}); err == nil {
		t.Error("length mismatch: no error")
	}
}

func TestBlandAltmanByHand(t *testing.T) {
	// a = 10 20 30, b = 8 22 27: differences 2 -2 3, bias 1;
	// deviations 1 -3 2, Σ = 14, SD = sqrt(14/2) = sqrt(7) = 2.645751;
	// limits 1 ± 1.959964·2.645751 = -4.185578, 6.185578.
	s, err := BlandAltman([]float64{10, 20, 30}, []float64{8, 22, 27})
	if err != nil {
		t.Fatal(err)
	}
	if s.Bias != 1 || !near(s.SD, math.Sqrt(7), 1e-12) || !near(s.Lower, -4.185578, 1e-6) || !near(s.Upper, 6.185578, 1e-6) {
		t.Errorf("got %+v, want bias 1, SD sqrt 7, limits -4.185578, 6.185578", s)
	}
	if s.Means[2] != 28.5 || s.Diffs[1] != -2 {
		t.Errorf("means %v, diffs %v", s.Means, s.Diffs)
	}
}
