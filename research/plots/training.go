package plots

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/covidxray/opacity/research"
)

// TrainingFigure draws the training curves of the paper's Figure 2 from a
// run's per-epoch records (research.ReadMetricsCSV): the IoU per epoch
// (the paper's soft pooled IoU, convention a, solid; the per-image IoU,
// convention c, dashed, when the records have it) and the loss per epoch,
// one colour per split (train, test, ...), and per split and target when
// the records hold several targets ("test lungs"). title goes above both
// panels (empty: none).
func TrainingFigure(title string, records []research.EpochRecord) (*Figure, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("training figure: no records")
	}
	targets := map[string]bool{}
	for _, r := range records {
		targets[r.Target] = true
	}
	series := func(r research.EpochRecord) string {
		if len(targets) > 1 {
			return r.Split + " " + r.Target
		}
		return r.Split
	}
	bySplit := map[string][]research.EpochRecord{}
	var splits []string
	rank := map[string]int{} // train first, test second, others after them
	for _, r := range records {
		k := series(r)
		if _, ok := bySplit[k]; !ok {
			splits = append(splits, k)
			rank[k] = map[string]int{"train": 0, "test": 1}[r.Split]
			if r.Split != "train" && r.Split != "test" {
				rank[k] = 2
			}
		}
		bySplit[k] = append(bySplit[k], r)
	}
	sort.Slice(splits, func(a, b int) bool {
		if rank[splits[a]] != rank[splits[b]] {
			return rank[splits[a]] < rank[splits[b]]
		}
		return splits[a] < splits[b]
	})

	iou := newPlot("epoch", "IoU")
	loss := newPlot("epoch", "loss")
	addGrid(iou)
	addGrid(loss)
	iou.Y.Min, iou.Y.Max = 0, 1
	var iouLegend, lossLegend []legendEntry
	for i, sp := range splits {
		rs := bySplit[sp]
		sort.SliceStable(rs, func(a, b int) bool { return rs[a].Epoch < rs[b].Epoch })
		var soft, perImage, ls plotter.XYs
		for _, r := range rs {
			x := float64(r.Epoch)
			if !math.IsNaN(r.IoUSoftPooled) {
				soft = append(soft, plotter.XY{X: x, Y: r.IoUSoftPooled})
			}
			if !math.IsNaN(r.IoUPerImage) {
				perImage = append(perImage, plotter.XY{X: x, Y: r.IoUPerImage})
			}
			if !math.IsNaN(r.Loss) {
				ls = append(ls, plotter.XY{X: x, Y: r.Loss})
			}
		}
		for _, c := range []struct {
			xy     plotter.XYs
			dashed bool
			legend *[]legendEntry
			label  string
			p      *plot.Plot
		}{
			{soft, false, &iouLegend, sp + ": soft pooled IoU (paper's)", iou},
			{perImage, true, &iouLegend, sp + ": per-image IoU (empty/empty = 1)", iou},
			{ls, false, &lossLegend, sp, loss},
		} {
			if len(c.xy) == 0 {
				continue
			}
			l, err := plotter.NewLine(c.xy)
			if err != nil {
				return nil, fmt.Errorf("training figure, %s: %w", c.label, err)
			}
			l.LineStyle = lineStyle(i, c.dashed)
			if c.dashed {
				l.LineStyle.Width = vg.Points(1.5)
			}
			c.p.Add(l)
			st := l.LineStyle
			*c.legend = append(*c.legend, legendEntry{line: &st, text: c.label})
		}
	}
	loss.Y.Min = math.Min(0, loss.Y.Min)
	n := max(len(iouLegend), len(lossLegend))
	h := 7.5*vg.Centimeter + vg.Points(titleSize*1.25) + vg.Length(n)*vg.Points(legendSize*legendLineGap+3) + vg.Points(6)
	if title != "" {
		h += vg.Points(titleSize + 10)
	}
	panels := []panel{{title: "IoU", plot: iou, legend: iouLegend}, {title: "Loss", plot: loss, legend: lossLegend}}
	return &Figure{Width: 17 * vg.Centimeter, Height: h, draw: func(c drawCanvas) { drawPanels(c, title, panels) }}, nil
}
