package research_test

import (
	"fmt"
	"os"

	"github.com/covidxray/opacity/research"
)

func ExampleAUC() {
	// Opacity percentages of six images; true = the patient went to the ICU.
	pct := []float64{42, 30, 12, 18, 12, 3}
	icu := []bool{true, true, true, false, false, false}
	auc, err := research.AUC(pct, icu)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("AUC = %.4f\n", auc)
	// Output: AUC = 0.8333
}

func ExampleDeLong() {
	pct := []float64{42, 30, 12, 18, 12, 3}
	icu := []bool{true, true, true, false, false, false}
	r, err := research.DeLong(pct, icu)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("AUC %.3f, SE %.3f, 95%% CI [%.3f, %.3f]\n", r.AUC, r.SE, r.CI95[0], r.CI95[1])
	// Output: AUC 0.833, SE 0.192, 95% CI [0.456, 1.000]
}

func ExamplePairedDeLong() {
	// Two scores of the same four cases: is the first better?
	labels := []bool{true, true, false, false}
	opacity := []float64{3, 4, 1, 2}
	other := []float64{1, 4, 2, 3}
	r, err := research.PairedDeLong(opacity, other, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("AUC %.2f vs %.2f: difference %.2f, z %.2f, p %.3f\n", r.AUC1, r.AUC2, r.Diff, r.Z, r.P)
	// Output: AUC 1.00 vs 0.50: difference 0.50, z 1.00, p 0.317
}

func ExampleAnalyzeROC() {
	// Images of four patients: the bootstrap resamples patients, not images.
	pct := []float64{42, 35, 30, 12, 18, 12, 3, 5}
	icu := []bool{true, true, true, true, false, false, false, false}
	patient := []string{"A", "A", "B", "C", "D", "D", "E", "F"}
	r, err := research.AnalyzeROC(pct, icu, patient, research.BootstrapOptions{Resamples: 2000, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("AUC %.3f (n_pos %d, n_neg %d), Youden cut %g: sensitivity %.2f, specificity %.2f\n",
		r.AUC, r.NPos, r.NNeg, r.Youden.Threshold, r.Youden.Sensitivity, r.Youden.Specificity)
	// Output: AUC 0.906 (n_pos 4, n_neg 4), Youden cut 30: sensitivity 0.75, specificity 1.00
}

func ExampleEvaluate() {
	// One 2x2 image with opacity in the top row, predicted with probabilities.
	p := research.Prediction{
		Name:  "img1",
		Truth: []uint8{1, 1, 0, 0},
		Prob:  []float32{0.75, 0.25, 0.625, 0},
	}
	s, err := research.Evaluate([]research.Prediction{p}, research.DefaultMetricOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("paper's soft pooled IoU %.4f, hard per-image IoU %.4f\n", s.SoftPooledIoU, s.PerImageIoU)
	// Output: paper's soft pooled IoU 0.3810, hard per-image IoU 0.3333
}

func ExampleSegmentationTable() {
	preds := []research.Prediction{
		{Name: "clear", Subset: "train", Truth: []uint8{0, 0, 0, 0}, Prob: []float32{0, 0, 0, 0}},
		{Name: "opaque", Subset: "test", Truth: []uint8{1, 1, 0, 0}, Prob: []float32{1, 0, 0, 0}},
	}
	t, err := research.SegmentationTable(preds, research.DefaultMetricOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("paper's adjusted IoU %.3f; per-image mean (empty/empty = 1) %.3f\n", t.Adjusted.Paper, t.Adjusted.PerImage)
	t.WriteText(os.Stdout)
	// Output:
	// paper's adjusted IoU 0.750; per-image mean (empty/empty = 1) 0.750
	// Segmentation metrics by subset (threshold p > 0.5, smooth 1e-05, detection minimum area 1 px)
	//
	// Conventions: (a) paper's: soft, pooled over the batch, smoothed; (b) hard, pooled (micro); (c) per-image mean, empty/empty = 1;
	// (d) per-image mean over non-empty truth (MONAI ignore_empty); (e) per-image, empty/empty excluded (nnU-Net).
	//
	// | subset          | images | empty truth | IoU (a) | (b)    | (c)    | (d)    | (e)    | n(e) |
	// |---              |---     |---          |---      |---     |---     |---     |---     |---   |
	// | all             | 2      | 1           | 0.5000  | 0.5000 | 0.7500 | 0.5000 | 0.5000 | 1    |
	// | train           | 1      | 1           | 1.0000  | —      | 1.0000 | —      | —      | 0    |
	// | test            | 1      | 0           | 0.5000  | 0.5000 | 0.5000 | 0.5000 | 0.5000 | 1    |
	// | validation      | 0      | 0           | —       | —      | —      | —      | —      | 0    |
	// | truth-empty     | 1      | 1           | 1.0000  | —      | 1.0000 | —      | —      | 0    |
	// | truth-not-empty | 1      | 0           | 0.5000  | 0.5000 | 0.5000 | 0.5000 | 0.5000 | 1    |
	//
	// | subset          | images | empty truth | F1 (a) | (b)    | (c)    | (d)    | (e)    | n(e) |
	// |---              |---     |---          |---     |---     |---     |---     |---     |---   |
	// | all             | 2      | 1           | 0.6667 | 0.6667 | 0.8333 | 0.6667 | 0.6667 | 1    |
	// | train           | 1      | 1           | 1.0000 | —      | 1.0000 | —      | —      | 0    |
	// | test            | 1      | 0           | 0.6667 | 0.6667 | 0.6667 | 0.6667 | 0.6667 | 1    |
	// | validation      | 0      | 0           | —      | —      | —      | —      | —      | 0    |
	// | truth-empty     | 1      | 1           | 1.0000 | —      | 1.0000 | —      | —      | 0    |
	// | truth-not-empty | 1      | 0           | 0.6667 | 0.6667 | 0.6667 | 0.6667 | 0.6667 | 1    |
	//
	// | subset          | detection TP | FP | TN | FN | sensitivity | specificity |
	// |---              |---           |--- |--- |--- |---          |---          |
	// | all             | 1            | 0  | 1  | 0  | 1.0000      | 1.0000      |
	// | train           | 0            | 0  | 1  | 0  | —           | 1.0000      |
	// | test            | 1            | 0  | 0  | 0  | 1.0000      | —           |
	// | validation      | 0            | 0  | 0  | 0  | —           | —           |
	// | truth-empty     | 0            | 0  | 1  | 0  | —           | 1.0000      |
	// | truth-not-empty | 1            | 0  | 0  | 0  | 1.0000      | —           |
	//
	// The paper's "adjusted" IoU and honest alternatives (over 2 images, 1 with empty truth):
	// - paper's formula (IoU_a(non-empty)*1 + 1*1)/2 = 0.7500  (counts every empty-truth image as a perfect 1)
	// - same, an empty-truth image scores 1 only if nothing is predicted (1 of 1): 0.7500
	// - IoU_a on non-empty truth 0.5000, on empty truth 1.0000 (on an empty truth the soft IoU is s/(Σp+s): 1 only if every probability is exactly 0, near 0 once Σp >> s = 1e-05)
	// - convention (a) on all images: 0.5000; (c) per-image mean: 0.7500; (e) NaN-aware per-image mean: 0.5000
}

func ExampleSplitByPatient() {
	var items []research.SplitItem
	for p := 0; p < 20; p++ {
		for k := 0; k <= p%3; k++ {
			items = append(items, research.SplitItem{Name: fmt.Sprintf("P%02d_%d", p, k), Patient: fmt.Sprintf("P%02d", p), Opaque: k != 1})
		}
	}
	s, err := research.SplitByPatient(items, research.SplitOptions{TestFraction: 0.3, Seed: 1, Stratify: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	z := s.Sizes(items)
	fmt.Println(len(items), "images;", z.TrainImages+z.TestImages == len(items), z.TestImages >= 11 && z.TestImages <= 13)
	// Output: 39 images; true true
}

func ExampleSpearman() {
	opacityPct := []float64{5, 12, 30, 41, 60}
	geographic := []float64{1.0, 0.7, 3.3, 2.0, 6.0}
	c, err := research.Spearman(opacityPct, geographic)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("rho %.2f, 95%% CI [%.2f, %.2f]\n", c.Rho, c.CI95[0], c.CI95[1])
	// Output: rho 0.80, 95% CI [-0.32, 0.99]
}
