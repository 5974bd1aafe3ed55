package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/covidxray/opacity/research"
)

// ScatterPanel is one scatter plot of paired values with their Spearman
// correlation.
type ScatterPanel struct {
	Title          string
	XLabel, YLabel string
	X, Y           []float64
	Corr           research.Correlation // shown under the title: "Spearman ρ = 0.81, n = 21", "(95% CI 0.62 to 0.91)"
	// Percent marks X and Y as the same percentage measured twice: both
	// axes 0-100 with ticks every 20, and the line of agreement y = x.
	Percent bool
}

// ScatterFigure draws scatter panels side by side (8 cm each), e.g. the
// opacity percentage against Cohen's geographic-extent and opacity scores.
func ScatterFigure(title string, panels []ScatterPanel) (*Figure, error) {
	if len(panels) == 0 {
		return nil, fmt.Errorf("scatter figure: no panels")
	}
	var ps []panel
	for _, sp := range panels {
		if len(sp.X) != len(sp.Y) || len(sp.X) == 0 {
			return nil, fmt.Errorf("scatter figure, %q: %d x and %d y values", sp.Title, len(sp.X), len(sp.Y))
		}
		p := newPlot(sp.XLabel, sp.YLabel)
		addGrid(p)
		xy := make(plotter.XYs, len(sp.X))
		for i := range sp.X {
			xy[i] = plotter.XY{X: sp.X[i], Y: sp.Y[i]}
		}
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, fmt.Errorf("scatter figure, %q: %w", sp.Title, err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: paletteColor(0), Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
		if sp.Percent {
			diag, err := identityLine(0, 100)
			if err != nil {
				return nil, err
			}
			p.Add(diag)
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -3, 103, -3, 103
			p.X.Tick.Marker = fixedTicks(0, 100, 20)
			p.Y.Tick.Marker = fixedTicks(0, 100, 20)
		}
		p.Add(s)
		if !sp.Percent {
			padRange(&p.X.Min, &p.X.Max)
			padRange(&p.Y.Min, &p.Y.Max)
		}
		t := sp.Title + "\n" + fmt.Sprintf("Spearman ρ = %.2f, n = %d", sp.Corr.Rho, len(sp.X)) + "\n" + fmt.Sprintf("(95%% CI %.2f to %.2f)", sp.Corr.CI95[0], sp.Corr.CI95[1])
		ps = append(ps, panel{title: t, plot: p})
	}
	h := 7.5*vg.Centimeter + vg.Points(3*titleSize*1.25+4)
	if title != "" {
		h += vg.Points(titleSize + 10)
	}
	return &Figure{Width: vg.Length(len(panels)) * 8.5 * vg.Centimeter, Height: h, draw: func(c drawCanvas) { drawPanels(c, title, ps) }}, nil
}

// padRange widens [lo, hi] by 5% on each side so that points on the edge
// are not cut by the axes.
func padRange(lo, hi *float64) {
	d := *hi - *lo
	if d == 0 {
		d = math.Max(1, math.Abs(*hi))
	}
	*lo -= 0.05 * d
	*hi += 0.05 * d
}

// BlandAltmanFigure draws the Bland-Altman plot of two measurements of the
// same cases (research.BlandAltman): the difference a - b against the mean
// (a + b)/2, the bias as a solid line and the 95% limits of agreement
// (bias ± 1.96 SD) dashed, each labelled with its value. what names the measurement (e.g.
// "opacity %"), nameA and nameB the two raters.
func BlandAltmanFigure(title, what, nameA, nameB string, s research.BlandAltmanStats) (*Figure, error) {
	if s.N == 0 || len(s.Means) != s.N || len(s.Diffs) != s.N {
		return nil, fmt.Errorf("bland-altman figure: no data")
	}
	p := newPlot(fmt.Sprintf("mean of %s, (%s + %s)/2", what, nameA, nameB), fmt.Sprintf("difference, %s − %s", nameA, nameB))
	addGrid(p)
	xy := make(plotter.XYs, s.N)
	for i := range xy {
		xy[i] = plotter.XY{X: s.Means[i], Y: s.Diffs[i]}
	}
	sc, err := plotter.NewScatter(xy)
	if err != nil {
		return nil, fmt.Errorf("bland-altman figure: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: paletteColor(0), Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
	// Y range: the points and both limits, padded.
	ylo, yhi := math.Min(s.Lower, 0), math.Max(s.Upper, 0)
	for _, d := range s.Diffs {
		ylo, yhi = math.Min(ylo, d), math.Max(yhi, d)
	}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	for _, m := range s.Means {
		xlo, xhi = math.Min(xlo, m), math.Max(xhi, m)
	}
	padRange(&xlo, &xhi)
	padRange(&ylo, &yhi)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xlo, xhi, ylo, yhi
	hline := func(y float64, st draw.LineStyle) error {
		l, err := plotter.NewLine(plotter.XYs{{X: xlo, Y: y}, {X: xhi, Y: y}})
		if err != nil {
			return err
		}
		l.LineStyle = st
		p.Add(l)
		return nil
	}
	zero := draw.LineStyle{Color: Gray, Width: vg.Points(1)}
	bias := draw.LineStyle{Color: paletteColor(1), Width: LineWidth}
	limit := draw.LineStyle{Color: paletteColor(1), Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	for _, h := range []struct {
		y  float64
		st draw.LineStyle
	}{{0, zero}, {s.Bias, bias}, {s.Lower, limit}, {s.Upper, limit}} {
		if err := hline(h.y, h.st); err != nil {
			return nil, fmt.Errorf("bland-altman figure: %w", err)
		}
	}
	p.Add(sc)
	lab, err := plotter.NewLabels(plotter.XYLabels{
		XYs:    []plotter.XY{{X: xhi, Y: s.Upper}, {X: xhi, Y: s.Bias}, {X: xhi, Y: s.Lower}},
		Labels: []string{fmt.Sprintf("upper limit %.1f", s.Upper), fmt.Sprintf("bias %.1f", s.Bias), fmt.Sprintf("lower limit %.1f", s.Lower)},
	})
	if err != nil {
		return nil, fmt.Errorf("bland-altman figure: %w", err)
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i] = textStyle(tickSize)
		lab.TextStyle[i].Color = color.RGBA{120, 50, 0, 255}
		lab.TextStyle[i].XAlign = draw.XRight
		lab.TextStyle[i].YAlign = draw.YBottom
	}
	lab.Offset = vg.Point{X: -vg.Points(3), Y: vg.Points(2)}
	p.Add(lab)
	t := fmt.Sprintf("%s: %s vs %s, n = %d", what, nameA, nameB, s.N)
	lines := 1
	if title != "" { // one panel: the figure title goes over its data area too
		t = title + "\n" + t
		lines = 2
	}
	ps := []panel{{title: t, plot: p}}
	h := 8*vg.Centimeter + vg.Length(lines)*vg.Points(titleSize*1.25) + vg.Points(4)
	return &Figure{Width: 10 * vg.Centimeter, Height: h, draw: func(c drawCanvas) { drawPanels(c, "", ps) }}, nil
}
