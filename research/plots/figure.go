// Package plots draws the figures of the opacity-segmentation study with
// gonum/plot: ROC panels (the paper's Figures 3 and 4), training curves
// (Figure 2), image grids with manual and predicted masks (Figures 1 and 5),
// a scatter of opacity percentage against Cohen's severity scores with
// Spearman's rho, and a Bland-Altman plot of two annotations.
//
// Every figure is sized for a printed page (widths in centimetres, text of
// 10 pt or more at that size, lines of 2 pt) and is written as PNG (300 dpi)
// and SVG with atomic writes.
package plots

import (
	"bytes"
	"fmt"
	"image/png"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/covidxray/opacity/atomicfile"
)

// Figure is a drawing of a given printed size, written as PNG or SVG.
type Figure struct {
	Width, Height vg.Length
	draw          func(c drawCanvas)
}

// PNGDPI is the resolution of the PNG files.
const PNGDPI = 300

// Draw draws the figure on c (for embedding it in another drawing).
func (f *Figure) Draw(c draw.Canvas) { f.draw(c) }

// PNG returns the figure as a PNG image at PNGDPI.
func (f *Figure) PNG() ([]byte, error) { return f.RenderPNG(PNGDPI, png.DefaultCompression) }

// RenderPNG returns the figure as a PNG image at dpi with the given
// compression level: a lower resolution and png.BestSpeed write smaller
// images in a fraction of the time, for outputs made in bulk.
func (f *Figure) RenderPNG(dpi float64, level png.CompressionLevel) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(int(dpi)))
	f.draw(draw.New(c))
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, c.Image()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SVG returns the figure as an SVG document (fonts embedded).
func (f *Figure) SVG() ([]byte, error) {
	c := vgsvg.NewWith(vgsvg.UseWH(f.Width, f.Height), vgsvg.EmbedFonts(true))
	f.draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Save writes the figure to path, as PNG or SVG by the extension (.png or
// .svg), atomically (temporary file in the same folder, then rename).
func (f *Figure) Save(path string) error {
	var data []byte
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		data, err = f.PNG()
	case ".svg":
		data, err = f.SVG()
	default:
		return fmt.Errorf("%s: unknown figure format (want .png or .svg)", path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// SaveAll writes base+".png" and base+".svg" and returns their paths.
func (f *Figure) SaveAll(base string) ([]string, error) {
	paths := []string{base + ".png", base + ".svg"}
	for _, p := range paths {
		if err := f.Save(p); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

type drawCanvas = draw.Canvas
