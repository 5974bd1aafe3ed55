package plots

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/covidxray/opacity/datasets/mask"
)

// Colours of the masks in image grids: the manual annotation and the
// model's prediction, distinguishable on a gray X-ray and by colour-blind
// readers.
var (
	ManualColor    = color.RGBA{255, 200, 0, 255}   // amber
	PredictedColor = color.RGBA{0, 200, 255, 255}   // cyan
	LungColor      = color.RGBA{120, 255, 120, 255} // light green
)

// Overlay is a mask drawn over an image: its outline, and optionally a
// translucent fill.
type Overlay struct {
	Mask  *mask.Mask // on the image's pixel grid
	Color color.RGBA
	Label string // legend entry, e.g. "manual"; overlays with the same label share one entry
	Fill  bool   // fill the mask translucently as well as outlining it
}

// GridImage is one cell of an image grid.
type GridImage struct {
	Title    string // above the image; "\n" breaks lines; a line too wide for the cell is cut with "…"
	Image    *image.Gray
	Overlays []Overlay
}

// ImageGrid draws images in a grid of cols columns, 17 cm wide, each with
// its title and mask outlines (the paper's Figures 1 and 5: manual and
// predicted opacity in two colours), and a legend of the overlays under
// the grid. title goes above the grid (empty: none). Each image is shown
// whole, keeping its aspect ratio, downsampled by area averaging to the
// printed resolution.
func ImageGrid(title string, cells []GridImage, cols int) (*Figure, error) {
	if len(cells) == 0 {
		return nil, fmt.Errorf("image grid: no images")
	}
	if cols < 1 {
		return nil, fmt.Errorf("image grid: %d columns", cols)
	}
	cols = min(cols, len(cells))
	rows := (len(cells) + cols - 1) / cols
	width := 17 * vg.Centimeter
	gap := vg.Points(6)
	cellW := (width - gap*vg.Length(cols+1)) / vg.Length(cols)
	// Image boxes are as tall as the tallest aspect ratio asks, at most 1.4.
	aspect := 0.0
	titleLines := 0
	var legend []legendEntry
	seen := map[string]bool{}
	for i, c := range cells {
		if c.Image == nil {
			return nil, fmt.Errorf("image grid: cell %d (%q) has no image", i, c.Title)
		}
		b := c.Image.Bounds()
		if b.Dx() == 0 || b.Dy() == 0 {
			return nil, fmt.Errorf("image grid: cell %d (%q) has an empty image", i, c.Title)
		}
		aspect = math.Max(aspect, float64(b.Dy())/float64(b.Dx()))
		if c.Title != "" {
			titleLines = max(titleLines, countLines(c.Title))
		}
		for _, o := range c.Overlays {
			if o.Mask == nil {
				continue
			}
			if o.Mask.Width != b.Dx() || o.Mask.Height != b.Dy() {
				return nil, fmt.Errorf("image grid: cell %d (%q): %s mask is %dx%d, image %dx%d", i, c.Title, o.Label, o.Mask.Width, o.Mask.Height, b.Dx(), b.Dy())
			}
			if o.Label != "" && !seen[o.Label] {
				seen[o.Label] = true
				st := draw.LineStyle{Color: o.Color, Width: vg.Points(4)}
				legend = append(legend, legendEntry{line: &st, text: o.Label})
			}
		}
	}
	aspect = math.Min(aspect, 1.4)
	imgH := cellW * vg.Length(aspect)
	cellTitleH := vg.Length(titleLines) * vg.Points(tickSize*1.25)
	cellH := imgH + cellTitleH + vg.Points(3)
	var topH vg.Length
	if title != "" {
		topH = vg.Points(titleSize + 10)
	}
	var legendH vg.Length
	if len(legend) > 0 {
		legendH = vg.Points(legendSize*legendLineGap + 10)
	}
	height := topH + vg.Length(rows)*(cellH+gap) + gap + legendH
	px := int(math.Round(cellW.Dots(PNGDPI)))
	rasters := make([]image.Image, len(cells))
	for i, c := range cells {
		rasters[i] = renderCell(c, px, int(math.Round(imgH.Dots(PNGDPI))))
	}
	return &Figure{Width: width, Height: height, draw: func(c draw.Canvas) {
		if title != "" {
			sty := textStyle(titleSize)
			sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
			c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - vg.Points(4)}, title)
		}
		sty := textStyle(tickSize)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		for i, cell := range cells {
			r, k := i/cols, i%cols
			x0 := c.Min.X + gap + vg.Length(k)*(cellW+gap)
			yTop := c.Max.Y - topH - gap - vg.Length(r)*(cellH+gap)
			for j, line := range splitLines(cell.Title) {
				c.FillText(sty, vg.Point{X: x0 + cellW/2, Y: yTop - vg.Length(j)*vg.Points(tickSize*1.25)}, fitText(sty, line, cellW))
			}
			// The raster holds the image centred in a cellW x imgH box.
			c.DrawImage(vg.Rectangle{
				Min: vg.Point{X: x0, Y: yTop - cellTitleH - vg.Points(3) - imgH},
				Max: vg.Point{X: x0 + cellW, Y: yTop - cellTitleH - vg.Points(3)},
			}, rasters[i])
		}
		if len(legend) > 0 {
			// Legend entries side by side under the grid.
			x := c.Min.X + gap
			for _, e := range legend {
				area := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
					Min: vg.Point{X: x, Y: c.Min.Y},
					Max: vg.Point{X: c.Max.X, Y: c.Min.Y + legendH - vg.Points(4)},
				}}
				drawLegend(area, []legendEntry{e})
				x += vg.Points(24+10) + textStyle(legendSize).Width(e.text) + vg.Points(18)
			}
		}
	}}, nil
}

// renderCell draws a cell's image, downsampled by area averaging to fit a
// w x h box (centred across, at the top, white around), with its overlays: translucent fills
// first, then outlines about 1 pt wide at 300 dpi.
func renderCell(c GridImage, w, h int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	b := c.Image.Bounds()
	scale := math.Min(float64(w)/float64(b.Dx()), float64(h)/float64(b.Dy()))
	dw := max(1, int(math.Round(float64(b.Dx())*scale)))
	dh := max(1, int(math.Round(float64(b.Dy())*scale)))
	ox, oy := (w-dw)/2, 0 // centred across, top-aligned under the title
	gray := downsampleGray(c.Image, dw, dh)
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			v := gray[y*dw+x]
			i := out.PixOffset(ox+x, oy+y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = v, v, v, 255
		}
	}
	thick := max(2, int(math.Round(float64(PNGDPI)/72*1.2))) // about 1.2 pt
	for pass := 0; pass < 2; pass++ {
		for _, o := range c.Overlays {
			if o.Mask == nil {
				continue
			}
			m := sampleMask(o.Mask, dw, dh)
			if pass == 0 {
				if !o.Fill {
					continue
				}
				for y := 0; y < dh; y++ {
					for x := 0; x < dw; x++ {
						if m[y*dw+x] {
							blend(out, ox+x, oy+y, o.Color, 0.3)
						}
					}
				}
				continue
			}
			edge := outline(m, dw, dh, thick)
			for y := 0; y < dh; y++ {
				for x := 0; x < dw; x++ {
					if edge[y*dw+x] {
						blend(out, ox+x, oy+y, o.Color, 1)
					}
				}
			}
		}
	}
	return out
}

func blend(img *image.RGBA, x, y int, c color.RGBA, a float64) {
	i := img.PixOffset(x, y)
	img.Pix[i] = uint8(float64(img.Pix[i])*(1-a) + float64(c.R)*a + 0.5)
	img.Pix[i+1] = uint8(float64(img.Pix[i+1])*(1-a) + float64(c.G)*a + 0.5)
	img.Pix[i+2] = uint8(float64(img.Pix[i+2])*(1-a) + float64(c.B)*a + 0.5)
}

// downsampleGray resizes img to w x h by averaging the source pixels that
// fall in each output pixel (nearest sample when enlarging).
func downsampleGray(img *image.Gray, w, h int) []uint8 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	out := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		y0 := y * sh / h
		y1 := max(y0+1, (y+1)*sh/h)
		for x := 0; x < w; x++ {
			x0 := x * sw / w
			x1 := max(x0+1, (x+1)*sw/w)
			sum, n := 0, 0
			for sy := y0; sy < y1; sy++ {
				row := img.Pix[(sy)*img.Stride:]
				for sx := x0; sx < x1; sx++ {
					sum += int(row[sx])
					n++
				}
			}
			out[y*w+x] = uint8((sum + n/2) / n)
		}
	}
	return out
}

// sampleMask samples m at the centres of a w x h grid (nearest pixel).
func sampleMask(m *mask.Mask, w, h int) []bool {
	out := make([]bool, w*h)
	for y := 0; y < h; y++ {
		sy := min(m.Height-1, int((float64(y)+0.5)*float64(m.Height)/float64(h)))
		for x := 0; x < w; x++ {
			sx := min(m.Width-1, int((float64(x)+0.5)*float64(m.Width)/float64(w)))
			out[y*w+x] = m.Pix[sy*m.Width+sx] != 0
		}
	}
	return out
}

// outline marks the pixels of m within thick/2 pixels of its boundary
// (pixels of m with a 4-neighbour outside m or outside the image), on both
// sides of it.
func outline(m []bool, w, h, thick int) []bool {
	edge := make([]bool, w*h)
	r := thick / 2
	at := func(x, y int) bool { return x >= 0 && y >= 0 && x < w && y < h && m[y*w+x] }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if !m[y*w+x] {
				continue
			}
			if at(x-1, y) && at(x+1, y) && at(x, y-1) && at(x, y+1) {
				continue
			}
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					if xx, yy := x+dx, y+dy; xx >= 0 && yy >= 0 && xx < w && yy < h && dx*dx+dy*dy <= r*r+1 {
						edge[yy*w+xx] = true
					}
				}
			}
		}
	}
	return edge
}

// fitText shortens txt, ending it with "…", until it is at most width wide
// in sty.
func fitText(sty text.Style, txt string, width vg.Length) string {
	if sty.Width(txt) <= width {
		return txt
	}
	r := []rune(txt)
	for len(r) > 1 {
		r = r[:len(r)-1]
		if t := string(r) + "…"; sty.Width(t) <= width {
			return t
		}
	}
	return string(r)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func countLines(s string) int { return len(splitLines(s)) }
