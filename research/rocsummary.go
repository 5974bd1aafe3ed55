package research

import "fmt"

// ROCSummary is the ROC analysis of one score against one outcome, as the
// "opacity severity" command reports it (JSON keys as in its schema).
type ROCSummary struct {
	AUC           float64    `json:"auc"`
	CI95DeLong    [2]float64 `json:"ci95_delong"`    // AUC ± 1.96 SE (DeLong), clipped to [0, 1]
	CI95Bootstrap [2]float64 `json:"ci95_bootstrap"` // percentile interval of the cluster bootstrap
	NPos          int        `json:"n_pos"`
	NNeg          int        `json:"n_neg"`
	Youden        Youden     `json:"youden"`

	Curve     []ROCPoint   `json:"-"` // the empirical ROC curve
	DeLong    DeLongResult `json:"-"`
	Bootstrap BootstrapCI  `json:"-"`
}

// AnalyzeROC runs the whole ROC analysis of scores against labels: the
// curve, the AUC with its DeLong interval, a bootstrap interval resampling
// clusters (patients; nil: every case its own cluster, see
// ClusterBootstrapAUC) and the Youden-optimal cut.
func AnalyzeROC(scores []float64, labels []bool, clusters []string, opt BootstrapOptions) (ROCSummary, error) {
	curve, err := ROCCurve(scores, labels)
	if err != nil {
		return ROCSummary{}, err
	}
	dl, err := DeLong(scores, labels)
	if err != nil {
		return ROCSummary{}, err
	}
	bs, err := ClusterBootstrapAUC(scores, labels, clusters, opt)
	if err != nil {
		return ROCSummary{}, fmt.Errorf("bootstrap interval: %w", err)
	}
	return ROCSummary{
		AUC:           dl.AUC,
		CI95DeLong:    dl.CI95,
		CI95Bootstrap: bs.CI,
		NPos:          dl.NPos,
		NNeg:          dl.NNeg,
		Youden:        youdenFromCurve(curve),
		Curve:         curve,
		DeLong:        dl,
		Bootstrap:     bs,
	}, nil
}
