package research

import (
	"fmt"
	"math"
)

// Correlation is a correlation coefficient with a 95% confidence interval.
type Correlation struct {
	Rho  float64    `json:"rho"`
	CI95 [2]float64 `json:"ci95"`
	N    int        `json:"-"`
}

// Spearman returns Spearman's rank correlation of x and y (Pearson's
// correlation of their midranks, so ties get the mean rank) with a 95%
// confidence interval from Fisher's z transform with the variance
// 1.06/(n-3) of Fieller, Hartley and Pearson (1957):
// tanh(atanh(rho) ± 1.96 sqrt(1.06/(n-3))). It needs n >= 4 pairs and some
// spread in both x and y.
func Spearman(x, y []float64) (Correlation, error) {
	if err := checkCorrelationPairs("spearman", x, y); err != nil {
		return Correlation{}, err
	}
	n := len(x)
	rho, err := pearson(midranks(x), midranks(y))
	if err != nil {
		return Correlation{}, fmt.Errorf("spearman: %w", err)
	}
	z := math.Atanh(rho)
	h := z975 * math.Sqrt(1.06/float64(n-3))
	return Correlation{Rho: rho, CI95: [2]float64{math.Tanh(z - h), math.Tanh(z + h)}, N: n}, nil
}

// checkCorrelationPairs checks the input of the correlation name (Pearson,
// Spearman): x and y are pairs, at least 4 of them (for the confidence
// interval), every value finite. The error starts with name.
func checkCorrelationPairs(name string, x, y []float64) error {
	if len(x) != len(y) {
		return fmt.Errorf("%s: %d and %d values: want pairs", name, len(x), len(y))
	}
	if n := len(x); n < 4 {
		return fmt.Errorf("%s: %d pairs: need at least 4 for a confidence interval", name, n)
	}
	if i := checkFinite(x); i >= 0 {
		return fmt.Errorf("%s: x[%d] is %v", name, i, x[i])
	}
	if i := checkFinite(y); i >= 0 {
		return fmt.Errorf("%s: y[%d] is %v", name, i, y[i])
	}
	return nil
}

func pearson(a, b []float64) (float64, error) {
	ma, mb := mean(a), mean(b)
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return math.NaN(), fmt.Errorf("a variable is constant: correlation undefined")
	}
	r := sab / math.Sqrt(saa*sbb)
	return math.Max(-1, math.Min(1, r)), nil
}

// BlandAltmanStats summarises the agreement of two measurements of the same
// cases (Bland and Altman 1986): the mean difference (bias, a - b) and the
// 95% limits of agreement bias ± 1.96 SD of the differences.
type BlandAltmanStats struct {
	N            int
	Bias         float64 // mean of a[i] - b[i]
	SD           float64 // sample standard deviation of the differences
	Lower, Upper float64 // limits of agreement
	Means        []float64
	Diffs        []float64
}

// BlandAltman returns the Bland-Altman statistics of paired measurements a
// and b (at least 2 pairs).
func BlandAltman(a, b []float64) (BlandAltmanStats, error) {
	if len(a) != len(b) {
		return BlandAltmanStats{}, fmt.Errorf("bland-altman: %d and %d values: want pairs", len(a), len(b))
	}
	if len(a) < 2 {
		return BlandAltmanStats{}, fmt.Errorf("bland-altman: %d pairs: need at least 2", len(a))
	}
	s := BlandAltmanStats{N: len(a), Means: make([]float64, len(a)), Diffs: make([]float64, len(a))}
	for i := range a {
		s.Means[i] = (a[i] + b[i]) / 2
		s.Diffs[i] = a[i] - b[i]
	}
	s.Bias = mean(s.Diffs)
	s.SD = math.Sqrt(covariance(s.Diffs, s.Diffs))
	s.Lower, s.Upper = s.Bias-z975*s.SD, s.Bias+z975*s.SD
	return s, nil
}
