package plots

import (
	"image"
	"image/color"

	"github.com/covidxray/opacity/datasets/mask"
)

// Colours of OverlayImage's usual layers.
var (
	OverlayPredicted = color.RGBA{255, 0, 0, 255}   // a prediction: red
	OverlayLungs     = color.RGBA{0, 220, 0, 255}   // lung fields: green
	OverlayManual    = color.RGBA{255, 230, 0, 255} // a manual annotation: yellow
)

// overlayTint is the weight of an overlay's colour in a filled pixel.
const overlayTint = 0.45

// OverlayImage renders img with masks drawn over it, each input pixel as a
// scale×scale block (scale < 1 counts as 1) so that a 64×64 model input
// stays legible (see OverlayScale). Overlays with Fill tint their pixels
// (45% of the colour, 55% of the gray level) in the given order; then every
// overlay's outline (its set pixels with an unset 4-neighbour, one output
// pixel wide) is drawn in its pure colour, later ones on top. Masks must be
// on img's pixel grid; nil masks are skipped. Labels are not drawn.
func OverlayImage(img *image.Gray, scale int, overlays ...Overlay) *image.RGBA {
	scale = max(scale, 1)
	b := img.Bounds()
	w, h := b.Dx()*scale, b.Dy()*scale
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	set := make([][]bool, len(overlays))   // each mask at the output's size
	edges := make([][]bool, len(overlays)) // its outline there
	for i, o := range overlays {
		if o.Mask != nil {
			set[i] = sampleMask(o.Mask, w, h)
			edges[i] = outline(set[i], w, h, 1)
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g := img.GrayAt(b.Min.X+x/scale, b.Min.Y+y/scale).Y
			c := color.RGBA{g, g, g, 255}
			for i, o := range overlays {
				if o.Fill && set[i] != nil && set[i][y*w+x] {
					c = tint(c, o.Color)
				}
			}
			for i, o := range overlays {
				if edges[i] != nil && edges[i][y*w+x] {
					c = o.Color
				}
			}
			out.SetRGBA(x, y, c)
		}
	}
	return out
}

// tint mixes c with the colour of an overlay.
func tint(c, over color.RGBA) color.RGBA {
	mix := func(a, b uint8) uint8 { return uint8((1-overlayTint)*float64(a) + overlayTint*float64(b)) }
	return color.RGBA{mix(c.R, over.R), mix(c.G, over.G), mix(c.B, over.B), 255}
}

// OverlayScale returns the scale at which OverlayImage draws an input of
// the given side at least 256 pixels wide.
func OverlayScale(side int) int {
	if side <= 0 {
		return 1
	}
	return max(1, (256+side-1)/side)
}

// MaskImage renders a mask as a black-and-white image (255 where set).
func MaskImage(m *mask.Mask) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, m.Width, m.Height))
	for i, p := range m.Pix {
		if p != 0 {
			img.Pix[i] = 255
		}
	}
	return img
}
