package plots

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/covidxray/opacity/research"
)

// ROCCurve is one score's curve in an ROC panel.
type ROCCurve struct {
	Label  string              // the score, e.g. "opacity % (manual)"
	Points []research.ROCPoint // the empirical curve (research.ROCCurve)
	AUC    float64
	CI     [2]float64 // shown in the legend as "AUC 0.81 (0.70–0.90)"
	// CIName names the interval in the legend, e.g. "DeLong"; empty: not named.
	CIName string
	Dashed bool
}

// CurveFromSummary makes the curve of an ROC analysis, with its DeLong
// interval in the legend.
func CurveFromSummary(label string, r research.ROCSummary) ROCCurve {
	return ROCCurve{Label: label, Points: r.Curve, AUC: r.AUC, CI: r.CI95DeLong, CIName: "DeLong"}
}

// ROCPanel is one panel of an ROC figure: one outcome, one curve per score.
type ROCPanel struct {
	Title  string // the outcome, e.g. "ICU admission"
	Note   string // a line under the title, e.g. "per image, n = 183 (61 positive)"; optional
	Curves []ROCCurve
}

// ROCFigure draws ROC panels side by side, in the style of the paper's
// Figures 3 and 4: false-positive rate (1 - specificity) across, true-positive
// rate (sensitivity) up, the chance diagonal dashed, and each curve's AUC
// with its 95% interval in the legend. title is drawn above the panels
// (empty: none). Each panel is 8 cm wide.
func ROCFigure(title string, panels []ROCPanel) (*Figure, error) {
	if len(panels) == 0 {
		return nil, fmt.Errorf("ROC figure: no panels")
	}
	var panelsOut []panel
	maxCurves := 0
	for _, pn := range panels {
		if len(pn.Curves) == 0 {
			return nil, fmt.Errorf("ROC figure: panel %q has no curve", pn.Title)
		}
		t := pn.Title
		if pn.Note != "" {
			t += "\n" + pn.Note
		}
		p := newPlot("1 − specificity (false-positive rate)", "sensitivity (true-positive rate)")
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		p.X.Tick.Marker = fixedTicks(0, 1, 0.2)
		p.Y.Tick.Marker = fixedTicks(0, 1, 0.2)
		addGrid(p)
		diag, err := identityLine(0, 1)
		if err != nil {
			return nil, err
		}
		p.Add(diag)
		var legend []legendEntry
		maxCurves = max(maxCurves, len(pn.Curves))
		for i, c := range pn.Curves {
			if len(c.Points) < 2 {
				return nil, fmt.Errorf("ROC figure: curve %q has %d points", c.Label, len(c.Points))
			}
			xy := make(plotter.XYs, len(c.Points))
			for k, pt := range c.Points {
				xy[k] = plotter.XY{X: pt.FPR, Y: pt.TPR}
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, fmt.Errorf("ROC figure: curve %q: %w", c.Label, err)
			}
			l.LineStyle = lineStyle(i, c.Dashed)
			p.Add(l)
			ci := "95% CI"
			if c.CIName != "" {
				ci += " " + c.CIName
			}
			ls := l.LineStyle
			legend = append(legend, legendEntry{line: &ls, text: fmt.Sprintf("%s: AUC %.2f\n(%s %.2f–%.2f)", c.Label, c.AUC, ci, c.CI[0], c.CI[1])})
		}
		panelsOut = append(panelsOut, panel{title: t, plot: p, legend: legend})
	}
	w := vg.Length(len(panels)) * 8 * vg.Centimeter
	titleLines := 1
	for _, pn := range panels {
		if pn.Note != "" {
			titleLines = 2
		}
	}
	h := 7.5*vg.Centimeter + vg.Length(titleLines)*vg.Points(titleSize*1.25) + vg.Length(maxCurves)*vg.Points(2*legendSize*legendLineGap+3) + vg.Points(6)
	if title != "" {
		h += vg.Points(titleSize + 10)
	}
	return &Figure{Width: w, Height: h, draw: func(c drawCanvas) { drawPanels(c, title, panelsOut) }}, nil
}

// fixedTicks returns a tick marker with labelled ticks from lo to hi by step.
func fixedTicks(lo, hi, step float64) plot.ConstantTicks {
	format := "%.1f"
	if step == math.Trunc(step) {
		format = "%.0f"
	}
	var t plot.ConstantTicks
	for v := lo; v <= hi+step/1e6; v += step {
		t = append(t, plot.Tick{Value: v, Label: fmt.Sprintf(format, v)})
	}
	return t
}

// identityLine is the line y = x from (lo, lo) to (hi, hi), gray and
// dashed: chance on a ROC plot, agreement on a scatter of one quantity
// measured twice.
func identityLine(lo, hi float64) (*plotter.Line, error) {
	l, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return nil, err
	}
	l.LineStyle.Color = Gray
	l.LineStyle.Width = vg.Points(1)
	l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	return l, nil
}
