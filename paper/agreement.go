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
	x, err := CompareAnnotations(s.DataDir(), true)
	if err != nil {
		return nil, err
	}
	ag := x.Agreement
	for _, e := range ag.Errors {
		r.note("Pair left out: %s: %s", e.File, e.Error)
	}
	if ag.Pairs == 0 {
		r.skip("no image is annotated in both cohen/annotations and cxr-seg/.")
		return r, nil
	}
	items := map[string]*experiment.Item{}
	for _, it := range st.Items {
		if it.Cohort == datasets.CohortCohen && it.Prob != nil {
			items[it.Stem] = it
		}
	}
	size := s.InputSize
	t := &table{header: append(append([]string(nil), agreementHeader...),
		fmt.Sprintf("opacity IoU a–b (%d px)", size), fmt.Sprintf("model–a (%d px)", size), fmt.Sprintf("model–b (%d px)", size), "opacity % model")}
	var sumAB, sumMA, sumMB []float64
	for _, im := range ag.Images {
		row := agreementRow(im)
		it, sa, sb := items[im.Image], x.A[im.Image], x.B[im.Image]
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
	t.add(append(agreementMeanRow(ag), mean(sumAB), mean(sumMA), mean(sumMB), "")...)
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
	}
	figs, err := x.figures()
	if err != nil {
		return nil, err
	}
	for _, f := range figs {
		if err := r.saveFigure(s, "figure-agreement-"+f.name, f.figure); err != nil {
			return nil, err
		}
	}
	r.note("Opacity IoU a–b at full size is IoU(Oa∩La, Ob∩Lb), 1 when neither has opacity in its lungs. On the model's grid every IoU is of the plain opacity masks, "+
		"1 when both are empty, 0 when only one is. The model never trained on these %d images (they are held out of cxr-seg); when it was trained on cxr-seg it learnt the radiologists' (b) way of drawing, so it is expected to agree more with b.", ag.Pairs)
	return r, nil
}

// Annotations are the two annotations of the images that both the paper's
// authors (cohen/annotations, "a") and the cxr-seg radiologists (cxr-seg/,
// "b") annotated, matched by file stem, and their comparison: what Agreement
// tabulates beside the model, and `opacity agreement` prints.
type Annotations struct {
	// Data is the data folder read.
	Data string
	// Synthetic says the data folder is a synthetic cohort.
	Synthetic bool
	// Agreement is research.CompareAnnotations of the pairs, each on the
	// image's pixel grid.
	Agreement research.Agreement
	// A and B are the samples of the pairs by file stem: cohen/annotations
	// (a) and cxr-seg/ (b).
	A, B map[string]*datasets.Sample
	// Problems lists the files of either cohort that could not be read
	// (cohort/file: reason); they are left out.
	Problems []string
}

// CompareAnnotations reads the images that cohen/annotations and cxr-seg/
// of dataDir share and compares their annotations: per image lung IoU,
// opacity IoU within the lungs and both opacity percentages, their means,
// Spearman correlation and Bland-Altman statistics. With images, the
// X-rays' pixels are read too, for the grid of SaveFigures. The error is
// for a data folder that is missing or unreadable; a missing cohort folder
// is an empty cohort, and no image in common is Agreement.Pairs 0.
func CompareAnnotations(dataDir string, images bool) (*Annotations, error) {
	opt := datasets.LoadOptions{Images: images}
	a, err := datasets.LoadCohort(dataDir, datasets.CohortCohen, opt)
	if err != nil {
		return nil, err
	}
	x := &Annotations{Data: dataDir, Synthetic: datasets.IsSynthetic(dataDir), A: map[string]*datasets.Sample{}, B: map[string]*datasets.Sample{}}
	for _, sm := range a.Samples {
		x.A[sm.Stem] = sm
	}
	var b []*datasets.Sample
	cb, err := datasets.ScanCohort(dataDir, datasets.CohortCXRSeg, opt, func(sm *datasets.Sample) error {
		if x.A[sm.Stem] != nil {
			b = append(b, sm)
			x.B[sm.Stem] = sm
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range []*datasets.Cohort{a, cb} {
		for _, e := range c.Errors {
			x.Problems = append(x.Problems, fmt.Sprintf("%s/%s: %s", c.Name, e.File, e.Error))
		}
	}
	x.Agreement = research.CompareAnnotations(a.Samples, b)
	return x, nil
}

// agreementHeader is the header of the agreement tables, the columns of
// agreementRow.
var agreementHeader = []string{"image", "lung IoU a–b", "opacity IoU a–b (in lungs, full size)", "opacity % a", "opacity % b"}

// agreementRow is the row of one image in the agreement tables.
func agreementRow(im research.AgreementImage) []string {
	return []string{im.Image, fmt.Sprintf("%.3f", im.LungIoU), fmt.Sprintf("%.3f", im.OpacityIoU), fmt.Sprintf("%.1f", im.OpacityPctA), fmt.Sprintf("%.1f", im.OpacityPctB)}
}

// agreementMeanRow is the last row of the agreement tables: the means.
func agreementMeanRow(ag research.Agreement) []string {
	return []string{fmt.Sprintf("mean (%d images)", ag.Pairs), fmt.Sprintf("%.3f", ag.LungIoUMean), fmt.Sprintf("%.3f", ag.OpacityIoUMean), "", ""}
}

// Table is the table of the pairs: per image, then the means (the columns
// of table-agreement that need no model).
func (x *Annotations) Table() Table {
	t := &table{header: agreementHeader}
	for _, im := range x.Agreement.Images {
		t.add(agreementRow(im)...)
	}
	t.add(agreementMeanRow(x.Agreement)...)
	return t.export()
}

// figures draws Agreement's figures of the pairs: "bland-altman", the
// Bland-Altman plot of the opacity % (with two pairs or more), and "grid",
// the X-rays whose pixels were read with both annotations.
func (x *Annotations) figures() ([]namedFigure, error) {
	ag, tag := x.Agreement, syntheticTag(x.Synthetic)
	var out []namedFigure
	if ba := ag.BlandAltman; ba.N > 1 {
		f, err := plots.BlandAltmanFigure("Opacity % of two annotations of the same images"+tag, "opacity %", "paper (a)", "cxr-seg (b)", ba)
		if err != nil {
			return nil, err
		}
		out = append(out, namedFigure{"bland-altman", f})
	}
	var cells []plots.GridImage
	for _, im := range ag.Images {
		sa, sb := x.A[im.Image], x.B[im.Image]
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
		f, err := plots.ImageGrid("The paper's annotations (a) and the cxr-seg radiologists' (b) of the same X-rays"+tag, cells, 4)
		if err != nil {
			return nil, err
		}
		out = append(out, namedFigure{"grid", f})
	}
	return out, nil
}

// SaveFigures writes the figures of Agreement (without the model) into
// dir, PNG and SVG, each named prefix+"bland-altman" and prefix+"grid"
// (the grid only when the images were read), and returns their paths.
func (x *Annotations) SaveFigures(dir, prefix string) ([]string, error) {
	figs, err := x.figures()
	if err != nil {
		return nil, err
	}
	return saveFigures(dir, prefix, figs)
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
