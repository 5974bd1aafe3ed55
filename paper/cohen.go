package paper

import (
	"errors"
	"fmt"
	"github.com/covidxray/opacity/experiment"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

// CohenModelScoreColumn is the score column of the CSV of Cohen et al.'s
// model outputs on the covid-ar images that Figure 4 reads
// (datasets.CohenModelScoresFile in the data folder, or
// $OPACITY_COHEN_SCORES). For example:
//
//	filename,opacity_score
//	COVID-19-AR-16406488_01-08-2012-XR.json,2.81
const CohenModelScoreColumn = "opacity_score"

// Figure4 is the paper's Figure 4: the ROC of the opacity score of Cohen et
// al.'s model for ICU admission and mortality, beside the opacity % (manual
// masks), with paired DeLong tests, per image and per patient. The scores
// come from a user-supplied CSV (datasets.CohenModelScoresFile): running Cohen et
// al.'s model needs its weights, which this repository does not ship. When
// the CSV is absent the result says so and nothing is drawn. Files: figure4,
// table-figure4.
func Figure4(st *experiment.Study) (*Result, error) {
	return finish(st, "figure4")(figure4(st))
}

func figure4(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Figure 4: Cohen et al.'s opacity score as a predictor of ICU admission and mortality")
	path := s.CohenScoresPath()
	other, err := research.ReadScoreCSV(path, CohenModelScoreColumn)
	if errors.Is(err, fs.ErrNotExist) {
		env, _ := experiment.SettingByField("CohenModelScores")
		r.skip("Cohen et al.'s model scores are not available (no %s). Figure 4 needs the output of their severity model (torchxrayvision) on the covid-ar images, "+
			"which this repository cannot compute offline (the model's weights are not shipped). Write it as CSV with columns `filename,%s` "+
			"(one row per covid-ar image, the file name of its annotation or image) as %s or point `%s` at it, and rerun this notebook.",
			datasets.CohenModelScoresFile, CohenModelScoreColumn, path, env.Env)
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Figure 4: %w", err)
	}
	if st.Clinical == nil {
		r.skip("no clinical table (%v): no outcome to predict.", st.ClinicalErr)
		return r, nil
	}
	if st.Synthetic {
		r.Facts["cohen_model_scores"] = "SYNTHETIC stand-in"
		r.note("**SYNTHETIC:** the Cohen model scores here are the synthetic cohort's stand-in (%s: a noisy increasing function of each image's opacity %%, "+
			"see phantom.Write), not the output of Cohen et al.'s model; they exercise the figure and its paired DeLong tests.", filepath.Base(path))
	}
	name := "Cohen model " + CohenModelScoreColumn
	sc, err := research.CompareScores(st.Severity, name, other, Aggregate, bootstrap(s))
	if err != nil {
		r.skip("the comparison with %s could not be computed: %v", path, err)
		return r, nil
	}
	t := scoreTable("Cohen score", sc)
	r.Numbers["auc_cohen_image_icu"] = sc.ImageICU.Other.AUC
	r.Numbers["auc_cohen_image_mortality"] = sc.ImageMortality.Other.AUC
	if err := r.saveTable(s, "table-figure4", fmt.Sprintf("Figure 4: Cohen et al.'s model score vs opacity %% (manual masks), %d images with both%s", sc.Images, dataTag(s)), t); err != nil {
		return nil, err
	}
	f, err := scoreFigure("Cohen et al.'s opacity score"+dataTag(s), "Cohen model score", sc)
	if err != nil {
		return nil, err
	}
	if err := r.saveFigure(s, "figure4", f); err != nil {
		return nil, err
	}
	if len(sc.Missing) > 0 {
		r.note("%d covid-ar images have no Cohen model score and are left out: %v", len(sc.Missing), limit(sc.Missing, 5))
	}
	return r, nil
}

// cohenManualAxis is the axis of the opacity % of cohen/'s manual masks in
// CohenCorrelation's scatter.
const cohenManualAxis = "opacity % (paper's manual masks)"

// scoreTable is Figure 4's table (table-figure4): the opacity % (manual
// masks) beside another score, named label, per image and per patient,
// with the paired DeLong tests of sc.
func scoreTable(label string, sc research.ScoreComparison) *table {
	t := &table{header: []string{"level", "outcome", "images", "AUC opacity % (manual)", "95% CI", "AUC " + label, "95% CI", "difference (95% CI)", "paired DeLong p"}}
	patient := levelName(research.LevelPatient, sc.Aggregate)
	for _, row := range []struct {
		level, outcome string
		c              research.PairedComparison
	}{
		{research.LevelImage, OutcomeICU, sc.ImageICU}, {research.LevelImage, OutcomeMortality, sc.ImageMortality},
		{patient, OutcomeICU, sc.PatientICU}, {patient, OutcomeMortality, sc.PatientMortality},
	} {
		c := row.c
		t.add(row.level, row.outcome, fmt.Sprint(c.Opacity.NPos+c.Opacity.NNeg), fmt.Sprintf("%.3f", c.Opacity.AUC), fmtCI(c.Opacity.CI95DeLong),
			fmt.Sprintf("%.3f", c.Other.AUC), fmtCI(c.Other.CI95DeLong),
			fmt.Sprintf("%+.3f (%.3f to %.3f)", c.Paired.Diff, c.Paired.CI95[0], c.Paired.CI95[1]), fmt.Sprintf("%.3g", c.Paired.P))
	}
	return t
}

// scoreFigure is Figure 4's figure: per image, the ROC of another score
// (its curve named label) beside the opacity % (manual masks, dashed) for
// ICU admission and mortality, with the paired DeLong p of sc.
func scoreFigure(title, label string, sc research.ScoreComparison) (*plots.Figure, error) {
	panel := func(title string, c research.PairedComparison) plots.ROCPanel {
		p := plots.ROCPanel{Title: title, Note: fmt.Sprintf("per image, paired DeLong p = %.2g", c.Paired.P), Curves: []plots.ROCCurve{
			plots.CurveFromSummary(label, c.Other),
			plots.CurveFromSummary("opacity % (manual)", c.Opacity),
		}}
		p.Curves[1].Dashed = true
		return p
	}
	return plots.ROCFigure(title, []plots.ROCPanel{panel(OutcomeICU, sc.ImageICU), panel(OutcomeMortality, sc.ImageMortality)})
}

// cohenScatter is CohenCorrelation's figure of one source: the opacity %
// of the images of cohort (from the masks the axis xlabel names) against
// Cohen et al.'s radiologist scores, geographic extent and opacity degree,
// with Spearman's rho of c. tag marks synthetic data.
func cohenScatter(cohort, xlabel, tag string, c research.CohenComparison) (*plots.Figure, error) {
	var x, geo, op []float64
	for _, p := range c.Pairs {
		x = append(x, p.OpacityPct)
		geo = append(geo, p.GeographicMean)
		op = append(op, p.OpacityMean)
	}
	return plots.ScatterFigure(fmt.Sprintf("%s: opacity %% vs radiologists' severity scores%s", cohort, tag), []plots.ScatterPanel{
		{Title: "Geographic extent", XLabel: xlabel, YLabel: "geographic_mean (0–8)", X: x, Y: geo, Corr: c.SpearmanGeographic},
		{Title: "Opacity degree", XLabel: xlabel, YLabel: "opacity_mean (0–6)", X: x, Y: op, Corr: c.SpearmanOpacity},
	})
}

// CohenCorrelation correlates the opacity percentage with Cohen et al.'s
// radiologist severity scores (geographic extent 0–8, opacity degree 0–6,
// mean of three radiologists): on cohen/ (the paper's validation images)
// from the manual masks and, after Study.EnsureModel, from the predicted
// masks; and on cxr-seg/ from the radiologists' masks when it is present.
// Spearman's rho with a Fisher-z 95% interval and a scatter plot each.
// Files: figure-cohen-scores-manual, figure-cohen-scores-predicted,
// figure-cxrseg-cohen-scores, table-cohen-scores.
func CohenCorrelation(st *experiment.Study) (*Result, error) {
	return finish(st, "cohen_scores")(cohenCorrelation(st))
}

func cohenCorrelation(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Opacity % vs Cohen et al.'s radiologist severity scores")
	if st.CohenScores == nil {
		r.skip("no Cohen severity scores (%v).", st.CohenScoresErr)
		return r, nil
	}
	t := &table{header: []string{"images", "opacity % from", "n", "Spearman ρ geographic extent", "95% CI", "Spearman ρ opacity degree", "95% CI"}}
	type source struct {
		name, masks, axis, file, key string
		pct                          map[string]float64
	}
	sources := []source{{"cohen/ (paper's validation)", "manual masks (paper's authors)", cohenManualAxis, "figure-cohen-scores-manual", "cohen_manual", st.ManualPct[datasets.CohortCohen]}}
	pred := map[string]float64{}
	for _, it := range st.Items {
		if it.Cohort == datasets.CohortCohen && it.Prob != nil {
			p, err := it.PredictedPct()
			if err != nil {
				return nil, err
			}
			pred[it.Stem] = p
		}
	}
	if len(pred) > 0 {
		sources = append(sources, source{"cohen/ (paper's validation)", "predicted masks (" + st.TrainCohort + " model)", "opacity % (predicted masks)", "figure-cohen-scores-predicted", "cohen_predicted", pred})
	} else {
		r.skip("cohen/, predicted masks: no prediction of the model on cohen/ images (no model, or Study.EnsureModel not called before CohenCorrelation).")
	}
	if len(st.ManualPct[datasets.CohortCXRSeg]) > 0 {
		sources = append(sources, source{"cxr-seg/ (not in the paper)", "manual masks (radiologists)", "opacity % (radiologists' masks)", "figure-cxrseg-cohen-scores", "cxrseg_manual", st.ManualPct[datasets.CohortCXRSeg]})
	} else {
		r.skip("cxr-seg/: not in this data folder (it is part of the real data), so its correlation with Cohen's scores is not computed.")
	}
	for _, src := range sources {
		if len(src.pct) == 0 {
			r.skip("%s: no image with an opacity %% from %s.", src.name, src.masks)
			continue
		}
		c, err := research.CompareCohenScores(src.pct, st.CohenScores)
		if err != nil {
			r.skip("%s, %s: %v (%d images with both a percentage and a score)", src.name, src.masks, err, c.N)
			continue
		}
		t.add(src.name, src.masks, fmt.Sprint(c.N), fmt.Sprintf("%.3f", c.SpearmanGeographic.Rho), fmtCI(c.SpearmanGeographic.CI95),
			fmt.Sprintf("%.3f", c.SpearmanOpacity.Rho), fmtCI(c.SpearmanOpacity.CI95))
		r.Numbers["spearman_"+src.key+"_geographic"] = c.SpearmanGeographic.Rho
		r.Numbers["spearman_"+src.key+"_opacity"] = c.SpearmanOpacity.Rho
		r.Numbers["n_"+src.key] = float64(c.N)
		f, err := cohenScatter(strings.Fields(src.name)[0], src.axis, shortTag(s), c)
		if err != nil {
			return nil, err
		}
		if err := r.saveFigure(s, src.file, f); err != nil {
			return nil, err
		}
		if len(c.Unscored) > 0 {
			sort.Strings(c.Unscored)
			r.note("%s: %d images without a Cohen score are left out.", src.name, len(c.Unscored))
		}
	}
	if len(t.rows) > 0 {
		if err := r.saveTable(s, "table-cohen-scores", "Spearman correlation of the opacity % with Cohen et al.'s radiologist scores (mean of 3 raters)"+dataTag(s), t); err != nil {
			return nil, err
		}
	}
	r.note("95%% intervals: Fisher z with variance 1.06/(n−3) (Fieller, Hartley and Pearson 1957). The paper reports no such correlation; it uses Cohen et al.'s collection only as validation images.")
	return r, nil
}
