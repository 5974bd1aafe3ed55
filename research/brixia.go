package research

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// A Brixia zone score (0-3) from the share of a lung zone that the predicted
// opacity covers: three thresholds on the share, fitted to radiologists'
// zone scores.

// ZoneThresholds maps an opacity share of a lung zone (|opacity ∩ zone| /
// |zone|, 0..1) to a Brixia zone score 0-3: the score is the number of
// thresholds the share is strictly above,
//
//	Score(share) = #{k : share > t[k]},
//
// so with t[0] <= t[1] <= t[2] a share <= t[0] scores 0, a share in
// (t[0], t[1]] scores 1, (t[1], t[2]] 2 and above t[2] 3. Thresholds may be
// -Inf (every share passes it) or +Inf (none does), as FitZoneThresholds
// returns them for a score that the data always or never reach; note that
// encoding/json cannot encode those.
type ZoneThresholds [3]float64

// Score returns the zone score 0-3 of share: the number of thresholds k with
// share > t[k]. A NaN share (an empty zone: no lung there) scores 0, as a
// zone without opacity.
func (t ZoneThresholds) Score(share float64) int {
	n := 0
	for _, tk := range t {
		if share > tk {
			n++
		}
	}
	return n
}

// BrixiaGlobal returns the global Brixia score 0-18 of an image: the sum of
// its six zone scores (in the order A..F of datasets.BrixiaScore.Zones).
func BrixiaGlobal(zoneScores [6]int) int {
	sum := 0
	for _, s := range zoneScores {
		sum += s
	}
	return sum
}

// FitZoneThresholds returns the thresholds that minimise the total absolute
// error sum_i |Score(shares[i]) - scores[i]| over the pairs with a non-NaN
// share (pairs with a NaN share, empty zones, are skipped). The scores may
// be non-integers, such as the mean of two radiologists' zone scores.
//
// The minimum is exact, over every threshold triple t[0] <= t[1] <= t[2]
// whose thresholds are candidate cuts: with v_1 < ... < v_m the distinct
// shares, the cuts are -Inf (below v_1), the midpoints (v_j+v_{j+1})/2
// (exactly; where rounding would put the midpoint on v_{j+1}, v_j) and +Inf
// (above v_m). Any thresholds split the training shares as one such triple
// does, so no thresholds fit them better. The fit is a search over
// non-decreasing assignments of the scores 0-3 to the distinct shares with
// prefix sums of the per-share costs, O(n log n) for the sort and O(m)
// after it.
//
// Ties: among the triples of minimal error, the one with the lowest t[0] is
// returned, then among those the lowest t[1], then the lowest t[2]; lower
// thresholds mean higher scores, so a tie between scoring a share 1 or 2
// (say one radiologist's 1 and the other's 2, a mean score of 1.5) scores it
// 2. The error sums are compared exactly as float64 values; they are exact
// for scores that are whole numbers or halves (such as means of two
// radiologists' scores), and
// the pairs are summed in the order of (share, score), so the result does
// not depend on the order of the input.
//
// Errors: len(shares) != len(scores), an infinite share, a NaN or infinite
// score, and no pair with a non-NaN share.
func FitZoneThresholds(shares, scores []float64) (ZoneThresholds, error) {
	var t ZoneThresholds
	if len(shares) != len(scores) {
		return t, fmt.Errorf("fit zone thresholds: %d shares and %d scores: want pairs", len(shares), len(scores))
	}
	type pair struct{ x, y float64 }
	ps := make([]pair, 0, len(shares))
	for i, x := range shares {
		if y := scores[i]; math.IsNaN(y) || math.IsInf(y, 0) {
			return t, fmt.Errorf("fit zone thresholds: score %d is %v", i, y)
		}
		if math.IsInf(x, 0) {
			return t, fmt.Errorf("fit zone thresholds: share %d is %v", i, x)
		}
		if !math.IsNaN(x) {
			ps = append(ps, pair{x, scores[i]})
		}
	}
	if len(ps) == 0 {
		return t, fmt.Errorf("fit zone thresholds: no pair with a share (%d pairs, all NaN shares)", len(shares))
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].x != ps[j].x {
			return ps[i].x < ps[j].x
		}
		return ps[i].y < ps[j].y
	})

	// xs: the distinct shares; cost[g][s]: the error of scoring share g as s.
	var xs []float64
	var cost [][4]float64
	for i, p := range ps {
		if i == 0 || p.x != ps[i-1].x {
			xs = append(xs, p.x)
			cost = append(cost, [4]float64{})
		}
		c := &cost[len(cost)-1]
		for s := range c {
			c[s] += math.Abs(float64(s) - p.y)
		}
	}
	m := len(xs)

	// Cut c (0..m) puts the first c distinct shares below a threshold. Cuts
	// c1 <= c2 <= c3 score shares 1..c1 as 0, c1+1..c2 as 1, c2+1..c3 as 2
	// and the rest as 3: with prefix sums P_s[c] = sum_{g<c} cost[g][s] the
	// error is P_3[m] + A[c1] + B[c2] + D[c3], A = P_0-P_1, B = P_1-P_2,
	// D = P_2-P_3.
	var p [4]float64
	a, b, d := make([]float64, m+1), make([]float64, m+1), make([]float64, m+1)
	for c := 0; ; c++ {
		a[c], b[c], d[c] = p[0]-p[1], p[1]-p[2], p[2]-p[3]
		if c == m {
			break
		}
		for s := range p {
			p[s] += cost[c][s]
		}
	}
	// sufD[c] = min over c3 >= c of D; e[c] = B[c] + sufD[c], the best
	// B+D for c2 = c; sufE[c] = min over c2 >= c of e.
	sufD, e, sufE := make([]float64, m+1), make([]float64, m+1), make([]float64, m+1)
	for c := m; c >= 0; c-- {
		sufD[c] = d[c]
		if c < m {
			sufD[c] = min(d[c], sufD[c+1])
		}
		e[c] = b[c] + sufD[c]
		sufE[c] = e[c]
		if c < m {
			sufE[c] = min(e[c], sufE[c+1])
		}
	}
	best := math.Inf(1)
	for c := range a {
		best = min(best, a[c]+sufE[c])
	}
	// The lexicographically smallest (c1, c2, c3) of minimal error; every
	// comparison repeats the float operations that gave best.
	c1 := 0
	for a[c1]+sufE[c1] != best {
		c1++
	}
	c2 := c1
	for a[c1]+e[c2] != best {
		c2++
	}
	c3 := c2
	for d[c3] != sufD[c2] {
		c3++
	}

	cut := func(c int) float64 {
		switch c {
		case 0:
			return math.Inf(-1)
		case m:
			return math.Inf(1)
		}
		lo, hi := xs[c-1], xs[c]
		mid := lo + (hi-lo)/2
		if !(mid < hi) {
			mid = lo
		}
		return mid
	}
	return ZoneThresholds{cut(c1), cut(c2), cut(c3)}, nil
}

// ZoneThresholdsOutOfFold returns, for every zone i, the score
// Score(shares[i]) of thresholds fitted (FitZoneThresholds) on the zones of
// the other groups only: leave-one-group-out, so that no zone, and no other
// zone of its patient's images, is scored by thresholds that saw it.
//
// groups[i] names the group (patient) of zone i, so an image's six zones
// share its patient's id; nil makes every zone its own group. Zones with a
// NaN share are skipped by the fits and score 0 (ZoneThresholds.Score), like
// any zone of a fold. Folds are the distinct groups in sorted order; the
// result does not depend on the order of the zones.
//
// Errors: mismatched lengths, an infinite share, a NaN or infinite score, an
// empty group id, fewer than 2 groups, and a fold whose complement has no
// zone with a share (named by its held-out group).
func ZoneThresholdsOutOfFold(shares, scores []float64, groups []string) ([]int, error) {
	if len(shares) != len(scores) {
		return nil, fmt.Errorf("out-of-fold zone thresholds: %d shares and %d scores: want pairs", len(shares), len(scores))
	}
	if groups == nil {
		groups = make([]string, len(shares))
		for i := range groups {
			groups[i] = strconv.Itoa(i)
		}
	}
	if len(groups) != len(shares) {
		return nil, fmt.Errorf("out-of-fold zone thresholds: %d group ids for %d zones", len(groups), len(shares))
	}
	for i, x := range shares {
		if math.IsInf(x, 0) {
			return nil, fmt.Errorf("out-of-fold zone thresholds: share %d is %v", i, x)
		}
		if y := scores[i]; math.IsNaN(y) || math.IsInf(y, 0) {
			return nil, fmt.Errorf("out-of-fold zone thresholds: score %d is %v", i, y)
		}
	}
	members := map[string][]int{}
	for i, g := range groups {
		if g == "" {
			return nil, fmt.Errorf("out-of-fold zone thresholds: zone %d has an empty group id", i)
		}
		members[g] = append(members[g], i)
	}
	if len(members) < 2 {
		return nil, fmt.Errorf("out-of-fold zone thresholds: %d group(s): need at least 2", len(members))
	}
	ids := make([]string, 0, len(members))
	for g := range members {
		ids = append(ids, g)
	}
	sort.Strings(ids)

	pred := make([]int, len(shares))
	tx := make([]float64, 0, len(shares))
	ty := make([]float64, 0, len(shares))
	for f, g := range ids {
		tx, ty = tx[:0], ty[:0]
		for i := range shares {
			if groups[i] != g {
				tx = append(tx, shares[i])
				ty = append(ty, scores[i])
			}
		}
		t, err := FitZoneThresholds(tx, ty)
		if err != nil {
			return nil, fmt.Errorf("out-of-fold zone thresholds: fold %d of %d (group %s held out): %w", f+1, len(ids), g, err)
		}
		for _, i := range members[g] {
			pred[i] = t.Score(shares[i])
		}
	}
	return pred, nil
}
