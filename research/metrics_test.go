package research

import (
	"math"
	"testing"
)

// Crafted 4-pixel masks; s = 1e-5. Probabilities are exact in float32.
var (
	predEmptyEmpty = Prediction{Name: "empty-empty", Patient: "p1", Subset: "train",
		Truth: []uint8{0, 0, 0, 0}, Prob: []float32{0, 0, 0, 0}}
	predEmptyFP = Prediction{Name: "empty-fp", Patient: "p2", Subset: "test",
		Truth: []uint8{0, 0, 0, 0}, Prob: []float32{0.875, 0, 0, 0}}
	predFull = Prediction{Name: "full", Patient: "p3", Subset: "train",
		Truth: []uint8{1, 1, 0, 0}, Prob: []float32{1, 1, 0, 0}}
	predNone = Prediction{Name: "no-overlap", Patient: "p4", Subset: "test",
		Truth: []uint8{1, 1, 0, 0}, Prob: []float32{0, 0, 1, 1}}
	predSoft = Prediction{Name: "soft", Patient: "p5", Subset: "validation",
		Truth: []uint8{1, 1, 0, 0}, Prob: []float32{0.75, 0.25, 0.625, 0}}
)

const s = DefaultSmooth

func sameOrBothNaN(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

func TestConventionsOnCraftedMasks(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		pred Prediction
		// IoU under a, b, c, d, e; F1 under a.
		a, b, c, d, e, f1a float64
		nD, nE             int
		det                [4]int // TP FP TN FN
	}{
		// Empty truth, empty prediction: soft (0+s)/(0+0-0+s) = 1; hard 0/0
		// undefined; c scores it 1; d skips it (empty truth); e skips it.
		{predEmptyEmpty, 1, nan, 1, nan, nan, 1, 0, 0, [4]int{0, 0, 1, 0}},
		// Empty truth, one false positive of probability 0.875:
		// soft (0+s)/(0+0.875-0+s) = 1e-5/0.87501; hard 0/(0+1+0) = 0; c 0;
		// d skips it; e counts it as 0.
		{predEmptyFP, s / (0.875 + s), 0, 0, nan, 0, s / (0.875 + s), 0, 1, [4]int{0, 1, 0, 0}},
		// Full overlap: everything 1.
		{predFull, 1, 1, 1, 1, 1, 1, 1, 1, [4]int{1, 0, 0, 0}},
		// No overlap: soft (0+s)/(2+2-0+s); F1 (0+s)/(2+2+s); hard 0.
		{predNone, s / (4 + s), 0, 0, 0, 0, s / (4 + s), 1, 1, [4]int{1, 0, 0, 0}},
		// Soft: I = 0.75+0.25 = 1, Σp = 1.625, Σy = 2:
		// IoU_a = (1+s)/(2+1.625-1+s) = 1/2.625, F1_a = (2+s)/(3.625+s);
		// hard at 0.5: predicted pixels 0 and 2, TP 1, FP 1, FN 1 -> 1/3.
		{predSoft, (1 + s) / (2.625 + s), 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, (2 + s) / (3.625 + s), 1, 1, [4]int{1, 0, 0, 0}},
	}
	for _, c := range cases {
		sc, err := Evaluate([]Prediction{c.pred}, DefaultMetricOptions())
		if err != nil {
			t.Fatal(err)
		}
		got := []float64{sc.SoftPooledIoU, sc.HardPooledIoU, sc.PerImageIoU, sc.NonEmptyIoU, sc.NaNAwareIoU, sc.SoftPooledF1}
		want := []float64{c.a, c.b, c.c, c.d, c.e, c.f1a}
		for i, name := range []string{"a", "b", "c", "d", "e", "F1 a"} {
			if !sameOrBothNaN(got[i], want[i]) {
				t.Errorf("%s: convention %s = %v, want %v", c.pred.Name, name, got[i], want[i])
			}
		}
		if sc.NonEmptyN != c.nD || sc.NaNAwareN != c.nE {
			t.Errorf("%s: n(d), n(e) = %d, %d, want %d, %d", c.pred.Name, sc.NonEmptyN, sc.NaNAwareN, c.nD, c.nE)
		}
		d := sc.Detection
		if [4]int{d.TP, d.FP, d.TN, d.FN} != c.det {
			t.Errorf("%s: detection TP FP TN FN = %d %d %d %d, want %v", c.pred.Name, d.TP, d.FP, d.TN, d.FN, c.det)
		}
	}
}

func TestConventionsPooledByHand(t *testing.T) {
	all := []Prediction{predEmptyEmpty, predEmptyFP, predFull, predNone, predSoft}
	sc, err := Evaluate(all, DefaultMetricOptions())
	if err != nil {
		t.Fatal(err)
	}
	// (a) ΣI = 0+0+2+0+1 = 3, Σy = 0+0+2+2+2 = 6, Σp = 0+0.875+2+2+1.625 = 6.5:
	//     (3+s)/(6+6.5-3+s) = 3/9.5; F1 (6+s)/(12.5+s).
	// (b) ΣTP = 0+0+2+0+1 = 3, ΣFP = 0+1+0+2+1 = 4, ΣFN = 0+0+0+2+1 = 3: 3/10; F1 6/13.
	// (c) per image 1, 0, 1, 0, 1/3 -> 7/3 / 5 = 7/15.
	// (d) non-empty truth: 1, 0, 1/3 -> 4/9.
	// (e) all but empty/empty: 0, 1, 0, 1/3 -> 1/3.
	want := map[string][2]float64{
		"a":    {sc.SoftPooledIoU, (3 + s) / (9.5 + s)},
		"b":    {sc.HardPooledIoU, 0.3},
		"c":    {sc.PerImageIoU, 7.0 / 15},
		"d":    {sc.NonEmptyIoU, 4.0 / 9},
		"e":    {sc.NaNAwareIoU, 1.0 / 3},
		"F1 a": {sc.SoftPooledF1, (6 + s) / (12.5 + s)},
		"F1 b": {sc.HardPooledF1, 6.0 / 13},
		// F1 per image: 1, 0, 1, 0, 2·1/(2+2) = 0.5 -> 2.5/5.
		"F1 c": {sc.PerImageF1, 0.5},
	}
	for name, v := range want {
		if !near(v[0], v[1], 1e-12) {
			t.Errorf("convention %s = %v, want %v", name, v[0], v[1])
		}
	}
	// Detection, minimum area 1: TN (empty/empty), FP (empty with FP), TP x3.
	if d := sc.Detection; d.Sensitivity != 1 || d.Specificity != 0.5 {
		t.Errorf("detection %+v, want sensitivity 3/3, specificity 1/2", d)
	}
	// Minimum area 3: every prediction has at most 2 pixels, so nothing is
	// called: 3 FN, 2 TN -> sensitivity 0, specificity 1.
	opt := DefaultMetricOptions()
	opt.MinArea = 3
	sc, _ = Evaluate(all, opt)
	if d := sc.Detection; d.Sensitivity != 0 || d.Specificity != 1 || d.FN != 3 || d.TN != 2 {
		t.Errorf("detection at min area 3: %+v, want 3 FN, 2 TN", d)
	}
	// The convenience functions agree with convention a.
	iou, err := SoftPooledIoU(all, s)
	if err != nil || !near(iou, (3+s)/(9.5+s), 1e-12) {
		t.Errorf("SoftPooledIoU = %v, %v", iou, err)
	}
	f1, err := SoftPooledF1(all, s)
	if err != nil || !near(f1, (6+s)/(12.5+s), 1e-12) {
		t.Errorf("SoftPooledF1 = %v, %v", f1, err)
	}
}

func TestKerasEpochMean(t *testing.T) {
	counts, err := CountImages([]Prediction{predFull, predNone, predSoft}, DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	// Batches of 2: {full, none}: I = 2, Σy = 4, Σp = 4 -> (2+s)/(6+s);
	// {soft}: (1+s)/(2.625+s). Keras reports their unweighted mean.
	iou, _, err := KerasEpochMean(counts, 2, s)
	if err != nil {
		t.Fatal(err)
	}
	want := ((2+s)/(6+s) + (1+s)/(2.625+s)) / 2
	if !near(iou, want, 1e-12) {
		t.Errorf("Keras epoch mean = %v, want %v", iou, want)
	}
}

func TestMetricBadInput(t *testing.T) {
	bad := []Prediction{
		{Name: "size", Truth: []uint8{0, 1}, Prob: []float32{0}},
		{Name: "nan", Truth: []uint8{0}, Prob: []float32{float32(math.NaN())}},
		{Name: "above 1", Truth: []uint8{0}, Prob: []float32{1.5}},
		{Name: "negative", Truth: []uint8{0}, Prob: []float32{-0.1}},
	}
	for _, p := range bad {
		if _, err := Evaluate([]Prediction{p}, DefaultMetricOptions()); err == nil {
			t.Errorf("%s: no error", p.Name)
		}
	}
	for _, o := range []MetricOptions{{}, {Threshold: 1, MinArea: 1}, {Threshold: 0.5, Smooth: -1, MinArea: 1}, {Threshold: 0.5}} {
		if _, err := Evaluate(nil, o); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
}

func TestSegmentationTableByHand(t *testing.T) {
	preds := []Prediction{predEmptyEmpty, predEmptyFP, predFull, predNone, predSoft}
	tab, err := SegmentationTable(preds, DefaultMetricOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Subsets: all = train ∪ test = {empty-empty, empty-fp, full, no-overlap};
	// train = {empty-empty, full}; test = {empty-fp, no-overlap};
	// validation = {soft}; truth-empty = {empty-empty, empty-fp};
	// truth-not-empty = {full, no-overlap}.
	wantN := map[string][2]int{"all": {4, 2}, "train": {2, 1}, "test": {2, 1}, "validation": {1, 0}, "truth-empty": {2, 2}, "truth-not-empty": {2, 0}}
	order := []string{"all", "train", "test", "validation", "truth-empty", "truth-not-empty"}
	if len(tab.Rows) != len(order) {
		t.Fatalf("%d rows, want %d", len(tab.Rows), len(order))
	}
	for i, r := range tab.Rows {
		if r.Subset != order[i] || r.Images != wantN[r.Subset][0] || r.TruthEmpty != wantN[r.Subset][1] {
			t.Errorf("row %d: %s with %d images (%d empty), want %s with %v", i, r.Subset, r.Images, r.TruthEmpty, order[i], wantN[order[i]])
		}
	}
	// train: (a) ΣI = 2, Σy = 2, Σp = 2 -> 1; (c) (1 + 1)/2 = 1.
	if tr := tab.Rows[1].Scores; !near(tr.SoftPooledIoU, 1, 1e-9) || tr.PerImageIoU != 1 {
		t.Errorf("train: %+v", tr)
	}
	a := tab.Adjusted
	// Non-empty (a): I = 2+0, Σy = 4, Σp = 2+2 -> u = (2+s)/(4+4-2+s) ≈ 1/3.
	// Paper: (u·2 + 1·2)/4 ≈ (2/3 + 2)/4 = 2/3.
	// Empty scored by prediction: one of the two empty images has no
	// predicted pixel -> (u·2 + 1)/4 ≈ 5/12.
	// Per image (c) on all: (1 + 0 + 1 + 0)/4 = 1/2.
	u := (2 + s) / (6 + s)
	if !near(a.NonEmptyIoU, u, 1e-12) || !near(a.Paper, (2*u+2)/4, 1e-12) || !near(a.EmptyScoredByPrediction, (2*u+1)/4, 1e-12) || a.PerImage != 0.5 {
		t.Errorf("adjusted %+v, want non-empty 1/3, paper 2/3, by prediction 5/12, per image 1/2", a)
	}
	// Empty (a): I = 0, Σy = 0, Σp = 0.875 -> s/(0.875+s).
	if !near(a.EmptyIoU, s/(0.875+s), 1e-12) {
		t.Errorf("empty IoU_a = %v, want %v", a.EmptyIoU, s/(0.875+s))
	}
}

func TestPaperAdjustedFormula(t *testing.T) {
	// The paper's own numbers: (0.6143·150 + 1·71)/221 = (92.145 + 71)/221 = 163.145/221 = 0.738213.
	if got := PaperAdjustedIoU(0.6143, 150, 71); !near(got, 0.738213, 1e-6) {
		t.Errorf("paper adjusted = %v, want 0.738213", got)
	}
}

func TestOpacityPercent(t *testing.T) {
	// Lung 1 1 1 0, opacity 0 1 1 1: |O ∩ L| = 2, |L| = 3 -> 66.67%;
	// the opacity pixel outside the lung does not count.
	lung := []uint8{1, 1, 1, 0}
	got, err := OpacityPercentPix(lung, []uint8{0, 1, 1, 1})
	if err != nil || !near(got, 200.0/3, 1e-12) {
		t.Errorf("opacity %% = %v, %v, want 66.67", got, err)
	}
	// Predicted: probabilities 0.2 0.6 0.5 0.9 at threshold 0.5: only the
	// second pixel (0.6 > 0.5; 0.5 is not > 0.5) is opacity inside the lung: 1/3.
	got, err = PredictedOpacityPercent(lung, []float32{0.2, 0.6, 0.5, 0.9}, 0.5)
	if err != nil || !near(got, 100.0/3, 1e-12) {
		t.Errorf("predicted opacity %% = %v, %v, want 33.33", got, err)
	}
	if _, err := OpacityPercentPix([]uint8{0, 0}, []uint8{1, 1}); err == nil {
		t.Error("empty lung: no error")
	}
	if _, err := OpacityPercentPix([]uint8{1}, []uint8{1, 1}); err == nil {
		t.Error("size mismatch: no error")
	}
}

func TestPerImageSoftScores(t *testing.T) {
	c, err := CountImage(predSoft, DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	// I = 1, Σp = 1.625, Σy = 2 (see TestConventionsOnCraftedMasks).
	if !near(c.SoftIoU(s), (1+s)/(2.625+s), 1e-12) || !near(c.SoftF1(s), (2+s)/(3.625+s), 1e-12) {
		t.Errorf("soft per image %v %v", c.SoftIoU(s), c.SoftF1(s))
	}
	// An unlabelled prediction counts in "all" and makes no row of its own.
	p := predFull
	p.Subset = ""
	tab, err := SegmentationTable([]Prediction{p, predNone}, DefaultMetricOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 6 || tab.Rows[0].Images != 2 {
		t.Errorf("rows %d, all has %d images; want 6 rows, 2 images", len(tab.Rows), tab.Rows[0].Images)
	}
}
