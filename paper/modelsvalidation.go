package paper

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/covidxray/opacity/analysis"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
)

// ModelsValidation validates a models folder (made by opacity models) on
// the real data of v's data folder, with images the models never saw:
//
//   - covid-qu-ex: the held-out side of the models' split (the lung
//     model's testing images): lung Dice, infection Dice and IoU on the
//     COVID-19 images, detection of infection on the others, the opacity %
//     against the infection masks', and the interval's coverage;
//   - cxr-seg (as an external test, its images the models did not train
//     on): lung Dice, opacity IoU, the automatic against the radiologists'
//     % (Spearman, Bland-Altman) beside the paper's pipeline with the same
//     opacity model, Cohen et al.'s severity scores estimated out of fold,
//     the Brixia scores against each of two radiologists, the interval's
//     coverage;
//   - cohen/ (external): lung IoU against the paper's polygons and the
//     automatic against the paper's %.
//
// Files: table-models-*, figure-models-*-pct-*, and each part's per-image
// values (images-models-quex, -cxrseg, -cohen.csv, as oof.csv). A part whose images are
// missing is skipped with the reason, as is the whole without a models
// folder ("") or on synthetic data.
func ModelsValidation(modelsDir string, v experiment.Settings) (*Result, error) {
	return finishSettings(v, "models-validation")(modelsValidation(modelsDir, v))
}

func modelsValidation(modelsDir string, v experiment.Settings) (*Result, error) {
	r := newResult("The models folder " + filepath.Base(modelsDir) + " on images it never saw" + shortTag(v))
	if modelsDir == "" {
		r.skip("no models folder named (OPACITY_MODELS in the notebooks): make one with `opacity models --data DATA --cohort covid-qu-ex --test-fraction 0.1` (REPRODUCE.md gives the recipe).")
		return r, nil
	}
	if v.Synthetic() {
		r.skip("the data folder is synthetic: this validation needs the real data (make data).")
		return r, nil
	}
	m, err := analysis.OpenModels(modelsDir, v.Backend)
	if err != nil {
		return nil, err
	}
	data := v.DataDir()
	run, err := experiment.OpenRun(filepath.Join(modelsDir, analysis.LungsDir))
	if err != nil {
		return nil, err
	}
	lungsRun := run.Record
	rec := m.Record
	r.Facts["models"] = modelsDir
	r.Facts["models_commit"] = rec.Commit
	r.note("Models `%s` (commit %s): lungs %s, %d px, %d epochs, trained on %d images of %s; opacity %s, %d px, %d epochs, on %d images. Ensemble: %d members (test-time augmentations: %s).",
		modelsDir, rec.Commit, modelName(rec.Lungs.Settings), rec.Lungs.Settings.InputSize, rec.Lungs.Settings.Epochs, rec.Lungs.Images, rec.Lungs.Cohort,
		modelName(rec.Opacity.Settings), rec.Opacity.Settings.InputSize, rec.Opacity.Settings.Epochs, rec.Opacity.Images, len(rec.Members), memberNames(rec.Members))
	// Seen: both models' training images, and those of the weights they
	// started from.
	trained := lungsRun.Seen()
	opacityRun, err := experiment.OpenRun(filepath.Join(modelsDir, analysis.OpacityDir))
	if err != nil {
		return nil, err
	}
	for k := range opacityRun.Record.Seen() {
		trained[k] = true
	}
	for _, rr := range []experiment.RunRecord{lungsRun, opacityRun.Record} {
		if st := rr.Start; st != nil {
			r.note("The %s model was fine-tuned from %s (%.12s…), which had trained on %d images; they count as seen.",
				strings.Join(rr.Settings.Targets, "+"), st.Path, st.SHA256, len(st.TrainImages))
			if !st.Known {
				r.note("**Caution:** the %s model's starting weights carry no run record: the images they were trained on are unknown and may be among those scored below.", strings.Join(rr.Settings.Targets, "+"))
			}
		}
	}
	scores, _ := datasets.ReadSeverityScores(filepath.Join(data, datasets.CohortCohen, datasets.SeverityScoresFile))

	// covid-qu-ex, held out.
	if lungsRun.Split.Cohort == datasets.CohortCovidQUEx || lungsRun.Split.Cohort == experiment.CohortAll {
		want := map[string]bool{}
		for _, s := range lungsRun.Split.TestImages {
			if !trained[s] {
				want[datasets.CohortCovidQUEx+"/"+s] = true
			}
		}
		oof, err := m.EvaluateImages(data, want, scores, false)
		if err != nil {
			return nil, err
		}
		if err := r.saveImages(v, "images-models-quex", oof); err != nil {
			return nil, err
		}
		if err := quexTables(r, v, rec, oof); err != nil {
			return nil, err
		}
	} else {
		r.skip("covid-qu-ex: the models were not trained on a split of covid-qu-ex (cohort %s).", lungsRun.Split.Cohort)
	}

	// cxr-seg, external.
	want, seen := map[string]bool{}, 0
	if _, err := datasets.ScanCohort(data, datasets.CohortCXRSeg, datasets.LoadOptions{}, func(sm *datasets.Sample) error {
		seen++
		if !trained[sm.Stem] {
			want[datasets.CohortCXRSeg+"/"+sm.Stem] = true
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if len(want) < 3 {
		r.skip("cxr-seg: %d of its %d images were not trained on: too few for an external test.", len(want), seen)
	} else {
		oof, err := m.EvaluateImages(data, want, scores, true)
		if err != nil {
			return nil, err
		}
		if err := r.saveImages(v, "images-models-cxrseg", oof); err != nil {
			return nil, err
		}
		if err := externalTables(r, v, rec, oof, "models-cxrseg", "cxr-seg, external"); err != nil {
			return nil, err
		}
		if err := severityTableAs(r, v, oof, "models-cxrseg-severity", "models_cxrseg"); err != nil {
			return nil, err
		}
		if err := ensembleTable(r, v, m, want, scores, oof); err != nil {
			return nil, err
		}
		if err := brixiaTable(r, v, m, trained); err != nil {
			return nil, err
		}
	}

	// cohen/, external.
	want = map[string]bool{}
	if _, err := datasets.ScanCohort(data, datasets.CohortCohen, datasets.LoadOptions{}, func(sm *datasets.Sample) error {
		if !trained[sm.Stem] && sm.Lung != nil && !sm.Lung.Empty() {
			want[datasets.CohortCohen+"/"+sm.Stem] = true
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if len(want) < 3 {
		r.skip("cohen/: %d annotated images with lungs not trained on: too few.", len(want))
	} else {
		oof, err := m.EvaluateImages(data, want, scores, true)
		if err != nil {
			return nil, err
		}
		if err := r.saveImages(v, "images-models-cohen", oof); err != nil {
			return nil, err
		}
		if err := externalTables(r, v, rec, oof, "models-cohen", "cohen/, external"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func modelName(s experiment.Settings) string {
	name := s.Encoder + " U-Net"
	if s.Tiny {
		name += ", tiny width"
	}
	if l := s.ModelConfig().Loss; l != "" {
		name += ", loss " + l
	}
	return name
}

func memberNames(ms []analysis.Member) string {
	if len(ms) == 0 {
		return "none"
	}
	names := make([]string, len(ms))
	for i, mb := range ms {
		names[i] = mb.Name
	}
	return strings.Join(names, ", ")
}

// counts returns the opacity counts of the images that pass keep.
func counts(oof []experiment.OOFImage, keep func(experiment.OOFImage) bool) []research.ImageCounts {
	var out []research.ImageCounts
	for _, im := range oof {
		if c, ok := im.Counts[datasets.TargetOpacity]; ok && keep(im) {
			out = append(out, c)
		}
	}
	return out
}

// quexTables writes the held-out covid-qu-ex tables.
func quexTables(r *Result, v experiment.Settings, rec analysis.ModelsRecord, oof []experiment.OOFImage) error {
	covid := func(im experiment.OOFImage) bool { return im.Values[analysis.ValueCOVID] == 1 }
	other := func(class float64) func(experiment.OOFImage) bool {
		return func(im experiment.OOFImage) bool {
			return im.Values[analysis.ValueCOVID] == 0 && im.Values[analysis.ValueOpacityLabelled] == class
		}
	}
	t := &table{header: []string{"held-out covid-qu-ex", "images", "value (95% CI across images)", "target"}}
	lungDice := values(oof, analysis.ValueLungsDice)
	s, mean := fmtMeanCI(lungDice)
	r.Numbers["models_quex_lungs_dice"] = mean
	t.add("lung Dice, all classes", fmt.Sprint(len(lungDice)), s, "≥ 0.96")
	var dice, iou []float64
	var infected []research.ImageCounts
	for _, c := range counts(oof, covid) {
		if c.Truth > 0 {
			dice, iou = append(dice, c.F1()), append(iou, c.IoU())
			infected = append(infected, c)
		}
	}
	s, mean = fmtMeanCI(dice)
	r.Numbers["models_quex_infection_dice"] = mean
	t.add("infection Dice per image, COVID-19 images", fmt.Sprint(len(dice)), s, "≥ 0.80")
	s, mean = fmtMeanCI(iou)
	r.Numbers["models_quex_infection_iou"] = mean
	t.add("infection IoU per image, COVID-19 images", fmt.Sprint(len(iou)), s, "")
	// The same images' pixels pooled (convention b): each image weighs by
	// its extent, so the small infections that pull the per-image mean
	// down count little.
	if sum, err := research.Summarize(infected, research.DefaultMetricOptions()); err == nil && len(infected) > 0 {
		r.Numbers["models_quex_infection_dice_pooled"] = sum.HardPooledF1
		r.Numbers["models_quex_infection_iou_pooled"] = sum.HardPooledIoU
		t.add("infection Dice / IoU pooled over those images' pixels", fmt.Sprint(len(infected)), fmt.Sprintf("%.3f / %.3f", sum.HardPooledF1, sum.HardPooledIoU), "")
	}
	for _, cl := range []struct {
		name  string
		keep  func(experiment.OOFImage) bool
		key   string
		minPx int
	}{{"Normal", other(1), "normal", 1}, {"Non-COVID (pneumonia, opacities not drawn)", other(0), "noncovid", 1}} {
		cs := counts(oof, cl.keep)
		called := 0
		var pct []float64
		for _, c := range cs {
			if c.Pred >= cl.minPx {
				called++
			}
		}
		for _, im := range oof {
			if cl.keep(im) {
				pct = append(pct, im.Values[analysis.ValueOpacityPctAuto])
			}
		}
		if len(cs) == 0 {
			continue
		}
		share := float64(called) / float64(len(cs))
		r.Numbers["models_quex_"+cl.key+"_called"] = share
		ps, _ := fmtMeanCI(pct)
		t.add(cl.name+": share with any predicted infection; mean predicted %", fmt.Sprint(len(cs)), fmt.Sprintf("%.3f; %s", share, ps), "")
	}
	// How the opacity % separates COVID-19 from Normal images.
	var sc []float64
	var lab []bool
	for _, im := range oof {
		if p := im.Values[analysis.ValueOpacityPctAuto]; finite(p) && (covid(im) || other(1)(im)) {
			sc, lab = append(sc, p), append(lab, covid(im))
		}
	}
	if d, err := research.DeLong(sc, lab); err == nil {
		r.Numbers["models_quex_auc_covid_normal"] = d.AUC
		t.add("AUC of the opacity %: COVID-19 vs Normal", fmt.Sprint(len(sc)), fmt.Sprintf("%.3f (%.3f–%.3f)", d.AUC, d.CI95[0], d.CI95[1]), "")
	}
	if err := r.saveTable(v, "table-models-quex", "The models on the held-out covid-qu-ex images (near-duplicate groups kept on one side), automatic lungs and infection against the dataset's masks"+dataTag(v), t); err != nil {
		return err
	}
	var cov []experiment.OOFImage
	for _, im := range oof {
		if covid(im) {
			cov = append(cov, im)
		}
	}
	if err := pctAgreement(r, v, cov, "models-quex", "held-out covid-qu-ex COVID-19"); err != nil {
		return err
	}
	var labelled []experiment.OOFImage
	for _, im := range oof {
		if im.Values[analysis.ValueOpacityLabelled] == 1 {
			labelled = append(labelled, im)
		}
	}
	return coverageNote(r, rec, labelled, "models_quex", "the held-out covid-qu-ex COVID-19 and Normal images (with cohen/, the calibration set itself)")
}

// externalTables writes the lungs, opacity and percentage tables of an
// external set.
func externalTables(r *Result, v experiment.Settings, rec analysis.ModelsRecord, oof []experiment.OOFImage, id, where string) error {
	key := strings.ReplaceAll(id, "-", "_")
	t := &table{header: []string{where, "images", "value (95% CI across images)"}}
	for _, row := range []struct{ name, value string }{
		{"lung Dice (images with both lungs drawn)", analysis.ValueLungsDice},
		{"lung IoU", analysis.ValueLungsIoU},
	} {
		vals := values(oof, row.value)
		s, mean := fmtMeanCI(vals)
		r.Numbers[key+"_"+row.value] = mean
		t.add(row.name, fmt.Sprint(len(vals)), s)
	}
	sum, err := research.Summarize(counts(oof, func(experiment.OOFImage) bool { return true }), research.DefaultMetricOptions())
	if err != nil {
		return err
	}
	r.Numbers[key+"_opacity_iou_a"], r.Numbers[key+"_opacity_iou_c"], r.Numbers[key+"_opacity_iou_d"] = sum.SoftPooledIoU, sum.PerImageIoU, sum.NonEmptyIoU
	t.add("opacity IoU (a) pooled", fmt.Sprint(sum.Images), fmt.Sprintf("%.3f", sum.SoftPooledIoU))
	t.add("opacity IoU (c) per image, empty-empty = 1", fmt.Sprint(sum.Images), fmt.Sprintf("%.3f", sum.PerImageIoU))
	t.add("opacity IoU (d) per image, opaque truth only", fmt.Sprint(sum.NonEmptyN), fmt.Sprintf("%.3f", sum.NonEmptyIoU))
	if err := r.saveTable(v, "table-"+id, "The models on "+where+": lungs and opacity against the manual masks, on the image's own grid"+dataTag(v), t); err != nil {
		return err
	}
	if err := pctAgreement(r, v, oof, id, where); err != nil {
		return err
	}
	return coverageNote(r, rec, oof, key, where)
}

// ensembleTable compares, on the same images, the ensemble with the
// single model (the image as it is, no test-time augmentation): what the
// ensemble costs or buys in accuracy.
func ensembleTable(r *Result, v experiment.Settings, m *analysis.Models, want map[string]bool, scores map[string]datasets.SeverityScore, oof []experiment.OOFImage) error {
	one := m.Single()
	single, err := one.EvaluateImages(v.DataDir(), want, scores, false)
	if err != nil {
		return err
	}
	t := &table{header: []string{"cxr-seg, never trained on", "ensemble (" + fmt.Sprint(len(m.Record.Members)) + " members)", "single model"}}
	row := func(name string, f func([]experiment.OOFImage) (float64, string)) {
		a, as := f(oof)
		b, bs := f(single)
		key := strings.NewReplacer(" ", "_", "'", "", "(", "", ")", "").Replace(name)
		r.Numbers["models_cxrseg_ensemble_"+key], r.Numbers["models_cxrseg_single_"+key] = a, b
		t.add(name, as, bs)
	}
	row("lung Dice", func(o []experiment.OOFImage) (float64, string) {
		s, m := fmtMeanCI(values(o, analysis.ValueLungsDice))
		return m, s
	})
	row("opacity IoU (d)", func(o []experiment.OOFImage) (float64, string) {
		sum, err := research.Summarize(counts(o, func(experiment.OOFImage) bool { return true }), research.DefaultMetricOptions())
		if err != nil {
			return math.NaN(), "—"
		}
		return sum.NonEmptyIoU, fmt.Sprintf("%.3f", sum.NonEmptyIoU)
	})
	row("Spearman rho of the %", func(o []experiment.OOFImage) (float64, string) {
		var a, b []float64
		for _, im := range o {
			if x, y := im.Values[analysis.ValueOpacityPctAuto], im.Values[analysis.ValueOpacityPctManual]; finite(x) && finite(y) {
				a, b = append(a, x), append(b, y)
			}
		}
		sp, err := research.Spearman(a, b)
		if err != nil {
			return math.NaN(), "—"
		}
		return sp.Rho, fmt.Sprintf("%.3f (%.3f–%.3f)", sp.Rho, sp.CI95[0], sp.CI95[1])
	})
	row("mean abs difference of the %", func(o []experiment.OOFImage) (float64, string) {
		var d []float64
		for _, im := range o {
			if x, y := im.Values[analysis.ValueOpacityPctAuto], im.Values[analysis.ValueOpacityPctManual]; finite(x) && finite(y) {
				d = append(d, math.Abs(x-y))
			}
		}
		s, m := fmtMeanCI(d)
		return m, s
	})
	return r.saveTable(v, "table-models-ensemble", "The ensemble of test-time augmentations against the single model on the same images"+dataTag(v), t)
}

// coverageNote records the share of images whose manual percentage lies in
// the reported interval.
func coverageNote(r *Result, rec analysis.ModelsRecord, oof []experiment.OOFImage, key, where string) error {
	if rec.Interval == nil {
		r.note("No interval: %s.", rec.Note)
		return nil
	}
	var pct, sd, truth, width []float64
	var patients []string
	for _, im := range oof {
		p, s, m := im.Values[analysis.ValueOpacityPctAuto], im.Values[analysis.ValueOpacityPctSD], im.Values[analysis.ValueOpacityPctManual]
		pct, sd, truth = append(pct, p), append(sd, s), append(truth, m)
		patients = append(patients, im.Patient)
		if lo, hi := rec.Interval.Bounds(p, s); finite(lo) {
			width = append(width, hi-lo)
		}
	}
	c, n := rec.Interval.Coverage(pct, sd, truth)
	r.Numbers[key+"_interval_coverage"] = c
	sort.Float64s(width)
	med := math.NaN()
	if len(width) > 0 {
		med = width[len(width)/2]
	}
	r.Numbers[key+"_interval_median_width"] = med
	r.note("Calibration on %s: the %.0f%% interval (%s; calibrated on %s) holds the manual %% for %.1f%% of %d images (target ≥ 80%%); median width %.1f points.",
		where, 100*rec.Interval.Level, rec.Interval.Formula(), rec.Interval.Source, 100*c, n, med)
	own, err := analysis.IntervalOutOfFold(pct, sd, truth, patients, rec.Interval.Level, rec.Interval.SDFloor)
	if err != nil {
		r.note("No interval calibrated on %s themselves: %v.", where, err)
		return nil
	}
	r.Numbers[key+"_interval_coverage_own_calibration"] = own.Coverage
	r.Numbers[key+"_interval_median_width_own_calibration"] = own.MedianWidth
	r.note("Calibrated instead on the images it is checked on (%s; each image's interval fitted on the other patients' images, leave one patient out): the %.0f%% interval holds the manual %% for %.1f%% of %d images; median width %.1f points (fitted on all of them: %% ± %.2f × max(SD, %.1f)).",
		where, 100*rec.Interval.Level, 100*own.Coverage, own.N, own.MedianWidth, own.Factor, rec.Interval.SDFloor)
	return nil
}

// brixiaTable scores the Brixia-scored images the models did not train on
// with thresholds fitted out of fold, against each radiologist.
func brixiaTable(r *Result, v experiment.Settings, m *analysis.Models, trained map[string]bool) error {
	images, note, err := m.BrixiaImages(v.DataDir(), func(k string) bool {
		_, stem, _ := strings.Cut(k, "/")
		return trained[stem]
	})
	if err != nil {
		return err
	}
	if note != "" {
		r.skip("Brixia: %s.", note)
		return nil
	}
	b, err := brixiaOutOfFold(r, v, images, "models", "")
	if err != nil || b == nil {
		return err
	}
	r.note("Brixia thresholds fitted on all %d images (for the models folder): %.3f, %.3f, %.3f of the zone's area opaque for scores 1, 2, 3.",
		len(images), b.Thresholds[0], b.Thresholds[1], b.Thresholds[2])
	return nil
}

// brixiaOutOfFold fits the Brixia thresholds on images and measures them
// out of fold (analysis.FitBrixia) against each radiologist, beside the
// same fit on the radiologists' own masks of those images
// (analysis.ManualBrixiaImages: the method's ceiling): the table
// table-ID-brixia and the numbers ID_brixia_*; what says how the images
// were analysed. Too few images give a note and no table (nil).
func brixiaOutOfFold(r *Result, v experiment.Settings, images []analysis.BrixiaImage, id, what string) (*analysis.Brixia, error) {
	b, err := analysis.FitBrixia(images)
	if err != nil {
		r.skip("Brixia: %v.", err)
		return nil, nil
	}
	t := &table{header: []string{"Brixia score, out of fold", "images", "against radiologist S", "against radiologist J", "the two radiologists"}}
	t.add("global (0–18) mean absolute error", fmt.Sprint(len(images)), fmt.Sprintf("%.2f", b.GlobalMAE[0]), fmt.Sprintf("%.2f", b.GlobalMAE[1]), fmt.Sprintf("%.2f", b.RadiologistsGlobalMAE))
	t.add("zone (0–3) mean absolute error", fmt.Sprint(len(images)), fmt.Sprintf("%.2f", b.ZoneMAE[0]), fmt.Sprintf("%.2f", b.ZoneMAE[1]), fmt.Sprintf("%.2f", b.RadiologistsZoneMAE))
	r.Numbers[id+"_brixia_global_mae_s"], r.Numbers[id+"_brixia_global_mae_j"] = b.GlobalMAE[0], b.GlobalMAE[1]
	r.Numbers[id+"_brixia_zone_mae_s"], r.Numbers[id+"_brixia_zone_mae_j"] = b.ZoneMAE[0], b.ZoneMAE[1]
	r.Numbers[id+"_brixia_radiologists_global_mae"] = b.RadiologistsGlobalMAE
	r.Numbers[id+"_brixia_images"] = float64(len(images))
	manual, err := analysis.ManualBrixiaImages(v.DataDir(), images)
	if err != nil {
		return nil, err
	}
	if mb, err := analysis.FitBrixia(manual); err != nil {
		r.note("No Brixia fit on the radiologists' own masks (%d of the %d images have a hand-drawn lung and opacity annotation): %v.", len(manual), len(images), err)
	} else {
		t.add("global, from the radiologists' own lungs and opacity (same zones and fit)", fmt.Sprint(len(manual)), fmt.Sprintf("%.2f", mb.GlobalMAE[0]), fmt.Sprintf("%.2f", mb.GlobalMAE[1]), fmt.Sprintf("%.2f", mb.RadiologistsGlobalMAE))
		t.add("zone, from the radiologists' own lungs and opacity", fmt.Sprint(len(manual)), fmt.Sprintf("%.2f", mb.ZoneMAE[0]), fmt.Sprintf("%.2f", mb.ZoneMAE[1]), fmt.Sprintf("%.2f", mb.RadiologistsZoneMAE))
		r.Numbers[id+"_brixia_manual_global_mae_s"], r.Numbers[id+"_brixia_manual_global_mae_j"] = mb.GlobalMAE[0], mb.GlobalMAE[1]
		r.Numbers[id+"_brixia_manual_images"] = float64(len(manual))
		r.note("Brixia from the radiologists' own masks (%d of the %d images have a hand-drawn lung and opacity annotation): the same thirds of each lung and thresholds fitted leaving the patient out give a global MAE of %.2f / %.2f against S / J — what the zone split and the thresholds can do with a perfect segmentation.",
			len(manual), len(images), mb.GlobalMAE[0], mb.GlobalMAE[1])
	}
	if err := r.saveTable(v, "table-"+id+"-brixia", "Brixia scores from the automatic zones (thirds of each predicted lung's height)"+what+", thresholds fitted on the other patients' images (leave one patient out) to the two radiologists' mean"+dataTag(v), t); err != nil {
		return nil, err
	}
	return b, nil
}
