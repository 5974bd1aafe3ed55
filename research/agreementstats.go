package research

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Pearson returns Pearson's product-moment correlation r of x and y with a
// 95% confidence interval from Fisher's z transform with the variance
// 1/(n-3) of the normal theory: tanh(atanh(r) ± 1.96/sqrt(n-3)). (Spearman
// uses 1.06/(n-3) instead.) Rho holds r and N the number of pairs. It needs
// n >= 4 finite pairs and some spread in both x and y; r = ±1 gives the
// interval [r, r].
func Pearson(x, y []float64) (Correlation, error) {
	if err := checkCorrelationPairs("pearson", x, y); err != nil {
		return Correlation{}, err
	}
	n := len(x)
	r, err := pearson(x, y)
	if err != nil {
		return Correlation{}, fmt.Errorf("pearson: %w", err)
	}
	z := math.Atanh(r)
	h := z975 / math.Sqrt(float64(n-3))
	return Correlation{Rho: r, CI95: [2]float64{math.Tanh(z - h), math.Tanh(z + h)}, N: n}, nil
}

// ScoreAgreement is the agreement of predicted scores with true scores (for
// example an opacity percentage mapped out of fold to Cohen et al.'s
// radiologist scores).
type ScoreAgreement struct {
	N      int `json:"n"`      // pairs
	Groups int `json:"groups"` // groups (patients) resampled by the bootstrap
	// MAE is the mean absolute error mean |pred - truth|.
	MAE float64 `json:"mae"`
	// MAECI95 is the percentile bootstrap interval of the MAE at Level
	// (0.95 unless the options asked otherwise).
	MAECI95 [2]float64 `json:"mae_ci95"`
	Level   float64    `json:"level"`
	// Pearson and Spearman correlate pred with truth (see Pearson, Spearman).
	Pearson  Correlation `json:"pearson"`
	Spearman Correlation `json:"spearman"`
}

// CompareScoreValues measures how well pred agrees with truth: the mean
// absolute error with a percentile bootstrap interval, and Pearson's and
// Spearman's correlations with their Fisher-z intervals.
//
// The bootstrap resamples whole groups (patients) with replacement, so that
// the images of one patient stay together: groups[i] names the group of
// pair i (nil: every pair its own group). Each of opt.Resamples resamples
// draws as many groups as there are, uniformly with replacement, from a PCG
// generator seeded with opt.Seed, and computes the MAE of all the pairs of
// the drawn groups, each counted as often as its group was drawn; the
// interval is the type-7 quantiles (1-Level)/2 and (1+Level)/2 of those
// MAEs. Groups are numbered in order of first appearance, so the interval
// depends on the seed and the order of the pairs, and is the same for the
// same seed and order.
//
// It needs at least 4 finite pairs with some spread in both pred and truth.
func CompareScoreValues(pred, truth []float64, groups []string, opt BootstrapOptions) (ScoreAgreement, error) {
	opt = opt.withDefaults()
	if len(pred) != len(truth) {
		return ScoreAgreement{}, fmt.Errorf("score agreement: %d predictions and %d true scores: want pairs", len(pred), len(truth))
	}
	if groups != nil && len(groups) != len(pred) {
		return ScoreAgreement{}, fmt.Errorf("score agreement: %d group ids for %d pairs", len(groups), len(pred))
	}
	if opt.Resamples < 1 {
		return ScoreAgreement{}, fmt.Errorf("score agreement: %d bootstrap resamples: need at least 1", opt.Resamples)
	}
	if !(opt.Level > 0 && opt.Level < 1) {
		return ScoreAgreement{}, fmt.Errorf("score agreement: confidence level %v is not in (0, 1)", opt.Level)
	}
	a := ScoreAgreement{N: len(pred), Level: opt.Level}
	var err error
	if a.Pearson, err = Pearson(pred, truth); err != nil {
		return ScoreAgreement{}, fmt.Errorf("score agreement: %w", err)
	}
	if a.Spearman, err = Spearman(pred, truth); err != nil {
		return ScoreAgreement{}, fmt.Errorf("score agreement: %w", err)
	}

	// Absolute error and count per group, groups in order of first appearance.
	var sumErr, count []float64
	index := map[string]int{}
	var total float64
	for i := range pred {
		e := math.Abs(pred[i] - truth[i])
		total += e
		g := len(sumErr)
		if groups != nil {
			k, ok := index[groups[i]]
			if !ok {
				k = len(sumErr)
				index[groups[i]] = k
			}
			g = k
		}
		if g == len(sumErr) {
			sumErr = append(sumErr, 0)
			count = append(count, 0)
		}
		sumErr[g] += e
		count[g]++
	}
	a.MAE = total / float64(len(pred))
	a.Groups = len(sumErr)

	rng := rand.New(rand.NewPCG(opt.Seed, 0xda942042e4dd58b5))
	maes := make([]float64, opt.Resamples)
	for r := range maes {
		var s, c float64
		for range sumErr {
			g := rng.IntN(len(sumErr))
			s += sumErr[g]
			c += count[g]
		}
		maes[r] = s / c
	}
	sort.Float64s(maes)
	alpha := (1 - opt.Level) / 2
	a.MAECI95 = [2]float64{quantile(maes, alpha), quantile(maes, 1-alpha)}
	return a, nil
}

// MeanCI95 returns the mean of values with its 95% Student-t interval
// mean ± t_{0.975, n-1}·s/sqrt(n), s the sample standard deviation
// (denominator n-1): the interval of a mean across images or folds. It
// needs at least 2 finite values; equal values give the interval
// [mean, mean].
func MeanCI95(values []float64) (m float64, ci [2]float64, err error) {
	n := len(values)
	if n < 2 {
		return math.NaN(), [2]float64{math.NaN(), math.NaN()}, fmt.Errorf("mean interval: %d value(s): need at least 2", n)
	}
	if i := checkFinite(values); i >= 0 {
		return math.NaN(), [2]float64{math.NaN(), math.NaN()}, fmt.Errorf("mean interval: value %d is %v", i, values[i])
	}
	m = mean(values)
	se := math.Sqrt(covariance(values, values) / float64(n))
	h := studentTQuantile(0.975, float64(n-1)) * se
	return m, [2]float64{m - h, m + h}, nil
}

// Dice returns the Dice coefficient 2|a ∩ b|/(|a| + |b|) of two masks of
// equal length (a pixel is set when it is not 0), the hard F1 of
// ImageCounts, and true; when both masks are empty it returns NaN and false.
// It panics when the lengths differ.
func Dice(a, b []uint8) (float64, bool) {
	c := maskCounts(a, nil, b, nil, "Dice")
	if c.Truth+c.Pred == 0 {
		return math.NaN(), false
	}
	return c.F1(), true
}

// MaskIoU returns the intersection over union |x ∩ y|/|x ∪ y| of two masks
// of equal length, x = a within the region ra and y = b within rb (a pixel
// is set when it is not 0; a nil region is the whole mask), the hard IoU of
// ImageCounts, and true. When x and y are both empty the IoU is 0/0 and the
// convention is the caller's: MaskIoU returns bothEmpty and false. NaN
// leaves such a pair out of a mean (the metrics, the analysis against a
// labelme file); 1 counts two annotations that both see nothing as in full
// agreement (the annotation agreement). It panics when the lengths differ.
func MaskIoU(a, ra, b, rb []uint8, bothEmpty float64) (float64, bool) {
	c := maskCounts(a, ra, b, rb, "MaskIoU")
	if c.Truth+c.Pred == 0 {
		return bothEmpty, false
	}
	return c.IoU(), true
}

// maskCounts counts two hard masks as ImageCounts: a within the region ra
// as the truth, b within rb as the prediction (a nil region is the whole
// mask).
func maskCounts(a, ra, b, rb []uint8, name string) ImageCounts {
	if len(a) != len(b) || (ra != nil && len(ra) != len(a)) || (rb != nil && len(rb) != len(b)) {
		panic(fmt.Sprintf("research.%s: masks of %d and %d pixels, regions of %d and %d", name, len(a), len(b), len(ra), len(rb)))
	}
	c := ImageCounts{Pixels: len(a)}
	for i := range a {
		x := a[i] != 0 && (ra == nil || ra[i] != 0)
		y := b[i] != 0 && (rb == nil || rb[i] != 0)
		if x {
			c.Truth++
		}
		if y {
			c.Pred++
		}
		if x && y {
			c.TP++
		}
	}
	return c
}

// studentTQuantile returns the p-quantile (0 < p < 1) of Student's t
// distribution with nu > 0 degrees of freedom. It uses the identity
// P(|T| > t) = I_{nu/(nu+t²)}(nu/2, 1/2), I the regularized incomplete beta
// function (regIncBeta), and solves I_{nu/(nu+t²)}(nu/2, 1/2) = 2(1-p) for
// t >= 0 by bisection (the left side decreases in t) until the bracket is
// within a relative 1e-14; quantiles below the median follow by symmetry.
func studentTQuantile(p, nu float64) float64 {
	switch {
	case math.IsNaN(p) || math.IsNaN(nu) || p <= 0 || p >= 1 || nu <= 0:
		return math.NaN()
	case p == 0.5:
		return 0
	case p < 0.5:
		return -studentTQuantile(1-p, nu)
	}
	target := 2 * (1 - p)
	tail := func(t float64) float64 { return regIncBeta(nu/2, 0.5, nu/(nu+t*t)) }
	lo, hi := 0.0, 1.0
	for tail(hi) > target {
		lo, hi = hi, 2*hi
		if math.IsInf(hi, 0) {
			return math.Inf(1)
		}
	}
	for i := 0; i < 200 && hi-lo > 1e-14*hi; i++ {
		mid := (lo + hi) / 2
		if tail(mid) > target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// regIncBeta returns the regularized incomplete beta function I_x(a, b) for
// a, b > 0 and 0 <= x <= 1, by the continued fraction of Numerical Recipes
// (Press et al., 3rd ed., section 6.4) evaluated with the modified Lentz
// method, on x itself when x < (a+1)/(a+b+2) and through
// I_x(a, b) = 1 - I_{1-x}(b, a) otherwise (where the fraction converges
// fast).
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaContinuedFraction(a, b, x) / a
	}
	return 1 - front*betaContinuedFraction(b, a, 1-x)/b
}

// betaContinuedFraction evaluates the continued fraction of the incomplete
// beta function (Numerical Recipes' betacf) by the modified Lentz method.
func betaContinuedFraction(a, b, x float64) float64 {
	const tiny = 1e-300
	const eps = 1e-15
	fix := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	qab, qap, qam := a+b, a+1, a-1
	c := 1.0
	d := 1 / fix(1-qab*x/qap)
	h := d
	for m := 1; m <= 10000; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 / fix(1+aa*d)
		c = fix(1 + aa/c)
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 / fix(1+aa*d)
		c = fix(1 + aa/c)
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
