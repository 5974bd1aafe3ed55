package plots

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Text sizes at the printed size of a figure.
const (
	titleSize  = 12
	labelSize  = 11
	tickSize   = 10
	legendSize = 10
)

// LineWidth is the width of data lines.
var LineWidth = vg.Points(2)

// Palette is the Okabe-Ito colour-blind-safe palette: curves take its
// colours in order.
var Palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{0, 0, 0, 255},       // black
}

func paletteColor(i int) color.RGBA { return Palette[i%len(Palette)] }

// Gray is the colour of reference lines (chance diagonal, zero line).
var Gray = color.RGBA{120, 120, 120, 255}

func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(plot.DefaultFont, size),
		Handler: plot.DefaultTextHandler,
	}
}

// niceTicks labels about n ticks at round values (1, 2 or 5 times a power
// of ten) with unlabelled minor ticks between them.
type niceTicks struct{ n int }

// Ticks implements plot.Ticker.
func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: fmt.Sprint(lo)}}
	}
	raw := (hi - lo) / float64(max(t.n, 2))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	prec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v+0, 'f', prec, 64)})
		if mid := v + step/2; mid < hi {
			ticks = append(ticks, plot.Tick{Value: mid})
		}
	}
	return ticks
}

// newPlot returns a plot with the figure fonts and line widths. The title
// is drawn by drawPanels (aligned across panels), so it is kept out of the
// plot itself.
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font.Size = labelSize
		ax.Tick.Label.Font.Size = tickSize
		ax.LineStyle.Width = vg.Points(1)
		ax.Tick.LineStyle.Width = vg.Points(1)
	}
	p.X.Tick.Marker = niceTicks{n: 5}
	p.Y.Tick.Marker = niceTicks{n: 5}
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.TextStyle.Font.Size = legendSize
	p.Legend.ThumbnailWidth = vg.Points(22)
	return p
}

// addGrid adds light grid lines behind the data.
func addGrid(p *plot.Plot) {
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	g.Vertical.Width = vg.Points(0.5)
	g.Horizontal.Width = vg.Points(0.5)
	p.Add(g)
}

// lineStyle returns a solid (dash 0) or dashed line of the palette colour i.
func lineStyle(i int, dashed bool) draw.LineStyle {
	s := draw.LineStyle{Color: paletteColor(i), Width: LineWidth}
	if dashed {
		s.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	return s
}

// legendEntry is one entry of a legend drawn under a panel: a line
// swatch and/or a glyph, and a text of one or more lines.
type legendEntry struct {
	line  *draw.LineStyle
	glyph *draw.GlyphStyle
	text  string
}

// panel is a plot with the legend to draw under it.
type panel struct {
	title  string // drawn above the panel (may hold several lines)
	plot   *plot.Plot
	legend []legendEntry
}

const legendLineGap = 1.25 // line height as a multiple of the font size

func legendHeight(entries []legendEntry) vg.Length {
	var h vg.Length
	for _, e := range entries {
		h += vg.Length(strings.Count(e.text, "\n")+1)*vg.Points(legendSize*legendLineGap) + vg.Points(3)
	}
	return h
}

// drawLegend draws entries from the top left of c downwards.
func drawLegend(c draw.Canvas, entries []legendEntry) {
	sty := textStyle(legendSize)
	sty.XAlign = draw.XLeft
	sty.YAlign = draw.YTop
	swatch := vg.Points(24)
	y := c.Max.Y
	for _, e := range entries {
		lines := strings.Split(e.text, "\n")
		mid := y - vg.Points(legendSize*legendLineGap)/2
		if e.line != nil {
			c.StrokeLine2(*e.line, c.Min.X, mid, c.Min.X+swatch, mid)
		}
		if e.glyph != nil {
			c.DrawGlyphNoClip(*e.glyph, vg.Point{X: c.Min.X + swatch/2, Y: mid})
		}
		for k, l := range lines {
			c.FillText(sty, vg.Point{X: c.Min.X + swatch + vg.Points(5), Y: y - vg.Length(k)*vg.Points(legendSize*legendLineGap)}, l)
		}
		y -= vg.Length(len(lines))*vg.Points(legendSize*legendLineGap) + vg.Points(3)
	}
}

// drawPanels draws panels side by side on c, each with its legend under
// it, and an optional overall title above them.
func drawPanels(c draw.Canvas, title string, panels []panel) {
	if title != "" {
		sty := textStyle(titleSize)
		sty.XAlign = draw.XCenter
		sty.YAlign = draw.YTop
		c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(4)}, title)
		c = draw.Crop(c, 0, 0, 0, -vg.Points(titleSize+10))
	}
	var lh vg.Length
	titleLines := 0
	for _, p := range panels {
		lh = max(lh, legendHeight(p.legend))
		if p.title != "" {
			titleLines = max(titleLines, strings.Count(p.title, "\n")+1)
		}
	}
	th := vg.Length(titleLines) * vg.Points(titleSize*1.25)
	if th > 0 {
		th += vg.Points(4)
	}
	if lh > 0 {
		lh += vg.Points(6)
	}
	plotArea := draw.Crop(c, 0, 0, lh, -th)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Points(14), PadTop: vg.Points(2), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	plots := make([]*plot.Plot, len(panels))
	for i, p := range panels {
		plots[i] = p.plot
	}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, plotArea)
	for i, p := range panels {
		p.plot.Draw(canvases[0][i])
		if p.title != "" {
			// Centred over the data area, all panel titles on one baseline.
			da := p.plot.DataCanvas(canvases[0][i])
			sty := textStyle(titleSize)
			sty.XAlign = draw.XCenter
			sty.YAlign = draw.YTop
			for k, line := range strings.Split(p.title, "\n") {
				c.FillText(sty, vg.Point{X: (da.Min.X + da.Max.X) / 2, Y: c.Max.Y - vg.Length(k)*vg.Points(titleSize*1.25)}, line)
			}
		}
		if len(p.legend) > 0 {
			tile := canvases[0][i]
			area := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: tile.Min.X + vg.Points(30), Y: c.Min.Y},
				Max: vg.Point{X: tile.Max.X, Y: c.Min.Y + lh - vg.Points(4)},
			}}
			drawLegend(area, p.legend)
		}
	}
}
