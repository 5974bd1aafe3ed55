package paper

import (
	"fmt"
	"math"
	"sort"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

// Figure5Images is the number of images in each panel of Figure 5.
const Figure5Images = 8

// ranked is one unseen image with its per-image scores.
type ranked struct {
	it        *experiment.Item
	iou       float64 // hard IoU; NaN for empty/empty
	pred      *mask.Mask
	predPct   float64
	predCount int
}

// rankByIoU returns the items with predictions that the model did not train
// on (test and validation), sorted by per-image IoU, worst first; images
// where neither the manual nor the predicted mask has opacity (they agree
// perfectly, IoU undefined) are left out.
func rankByIoU(st *experiment.Study) ([]ranked, int, error) {
	var out []ranked
	agree := 0
	for _, it := range st.Items {
		if it.Prob == nil || it.Subset == experiment.SubsetTrain {
			continue
		}
		c, err := research.CountImage(research.Prediction{Name: it.Stem, Truth: it.Input.Pix(datasets.TargetOpacity), Prob: it.Prob[datasets.TargetOpacity]}, research.DefaultThreshold)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", it.File, err)
		}
		iou := c.IoU()
		if math.IsNaN(iou) {
			agree++
			continue
		}
		m := it.PredictedMask(datasets.TargetOpacity)
		p, err := it.PredictedPct()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, ranked{it: it, iou: iou, pred: m, predPct: p, predCount: c.Pred})
	}
	// Worst first; among equal IoUs (clear lungs with false positives all
	// score 0) the larger predicted area first.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].iou != out[j].iou {
			return out[i].iou < out[j].iou
		}
		return out[i].predCount > out[j].predCount
	})
	return out, agree, nil
}

// pickWorst returns the n worst ranked images, half of them (when there are
// enough) with opacity in the manual mask and half clear lungs with a false
// prediction, so that both kinds of error are shown (the paper's Figure 5
// has both: 5a–c opaque lungs, 5d clear lungs), in ranking order.
func pickWorst(rs []ranked, n int) []ranked {
	var opaque, clear []int
	for i, x := range rs {
		if x.it.InputOpaque() {
			opaque = append(opaque, i)
		} else {
			clear = append(clear, i)
		}
	}
	nc := min(len(clear), n/2)
	no := min(len(opaque), n-nc)
	nc = min(len(clear), n-no)
	keep := append(append([]int(nil), opaque[:no]...), clear[:nc]...)
	sort.Ints(keep)
	out := make([]ranked, len(keep))
	for i, k := range keep {
		out[i] = rs[k]
	}
	return out
}

// gridCells draws ranked images with the manual opacity filled and the
// predicted outlined.
func gridCells(rs []ranked) []plots.GridImage {
	var cells []plots.GridImage
	for _, x := range rs {
		in := x.it.Input
		manualPct, _ := research.OpacityPercent(in.Mask(datasets.TargetLungs), in.Mask(datasets.TargetOpacity))
		cells = append(cells, plots.GridImage{
			Title: fmt.Sprintf("%s\n%s, IoU %.2f\nopacity %.0f%% / %.0f%%", shortStem(x.it.Stem), x.it.Subset, x.iou, manualPct, x.predPct),
			Image: in.Image,
			Overlays: []plots.Overlay{
				{Mask: in.Mask(datasets.TargetLungs), Color: plots.LungColor, Label: "lungs (manual)"},
				{Mask: in.Mask(datasets.TargetOpacity), Color: plots.ManualColor, Label: "opacity, manual", Fill: true},
				{Mask: x.pred, Color: plots.PredictedColor, Label: "opacity, predicted (p > 0.5)"},
			},
		})
	}
	return cells
}

// Figure5 is the paper's Figure 5: the images the model did not train on
// (test and validation) where its prediction and the manual labels disagree
// most, ranked by per-image IoU (worst first), with the manual opacity
// (filled) and the predicted opacity (outlined) in two colours, half of
// them with opacity in the manual mask and half clear lungs with a false
// prediction when there are both; and, for contrast, the best ones. Images where neither has opacity (perfect
// agreement, IoU undefined) are not ranked. Files: figure5 (worst),
// figure5-best, table-figure5 (every ranked image).
func Figure5(st *experiment.Study) (*Result, error) {
	return finish(st, "figure5")(figure5(st))
}

func figure5(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Figure 5: where prediction and manual labels disagree")
	rs, agree, err := rankByIoU(st)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		if st.TrainCohort == "" {
			r.skip("no model: no cohort with images to train on (%s).", st.TrainCohortNote())
		} else if len(st.Predictions(datasets.TargetOpacity)) == 0 {
			r.skip("no predictions: call Study.EnsureModel before Figure5.")
		} else {
			r.skip("no test or validation image with opacity in the manual or the predicted mask.")
		}
		return r, nil
	}
	n := min(Figure5Images, len(rs))
	worst := pickWorst(rs, n)
	f, err := plots.ImageGrid("Largest disagreements, by per-image IoU"+shortTag(s), gridCells(worst), 4)
	if err != nil {
		return nil, err
	}
	if err := r.saveFigure(s, "figure5", f); err != nil {
		return nil, err
	}
	best := make([]ranked, 0, n)
	for i := len(rs) - 1; i >= 0 && len(best) < n; i-- {
		best = append(best, rs[i])
	}
	f, err = plots.ImageGrid("Closest agreements, by per-image IoU"+shortTag(s), gridCells(best), 4)
	if err != nil {
		return nil, err
	}
	if err := r.saveFigure(s, "figure5-best", f); err != nil {
		return nil, err
	}
	t := &table{header: []string{"rank", "image", "subset", "IoU", "manual opacity px", "predicted opacity px", "opacity % manual", "opacity % predicted"}}
	for i, x := range rs {
		in := x.it.Input
		mp, _ := research.OpacityPercent(in.Mask(datasets.TargetLungs), in.Mask(datasets.TargetOpacity))
		t.add(fmt.Sprint(i+1), x.it.Stem, x.it.Subset, fmt.Sprintf("%.3f", x.iou), fmt.Sprint(in.Mask(datasets.TargetOpacity).Count()), fmt.Sprint(x.predCount), fmt.Sprintf("%.1f", mp), fmt.Sprintf("%.1f", x.predPct))
	}
	if err := r.saveTable(s, "table-figure5", "Unseen images ranked by per-image IoU, worst first"+dataTag(s), t); err != nil {
		return nil, err
	}
	r.Numbers["figure5_worst_iou"] = rs[0].iou
	r.Numbers["figure5_best_iou"] = rs[len(rs)-1].iou
	r.note("Model trained on %s, %d×%d input. Amber (filled): the manual opacity; cyan (outline): the predicted opacity (p > 0.5); green: the manual lung outline; "+
		"titles: image, subset, per-image IoU, opacity %% manual / predicted. Masks at the model's input size. "+
		"%d unseen images are ranked; %d more have no opacity in either mask (perfect agreement) and are not shown. "+
		"The paper picked its examples by hand (scattered manual labels, rib shadows, overlapping tissue, bronchial markings); here they are the worst by IoU, "+
		"half with manual opacity and half clear lungs with a false prediction (those all score 0; the largest predicted areas first).", st.TrainCohort, s.InputSize, s.InputSize, len(rs), agree)
	return r, nil
}
