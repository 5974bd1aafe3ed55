package research

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// BootstrapOptions configures a bootstrap confidence interval.
type BootstrapOptions struct {
	Resamples int     // number of resamples; 2000 when 0
	Seed      uint64  // seed of the resampling; the same seed gives the same interval
	Level     float64 // confidence level; 0.95 when 0
}

func (o BootstrapOptions) withDefaults() BootstrapOptions {
	if o.Resamples == 0 {
		o.Resamples = 2000
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	return o
}

// BootstrapCI is a percentile bootstrap confidence interval of an AUC.
type BootstrapCI struct {
	CI          [2]float64 // percentile interval (type-7 quantiles of the resampled AUCs)
	Level       float64
	Resamples   int
	Clusters    int // number of clusters (patients)
	PosClusters int // clusters with at least one positive case
	NegClusters int // clusters with no positive case
}

// ClusterBootstrapAUC returns a percentile bootstrap confidence interval of
// the AUC of scores against labels that resamples whole clusters (patients)
// with replacement, so that the images of one patient stay together: each
// resample draws PosClusters clusters among those holding a positive case
// and, separately, NegClusters among the others (stratified by outcome, so
// every resample has both classes), and computes the AUC of all the cases of
// the drawn clusters, each as often as its cluster was drawn.
//
// clusters[i] names the cluster of case i; nil makes every case its own
// cluster (the ordinary stratified bootstrap). The outcome is normally the
// same for all cases of a cluster (a patient's ICU admission); a cluster with
// mixed labels counts as positive for the stratification.
func ClusterBootstrapAUC(scores []float64, labels []bool, clusters []string, opt BootstrapOptions) (BootstrapCI, error) {
	opt = opt.withDefaults()
	if _, _, err := checkROCInput(scores, labels); err != nil {
		return BootstrapCI{}, err
	}
	if clusters != nil && len(clusters) != len(scores) {
		return BootstrapCI{}, fmt.Errorf("bootstrap: %d cluster ids for %d cases", len(clusters), len(scores))
	}
	if opt.Resamples < 1 {
		return BootstrapCI{}, fmt.Errorf("bootstrap: %d resamples: need at least 1", opt.Resamples)
	}
	if !(opt.Level > 0 && opt.Level < 1) {
		return BootstrapCI{}, fmt.Errorf("bootstrap: confidence level %v is not in (0, 1)", opt.Level)
	}

	// Group cases into clusters, in order of first appearance.
	var members [][]int
	if clusters == nil {
		members = make([][]int, len(scores))
		for i := range scores {
			members[i] = []int{i}
		}
	} else {
		index := map[string]int{}
		for i, c := range clusters {
			k, ok := index[c]
			if !ok {
				k = len(members)
				index[c] = k
				members = append(members, nil)
			}
			members[k] = append(members[k], i)
		}
	}
	var pos, neg []int // cluster indices by stratum
	for k, ms := range members {
		any := false
		for _, i := range ms {
			any = any || labels[i]
		}
		if any {
			pos = append(pos, k)
		} else {
			neg = append(neg, k)
		}
	}
	if len(neg) == 0 {
		return BootstrapCI{}, fmt.Errorf("bootstrap: every cluster holds a positive case: cannot stratify by outcome")
	}

	// Cases sorted by score once, grouped into runs of tied scores: each
	// resample then computes its AUC in O(n) from the cases' weights.
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return scores[order[a]] < scores[order[b]] })
	var runStart []int
	for i := range order {
		if i == 0 || scores[order[i]] != scores[order[i-1]] {
			runStart = append(runStart, i)
		}
	}
	runStart = append(runStart, len(order))

	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	draws := make([]float64, len(members)) // times each cluster is drawn
	weight := make([]float64, len(scores))
	clusterOf := make([]int, len(scores))
	for k, ms := range members {
		for _, i := range ms {
			clusterOf[i] = k
		}
	}
	aucs := make([]float64, 0, opt.Resamples)
	for r := 0; r < opt.Resamples; r++ {
		clear(draws)
		for range pos {
			draws[pos[rng.IntN(len(pos))]]++
		}
		for range neg {
			draws[neg[rng.IntN(len(neg))]]++
		}
		for i := range weight {
			weight[i] = draws[clusterOf[i]]
		}
		var num, wPos, wNeg float64
		for g := 0; g+1 < len(runStart); g++ {
			var p, q float64 // positive and negative weight in this run of ties
			for _, i := range order[runStart[g]:runStart[g+1]] {
				if labels[i] {
					p += weight[i]
				} else {
					q += weight[i]
				}
			}
			num += p * (wNeg + q/2)
			wPos += p
			wNeg += q
		}
		if wPos == 0 || wNeg == 0 { // possible only with mixed clusters
			continue
		}
		aucs = append(aucs, num/(wPos*wNeg))
	}
	if len(aucs) == 0 {
		return BootstrapCI{}, fmt.Errorf("bootstrap: no resample had both classes")
	}
	sort.Float64s(aucs)
	alpha := (1 - opt.Level) / 2
	return BootstrapCI{
		CI:          [2]float64{quantile(aucs, alpha), quantile(aucs, 1-alpha)},
		Level:       opt.Level,
		Resamples:   len(aucs),
		Clusters:    len(members),
		PosClusters: len(pos),
		NegClusters: len(neg),
	}, nil
}
