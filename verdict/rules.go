package verdict

// Tolerances of the items whose value comes out of a trained model. The Go
// backend trains bit for bit the same on one commit and machine (the same
// seed gives the same metrics.csv to the last digit, REPRODUCE.md), but
// another backend (XLA on a GPU), another CPU or a change of the float
// rounding in the model's code moves the weights after a few hundred noisy
// Adam steps, and with them these numbers by a few hundredths (REPRODUCE.md
// records 0.463 → 0.430 for a changed recipe, and a few hundredths for a
// changed rounding).
const (
	// TrainedUnit is the tolerance of a trained model's IoU, Dice, F1,
	// AUC, Spearman ρ or loss (numbers on a 0–1 scale).
	TrainedUnit = 0.05
	// TrainedPoints is the tolerance of a trained model's opacity
	// percentage statistics (bias, mean absolute difference), in points.
	TrainedPoints = 3.0
	// TrainedScore is the tolerance of a trained model's severity score
	// errors (MAE on Cohen et al.'s 0–8 and 0–6 scales).
	TrainedScore = 0.3
	// Computed is the tolerance of a number computed from fixed inputs
	// (annotations, clinical tables, seeded resampling) without a model:
	// deterministic, equal on amd64; 1e-9 leaves room only for the last
	// bits of float rounding on CPUs that fuse multiply-adds.
	Computed = 1e-9
)

const (
	whyFile     = "a file the run wrote: it must be written again"
	whyCount    = "a count (images, patients, pairs, folds): an integer, deterministic"
	whyComputed = "computed from the annotations, clinical tables or seeded resampling, no model: deterministic; 1e-9 only for float rounding on other CPUs"
	whyTrained  = "from the trained model: bit-identical on the Go backend for one commit and machine; another backend, CPU or float rounding moves a model's IoU/AUC/ρ/loss by a few hundredths"
	whyPoints   = "from the trained model, in percentage points: another backend, CPU or float rounding moves the predicted masks' areas by a few points"
	whyScore    = "from the trained model, severity score MAE: another backend, CPU or float rounding moves it by a few tenths of a score point"
)

// DefaultRules are the tolerance rules of this repository's results (the
// result ids and number names of package paper), most specific first;
// Update gives each new item the first that matches.
var DefaultRules = []Rule{
	{"file:*", Exact, whyFile},
	{"cohorts.*", Exact, whyCount},
	{"*.n_*", Exact, whyCount},
	{"*_images", Exact, whyCount},
	{"*_pairs", Exact, whyCount},
	{"*_folds", Exact, whyCount},
	// Anything of the model's predictions is trained, even beside a manual value.
	{"*predicted*", TrainedUnit, whyTrained},
	// Computed without a model.
	{"figure3.*manual*", Computed, whyComputed},
	{"figure4.*", Computed, whyComputed},
	{"cohen_scores.*manual*", Computed, whyComputed},
	{"agreement.agreement_lung_*", Computed, whyComputed},
	{"agreement.agreement_opacity_*", Computed, whyComputed},
	{"agreement.agreement_ab_*", Computed, whyComputed},
	{"agreement.agreement_pct_*", Computed, whyComputed},
	{"*severity_*_manual", Computed, whyComputed}, // severity maps of the radiologists' own percentages
	// From a trained model.
	{"*_pct_bias", TrainedPoints, whyPoints},
	{"*_pct_mad", TrainedPoints, whyPoints},
	{"*_pct_bias_*", TrainedPoints, whyPoints},
	{"*_pct_loa_*", TrainedPoints, whyPoints},
	{"*severity_mae*", TrainedScore, whyScore},
	{"*", TrainedUnit, whyTrained},
}
