package paper

import (
	"fmt"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/num"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

// Aggregate is how the per-patient analyses make one score of a patient's
// images: the maximum, the patient's worst X-ray.
const Aggregate = research.AggregateMax

// Outcomes of the severity analyses.
const (
	OutcomeICU       = research.OutcomeICU
	OutcomeMortality = research.OutcomeMortality
)

// severityROC is the ROC analysis of the opacity % of Figure 3 (and of
// ReadSeverity): research.AnalyzeSeverity per image (bootstrap resampling
// patients) and per patient (agg over the patient's images), going on past
// an analysis that cannot be done (one class), which it lists in
// SeverityROC.Failed. Its error is for an outcome other than 0 or 1.
func severityROC(images []research.SeverityImage, agg research.Aggregate, opt research.BootstrapOptions) (research.SeverityROC, error) {
	return research.AnalyzeSeverity(images, research.SeverityOptions{Aggregate: agg, Bootstrap: opt, KeepGoing: true})
}

// severityROCs is severityROC per patient by Aggregate (the maximum over
// the patient's images), as its four analyses; one that cannot be done
// carries its error.
func severityROCs(images []research.SeverityImage, opt research.BootstrapOptions) []research.SeverityAnalysis {
	r, err := severityROC(images, Aggregate, opt)
	if err != nil { // an outcome other than 0 or 1: every analysis fails
		var out []research.SeverityAnalysis
		for _, a := range r.Analyses() {
			a.Err = err
			out = append(out, a)
		}
		return out
	}
	return r.Analyses()
}

// levelName names an analysis level in tables and legends: "image" or
// "patient (max)" (the aggregate agg in brackets).
func levelName(level string, agg research.Aggregate) string {
	if level == research.LevelPatient {
		return "patient (" + string(agg) + ")"
	}
	return level
}

// rocFigure draws the ROC panels (ICU, mortality) of one score source, one
// curve per level (patients by agg), skipping analyses that failed.
func rocFigure(title string, agg research.Aggregate, rocs []research.SeverityAnalysis) (*plots.Figure, bool, error) {
	var panels []plots.ROCPanel
	any := false
	for _, outcome := range []string{OutcomeICU, OutcomeMortality} {
		p := plots.ROCPanel{Title: outcome}
		for _, rr := range rocs {
			if rr.Outcome != outcome || rr.Err != nil {
				continue
			}
			c := plots.CurveFromSummary(fmt.Sprintf("per %s (%d+, %d−)", levelName(rr.Level, agg), rr.Summary.NPos, rr.Summary.NNeg), rr.Summary)
			c.Dashed = rr.Level != research.LevelImage
			p.Curves = append(p.Curves, c)
			any = true
		}
		if len(p.Curves) == 0 {
			p.Note = "not computable (one class only)"
		}
		panels = append(panels, p)
	}
	if !any {
		return nil, false, nil
	}
	f, err := plots.ROCFigure(title, panels)
	return f, true, err
}

// addROCRows adds the rows of rocs to t under the score's name, and their
// AUCs to r.Numbers as auc_<key>_<level>_<outcome>.
func addROCRows(r *Result, t *table, score, key string, rocs []research.SeverityAnalysis) {
	for _, rr := range rocs {
		t.add(append([]string{score}, rocRow(Aggregate, rr)...)...)
		if rr.Err != nil {
			continue
		}
		lvl := "image"
		if rr.Level != research.LevelImage {
			lvl = "patient"
		}
		out := "icu"
		if rr.Outcome == OutcomeMortality {
			out = "mortality"
		}
		r.Numbers[fmt.Sprintf("auc_%s_%s_%s", key, lvl, out)] = rr.Summary.AUC
	}
}

// rocHeader is the header of the ROC tables, after table-figure3's score
// column.
var rocHeader = []string{"level", "outcome", "positive", "negative", "AUC", "95% CI (DeLong)", "95% CI (bootstrap)", "Youden cut (%)", "sensitivity", "specificity"}

func rocTable() *table {
	return &table{header: append([]string{"score"}, rocHeader...)}
}

// rocRow is the row of one analysis (patients by agg) in the ROC tables,
// under rocHeader.
func rocRow(agg research.Aggregate, rr research.SeverityAnalysis) []string {
	if rr.Err != nil {
		return []string{levelName(rr.Level, agg), rr.Outcome, "", "", "not computable: " + rr.Err.Error(), "", "", "", "", ""}
	}
	m := rr.Summary
	return []string{levelName(rr.Level, agg), rr.Outcome, fmt.Sprint(m.NPos), fmt.Sprint(m.NNeg), fmt.Sprintf("%.3f", m.AUC),
		fmtCI(m.CI95DeLong), fmtCI(m.CI95Bootstrap), fmt.Sprintf("%.1f", m.Youden.Threshold),
		fmt.Sprintf("%.2f", m.Youden.Sensitivity), fmt.Sprintf("%.2f", m.Youden.Specificity)}
}

func fmtCI(ci [2]float64) string {
	if !num.Finite(ci[0], ci[1]) {
		return "—"
	}
	return fmt.Sprintf("%.3f–%.3f", ci[0], ci[1])
}

// Figure3 is the paper's Figure 3: the ROC of the opacity percentage for ICU
// admission and mortality, (a) from the manual masks of every covid-ar
// annotation (no image needed) and (b) from the model's predicted masks of
// the covid-ar images (after Study.EnsureModel; skipped without them), per
// image and per patient, with DeLong and patient-bootstrap 95% intervals.
// Files: figure3a, figure3b (PNG, SVG), table-figure3 (MD, CSV).
func Figure3(st *experiment.Study) (*Result, error) {
	return finish(st, "figure3")(figure3(st))
}

func figure3(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Figure 3: opacity % as a predictor of ICU admission and mortality")
	if st.Clinical == nil {
		r.skip("no clinical table (%v): no outcome to predict, neither from manual nor from predicted masks.", st.ClinicalErr)
		return r, nil
	}
	if len(st.Severity) == 0 {
		r.skip("no covid-ar annotation with lungs in %s.", s.DataDir())
		return r, nil
	}
	t := rocTable()
	manual := severityROCs(st.Severity, bootstrap(s))
	addROCRows(r, t, "opacity % (manual masks)", "manual", manual)
	f, ok, err := rocFigure(figure3aTitle(countSeverity(st.Severity), s.Synthetic()), Aggregate, manual)
	if err != nil {
		return nil, err
	}
	if ok {
		if err := r.saveFigure(s, "figure3a", f); err != nil {
			return nil, err
		}
	}

	skip3b := ""
	pred, manualSame, err := predictedSeverity(st, datasets.CohortCovidAR, "")
	switch {
	case err != nil:
		return nil, err
	case st.TrainCohort != datasets.CohortCovidAR:
		skip3b = fmt.Sprintf("Figure 3b needs the model's predictions on covid-ar images with clinical outcomes; the covid-ar annotations here carry no images (%s). "+
			"Figure 3a above uses the manual masks, which need no image.", st.TrainCohortNote())
	case pred == nil:
		skip3b = "Figure 3b needs the model's predictions (Study.EnsureModel before Figure3)."
	default:
		predROC := severityROCs(pred, bootstrap(s))
		addROCRows(r, t, "opacity % (predicted masks)", "predicted", predROC)
		// The same analysis on the test images alone: the model never saw them.
		predTest, _, err := predictedSeverity(st, datasets.CohortCovidAR, experiment.SubsetTest)
		if err != nil {
			return nil, err
		}
		addROCRows(r, t, "opacity % (predicted, test images only)", "predicted_test", severityROCs(predTest, bootstrap(s)))
		addROCRows(r, t, "opacity % (manual, same images as predicted)", "manual_same", severityROCs(manualSame, bootstrap(s)))
		f, ok, err := rocFigure(fmt.Sprintf("(b) Opacity %% from predicted masks, %d images (train + test)%s", len(pred), dataTag(s)), Aggregate, predROC)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := r.saveFigure(s, "figure3b", f); err != nil {
				return nil, err
			}
		}
		if rho, err := pctCorrelation(pred, manualSame); err == nil {
			r.Numbers["spearman_manual_predicted_pct"] = rho.Rho
			r.note("Opacity %% from predicted vs manual masks on the same %d images: Spearman ρ = %.3f (95%% CI %.3f to %.3f).", rho.N, rho.Rho, rho.CI95[0], rho.CI95[1])
		}
	}
	if err := r.saveTable(s, "table-figure3", "Figure 3: ROC of the opacity % for ICU admission and mortality"+dataTag(s), t); err != nil {
		return nil, err
	}
	r.note("Per image, the bootstrap resamples patients (%d resamples, seed %d), since one patient's images are not independent; the DeLong interval treats images as independent. "+
		"Per patient, a patient's score is the %s over their images. Youden cut: opacity %% ≥ cut is called positive. "+
		"The paper shows these curves without AUC values in its text.", s.Bootstrap, s.Seed, Aggregate)
	if skip3b != "" {
		r.skip("%s", skip3b)
	}
	return r, nil
}

// predictedSeverity returns the severity images of cohort's items with
// predictions (of one subset, or all when subset is ""), with the opacity %
// from the predicted masks, and the same images with the manual %. It
// returns nil when no item has a prediction.
func predictedSeverity(st *experiment.Study, cohort, subset string) (pred, manual []research.SeverityImage, err error) {
	byStem := map[string]research.SeverityImage{}
	for _, im := range st.Severity {
		byStem[research.FileStem(im.File)] = im
	}
	for _, it := range st.Items {
		if it.Cohort != cohort || it.Prob == nil || (subset != "" && it.Subset != subset) {
			continue
		}
		p, err := it.PredictedPct()
		if err != nil {
			return nil, nil, err
		}
		base, ok := byStem[it.Stem]
		if !ok {
			base = research.SeverityImage{File: it.File, Patient: it.Patient, OpacityPct: it.ManualPct}
		}
		manual = append(manual, base)
		base.OpacityPct = p
		pred = append(pred, base)
	}
	return pred, manual, nil
}

// pctCorrelation is Spearman's rho of two aligned lists of percentages.
func pctCorrelation(a, b []research.SeverityImage) (research.Correlation, error) {
	var x, y []float64
	for i := range a {
		if num.Finite(a[i].OpacityPct, b[i].OpacityPct) {
			x = append(x, a[i].OpacityPct)
			y = append(y, b[i].OpacityPct)
		}
	}
	c, err := research.Spearman(x, y)
	c.N = len(x)
	return c, err
}
