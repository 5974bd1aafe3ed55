package phantom

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
)

// Contact sheet geometry: tiles of sheetTile x sheetTile pixels, a caption
// of two text lines under each.
const (
	sheetTile    = 192
	sheetCaption = 30
	sheetGap     = 4
	sheetCols    = 4
)

var (
	sheetLung    = color.RGBA{0x30, 0xe0, 0x50, 0xff} // lung outline
	sheetOpacity = color.RGBA{0xff, 0x40, 0x30, 0xff} // opacity outline
)

// ContactSheet draws a contact sheet of the X-rays of a data folder
// for a person to look at: n covid-ar X-rays spread evenly over the sorted
// files, then up to (n+3)/4 cohen X-rays, each fitted into a tile with the
// lung fields outlined in green and the opacity outlined in red (the pixels
// inside are left as they are, to show what was painted),
// captioned with the file stem and the opacity percentage. It reads the
// folder like any reader would (datasets.LoadCohort), so it shows what a reader
// sees; it works on real data whose images are present too. Files that do
// not load are skipped; it is an error if no X-ray with an image is found.
func ContactSheet(dataDir string, n int) (image.Image, error) {
	if n <= 0 {
		return nil, fmt.Errorf("contact sheet: %d images: want at least 1", n)
	}
	var picked []*datasets.Sample
	for _, c := range []struct {
		name string
		n    int
	}{{datasets.CohortCovidAR, n}, {datasets.CohortCohen, (n + 3) / 4}} {
		co, err := datasets.LoadCohort(dataDir, c.name, datasets.LoadOptions{Images: true})
		if err != nil {
			return nil, err
		}
		var withImage []*datasets.Sample
		for _, s := range co.Samples {
			if s.Image != nil && s.Lung != nil {
				withImage = append(withImage, s)
			}
		}
		picked = append(picked, spread(withImage, c.n)...)
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("%s: no X-ray with an image in covid-ar or cohen", dataDir)
	}
	cols := min(sheetCols, len(picked))
	rows := (len(picked) + cols - 1) / cols
	cell := image.Pt(sheetTile+sheetGap, sheetTile+sheetCaption+sheetGap)
	sheet := image.NewRGBA(image.Rect(0, 0, cols*cell.X+sheetGap, rows*cell.Y+sheetGap))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.RGBA{0x20, 0x20, 0x28, 0xff}), image.Point{}, draw.Src)
	for i, s := range picked {
		at := image.Pt(sheetGap+(i%cols)*cell.X, sheetGap+(i/cols)*cell.Y)
		drawTile(sheet, at, s)
	}
	return sheet, nil
}

// spread returns n elements of xs evenly spaced (all if there are fewer).
func spread(xs []*datasets.Sample, n int) []*datasets.Sample {
	if len(xs) <= n {
		return xs
	}
	out := make([]*datasets.Sample, n)
	for i := range out {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}

// drawTile draws one X-ray with its masks and caption at the top-left at.
func drawTile(dst *image.RGBA, at image.Point, s *datasets.Sample) {
	b := s.Image.Bounds()
	w, h := b.Dx(), b.Dy()
	// Fit into the tile, keeping the aspect ratio.
	tw, th := sheetTile, sheetTile
	if w > h {
		th = max(1, sheetTile*h/w)
	} else {
		tw = max(1, sheetTile*w/h)
	}
	img := transform.ResizeGray(s.Image, tw, th)
	lung := transform.ResizeMask(s.Lung, tw, th)
	op := mask.New(tw, th)
	if s.Opacity != nil {
		op = transform.ResizeMask(s.Opacity, tw, th)
	}
	off := at.Add(image.Pt((sheetTile-tw)/2, (sheetTile-th)/2))
	for y := 0; y < th; y++ {
		for x := 0; x < tw; x++ {
			g := img.Pix[y*img.Stride+x]
			c := color.RGBA{g, g, g, 0xff}
			switch {
			case edge(op, x, y):
				c = sheetOpacity
			case edge(lung, x, y):
				c = sheetLung
			}
			dst.SetRGBA(off.X+x, off.Y+y, c)
		}
	}
	in, _ := s.Opacity.IntersectCount(s.Lung)
	pct := 0.0
	if n := s.Lung.Count(); n > 0 {
		pct = 100 * float64(in) / float64(n)
	}
	stem := s.Stem
	const maxChars = sheetTile / 7
	if len(stem) > maxChars {
		stem = stem[:maxChars-1] + "~"
	}
	kind := "clear"
	if s.Opacity != nil && !s.Opacity.Empty() {
		kind = fmt.Sprintf("opacity %.1f%%", pct)
	}
	caption(dst, at.Add(image.Pt(0, sheetTile+12)), stem)
	caption(dst, at.Add(image.Pt(0, sheetTile+26)), strings.TrimSpace(s.Cohort+"  "+kind))
}

// edge reports whether (x, y) is set in m with an unset 4-neighbour.
func edge(m *mask.Mask, x, y int) bool {
	return m.At(x, y) && (!m.At(x-1, y) || !m.At(x+1, y) || !m.At(x, y-1) || !m.At(x, y+1))
}

// caption writes text with its baseline at p.
func caption(dst *image.RGBA, p image.Point, text string) {
	d := font.Drawer{
		Dst:  dst,
		Src:  image.NewUniform(color.RGBA{0xe8, 0xe8, 0xe8, 0xff}),
		Face: basicfont.Face7x13,
		Dot:  fixed.P(p.X, p.Y),
	}
	d.DrawString(text)
}
