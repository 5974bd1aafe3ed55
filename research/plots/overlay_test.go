package plots

import (
	"image"
	"image/color"
	"testing"

	"github.com/covidxray/opacity/datasets/mask"
)

// TestOverlayImage draws a 4x4 image whose lung mask is the 2x2 centre
// block and whose predicted opacity (filled) is its top-left pixel, at
// scales 1 and 3, and checks every kind of pixel against the colours
// OverlayImage's doc gives.
func TestOverlayImage(t *testing.T) {
	const n = 4
	img := image.NewGray(image.Rect(0, 0, n, n))
	lung := mask.New(n, n)
	for i := range img.Pix {
		img.Pix[i] = 100
	}
	for _, xy := range [][2]int{{1, 1}, {2, 1}, {1, 2}, {2, 2}} {
		lung.Set(xy[0], xy[1], true)
	}
	pred := mask.New(n, n)
	pred.Set(1, 1, true)
	layers := []Overlay{{Mask: pred, Color: OverlayPredicted, Fill: true}, {Mask: lung, Color: OverlayLungs}, {Mask: mask.New(n, n), Color: OverlayManual}}

	green := color.RGBA{0, 220, 0, 255}
	gray := color.RGBA{100, 100, 100, 255}
	// Predicted and not on an outline: 0.55*100 + 0.45*255 = 169.75 -> 169
	// in red, 0.55*100 = 55 in green and blue; the prediction's own outline
	// is pure red where the lung's (drawn after it) is not.
	red := color.RGBA{169, 55, 55, 255}
	pure := color.RGBA{255, 0, 0, 255}
	for _, tc := range []struct {
		scale, side int
		want        map[[2]int]color.RGBA
	}{
		// At scale 1 every lung pixel has an unset neighbour: all outline.
		{1, 4, map[[2]int]color.RGBA{{0, 0}: gray, {1, 1}: green, {2, 2}: green, {3, 3}: gray}},
		// At scale 3 the lung is output pixels 3..8; 3 and 8 are its edge,
		// 4..7 its inside; the prediction covers 3..5, its edge 3 and 5.
		{3, 12, map[[2]int]color.RGBA{{0, 0}: gray, {2, 4}: gray, {3, 3}: green, {3, 5}: green, {8, 8}: green,
			{4, 4}: red, {5, 5}: pure, {5, 4}: pure, {6, 6}: gray, {7, 4}: gray, {9, 9}: gray}},
		// A scale below 1 counts as 1.
		{0, 4, map[[2]int]color.RGBA{{1, 1}: green}},
	} {
		img := OverlayImage(img, tc.scale, layers...)
		if b := img.Bounds(); b.Dx() != tc.side || b.Dy() != tc.side {
			t.Errorf("scale %d: %v, want %dx%d", tc.scale, b, tc.side, tc.side)
			continue
		}
		for xy, want := range tc.want {
			if got := img.RGBAAt(xy[0], xy[1]); got != want {
				t.Errorf("scale %d: pixel %v = %v, want %v", tc.scale, xy, got, want)
			}
		}
	}
}

func TestMaskImage(t *testing.T) {
	m := mask.New(3, 1)
	m.Set(1, 0, true)
	if g := MaskImage(m); g.Pix[0] != 0 || g.Pix[1] != 255 || g.Pix[2] != 0 {
		t.Errorf("MaskImage: %v", g.Pix)
	}
}

func TestOverlayScale(t *testing.T) {
	for _, tc := range []struct{ side, want int }{{64, 4}, {32, 8}, {100, 3}, {256, 1}, {320, 1}, {0, 1}} {
		if got := OverlayScale(tc.side); got != tc.want {
			t.Errorf("OverlayScale(%d) = %d, want %d", tc.side, got, tc.want)
		}
	}
}
