package research

import (
	"fmt"
	"math"
)

// DeLongResult is the AUC of one score with its DeLong (1988) variance,
// computed by the fast midrank algorithm of Sun and Xu (2014).
type DeLongResult struct {
	AUC      float64
	Variance float64 // S10/nPos + S01/nNeg
	SE       float64 // sqrt(Variance)
	// CI95 is the plain normal interval AUC ± 1.96 SE, clipped to [0, 1]
	// (as pROC's ci.auc(method = "delong") computes it; no logit transform).
	// It collapses to a point when SE is 0, e.g. for a perfect score.
	CI95 [2]float64
	NPos int
	NNeg int
	// V10[i] is the structural component of the i-th positive case (in input
	// order): the fraction of negative cases it outscores, ties one half.
	// V01[j] is that of the j-th negative case: the fraction of positive cases
	// that outscore it, ties one half. AUC is the mean of either.
	V10, V01 []float64
	// S10 and S01 are the sample variances (denominator n-1) of V10 and V01.
	S10, S01 float64
}

// DeLong returns the AUC of scores against labels with DeLong's variance and
// a 95% confidence interval. It needs at least two positive and two negative
// cases (the variance of the structural components is undefined otherwise).
// It runs in O(n log n).
func DeLong(scores []float64, labels []bool) (DeLongResult, error) {
	comp, err := structuralComponents(scores, labels)
	if err != nil {
		return DeLongResult{}, err
	}
	r := DeLongResult{AUC: comp.auc, NPos: len(comp.v10), NNeg: len(comp.v01), V10: comp.v10, V01: comp.v01}
	r.S10 = covariance(comp.v10, comp.v10)
	r.S01 = covariance(comp.v01, comp.v01)
	r.Variance = r.S10/float64(r.NPos) + r.S01/float64(r.NNeg)
	r.SE = math.Sqrt(r.Variance)
	r.CI95 = clippedInterval(r.AUC, r.SE)
	return r, nil
}

func clippedInterval(est, se float64) [2]float64 {
	return [2]float64{math.Max(0, est-z975*se), math.Min(1, est+z975*se)}
}

type components struct {
	auc      float64
	v10, v01 []float64
}

// structuralComponents computes DeLong's V10 and V01 from midranks (Sun and
// Xu 2014): with Tz the midranks of all scores, Tx those of the positives
// among themselves and Ty those of the negatives among themselves,
// V10_i = (Tz_i - Tx_i)/nNeg and V01_j = 1 - (Tz_j - Ty_j)/nPos.
func structuralComponents(scores []float64, labels []bool) (components, error) {
	nPos, nNeg, err := checkROCInput(scores, labels)
	if err != nil {
		return components{}, err
	}
	if nPos < 2 || nNeg < 2 {
		return components{}, fmt.Errorf("DeLong variance needs at least 2 positive and 2 negative cases (have %d and %d)", nPos, nNeg)
	}
	x := make([]float64, 0, nPos)
	y := make([]float64, 0, nNeg)
	for i, l := range labels {
		if l {
			x = append(x, scores[i])
		} else {
			y = append(y, scores[i])
		}
	}
	z := make([]float64, 0, len(scores))
	z = append(append(z, x...), y...)
	tz, tx, ty := midranks(z), midranks(x), midranks(y)
	m, n := float64(nPos), float64(nNeg)
	c := components{v10: make([]float64, nPos), v01: make([]float64, nNeg)}
	sum := 0.0
	for i := range x {
		c.v10[i] = (tz[i] - tx[i]) / n
		sum += c.v10[i]
	}
	for j := range y {
		c.v01[j] = 1 - (tz[nPos+j]-ty[j])/m
	}
	c.auc = sum / m
	return c, nil
}

// covariance returns the sample covariance (denominator n-1) of a and b.
func covariance(a, b []float64) float64 {
	ma, mb := mean(a), mean(b)
	s := 0.0
	for i := range a {
		s += (a[i] - ma) * (b[i] - mb)
	}
	return s / float64(len(a)-1)
}

func mean(a []float64) float64 {
	s := 0.0
	for _, v := range a {
		s += v
	}
	return s / float64(len(a))
}

// PairedDeLongResult compares the AUCs of two scores measured on the same
// cases (DeLong, DeLong and Clarke-Pearson 1988).
type PairedDeLongResult struct {
	AUC1, AUC2 float64
	Diff       float64    // AUC1 - AUC2
	SE         float64    // standard error of Diff: sqrt(Var1 + Var2 - 2 Cov)
	CI95       [2]float64 // Diff ± 1.96 SE (not clipped)
	Z          float64    // Diff / SE
	P          float64    // two-sided p-value of H0: AUC1 = AUC2
	Var1, Var2 float64
	Cov        float64 // covariance of the two AUC estimates
	NPos, NNeg int
}

// PairedDeLong tests whether two scores of the same cases (score1[i] and
// score2[i] belong to case i, labels[i] its outcome) have equal AUCs. When
// the two scores give identical structural components, SE is 0 and Z and P
// are NaN.
func PairedDeLong(score1, score2 []float64, labels []bool) (PairedDeLongResult, error) {
	if len(score1) != len(score2) {
		return PairedDeLongResult{}, fmt.Errorf("paired DeLong: %d and %d scores: both scores must be given for every case", len(score1), len(score2))
	}
	c1, err := structuralComponents(score1, labels)
	if err != nil {
		return PairedDeLongResult{}, fmt.Errorf("paired DeLong, score 1: %w", err)
	}
	c2, err := structuralComponents(score2, labels)
	if err != nil {
		return PairedDeLongResult{}, fmt.Errorf("paired DeLong, score 2: %w", err)
	}
	m, n := float64(len(c1.v10)), float64(len(c1.v01))
	r := PairedDeLongResult{AUC1: c1.auc, AUC2: c2.auc, NPos: len(c1.v10), NNeg: len(c1.v01)}
	r.Var1 = covariance(c1.v10, c1.v10)/m + covariance(c1.v01, c1.v01)/n
	r.Var2 = covariance(c2.v10, c2.v10)/m + covariance(c2.v01, c2.v01)/n
	r.Cov = covariance(c1.v10, c2.v10)/m + covariance(c1.v01, c2.v01)/n
	r.Diff = r.AUC1 - r.AUC2
	v := r.Var1 + r.Var2 - 2*r.Cov
	if v < 0 { // rounding when the scores are (nearly) identical
		v = 0
	}
	r.SE = math.Sqrt(v)
	r.CI95 = [2]float64{r.Diff - z975*r.SE, r.Diff + z975*r.SE}
	if r.SE > 0 {
		r.Z = r.Diff / r.SE
		r.P = normalTwoSidedP(r.Z)
	} else {
		r.Z, r.P = math.NaN(), math.NaN()
	}
	return r, nil
}
