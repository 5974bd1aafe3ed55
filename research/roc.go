package research

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ROCPoint is one point of an empirical ROC curve: calling every case with
// score >= Threshold positive gives the false-positive rate FPR (1 -
// specificity) and the true-positive rate TPR (sensitivity).
type ROCPoint struct {
	Threshold float64 `json:"threshold"`
	FPR       float64 `json:"fpr"`
	TPR       float64 `json:"tpr"`
}

// ErrOneClass is returned when an ROC analysis has no positive or no negative
// case.
var ErrOneClass = errors.New("ROC analysis needs at least one positive and one negative case")

// checkROCInput validates scores and labels and returns the numbers of
// positive and negative cases.
func checkROCInput(scores []float64, labels []bool) (nPos, nNeg int, err error) {
	if len(scores) != len(labels) {
		return 0, 0, fmt.Errorf("%d scores but %d labels", len(scores), len(labels))
	}
	if i := checkFinite(scores); i >= 0 {
		return 0, 0, fmt.Errorf("score %d is %v: scores must be finite", i, scores[i])
	}
	for _, l := range labels {
		if l {
			nPos++
		} else {
			nNeg++
		}
	}
	if nPos == 0 || nNeg == 0 {
		return nPos, nNeg, fmt.Errorf("%w (have %d positive, %d negative)", ErrOneClass, nPos, nNeg)
	}
	return nPos, nNeg, nil
}

// ROCCurve returns the empirical ROC curve of scores against labels (true =
// positive), one point per distinct score, from (0, 0) at threshold +Inf to
// (1, 1) at the lowest score. A higher score means "more likely positive".
func ROCCurve(scores []float64, labels []bool) ([]ROCPoint, error) {
	nPos, nNeg, err := checkROCInput(scores, labels)
	if err != nil {
		return nil, err
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	pts := []ROCPoint{{Threshold: math.Inf(1)}}
	tp, fp := 0, 0
	for i := 0; i < len(order); {
		t := scores[order[i]]
		for ; i < len(order) && scores[order[i]] == t; i++ {
			if labels[order[i]] {
				tp++
			} else {
				fp++
			}
		}
		pts = append(pts, ROCPoint{Threshold: t, FPR: float64(fp) / float64(nNeg), TPR: float64(tp) / float64(nPos)})
	}
	return pts, nil
}

// AUC returns the area under the empirical ROC curve of scores against
// labels: the Mann-Whitney U statistic divided by nPos*nNeg, that is the
// probability that a random positive case scores higher than a random
// negative one, ties counting one half. It runs in O(n log n).
func AUC(scores []float64, labels []bool) (float64, error) {
	nPos, nNeg, err := checkROCInput(scores, labels)
	if err != nil {
		return math.NaN(), err
	}
	ranks := midranks(scores)
	sum := 0.0
	for i, l := range labels {
		if l {
			sum += ranks[i]
		}
	}
	m, n := float64(nPos), float64(nNeg)
	return (sum - m*(m+1)/2) / (m * n), nil
}

// Youden is the cut of an ROC curve that maximises Youden's J =
// sensitivity + specificity - 1: cases with score >= Threshold are called
// positive.
type Youden struct {
	Threshold   float64 `json:"threshold"`
	Sensitivity float64 `json:"sensitivity"`
	Specificity float64 `json:"specificity"`
	J           float64 `json:"-"`
}

// YoudenPoint returns the Youden-optimal cut of the ROC curve of scores
// against labels. The threshold is an observed score (score >= threshold is
// called positive); among cuts with equal J the highest threshold (the most
// specific cut) is chosen.
func YoudenPoint(scores []float64, labels []bool) (Youden, error) {
	pts, err := ROCCurve(scores, labels)
	if err != nil {
		return Youden{}, err
	}
	return youdenFromCurve(pts), nil
}

func youdenFromCurve(pts []ROCPoint) Youden {
	best := Youden{J: math.Inf(-1)}
	// Skip the +Inf point (nothing called positive): it is never a useful cut
	// and its J is 0, which any informative cut beats.
	for _, p := range pts[1:] {
		j := p.TPR - p.FPR
		if j > best.J+1e-12 {
			best = Youden{Threshold: p.Threshold, Sensitivity: p.TPR, Specificity: 1 - p.FPR, J: j}
		}
	}
	return best
}
