package paper

import (
	"fmt"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/experiment"
	"math"

	"github.com/covidxray/opacity/research"
)

// The paper's segmentation numbers (sections 3.1 and 4.1): its IoU is the
// Keras segmentation_models iou_score, convention (a) of package research.
const (
	PaperIoUTrain         = 0.5157
	PaperIoUTest          = 0.4755
	PaperIoUValidation    = 0.6724
	PaperIoUTruthEmpty    = 2.4e-10 // on the 71 images without opacity
	PaperIoUTruthNonEmpty = 0.6143  // on the 150 images with opacity
	PaperAdjustedIoU      = 0.738   // (0.6143*150 + 1*71)/221
	PaperNonEmptyImages   = 150
)

// SegmentationTables computes the paper's section 3.1 numbers (IoU at the end
// of training on train, test and validation) and the section 4.1 table
// (subsets all, train, test, validation, truth-empty, truth-not-empty) under
// every IoU/F1 convention, with the paper's numbers beside them, from the
// model's predictions at its input size (Study.EnsureModel first).
// Conventions: (a) the paper's soft IoU pooled over the images with
// smoothing 1e-5; (b) hard, pooled; (c) per-image mean, empty/empty = 1;
// (d) per-image mean over non-empty truth; (e) per-image mean, empty/empty
// excluded. Files: table-3.1, table-4.1-iou, table-4.1-f1,
// table-4.1-detection, table-4.1-adjusted (MD, CSV).
func SegmentationTables(st *experiment.Study) (*Result, error) {
	return finish(st, "tables")(segmentationTables(st))
}

func segmentationTables(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Sections 3.1 and 4.1: IoU and F1 under every convention")
	preds := st.Predictions(datasets.TargetOpacity)
	if len(preds) == 0 {
		if st.TrainCohort == "" {
			r.skip("no model: no cohort with images to train on (%s).", st.TrainCohortNote())
		} else {
			r.skip("no predictions: call Study.EnsureModel before SegmentationTables.")
		}
		return r, nil
	}
	opt := research.DefaultMetricOptions()
	tab, err := research.SegmentationTable(preds, opt)
	if err != nil {
		return nil, err
	}
	counts, err := research.CountImages(preds, opt.Threshold)
	if err != nil {
		return nil, err
	}
	bySubset := map[string][]research.ImageCounts{}
	for _, c := range counts {
		bySubset[c.Subset] = append(bySubset[c.Subset], c)
	}
	rows := map[string]research.TableRow{}
	for _, row := range tab.Rows {
		rows[row.Subset] = row
	}

	// Section 3.1.
	t31 := &table{header: []string{"subset", "images", "paper IoU", "IoU (a), all images pooled", fmt.Sprintf("IoU (a), Keras mean of batches of %d", s.Batch), "IoU (c) per image", "F1 (a)"}}
	for _, sub := range []struct {
		name  string
		paper float64
	}{{experiment.SubsetTrain, PaperIoUTrain}, {experiment.SubsetTest, PaperIoUTest}, {experiment.SubsetValidation, PaperIoUValidation}} {
		row := rows[sub.name]
		keras := math.NaN()
		if cs := bySubset[sub.name]; len(cs) > 0 {
			if keras, _, err = research.KerasEpochMean(cs, s.Batch, opt.Smooth); err != nil {
				return nil, err
			}
		}
		t31.add(sub.name, fmt.Sprint(row.Images), fmt.Sprintf("%.4f", sub.paper), research.FormatScore(row.Scores.SoftPooledIoU), research.FormatScore(keras),
			research.FormatScore(row.Scores.PerImageIoU), research.FormatScore(row.Scores.SoftPooledF1))
		r.Numbers["iou_a_"+sub.name] = row.Scores.SoftPooledIoU
		r.Numbers["iou_c_"+sub.name] = row.Scores.PerImageIoU
	}
	if err := r.saveTable(s, "table-3.1", fmt.Sprintf("Section 3.1: IoU of the final model (%s, %d×%d, %d epochs)%s", st.TrainCohort, s.InputSize, s.InputSize, s.Epochs, dataTag(s)), t31); err != nil {
		return nil, err
	}
	r.note("The paper's IoU is Keras' running metric (convention a: soft probabilities, pooled over a batch, smoothed by 1e-5; its \"train\" value is averaged over the batches of the last epoch, on augmented images). " +
		"Here every subset is evaluated after training, on unaugmented images, pooled over all its images, and as Keras would average it over batches.")

	// Section 4.1.
	paperIoU := map[string]string{
		experiment.SubsetTrain: fmt.Sprint(PaperIoUTrain), experiment.SubsetTest: fmt.Sprint(PaperIoUTest), experiment.SubsetValidation: fmt.Sprint(PaperIoUValidation),
		research.SubsetTruthEmpty: fmt.Sprintf("%.1e (%d images)", PaperIoUTruthEmpty, PaperClearImages), research.SubsetTruthNonEmpty: fmt.Sprintf("%.4f (%d images)", PaperIoUTruthNonEmpty, PaperNonEmptyImages),
	}
	for i, metric := range []string{"IoU", "F1"} {
		t := &table{header: []string{"subset", "images", "empty truth", "paper " + metric + " (a)", metric + " (a) paper's", "(b) hard pooled", "(c) per image, empty/empty = 1", "(d) non-empty truth only", "(e) empty/empty excluded", "n (e)"}}
		for _, row := range tab.Rows {
			sc := row.Scores
			v := [5]float64{sc.SoftPooledIoU, sc.HardPooledIoU, sc.PerImageIoU, sc.NonEmptyIoU, sc.NaNAwareIoU}
			if i == 1 {
				v = [5]float64{sc.SoftPooledF1, sc.HardPooledF1, sc.PerImageF1, sc.NonEmptyF1, sc.NaNAwareF1}
			}
			p := paperIoU[row.Subset]
			if i == 1 || p == "" {
				p = "—"
			}
			t.add(row.Subset, fmt.Sprint(row.Images), fmt.Sprint(row.TruthEmpty), p, research.FormatScore(v[0]), research.FormatScore(v[1]), research.FormatScore(v[2]), research.FormatScore(v[3]), research.FormatScore(v[4]), fmt.Sprint(sc.NaNAwareN))
			if i == 0 {
				r.Numbers["iou_a_"+row.Subset] = sc.SoftPooledIoU
				r.Numbers["iou_c_"+row.Subset] = sc.PerImageIoU
				r.Numbers["iou_d_"+row.Subset] = sc.NonEmptyIoU
				r.Numbers["iou_e_"+row.Subset] = sc.NaNAwareIoU
			}
		}
		if err := r.saveTable(s, "table-4.1-"+map[int]string{0: "iou", 1: "f1"}[i], fmt.Sprintf("Section 4.1: %s by subset under every convention (threshold p > %g, smoothing %g)%s", metric, opt.Threshold, opt.Smooth, dataTag(s)), t); err != nil {
			return nil, err
		}
	}
	td := &table{header: []string{"subset", "TP", "FP", "TN", "FN", "sensitivity", "specificity"}}
	for _, row := range tab.Rows {
		d := row.Scores.Detection
		td.add(row.Subset, fmt.Sprint(d.TP), fmt.Sprint(d.FP), fmt.Sprint(d.TN), fmt.Sprint(d.FN), research.FormatScore(d.Sensitivity), research.FormatScore(d.Specificity))
	}
	if err := r.saveTable(s, "table-4.1-detection", fmt.Sprintf("Image-level detection of any opacity (an image is called positive with ≥ %d predicted pixel)%s", opt.MinArea, dataTag(s)), td); err != nil {
		return nil, err
	}
	a := tab.Adjusted
	ta := &table{header: []string{"whole-dataset IoU (train ∪ test)", "value", "paper"}}
	ta.add(fmt.Sprintf("paper's \"adjusted\" formula (IoU_a(non-empty)·%d + 1·%d)/%d: every empty-truth image a perfect 1", a.NNonEmpty, a.NEmpty, a.N), research.FormatScore(a.Paper), fmt.Sprint(PaperAdjustedIoU))
	ta.add(fmt.Sprintf("same, an empty-truth image scores 1 only if nothing is predicted (%d of %d)", a.EmptyPredictedEmpty, a.NEmpty), research.FormatScore(a.EmptyScoredByPrediction), "—")
	ta.add("(a) soft pooled over all images (what the paper's code reports)", research.FormatScore(a.SoftPooledAll), "—")
	ta.add("(c) per-image mean, empty/empty = 1, empty truth with a false positive = 0", research.FormatScore(a.PerImage), "—")
	ta.add("(e) per-image mean, empty/empty excluded (nnU-Net)", research.FormatScore(a.NaNAware), "—")
	ta.add("(a) on truth-empty images alone (s/(Σp+s): near 0 whatever the model does)", research.FormatScore(a.EmptyIoU), fmt.Sprintf("%.1e", PaperIoUTruthEmpty))
	ta.add("(a) on truth-not-empty images alone", research.FormatScore(a.NonEmptyIoU), fmt.Sprint(PaperIoUTruthNonEmpty))
	if err := r.saveTable(s, "table-4.1-adjusted", "Section 4.1: the paper's \"adjusted\" IoU beside honest alternatives"+dataTag(s), ta); err != nil {
		return nil, err
	}
	r.Numbers["adjusted_paper_formula"] = a.Paper
	r.Numbers["adjusted_empty_by_prediction"] = a.EmptyScoredByPrediction
	r.Numbers["n_truth_empty"] = float64(a.NEmpty)
	r.Numbers["n_truth_not_empty"] = float64(a.NNonEmpty)
	r.note("Why the paper's 0.738 is optimistic: on an image without opacity the paper's soft IoU is s/(Σp+s) with s = 1e-5, which is near 0 as soon as the model puts any probability anywhere, " +
		"so the 2.4e-10 says nothing about the model; replacing it by a perfect 1 for every such image, whatever the model predicted there, is just as uninformative in the other direction. " +
		"Conventions (c)–(e) and the detection table score empty images by what the model actually predicted.")
	return r, nil
}
