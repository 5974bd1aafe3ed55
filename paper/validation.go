package paper

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/covidxray/opacity/analysis"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/num"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

// Cohen et al.'s model's mean absolute errors on their 94 scored images
// (geographic extent 0-8, opacity 0-6): the bar the automatic pipeline's
// severity estimates are set beside.
const (
	CohenModelMAEGeographic = 1.14
	CohenModelMAEOpacity    = 0.78
)

// ValidationSettings returns the settings with which Validation and
// ExternalValidation run, from the notebooks' settings s: s unchanged
// where it names folds (Folds >= 2), otherwise with 5 folds on real data
// and 3 on a synthetic cohort; on real data with the smoke preset the model
// input grows to 128 px (whole X-rays at 64 px lose the lung borders); on
// a synthetic cohort the training is cut to at most 15 epochs, so that
// make reproduce stays within its time; and evaluation every 5 epochs
// (EvalEvery 1 only draws curves nobody reads here). Change the returned
// settings in a notebook for another experiment.
func ValidationSettings(s experiment.Settings) experiment.Settings {
	v := s
	if v.Folds < 2 {
		v.Folds = 5
		if s.Synthetic() {
			v.Folds = 3
		}
	}
	v.Fold = 0
	if s.Synthetic() {
		v.Epochs = min(v.Epochs, 15)
	} else if s.Preset == experiment.PresetSmoke && v.InputSize < 128 {
		v.InputSize = 128
	}
	if v.Preset != experiment.PresetTiny && v.EvalEvery < 5 {
		v.EvalEvery = 5
	}
	return v
}

// Validation cross-validates the automatic pipeline (package analysis:
// lungs found by a model, the input cropped to them, opacity segmented in
// the crop) on the settings' cohort, patient-grouped with v.Folds folds
// (analysis.PipelineCV: both models trained per fold, every image
// analysed from its full-resolution pixels by the fold that did not see
// it), and compares it with the radiologists: the lungs' Dice and IoU
// before and after post-processing, the opacity's IoU under the project's
// conventions, the automatic against the manual opacity percentage
// (Spearman, Bland-Altman), the severity estimates against Cohen et al.'s
// radiologist scores on the scored images, each mapped out of fold (leave
// one patient out), beside the same from the manual masks (the ceiling)
// and Cohen et al.'s model, and the Brixia scores of the images two
// radiologists scored (thresholds fitted leaving one patient out).
// Finished folds are reused. Files: table-validation-lungs,
// table-validation-opacity, table-validation-pct,
// table-validation-severity, table-validation-brixia (when the data
// folder has the Brixia table), figure-validation-pct (scatter and
// Bland-Altman), figure-validation-severity.
func Validation(ctx context.Context, v experiment.Settings, mon experiment.Monitor) (*Result, error) {
	return finishSettings(v, "validation")(validation(ctx, v, mon))
}

func validation(ctx context.Context, v experiment.Settings, mon experiment.Monitor) (*Result, error) {
	cv, err := analysis.PipelineCV(v)
	if err != nil {
		return nil, err
	}
	rep, err := cv.Run(ctx, mon)
	if err != nil && rep == nil {
		return nil, err
	}
	return validationTables(v, cv, rep, err)
}

// ValidationOfFolds is Validation over the folds of the pipeline's
// cross-validation of v that have already run (opacity cv --pipeline, a
// job array), merged as they are, without running any: the tables and
// figures of Validation.
func ValidationOfFolds(v experiment.Settings) (*Result, error) {
	return finishSettings(v, "validation")(validationOfFolds(v))
}

func validationOfFolds(v experiment.Settings) (*Result, error) {
	cv, err := analysis.PipelineCV(v)
	if err != nil {
		return nil, err
	}
	rep, err := cv.Merge()
	if err != nil {
		return nil, err
	}
	if len(rep.Missing) > 0 || len(rep.Failed) > 0 {
		err = fmt.Errorf("folds missing %v, failed %v", rep.Missing, rep.Failed)
	}
	return validationTables(v, cv, rep, err)
}

// validationTables is Validation's result from the merged folds rep of cv;
// incomplete says which folds are missing (nil: none).
func validationTables(v experiment.Settings, cv *experiment.CV, rep *experiment.CVReport, incomplete error) (*Result, error) {
	r := newResult(fmt.Sprintf("The automatic pipeline, %d-fold cross-validation against the radiologists%s", v.Folds, shortTag(v)))
	if incomplete != nil {
		r.note("**Incomplete:** %v; the tables below are over the complete folds %v.", incomplete, rep.Complete)
	}
	r.Facts["cv_folder"] = cv.Dir
	r.Facts["input_size"] = fmt.Sprint(v.InputSize)
	r.Facts["epochs"] = fmt.Sprint(v.Epochs)
	r.Numbers["validation_folds"] = float64(len(rep.Complete))
	r.Numbers["validation_images"] = float64(rep.Images)
	r.note("%d of %d folds, %d out-of-fold images; each fold trained a lung model and an opacity model (%s, %d px, %d epochs, seed %d) on the other folds' patients. Fold results: `%s`.",
		len(rep.Complete), rep.Folds, rep.Images, v.Encoder, v.InputSize, v.Epochs, v.Seed, cv.Dir)

	if err := lungsTable(r, v, rep); err != nil {
		return nil, err
	}
	if err := opacityTable(r, v, rep); err != nil {
		return nil, err
	}
	if err := pctAgreement(r, v, rep.OOF, "validation", "out of fold"); err != nil {
		return nil, err
	}
	if err := severityTable(r, v, rep.OOF); err != nil {
		return nil, err
	}
	if v.Ensemble {
		intervalOutOfFold(r, rep.OOF)
	}
	images, note, err := analysis.BrixiaImagesOf(v.DataDir(), rep.OOF)
	if err != nil {
		return nil, err
	}
	if note != "" {
		r.skip("Brixia: %s.", note)
	} else if _, err := brixiaOutOfFold(r, v, images, "validation", ", each image analysed by the fold that did not see it"); err != nil {
		return nil, err
	}
	return r, nil
}

// intervalOutOfFold checks the ensemble's interval on the out-of-fold
// images of a pipeline analysed with it (Settings.Ensemble), as opacity
// models calibrates a models folder's (level analysis.IntervalLevel), in
// both forms (analysis.IntervalFormsOutOfFold): scaled by the members'
// spread and at a constant width, which says whether the spread tracks the
// error.
func intervalOutOfFold(r *Result, oof []experiment.OOFImage) {
	forms, err := analysis.IntervalFormsOutOfFold(oof, analysis.IntervalLevel)
	if err != nil {
		r.note("No interval checked out of fold: %v.", err)
		return
	}
	for _, c := range []struct {
		key, what string
		check     analysis.IntervalCheck
	}{
		{"validation_interval", "% ± factor × max(SD of the members, floor)", forms.Spread},
		{"validation_interval_constant", "% ± a constant (the members' SD ignored)", forms.Constant},
	} {
		r.Numbers[c.key+"_coverage"], r.Numbers[c.key+"_median_width"] = c.check.Coverage, c.check.MedianWidth
		r.note("Interval, %s, calibrated on the other patients' out-of-fold images (leave one patient out): the %.0f%% interval holds the manual %% for %.1f%% of %d images (target ≥ 80%%); median width %.1f points; fitted on all of them, factor %.2f.",
			c.what, 100*analysis.IntervalLevel, 100*c.check.Coverage, c.check.N, c.check.MedianWidth, c.check.Factor)
	}
}

// values returns the finite values named name of the images.
func values(oof []experiment.OOFImage, name string) []float64 {
	var out []float64
	for _, im := range oof {
		if x, ok := im.Values[name]; ok && num.Finite(x) {
			out = append(out, x)
		}
	}
	return out
}

// fmtMeanCI formats the mean of vals with its 95% interval across them.
func fmtMeanCI(vals []float64) (string, float64) {
	m, ci, err := research.MeanCI95(vals)
	if err != nil {
		if len(vals) == 1 {
			return fmt.Sprintf("%.3f", vals[0]), vals[0]
		}
		return "—", math.NaN()
	}
	return fmt.Sprintf("%.3f (%.3f–%.3f)", m, ci[0], ci[1]), m
}

// foldRange formats the range of a value's per-fold means ("min–max"),
// from the merged CV table's row of its mean.
func foldRange(rep *experiment.CVReport, name string) string {
	for _, m := range rep.Metrics {
		if m.Name == experiment.ValueMetricName(name) && num.Finite(m.Min) {
			return fmt.Sprintf("%.3f–%.3f", m.Min, m.Max)
		}
	}
	return "—"
}

// lungsTable writes the lungs' agreement with the manual lungs.
func lungsTable(r *Result, v experiment.Settings, rep *experiment.CVReport) error {
	t := &table{header: []string{"lungs, automatic vs manual", "images", "mean (95% CI across images)", "fold means (min–max)", "target"}}
	for _, row := range []struct {
		what, value, key, target string
	}{
		{"Dice, post-processed (2 largest parts, holes filled)", analysis.ValueLungsDice, "validation_lungs_dice", "≥ 0.95"},
		{"Dice, raw (threshold 0.5 only)", analysis.ValueLungsDiceRaw, "validation_lungs_dice_raw", ""},
		{"IoU, post-processed", analysis.ValueLungsIoU, "validation_lungs_iou", ""},
		{"IoU, raw", analysis.ValueLungsIoURaw, "validation_lungs_iou_raw", ""},
	} {
		vals := values(rep.OOF, row.value)
		s, m := fmtMeanCI(vals)
		r.Numbers[row.key] = m
		t.add(row.what, fmt.Sprint(len(vals)), s, foldRange(rep, row.value), row.target)
	}
	both := len(values(rep.OOF, analysis.ValueLungsDice))
	if err := r.saveTable(v, "table-validation-lungs", "Lungs found by the lung model on the whole X-ray, against the radiologists' lungs, out of fold"+dataTag(v), t); err != nil {
		return err
	}
	r.note("The lungs are compared on the image's own grid, on the %d out-of-fold images whose manual annotation has both lungs. "+
		"Post-processing keeps the two largest connected parts of the thresholded mask and fills their holes; the raw row is the same prediction without it, which measures what the post-processing does.", both)
	return nil
}

// opacityTable writes the opacity's out-of-fold IoU under the project's
// conventions (the merged CV table's rows of the opacity target).
func opacityTable(r *Result, v experiment.Settings, rep *experiment.CVReport) error {
	t := &table{header: []string{"opacity, automatic vs manual (image grid)", "images", "pooled", "fold mean (95% CI across folds)", "fold min–max"}}
	for _, m := range rep.Metrics {
		if m.Target != datasets.TargetOpacity {
			continue
		}
		ci := "—"
		if num.Finite(m.CI95[0]) {
			ci = fmt.Sprintf("%.3f (%.3f–%.3f)", m.Mean, m.CI95[0], m.CI95[1])
		}
		t.add(m.Name, fmt.Sprint(m.N), fmt.Sprintf("%.3f", m.Pooled), ci, fmt.Sprintf("%.3f–%.3f", m.Min, m.Max))
		switch {
		case strings.HasPrefix(m.Name, "IoU (a)"):
			r.Numbers["validation_opacity_iou_a"] = m.Pooled
		case strings.HasPrefix(m.Name, "IoU (c)"):
			r.Numbers["validation_opacity_iou_c"] = m.Pooled
		case strings.HasPrefix(m.Name, "IoU (d)"):
			r.Numbers["validation_opacity_iou_d"] = m.Pooled
		}
	}
	// "design.md" in the caption is docs/design.md (its IoU conventions).
	return r.saveTable(v, "table-validation-opacity", "Opacity of the automatic pipeline against the radiologists' opacity, out of fold, on the image's own grid (IoU conventions: design.md)"+dataTag(v), t)
}

// pctAgreement compares the automatic and the manual opacity percentages of
// the images: Spearman, mean absolute difference, Bland-Altman; beside
// them, where the images have it, the same for the paper's pipeline with
// the same opacity model (crop to the manual lungs). It writes
// table-ID-pct and figure-ID-pct-scatter and -bland-altman (the automatic
// pipeline's).
func pctAgreement(r *Result, v experiment.Settings, oof []experiment.OOFImage, id, where string) error {
	type pair struct{ x, manual []float64 }
	collect := func(value string) pair {
		var p pair
		for _, im := range oof {
			a, m := im.Values[value], im.Values[analysis.ValueOpacityPctManual]
			if num.Finite(a, m) {
				p.x, p.manual = append(p.x, a), append(p.manual, m)
			}
		}
		return p
	}
	auto := collect(analysis.ValueOpacityPctAuto)
	if len(auto.x) < 3 {
		r.skip("opacity percentage: %d images with both percentages, too few to compare.", len(auto.x))
		return nil
	}
	t := &table{header: []string{"opacity % against the manual masks'", "automatic pipeline (predicted lungs)"}}
	cols := []pair{auto}
	if paperPipe := collect(analysis.ValueOpacityPctManualLungs); len(paperPipe.x) >= 3 {
		t.header = append(t.header, "paper's pipeline (manual lungs), same opacity model")
		cols = append(cols, paperPipe)
	}
	rows := [][]string{{"images"}, {"Spearman ρ (95% CI)"}, {"mean |pipeline − manual| (95% CI), points of %"}, {"Bland-Altman bias (pipeline − manual)"}, {"95% limits of agreement"}}
	var autoSp research.Correlation
	var autoBA research.BlandAltmanStats
	for k, c := range cols {
		sp, err := research.Spearman(c.x, c.manual)
		if err != nil {
			// e.g. a model that finds no opacity anywhere: say so, go on.
			r.note("Spearman ρ of the opacity percentages, %s: %v.", where, err)
			sp = research.Correlation{Rho: math.NaN(), CI95: [2]float64{math.NaN(), math.NaN()}, N: len(c.x)}
		}
		ba, err := research.BlandAltman(c.x, c.manual)
		if err != nil {
			return err
		}
		absDiff := make([]float64, len(c.x))
		for i := range c.x {
			absDiff[i] = math.Abs(c.x[i] - c.manual[i])
		}
		mad, _ := fmtMeanCI(absDiff)
		for i, cell := range []string{fmt.Sprint(len(c.x)), fmt.Sprintf("%.3f (%.3f–%.3f)", sp.Rho, sp.CI95[0], sp.CI95[1]), mad,
			fmt.Sprintf("%.2f", ba.Bias), fmt.Sprintf("%.2f to %.2f", ba.Lower, ba.Upper)} {
			rows[i] = append(rows[i], cell)
		}
		key := id
		if k == 1 {
			key += "_manual_lungs"
		} else {
			autoSp, autoBA = sp, ba
		}
		r.Numbers[key+"_pct_spearman"] = sp.Rho
		r.Numbers[key+"_pct_bias"] = ba.Bias
		r.Numbers[key+"_pct_mad"] = meanOf(absDiff)
	}
	for _, row := range rows {
		t.add(row...)
	}
	if err := r.saveTable(v, "table-"+id+"-pct", "Opacity percentage of the automatic pipeline (its own lungs) against the manual masks', "+where+dataTag(v), t); err != nil {
		return err
	}
	sc, err := plots.ScatterFigure("", []plots.ScatterPanel{{Title: "Opacity %" + shortTag(v) + "\n" + where, XLabel: "manual masks (%)", YLabel: "automatic pipeline (%)", X: auto.manual, Y: auto.x, Corr: autoSp, Percent: true}})
	if err != nil {
		return err
	}
	if err := r.saveFigure(v, "figure-"+id+"-pct-scatter", sc); err != nil {
		return err
	}
	bf, err := plots.BlandAltmanFigure("Automatic pipeline, "+where+shortTag(v), "opacity %", "automatic", "manual", autoBA)
	if err != nil {
		return err
	}
	return r.saveFigure(v, "figure-"+id+"-pct-bland-altman", bf)
}

// severityTable maps the automatic and the manual percentages of the scored
// out-of-fold images onto Cohen et al.'s scores (analysis.ValidateSeverity)
// and writes table-validation-severity and the scatter of the best
// automatic map's estimates.
func severityTable(r *Result, v experiment.Settings, oof []experiment.OOFImage) error {
	return severityTableAs(r, v, oof, "validation-severity", "validation")
}

// severityTableAs is severityTable writing table-ID and figure-ID, its
// numbers under key_severity_*.
func severityTableAs(r *Result, v experiment.Settings, oof []experiment.OOFImage, id, key string) error {
	opt := bootstrap(v)
	auto, n, err := analysis.ValidateSeverity(oof, analysis.ValueOpacityPctAuto, opt)
	if err != nil {
		why := ""
		if v.Synthetic() {
			why = " On the synthetic cohort only the cohen/ images carry scores: the external validation below maps them."
		}
		r.skip("severity estimates: %v: the cross-validated images carry too few of Cohen et al.'s radiologist scores (cohen/covid-severity-scores.csv).%s", err, why)
		return nil
	}
	manual, _, err := analysis.ValidateSeverity(oof, analysis.ValueOpacityPctManual, opt)
	if err != nil {
		return err
	}
	t := &table{header: []string{"percentage from", "map", "images", "extent MAE (95% CI)", "extent Pearson r", "extent Spearman ρ", "opacity MAE (95% CI)", "opacity Pearson r", "opacity Spearman ρ"}}
	agr := func(a research.ScoreAgreement) []string {
		return []string{fmt.Sprintf("%.2f (%.2f–%.2f)", a.MAE, a.MAECI95[0], a.MAECI95[1]), fmt.Sprintf("%.3f", a.Pearson.Rho), fmt.Sprintf("%.3f", a.Spearman.Rho)}
	}
	best := map[string]analysis.SeverityValidation{}
	for _, sv := range append(append([]analysis.SeverityValidation(nil), auto...), manual...) {
		row := append([]string{sv.Source, sv.Method, fmt.Sprint(sv.Geographic.N)}, agr(sv.Geographic)...)
		t.add(append(row, agr(sv.Opacity)...)...)
		b, ok := best[sv.Source]
		if !ok || sv.Geographic.MAE+sv.Opacity.MAE < b.Geographic.MAE+b.Opacity.MAE {
			best[sv.Source] = sv
		}
	}
	t.add("Cohen et al.'s model (their 94 images)", "—", "94", fmt.Sprintf("%.2f", CohenModelMAEGeographic), "", "", fmt.Sprintf("%.2f", CohenModelMAEOpacity), "", "")
	if err := r.saveTable(v, "table-"+id, "Severity estimates against Cohen et al.'s radiologist scores on the scored out-of-fold images, each mapped by a map fitted without its patient"+dataTag(v), t); err != nil {
		return err
	}
	for _, src := range []string{"automatic", "manual"} {
		b, ok := best[src]
		if !ok {
			continue
		}
		r.Numbers[key+"_severity_mae_geographic_"+src] = b.Geographic.MAE
		r.Numbers[key+"_severity_mae_opacity_"+src] = b.Opacity.MAE
		r.Numbers[key+"_severity_spearman_geographic_"+src] = b.GeographicPct.Rho
		r.Numbers[key+"_severity_spearman_opacity_"+src] = b.OpacityPct.Rho
		r.Facts[key+"_severity_map_"+src] = b.Method
	}
	r.Numbers[key+"_severity_images"] = float64(n)
	ba := best["automatic"]
	r.note("On %d scored images. The map from percentage to score is fitted, for each image, on the other patients' images only (leave one patient out): linear, square root (linear in √%%), or isotonic (monotone). "+
		"Best automatic map by the sum of both MAEs: %s (extent MAE %.2f against Cohen et al.'s 1.14, opacity MAE %.2f against 0.78). The manual rows are the ceiling: the same maps on the radiologists' own masks. "+
		"Spearman ρ of the automatic percentage itself with the scores: extent %.3f, opacity %.3f.",
		n, ba.Method, ba.Geographic.MAE, ba.Opacity.MAE, ba.GeographicPct.Rho, ba.OpacityPct.Rho)
	return severityFigure(r, v, ba, "figure-"+id)
}

// severityFigure draws the leave-one-patient-out estimates of a severity
// validation against the radiologists' scores.
func severityFigure(r *Result, v experiment.Settings, sv analysis.SeverityValidation, name string) error {
	var panels []plots.ScatterPanel
	for _, sc := range []struct {
		name       string
		scores, es []float64
		agr        research.ScoreAgreement
	}{{"geographic extent (0–8)", sv.GeographicScores, sv.GeographicEst, sv.Geographic}, {"opacity (0–6)", sv.OpacityScores, sv.OpacityEst, sv.Opacity}} {
		panels = append(panels, plots.ScatterPanel{Title: "Cohen et al.'s " + sc.name, XLabel: "radiologists' mean score",
			YLabel: "estimate from the " + sv.Source + " % (" + sv.Method + " map)", X: sc.scores, Y: sc.es, Corr: sc.agr.Spearman})
	}
	f, err := plots.ScatterFigure("Severity estimated out of fold"+shortTag(v), panels)
	if err != nil {
		return err
	}
	return r.saveFigure(v, name, f)
}

// ExternalSettings returns the settings of the models that
// ExternalValidation trains: v without folds, trained on every image of its
// cohort (TestFraction 0).
func ExternalSettings(v experiment.Settings) experiment.Settings {
	e := v
	e.Folds, e.Fold, e.TestFraction = 0, 0, 0
	return e
}

// ExternalValidation trains the automatic pipeline's two models on every
// image of the settings' cohort (ExternalSettings; analysis.TrainModels into
// the models folder of analysis.DefaultModelsDir) and applies them to the
// X-rays of cohen/, which the paper's authors annotated and the models
// never saw: the lungs' IoU and Dice against the paper's lung polygons, and
// the automatic against the paper's manual opacity percentage (Spearman,
// mean absolute difference, Bland-Altman). Needs cohen/ with images;
// skipped otherwise. Files: table-external, table-external-pct,
// figure-external-pct-scatter, figure-external-pct-bland-altman.
func ExternalValidation(ctx context.Context, v experiment.Settings, mon experiment.Monitor) (*Result, error) {
	return finishSettings(v, "external")(externalValidation(ctx, v, mon))
}

func externalValidation(ctx context.Context, v experiment.Settings, mon experiment.Monitor) (*Result, error) {
	e := ExternalSettings(v)
	r := newResult("The automatic pipeline on cohen/, the paper's external validation images" + shortTag(e))
	cohen, err := datasets.LoadCohort(e.DataDir(), datasets.CohortCohen, datasets.LoadOptions{Images: true})
	if err != nil {
		r.skip("cohen/ could not be read: %v.", err)
		return r, nil
	}
	var samples []*datasets.Sample
	for _, sm := range cohen.Samples {
		if sm.HasImage() && sm.Lung != nil {
			samples = append(samples, sm)
		}
	}
	if len(samples) == 0 {
		r.skip("no image of cohen/ has pixels and lungs in %s.", e.DataDir())
		return r, nil
	}
	dir, err := analysis.DefaultModelsDir(e)
	if err != nil {
		return nil, err
	}
	m, err := analysis.TrainModels(ctx, e, dir, mon)
	if err != nil {
		return nil, err
	}
	r.Facts["models"] = dir
	r.note("Models (`%s`): lungs trained on %d images of %s, opacity on %d; %s, %d px, %d epochs, seed %d. None of the images below was trained on.",
		dir, m.Record.Lungs.Images, m.Record.Lungs.Cohort, m.Record.Opacity.Images, e.Encoder, e.InputSize, e.Epochs, e.Seed)
	if sv := m.Record.Severity; sv != nil {
		st := &table{header: []string{"Cohen et al.'s score", "map", "images", "MAE (95% CI)", "Pearson r", "Spearman ρ", "Cohen et al.'s model MAE"}}
		for _, row := range []struct {
			name string
			fit  research.ScoreMap
			agr  research.ScoreAgreement
			bar  float64
			key  string
		}{{"geographic extent (0–8)", sv.Geographic, sv.GeographicOOF, CohenModelMAEGeographic, "geographic"}, {"opacity (0–6)", sv.Opacity, sv.OpacityOOF, CohenModelMAEOpacity, "opacity"}} {
			st.add(row.name, row.fit.Method, fmt.Sprint(row.agr.N), fmt.Sprintf("%.2f (%.2f–%.2f)", row.agr.MAE, row.agr.MAECI95[0], row.agr.MAECI95[1]),
				fmt.Sprintf("%.3f", row.agr.Pearson.Rho), fmt.Sprintf("%.3f", row.agr.Spearman.Rho), fmt.Sprintf("%.2f", row.bar))
			r.Numbers["external_severity_mae_"+row.key] = row.agr.MAE
		}
		if err := r.saveTable(e, "table-external-severity", "The models' severity maps on the scored images they did not train on, each image estimated by a map fitted without its patient"+dataTag(e), st); err != nil {
			return nil, err
		}
	} else if m.Record.Note != "" {
		r.note("%s.", m.Record.Note)
	}
	t := &table{header: []string{"image", "lung IoU", "lung Dice", "opacity % automatic", "opacity % manual (paper)", "flags"}}
	var ious, dices []float64
	var oof []experiment.OOFImage
	for _, sm := range samples {
		res, err := m.Analyze(sm.Image)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sm.File, err)
		}
		iou, _ := research.MaskIoU(res.Lungs.Pix, nil, sm.Lung.Pix, nil, math.NaN())
		dice, _ := research.Dice(res.Lungs.Pix, sm.Lung.Pix)
		manual := math.NaN()
		if sm.Opacity != nil {
			manual, _ = research.OpacityPercent(sm.Lung, sm.Opacity)
		}
		ious, dices = append(ious, iou), append(dices, dice)
		withLungs, err := m.AnalyzeWithLungs(sm.Image, sm.Lung)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sm.File, err)
		}
		oof = append(oof, experiment.OOFImage{Image: sm.Stem, Patient: sm.Patient, Values: map[string]float64{
			analysis.ValueOpacityPctAuto: res.OpacityPct, analysis.ValueOpacityPctManual: manual,
			analysis.ValueOpacityPctManualLungs: withLungs.OpacityPct}})
		t.add(shortStem(sm.Stem), fmt.Sprintf("%.3f", iou), fmt.Sprintf("%.3f", dice), fmt.Sprintf("%.1f", res.OpacityPct), fmt.Sprintf("%.1f", manual), strings.Join(res.Flags, "; "))
	}
	sort.Slice(t.rows, func(a, b int) bool { return t.rows[a][0] < t.rows[b][0] })
	is, im := fmtMeanCI(ious)
	ds, dm := fmtMeanCI(dices)
	t.add(fmt.Sprintf("mean (95%% CI), %d images", len(samples)), is, ds, "", "", "")
	r.Numbers["external_images"] = float64(len(samples))
	r.Numbers["external_lungs_iou"] = im
	r.Numbers["external_lungs_dice"] = dm
	if err := r.saveTable(e, "table-external", "The automatic pipeline on cohen/ against the paper's polygons"+dataTag(e), t); err != nil {
		return nil, err
	}
	if err := pctAgreement(r, e, oof, "external", "on cohen/"); err != nil {
		return nil, err
	}
	return r, nil
}
