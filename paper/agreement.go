package paper

import (
	"fmt"
	"math"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

// Agreement compares the two annotations of the images that both the
// paper's authors (cohen/annotations, "a") and the cxr-seg radiologists
// ("b") annotated: per image lung IoU, opacity IoU within the lungs and both
// opacity percentages on the image's pixel grid, their Spearman correlation
// and a Bland-Altman plot. Beside them, when the model has run
// (Study.EnsureModel), the model's opacity IoU against each annotation on
// the same images at the model's input size, next to the two annotations'
// IoU at that size: two teams of people agree only so well, and that is the
// ceiling against which the model's IoU is read. Needs cohen/ and cxr-seg/
// (the real data); skipped otherwise. Files: figure-agreement-bland-altman,
// figure-agreement-grid, table-agreement.
func Agreement(st *experiment.Study) (*Result, error) {
	return finish(st, "agreement")(agreement(st))
}

func agreement(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Agreement of two annotations of the same images: the ceiling of a model's IoU")
	if cnt(st.Counts[datasets.CohortCXRSeg], func(c *experiment.CohortCount) int { return c.Read }) == 0 || cnt(st.Counts[datasets.CohortCohen], func(c *experiment.CohortCount) int { return c.Read }) == 0 {
		r.skip("needs cohen/ (the paper's annotations) and cxr-seg/ (radiologists' masks), which the real data has; this data folder has %s. "+
			"Run with OPACITY_DATA pointing at the real data (e.g. ../shared/data, or ./data after `make data`). The folder: %s.", haveCohorts(st), s.DataDir())
		return r, nil
	}
	a, err := datasets.LoadCohort(s.DataDir(), datasets.CohortCohen, datasets.LoadOptions{Images: true})
	if err != nil {
		return nil, err
	}
	stems := map[string]bool{}
	for _, sm := range a.Samples {
		stems[sm.Stem] = true
	}
	var b []*datasets.Sample
	if _, err := datasets.ScanCohort(s.DataDir(), datasets.CohortCXRSeg, datasets.LoadOptions{Images: true}, func(sm *datasets.Sample) error {
		if stems[sm.Stem] {
			b = append(b, sm)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	ag := research.CompareAnnotations(a.Samples, b)
	for _, e := range ag.Errors {
		r.note("Pair left out: %s: %s", e.File, e.Error)
	}
	if ag.Pairs == 0 {
		r.skip("no image is annotated in both cohen/annotations and cxr-seg/.")
		return r, nil
	}
	byStemA, byStemB := map[string]*datasets.Sample{}, map[string]*datasets.Sample{}
	for _, sm := range a.Samples {
		byStemA[sm.Stem] = sm
	}
	for _, sm := range b {
		byStemB[sm.Stem] = sm
	}
	items := map[string]*experiment.Item{}
	for _, it := range st.Items {
		if it.Cohort == datasets.CohortCohen && it.Prob != nil {
			items[it.Stem] = it
		}
	}
	size := s.InputSize
	t := &table{header: []string{"image", "lung IoU a–b", "opacity IoU a–b (in lungs, full size)", "opacity % a", "opacity % b",
		fmt.Sprintf("opacity IoU a–b (%d px)", size), fmt.Sprintf("model–a (%d px)", size), fmt.Sprintf("model–b (%d px)", size), "opacity % model"}}
	var sumAB, sumMA, sumMB []float64
	for _, im := range ag.Images {
		row := []string{im.Image, fmt.Sprintf("%.3f", im.LungIoU), fmt.Sprintf("%.3f", im.OpacityIoU), fmt.Sprintf("%.1f", im.OpacityPctA), fmt.Sprintf("%.1f", im.OpacityPctB)}
		it, sa, sb := items[im.Image], byStemA[im.Image], byStemB[im.Image]
		if it == nil || sa == nil || sb == nil {
			row = append(row, "", "", "", "")
			t.add(row...)
			continue
		}
		// b's opacity on the model's grid: framed with the crop of the
		// model's input (from a's lungs).
		bIn, err := transform.PrepareBox(&datasets.Sample{File: sb.File, Image: sb.Image, Width: sb.Width, Height: sb.Height, Opacity: sb.Opacity}, size, it.Input.Crop)
		if err != nil {
			row = append(row, "", "", "", "")
			t.add(row...)
			r.note("%s: cxr-seg mask not comparable on the model's grid: %v", im.Image, err)
			continue
		}
		pm := it.PredictedMask(datasets.TargetOpacity)
		// On the model's grid two empty masks agree fully (IoU 1).
		iou := func(x, y *mask.Mask) float64 { v, _ := research.MaskIoU(x.Pix, nil, y.Pix, nil, 1); return v }
		ab, ma, mb := iou(it.Input.Mask(datasets.TargetOpacity), bIn.Mask(datasets.TargetOpacity)), iou(pm, it.Input.Mask(datasets.TargetOpacity)), iou(pm, bIn.Mask(datasets.TargetOpacity))
		sumAB, sumMA, sumMB = append(sumAB, ab), append(sumMA, ma), append(sumMB, mb)
		pp, _ := it.PredictedPct()
		row = append(row, fmt.Sprintf("%.3f", ab), fmt.Sprintf("%.3f", ma), fmt.Sprintf("%.3f", mb), fmt.Sprintf("%.1f", pp))
		t.add(row...)
	}
	mean := func(v []float64) string {
		if len(v) == 0 {
			return "—"
		}
		s := 0.0
		for _, x := range v {
			s += x
		}
		return fmt.Sprintf("%.3f", s/float64(len(v)))
	}
	t.add(fmt.Sprintf("mean (%d images)", ag.Pairs), fmt.Sprintf("%.3f", ag.LungIoUMean), fmt.Sprintf("%.3f", ag.OpacityIoUMean), "", "", mean(sumAB), mean(sumMA), mean(sumMB), "")
	if err := r.saveTable(s, "table-agreement", "Two annotations of the same images (a: the paper's authors, b: cxr-seg radiologists) and the model"+dataTag(s), t); err != nil {
		return nil, err
	}
	r.Numbers["agreement_pairs"] = float64(ag.Pairs)
	r.Numbers["agreement_lung_iou_mean"] = ag.LungIoUMean
	r.Numbers["agreement_opacity_iou_mean"] = ag.OpacityIoUMean
	r.Numbers["agreement_pct_spearman"] = ag.OpacityPctSpearman
	if len(sumMA) > 0 {
		r.Numbers["agreement_model_a_iou_mean"] = meanOf(sumMA)
		r.Numbers["agreement_model_b_iou_mean"] = meanOf(sumMB)
		r.Numbers["agreement_ab_iou_mean_model_grid"] = meanOf(sumAB)
	} else {
		r.note("The model's columns are empty: it has not run on these images (Study.EnsureModel before Agreement, with cohen/ images present).")
	}
	if ag.Spearman.N > 0 {
		r.note("Opacity %% a vs b: Spearman ρ = %.3f (95%% CI %.3f to %.3f, n = %d).", ag.Spearman.Rho, ag.Spearman.CI95[0], ag.Spearman.CI95[1], ag.Spearman.N)
	}
	if ba := ag.BlandAltman; ba.N > 1 {
		r.note("Bland-Altman, opacity %% a − b: bias %.1f points, 95%% limits of agreement %.1f to %.1f.", ba.Bias, ba.Lower, ba.Upper)
		f, err := plots.BlandAltmanFigure("Opacity % of two annotations of the same images"+dataTag(s), "opacity %", "paper (a)", "cxr-seg (b)", ba)
		if err != nil {
			return nil, err
		}
		if err := r.saveFigure(s, "figure-agreement-bland-altman", f); err != nil {
			return nil, err
		}
	}
	var cells []plots.GridImage
	for _, im := range ag.Images {
		sa, sb := byStemA[im.Image], byStemB[im.Image]
		img := sb.Image
		if img == nil || img.Bounds().Dx() != sa.Lung.Width || img.Bounds().Dy() != sa.Lung.Height {
			continue
		}
		cells = append(cells, plots.GridImage{
			Title: fmt.Sprintf("%s\nlung IoU %.2f\nopacity IoU %.2f", shortStem(im.Image), im.LungIoU, im.OpacityIoU),
			Image: img,
			Overlays: []plots.Overlay{
				{Mask: sa.Opacity, Color: plots.ManualColor, Label: "opacity, paper's authors (a)", Fill: true},
				{Mask: sb.Opacity, Color: plots.PredictedColor, Label: "opacity, cxr-seg radiologists (b)"},
				{Mask: sa.Lung, Color: plots.LungColor, Label: "lungs, paper's authors (a)"},
			},
		})
	}
	if len(cells) > 0 {
		f, err := plots.ImageGrid("The paper's annotations (a) and the cxr-seg radiologists' (b) of the same X-rays"+dataTag(s), cells, 4)
		if err != nil {
			return nil, err
		}
		if err := r.saveFigure(s, "figure-agreement-grid", f); err != nil {
			return nil, err
		}
	}
	r.note("Opacity IoU a–b at full size is IoU(Oa∩La, Ob∩Lb), 1 when neither has opacity in its lungs. On the model's grid every IoU is of the plain opacity masks, "+
		"1 when both are empty, 0 when only one is. The model never trained on these %d images (they are held out of cxr-seg); when it was trained on cxr-seg it learnt the radiologists' (b) way of drawing, so it is expected to agree more with b.", ag.Pairs)
	return r, nil
}

func meanOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// haveCohorts lists the cohorts present in the study.
func haveCohorts(st *experiment.Study) string {
	out := ""
	for _, c := range []string{datasets.CohortCovidAR, datasets.CohortCohen, datasets.CohortCXRSeg} {
		n := cnt(st.Counts[c], func(c *experiment.CohortCount) int { return c.Read })
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%s: %d files", c, n)
	}
	return out
}
