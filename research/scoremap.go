package research

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Methods of a ScoreMap: how an opacity percentage becomes a severity score.
const (
	// ScoreMapLinear is the least-squares line y = a + b·x.
	ScoreMapLinear = "linear"
	// ScoreMapSqrt is the least-squares fit y = a + b·sqrt(x): linear in
	// sqrt(x), a monotone transform that bends the curve for a score that
	// saturates while the percentage keeps growing. x must be >= 0.
	ScoreMapSqrt = "sqrt"
	// ScoreMapIsotonic is the non-decreasing step fit of pool-adjacent-
	// violators, interpolated linearly between its blocks.
	ScoreMapIsotonic = "isotonic"
)

// ScoreMapMethods lists the methods FitScoreMap accepts.
var ScoreMapMethods = []string{ScoreMapLinear, ScoreMapSqrt, ScoreMapIsotonic}

// ScoreMap maps an opacity percentage (0-100) to a severity score, such as
// Cohen et al.'s geographic extent (0-8) or degree of opacity (0-6). Make one
// with FitScoreMap; it is plain data, so it can be stored as JSON with the
// trained models and read back (call Validate after reading).
type ScoreMap struct {
	Method string `json:"method"` // ScoreMapLinear, ScoreMapSqrt or ScoreMapIsotonic
	// Lo and Hi bound every prediction: the range of the score.
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// N is the number of points the map was fitted on.
	N int `json:"n"`
	// Intercept and Slope are a and b of a + b·x (linear) or
	// a + b·sqrt(x) (sqrt); unused by the isotonic map.
	Intercept float64 `json:"intercept,omitempty"`
	Slope     float64 `json:"slope,omitempty"`
	// KnotX and KnotY are the blocks of the isotonic map: the mean x of
	// the points of each block (strictly increasing) and the block's
	// fitted value (the mean y of its points, non-decreasing). Unused by the
	// other methods.
	KnotX []float64 `json:"knot_x,omitempty"`
	KnotY []float64 `json:"knot_y,omitempty"`
}

// Predict returns the score of opacity percentage pct, clipped to
// [Lo, Hi]. The isotonic map interpolates linearly between its knots and is
// constant beyond the first and the last. Predict returns NaN for a NaN pct,
// for a negative pct of the sqrt map, for an unknown method and for an
// isotonic map without knots; it does not run Validate.
func (m ScoreMap) Predict(pct float64) float64 {
	var v float64
	switch m.Method {
	case ScoreMapLinear:
		v = m.Intercept + m.Slope*pct
	case ScoreMapSqrt:
		if pct < 0 {
			return math.NaN()
		}
		v = m.Intercept + m.Slope*math.Sqrt(pct)
	case ScoreMapIsotonic:
		if len(m.KnotX) == 0 || len(m.KnotX) != len(m.KnotY) {
			return math.NaN()
		}
		v = interpolateKnots(m.KnotX, m.KnotY, pct)
	default:
		return math.NaN()
	}
	if math.IsNaN(v) {
		return v
	}
	return math.Max(m.Lo, math.Min(m.Hi, v))
}

// interpolateKnots interpolates linearly between the knots (xs strictly
// increasing), constant beyond the ends.
func interpolateKnots(xs, ys []float64, x float64) float64 {
	n := len(xs)
	switch {
	case math.IsNaN(x):
		return math.NaN()
	case x <= xs[0]:
		return ys[0]
	case x >= xs[n-1]:
		return ys[n-1]
	}
	// The first knot beyond x; 1 <= j <= n-1 here.
	j := sort.SearchFloat64s(xs, x)
	if xs[j] == x {
		return ys[j]
	}
	t := (x - xs[j-1]) / (xs[j] - xs[j-1])
	return ys[j-1] + t*(ys[j]-ys[j-1])
}

// Validate checks that m can predict: a known method, finite Lo <= Hi,
// finite coefficients, and for the isotonic map matching knots with KnotX
// strictly increasing and KnotY non-decreasing.
func (m ScoreMap) Validate() error {
	if math.IsNaN(m.Lo) || math.IsNaN(m.Hi) || math.IsInf(m.Lo, 0) || math.IsInf(m.Hi, 0) || m.Lo > m.Hi {
		return fmt.Errorf("score map: range [%v, %v]: want finite lo <= hi", m.Lo, m.Hi)
	}
	switch m.Method {
	case ScoreMapLinear, ScoreMapSqrt:
		if checkFinite([]float64{m.Intercept, m.Slope}) >= 0 {
			return fmt.Errorf("score map %s: intercept %v, slope %v: want finite values", m.Method, m.Intercept, m.Slope)
		}
	case ScoreMapIsotonic:
		if len(m.KnotX) == 0 || len(m.KnotX) != len(m.KnotY) {
			return fmt.Errorf("score map isotonic: %d knot x and %d knot y values: want the same number, at least 1", len(m.KnotX), len(m.KnotY))
		}
		if i := checkFinite(m.KnotX); i >= 0 {
			return fmt.Errorf("score map isotonic: knot_x[%d] is %v", i, m.KnotX[i])
		}
		if i := checkFinite(m.KnotY); i >= 0 {
			return fmt.Errorf("score map isotonic: knot_y[%d] is %v", i, m.KnotY[i])
		}
		for i := 1; i < len(m.KnotX); i++ {
			if !(m.KnotX[i] > m.KnotX[i-1]) {
				return fmt.Errorf("score map isotonic: knot_x[%d] = %v after %v: want strictly increasing", i, m.KnotX[i], m.KnotX[i-1])
			}
			if m.KnotY[i] < m.KnotY[i-1] {
				return fmt.Errorf("score map isotonic: knot_y[%d] = %v after %v: want non-decreasing", i, m.KnotY[i], m.KnotY[i-1])
			}
		}
	default:
		return fmt.Errorf("score map: unknown method %q (want one of %v)", m.Method, ScoreMapMethods)
	}
	return nil
}

// FitScoreMap fits a map of the given method from percentages x to scores
// y, predictions bounded to [lo, hi]:
//
//   - ScoreMapLinear: ordinary least squares, b = Σ(x-x̄)(y-ȳ)/Σ(x-x̄)²,
//     a = ȳ - b·x̄. Needs 2 distinct x.
//   - ScoreMapSqrt: the same on u = sqrt(x). Needs x >= 0 and 2 distinct x.
//   - ScoreMapIsotonic: the non-decreasing fit minimising Σ(y - f(x))² by
//     pool-adjacent-violators, each point of weight 1. Points with equal x
//     are pooled first (they get one fitted value, the mean of their y);
//     then, from left to right, a block whose mean is below that of the
//     block before it is merged with it, repeatedly, so that block means
//     never decrease. Each final block becomes a knot (mean x of its points,
//     mean y of its points). The slope is not constrained by the other
//     methods, only by this one.
//
// It needs at least 2 points, all finite, and finite lo <= hi.
func FitScoreMap(method string, x, y []float64, lo, hi float64) (ScoreMap, error) {
	if len(x) != len(y) {
		return ScoreMap{}, fmt.Errorf("score map %s: %d x and %d y values: want pairs", method, len(x), len(y))
	}
	if len(x) < 2 {
		return ScoreMap{}, fmt.Errorf("score map %s: %d point(s): need at least 2", method, len(x))
	}
	if i := checkFinite(x); i >= 0 {
		return ScoreMap{}, fmt.Errorf("score map %s: x[%d] is %v", method, i, x[i])
	}
	if i := checkFinite(y); i >= 0 {
		return ScoreMap{}, fmt.Errorf("score map %s: y[%d] is %v", method, i, y[i])
	}
	m := ScoreMap{Method: method, Lo: lo, Hi: hi, N: len(x)}
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > hi {
		return ScoreMap{}, fmt.Errorf("score map %s: range [%v, %v]: want finite lo <= hi", method, lo, hi)
	}
	switch method {
	case ScoreMapLinear, ScoreMapSqrt:
		u := x
		if method == ScoreMapSqrt {
			u = make([]float64, len(x))
			for i, v := range x {
				if v < 0 {
					return ScoreMap{}, fmt.Errorf("score map sqrt: x[%d] = %v is negative", i, v)
				}
				u[i] = math.Sqrt(v)
			}
		}
		mu, my := mean(u), mean(y)
		var sxx, sxy float64
		for i := range u {
			du := u[i] - mu
			sxx += du * du
			sxy += du * (y[i] - my)
		}
		if sxx == 0 {
			return ScoreMap{}, fmt.Errorf("score map %s: every x is %v: need 2 distinct x for a slope", method, x[0])
		}
		m.Slope = sxy / sxx
		m.Intercept = my - m.Slope*mu
	case ScoreMapIsotonic:
		m.KnotX, m.KnotY = isotonicKnots(x, y)
	default:
		return ScoreMap{}, fmt.Errorf("score map: unknown method %q (want one of %v)", method, ScoreMapMethods)
	}
	return m, nil
}

// isotonicKnots returns the blocks of the isotonic fit of y on x (x pooled
// by equal value first): each block's mean x and mean y.
func isotonicKnots(x, y []float64) (kx, ky []float64) {
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return x[order[a]] < x[order[b]] })
	// One block per distinct x, weight = number of points.
	var sx, sy, w []float64
	for k, i := range order {
		if k > 0 && x[i] == x[order[k-1]] {
			last := len(w) - 1
			sx[last] += x[i]
			sy[last] += y[i]
			w[last]++
			continue
		}
		sx = append(sx, x[i])
		sy = append(sy, y[i])
		w = append(w, 1)
	}
	blocks := pavBlocks(sy, w)
	for _, b := range blocks {
		var bx, by, bw float64
		for j := b[0]; j < b[1]; j++ {
			bx += sx[j]
			by += sy[j]
			bw += w[j]
		}
		kx = append(kx, bx/bw)
		ky = append(ky, by/bw)
	}
	return kx, ky
}

// pavBlocks runs pool-adjacent-violators on values given as sums with
// weights (value j is sums[j]/weights[j]) and returns the final blocks as
// half-open index ranges [start, end), in order: the block means are
// non-decreasing.
func pavBlocks(sums, weights []float64) [][2]int {
	type block struct {
		start, end int
		sum, w     float64
	}
	var st []block
	for j := range sums {
		st = append(st, block{j, j + 1, sums[j], weights[j]})
		// Merge while the previous block's mean exceeds the last one's.
		for len(st) > 1 {
			a, b := st[len(st)-2], st[len(st)-1]
			if a.sum/a.w <= b.sum/b.w {
				break
			}
			st = st[:len(st)-2]
			st = append(st, block{a.start, b.end, a.sum + b.sum, a.w + b.w})
		}
	}
	out := make([][2]int, len(st))
	for i, b := range st {
		out[i] = [2]int{b.start, b.end}
	}
	return out
}

// pav returns the isotonic (non-decreasing) least-squares fit of y taken in
// the given order, each value of weight 1: every value is replaced by the
// mean of its pool-adjacent-violators block.
func pav(y []float64) []float64 {
	w := make([]float64, len(y))
	for i := range w {
		w[i] = 1
	}
	fit := make([]float64, len(y))
	for _, b := range pavBlocks(y, w) {
		var s float64
		for j := b[0]; j < b[1]; j++ {
			s += y[j]
		}
		for j := b[0]; j < b[1]; j++ {
			fit[j] = s / float64(b[1]-b[0])
		}
	}
	return fit
}

// OutOfFold returns, for every point, the prediction of a map fitted (by
// FitScoreMap with method, lo and hi) on the points of the other folds
// only, so that no point, and no other image of its patient, is scored by a
// map that saw it.
//
// groups[i] names the group (patient) of point i; nil makes every point its
// own group. Folds are made of whole groups:
//
//   - k <= 0 or k >= the number of groups: leave-one-group-out, each group is
//     a fold and the seed is not used;
//   - otherwise the folds of KFoldByPatient(items, k, seed, false) with
//     items[i] = {Name: strconv.Itoa(i), Patient: groups[i]}: the distinct
//     groups, sorted by id, are shuffled by a PCG generator seeded with seed,
//     stably sorted by decreasing number of points, and each in turn goes to
//     the fold with the fewest points so far (an empty fold first; ties to
//     the lowest fold number). Fold f holds the points of the groups
//     assigned to it; every point gets the prediction of the map fitted on
//     all points outside its fold.
//
// k = 1 is an error (no points left to fit on), as are fewer than 2 groups,
// an empty group id, and a fold whose complement cannot be fitted (for
// example a single distinct x left for ScoreMapLinear).
func OutOfFold(method string, x, y []float64, groups []string, k int, seed uint64, lo, hi float64) ([]float64, error) {
	if len(x) != len(y) {
		return nil, fmt.Errorf("out-of-fold %s: %d x and %d y values: want pairs", method, len(x), len(y))
	}
	if groups == nil {
		groups = make([]string, len(x))
		for i := range groups {
			groups[i] = strconv.Itoa(i)
		}
	}
	if len(groups) != len(x) {
		return nil, fmt.Errorf("out-of-fold %s: %d group ids for %d points", method, len(groups), len(x))
	}
	if i := checkFinite(x); i >= 0 {
		return nil, fmt.Errorf("out-of-fold %s: x[%d] is %v", method, i, x[i])
	}
	if i := checkFinite(y); i >= 0 {
		return nil, fmt.Errorf("out-of-fold %s: y[%d] is %v", method, i, y[i])
	}
	if k == 1 {
		return nil, fmt.Errorf("out-of-fold %s: k = 1 leaves nothing to fit on: want k >= 2, or k <= 0 for leave-one-group-out", method)
	}
	distinct := map[string]bool{}
	for i, g := range groups {
		if g == "" {
			return nil, fmt.Errorf("out-of-fold %s: point %d has an empty group id", method, i)
		}
		distinct[g] = true
	}
	if len(distinct) < 2 {
		return nil, fmt.Errorf("out-of-fold %s: %d group(s): need at least 2", method, len(distinct))
	}

	// tests[f] lists the points of fold f.
	var tests [][]int
	if k <= 0 || k >= len(distinct) {
		ids := make([]string, 0, len(distinct))
		for g := range distinct {
			ids = append(ids, g)
		}
		sort.Strings(ids)
		index := make(map[string]int, len(ids))
		for f, g := range ids {
			index[g] = f
		}
		tests = make([][]int, len(ids))
		for i, g := range groups {
			tests[index[g]] = append(tests[index[g]], i)
		}
	} else {
		items := make([]SplitItem, len(groups))
		for i, g := range groups {
			items[i] = SplitItem{Name: strconv.Itoa(i), Patient: g}
		}
		splits, err := KFoldByPatient(items, k, seed, false)
		if err != nil {
			return nil, fmt.Errorf("out-of-fold %s: %w", method, err)
		}
		for _, s := range splits {
			tests = append(tests, s.Test)
		}
	}

	pred := make([]float64, len(x))
	inFold := make([]bool, len(x))
	for f, test := range tests {
		clear(inFold)
		for _, i := range test {
			inFold[i] = true
		}
		var tx, ty []float64
		for i := range x {
			if !inFold[i] {
				tx = append(tx, x[i])
				ty = append(ty, y[i])
			}
		}
		m, err := FitScoreMap(method, tx, ty, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("out-of-fold %s: fold %d of %d (%d held-out points, first of group %s): %w", method, f+1, len(tests), len(test), groups[test[0]], err)
		}
		for _, i := range test {
			pred[i] = m.Predict(x[i])
		}
	}
	return pred, nil
}
