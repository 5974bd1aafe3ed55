package paper

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/experiment"
)

// SummaryFile is the Markdown table of the paper's numbers beside this
// run's, written by Summary into the figures folder.
const SummaryFile = "summary.md"

// summaryRow is one number of the paper and where this run's comes from.
type summaryRow struct {
	item, what, paper string
	id                string   // result id in NumbersFile
	keys              []string // numbers joined with " / "
	file              string   // the figure or table
	match             string   // picks the result's skip reason that names it ("": the last one)
}

// summaryRows lists every number of the paper, section by section, and the
// repository's extras, in the paper's order.
var summaryRows = []summaryRow{
	{"§2.1", "covid-ar images / patients / clear lungs", "221 / 105 / 71", "cohorts", []string{"covid_ar_images", "covid_ar_patients", "covid_ar_clear"}, "table-cohorts.md", ""},
	{"§2.1", "covid-ar images with pixels", "221", "cohorts", []string{"covid_ar_with_image"}, "table-cohorts.md", ""},
	{"§2.1", "split: train / test images", "154 / 67", "cohorts", []string{"train_images", "test_images"}, "table-split.md", ""},
	{"§2.1", "split: train / test patients", "— (by patient)", "cohorts", []string{"train_patients", "test_patients"}, "table-split.md", ""},
	{"§2.2", "validation images (cohen/ with pixels)", "25 (22 annotations public)", "cohorts", []string{"validation_images"}, "table-split.md", ""},
	{"Fig. 1", "model input and mask, before/after augmentation", "picture", "figure1", nil, "figure1.png", ""},
	{"Fig. 2", "last epoch IoU (a), train / test", "curves (50 epochs)", "figure2", []string{"last_epoch_iou_a_train", "last_epoch_iou_a_test"}, "figure2.png", ""},
	{"§3.1", "IoU (a) train", "0.5157", "tables", []string{"iou_a_train"}, "table-3.1.md", ""},
	{"§3.1", "IoU (a) test", "0.4755", "tables", []string{"iou_a_test"}, "table-3.1.md", ""},
	{"§3.1", "IoU (a) validation", "0.6724", "tables", []string{"iou_a_validation"}, "table-3.1.md", ""},
	{"§4.1", "images with empty truth / not empty (train ∪ test)", "71 / 150", "tables", []string{"n_truth_empty", "n_truth_not_empty"}, "table-4.1-iou.md", ""},
	{"§4.1", "IoU (a) on empty truth", "2.4e-10", "tables", []string{"iou_a_truth-empty"}, "table-4.1-iou.md", ""},
	{"§4.1", "IoU (a) on non-empty truth", "0.6143", "tables", []string{"iou_a_truth-not-empty"}, "table-4.1-iou.md", ""},
	{"§4.1", "\"adjusted\" IoU, the paper's formula", "0.738", "tables", []string{"adjusted_paper_formula"}, "table-4.1-adjusted.md", ""},
	{"§4.1", "adjusted, empty image = 1 only if nothing predicted", "—", "tables", []string{"adjusted_empty_by_prediction"}, "table-4.1-adjusted.md", ""},
	{"§4.1", "IoU (c) per image, all / test / validation", "—", "tables", []string{"iou_c_all", "iou_c_test", "iou_c_validation"}, "table-4.1-iou.md", ""},
	{"Fig. 3a", "AUC manual %, per image: ICU / mortality", "curves, no values", "figure3", []string{"auc_manual_image_icu", "auc_manual_image_mortality"}, "figure3a.png", ""},
	{"Fig. 3a", "AUC manual %, per patient: ICU / mortality", "curves, no values", "figure3", []string{"auc_manual_patient_icu", "auc_manual_patient_mortality"}, "figure3a.png", ""},
	{"Fig. 3b", "AUC predicted %, per image: ICU / mortality", "curves, no values", "figure3", []string{"auc_predicted_image_icu", "auc_predicted_image_mortality"}, "figure3b.png", ""},
	{"Fig. 3b", "AUC predicted %, per patient: ICU / mortality", "curves, no values", "figure3", []string{"auc_predicted_patient_icu", "auc_predicted_patient_mortality"}, "figure3b.png", ""},
	{"Fig. 4", "AUC Cohen model score, per image: ICU / mortality", "curves, no values", "figure4", []string{"auc_cohen_image_icu", "auc_cohen_image_mortality"}, "figure4.png", ""},
	{"extra", "Spearman ρ opacity % (cohen/, manual) vs geographic / opacity score", "—", "cohen_scores", []string{"spearman_cohen_manual_geographic", "spearman_cohen_manual_opacity"}, "figure-cohen-scores-manual.png", "manual masks (paper"},
	{"extra", "Spearman ρ opacity % (cohen/, predicted) vs geographic / opacity score", "—", "cohen_scores", []string{"spearman_cohen_predicted_geographic", "spearman_cohen_predicted_opacity"}, "figure-cohen-scores-predicted.png", "predicted"},
	{"extra", "Spearman ρ opacity % (cxr-seg/, radiologists) vs geographic / opacity score", "—", "cohen_scores", []string{"spearman_cxrseg_manual_geographic", "spearman_cxrseg_manual_opacity"}, "figure-cxrseg-cohen-scores.png", "cxr-seg"},
	{"Fig. 5", "worst / best per-image IoU of unseen images", "pictures", "figure5", []string{"figure5_worst_iou", "figure5_best_iou"}, "figure5.png", ""},
	{"extra", "two annotations of the same X-rays: pairs, lung IoU, opacity IoU", "—", "agreement", []string{"agreement_pairs", "agreement_lung_iou_mean", "agreement_opacity_iou_mean"}, "table-agreement.md", ""},
	{"extra", "same images, model grid: IoU a–b / model–a / model–b", "—", "agreement", []string{"agreement_ab_iou_mean_model_grid", "agreement_model_a_iou_mean", "agreement_model_b_iou_mean"}, "table-agreement.md", ""},
	{"extra", "automatic pipeline, out of fold: lung Dice post-processed / raw", "— (target ≥ 0.95)", "validation", []string{"validation_lungs_dice", "validation_lungs_dice_raw"}, "table-validation-lungs.md", ""},
	{"extra", "automatic pipeline, out of fold: opacity IoU (a) / (d); Spearman ρ automatic vs manual %", "— (target ρ ≥ 0.85)", "validation", []string{"validation_opacity_iou_a", "validation_opacity_iou_d", "validation_pct_spearman"}, "table-validation-pct.md", ""},
	{"extra", "automatic pipeline, out of fold: severity MAE extent / opacity", "Cohen et al.'s model: 1.14 / 0.78", "validation", []string{"validation_severity_mae_geographic_automatic", "validation_severity_mae_opacity_automatic"}, "table-validation-severity.md", "severity"},
	{"extra", "automatic pipeline on cohen/: lung IoU; Spearman ρ automatic vs the paper's manual %", "—", "external", []string{"external_lungs_iou", "external_pct_spearman"}, "table-external.md", ""},
}

// fmtNumber formats a summary number: integers as such, others with 4
// significant decimals, tiny ones in e-notation.
func fmtNumber(v *float64) string {
	switch {
	case v == nil:
		return "—"
	case *v == math.Trunc(*v) && math.Abs(*v) < 1e6:
		return fmt.Sprintf("%.0f", *v)
	case *v != 0 && math.Abs(*v) < 1e-3:
		return fmt.Sprintf("%.1e", *v)
	}
	return fmt.Sprintf("%.4f", *v)
}

// Summary sets the paper's numbers beside those of the last run of every
// notebook (read from the figures folder's numbers.json), one row per number
// of the paper (and the repository's extras), with the file each comes
// from; a step that did not run says why. It writes summary.md.
func Summary(s experiment.Settings) (*Result, error) {
	r := newResult("The paper's numbers beside this run's")
	all := readRecords(s.Figures)
	if len(all) == 0 {
		r.skip("no results in %s yet: run the notebooks 01–08 first (make reproduce).", filepath.Join(s.Figures, NumbersFile))
		return r, nil
	}
	var kinds []string
	seen := map[string]bool{}
	for _, rec := range all {
		k := fmt.Sprintf("`%s` (%s, %s)", rec.Data, map[bool]string{true: "SYNTHETIC", false: "real"}[rec.Synthetic], rec.Size)
		if !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	if len(kinds) > 1 {
		r.note("**Warning:** the results come from different runs: %s. Rerun every notebook with one setting.", strings.Join(kinds, "; "))
	}
	t := &table{header: []string{"item", "what", "paper", "this run", "file"}}
	trained := "not run"
	if rec, ok := all["cohorts"]; ok {
		trained = "no model (no cohort with images)"
		if c := rec.Facts["train_cohort"]; c != "" {
			trained = c
		}
	}
	t.add("§2.5", "model trained and tested on", "covid-ar (COVID-19-AR)", trained, "[table-split.md](table-split.md)")
	for _, row := range summaryRows {
		rec, ran := all[row.id]
		val := ""
		switch {
		case !ran:
			val = "not run"
		case len(row.keys) == 0:
			val = "see figure"
			if !contains(rec.Files, row.file) {
				val = "not made"
			}
		default:
			var parts []string
			have := false
			for _, k := range row.keys {
				v, ok := rec.Numbers[k]
				if ok {
					have = true
				}
				parts = append(parts, fmtNumber(v))
			}
			val = strings.Join(parts, " / ")
			if !have {
				val = "not computed"
			}
		}
		if ran && rec.Facts["cohen_model_scores"] != "" && val != "not computed" {
			val += " (" + rec.Facts["cohen_model_scores"] + " scores)"
		}
		if ran && (val == "not computed" || val == "not made") {
			if why := skipReason(rec.Skipped, row.match); why != "" {
				val += ": " + firstSentence(why)
			}
		}
		file := row.file
		if !ran || !contains(rec.Files, row.file) {
			file = "—"
		} else {
			file = "[" + file + "](" + file + ")"
		}
		t.add(row.item, row.what, row.paper, val, file)
	}
	caption := "The paper's numbers and this run's"
	if len(kinds) == 1 {
		caption += ": " + kinds[0]
	}
	r.Markdown += "**" + caption + "**\n\n" + t.markdown() + "\n"
	r.note("IoU (a) is the paper's (soft, pooled, smoothed); (c) per image with empty/empty = 1. Every number is defined in the notebook that makes it; the table rows link to its file in `figures/`.")
	if err := os.MkdirAll(s.Figures, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(s.Figures, SummaryFile)
	if err := atomicfile.WriteFile(path, []byte("# "+r.Title+"\n\n"+r.Markdown), 0o644); err != nil {
		return nil, err
	}
	r.Files = append(r.Files, path)
	return r, nil
}

// skipReason returns the skip reason that contains match, or the last one
// when match is "" ("" when none fits).
func skipReason(skipped []string, match string) string {
	for i := len(skipped) - 1; i >= 0; i-- {
		if match == "" || strings.Contains(skipped[i], match) {
			return skipped[i]
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// firstSentence returns s up to its first ". " (at most 160 characters).
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	if r := []rune(s); len(r) > 160 {
		s = string(r[:159]) + "…"
	}
	return s
}
