package transform

import (
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
)

// PaperSize is the side of the square model input in the paper (section
// 2.4): every lung-cropped image is resized to 320 x 320 pixels.
const PaperSize = 320

// DefaultMargin is the margin added around the lung bounding box before
// cropping, as a fraction of the box's width (left and right) and height
// (top and bottom). The paper crops "to only keep the lung regions" without
// giving a margin; 5% keeps the lung borders (costophrenic angles, apices)
// away from the image edge after augmentation without adding much else.
const DefaultMargin = 0.05

// Prepared is one sample framed as a model input: cropped (to the lung
// fields, or not at all) and resized to Size x Size, with the masks of every
// target the sample has framed the same way.
type Prepared struct {
	Stem, Patient, Cohort string
	Size                  int
	Frame                 Framing
	Image                 *image.Gray // Size x Size, bilinear resample of the crop
	// Masks holds the sample's target masks (datasets.TargetLungs,
	// datasets.TargetOpacity), Size x Size, nearest resample of the crop. A
	// sample without opacity has an empty opacity mask; one without lungs
	// (an image to analyse) has no lung mask.
	Masks map[string]*mask.Mask
	Crop  image.Rectangle // the crop, in the source image's pixels
}

// Mask returns the framed mask of a target, nil when p has none.
func (p *Prepared) Mask(target string) *mask.Mask { return p.Masks[target] }

// Pix returns the framed mask of a target as 0/1 pixels, row-major, all 0
// when p has no mask of that target.
func (p *Prepared) Pix(target string) []uint8 {
	if m := p.Masks[target]; m != nil {
		return m.Pix
	}
	return make([]uint8, p.Size*p.Size)
}

// errEmptyLung is returned by CropBox when the lung mask has no pixel.
var errEmptyLung = errors.New("lung mask is empty")

// CropBox returns the bounding box of the lung mask's set pixels, grown on
// each side by margin times the box's width (left, right) or height (top,
// bottom), rounded up to whole pixels, and clipped to the mask. It returns an
// error if the mask is nil or empty, or margin is negative or not finite.
func CropBox(lung *mask.Mask, margin float64) (image.Rectangle, error) {
	if lung == nil {
		return image.Rectangle{}, errors.New("no lung mask")
	}
	if margin < 0 || math.IsNaN(margin) || math.IsInf(margin, 0) {
		return image.Rectangle{}, fmt.Errorf("margin %v: want a finite value >= 0", margin)
	}
	x0, y0, x1, y1 := lung.Width, lung.Height, -1, -1
	for y := 0; y < lung.Height; y++ {
		row := lung.Pix[y*lung.Width : (y+1)*lung.Width]
		for x, p := range row {
			if p == 0 {
				continue
			}
			x0, x1 = min(x0, x), max(x1, x)
			y0, y1 = min(y0, y), max(y1, y)
		}
	}
	if x1 < 0 {
		return image.Rectangle{}, errEmptyLung
	}
	r := image.Rect(x0, y0, x1+1, y1+1)
	mx := int(math.Ceil(margin * float64(r.Dx())))
	my := int(math.Ceil(margin * float64(r.Dy())))
	r = image.Rect(r.Min.X-mx, r.Min.Y-my, r.Max.X+mx, r.Max.Y+my)
	return r.Intersect(image.Rect(0, 0, lung.Width, lung.Height)), nil
}

// Prepare frames a sample as a model input (see Framing): FrameLungCrop
// crops the image and the masks to CropBox(s.Lung, DefaultMargin), the
// paper's preprocessing; FrameWhole keeps the whole image. Both resize to
// size x size, bilinear for the image and nearest for the masks. A nil
// opacity mask is taken as empty. It returns an error naming s.File when
// the sample has no image, masks that do not fit the image, or, for the
// lung crop, no or an empty lung mask.
func Prepare(s *datasets.Sample, size int, frame Framing) (*Prepared, error) {
	if s == nil {
		return nil, errors.New("nil sample")
	}
	if s.Image == nil {
		return nil, fmt.Errorf("%s: no image to preprocess (annotation only)", s.File)
	}
	b := s.Image.Bounds()
	switch frame {
	case FrameWhole:
		return PrepareBox(s, size, image.Rect(0, 0, b.Dx(), b.Dy()))
	case FrameLungCrop:
		if s.Lung == nil {
			return nil, fmt.Errorf("%s: no lung mask", s.File)
		}
		if s.Lung.Width != b.Dx() || s.Lung.Height != b.Dy() {
			return nil, fmt.Errorf("%s: lung mask is %dx%d, image %dx%d", s.File, s.Lung.Width, s.Lung.Height, b.Dx(), b.Dy())
		}
		crop, err := CropBox(s.Lung, DefaultMargin)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
		return PrepareBox(s, size, crop)
	}
	return nil, fmt.Errorf("%s: framing %q: want %s or %s", s.File, frame, FrameLungCrop, FrameWhole)
}

// PrepareBox frames a sample by cropping its image and masks to box (in the
// image's pixels, clipped to the image) and resizing them to size x size;
// the automatic pipeline crops to the predicted lungs' box this way, as the
// paper crops to the manual one. Frame is FrameWhole when box is the whole
// image, FrameLungCrop otherwise.
func PrepareBox(s *datasets.Sample, size int, box image.Rectangle) (*Prepared, error) {
	if s == nil {
		return nil, errors.New("nil sample")
	}
	if size <= 0 {
		return nil, fmt.Errorf("%s: size %d: want > 0", s.File, size)
	}
	if s.Image == nil {
		return nil, fmt.Errorf("%s: no image to preprocess (annotation only)", s.File)
	}
	b := s.Image.Bounds()
	w, h := b.Dx(), b.Dy()
	full := image.Rect(0, 0, w, h)
	box = box.Intersect(full)
	if box.Empty() {
		return nil, fmt.Errorf("%s: the crop box is outside the %dx%d image", s.File, w, h)
	}
	frame := FrameLungCrop
	if box == full {
		frame = FrameWhole
	}
	p := &Prepared{
		Stem:    s.Stem,
		Patient: s.Patient,
		Cohort:  s.Cohort,
		Size:    size,
		Frame:   frame,
		Image:   ResizeGray(cropGray(s.Image, box), size, size),
		Masks:   map[string]*mask.Mask{},
		Crop:    box,
	}
	for _, t := range datasets.KnownTargets {
		m := s.Mask(t)
		if m == nil {
			if t != datasets.TargetOpacity {
				continue
			}
			m = mask.New(w, h)
		}
		if m.Width != w || m.Height != h {
			return nil, fmt.Errorf("%s: %s mask is %dx%d, image %dx%d", s.File, t, m.Width, m.Height, w, h)
		}
		p.Masks[t] = ResizeMask(cropMask(m, box), size, size)
	}
	return p, nil
}

// cropGray copies the part r (in pixels from the top-left corner of img)
// of img into a new image whose bounds start at (0, 0).
func cropGray(img *image.Gray, r image.Rectangle) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		src := img.PixOffset(b.Min.X+r.Min.X, b.Min.Y+r.Min.Y+y)
		copy(out.Pix[y*out.Stride:y*out.Stride+r.Dx()], img.Pix[src:src+r.Dx()])
	}
	return out
}

// cropMask copies the part r of m into a new mask.
func cropMask(m *mask.Mask, r image.Rectangle) *mask.Mask {
	out := mask.New(r.Dx(), r.Dy())
	for y := 0; y < r.Dy(); y++ {
		src := (r.Min.Y+y)*m.Width + r.Min.X
		copy(out.Pix[y*out.Width:(y+1)*out.Width], m.Pix[src:src+r.Dx()])
	}
	return out
}

// ResizeGray resizes img to w x h by bilinear interpolation with pixel
// centres aligned: output pixel (x, y) samples the source at
// ((x+0.5)*sw/w-0.5, (y+0.5)*sh/h-0.5), clamped to the edge pixels, and
// rounds to the nearest gray level. This is OpenCV's INTER_LINEAR (no
// antialiasing when shrinking). The result's bounds start at (0, 0).
func ResizeGray(img *image.Gray, w, h int) *image.Gray {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	if sw == 0 || sh == 0 || w <= 0 || h <= 0 {
		return out
	}
	x0s, x1s, wxs := linearTaps(sw, w)
	y0s, y1s, wys := linearTaps(sh, h)
	for y := 0; y < h; y++ {
		r0 := img.PixOffset(b.Min.X, b.Min.Y+y0s[y])
		r1 := img.PixOffset(b.Min.X, b.Min.Y+y1s[y])
		wy := wys[y]
		for x := 0; x < w; x++ {
			wx := wxs[x]
			top := float64(img.Pix[r0+x0s[x]])*(1-wx) + float64(img.Pix[r0+x1s[x]])*wx
			bot := float64(img.Pix[r1+x0s[x]])*(1-wx) + float64(img.Pix[r1+x1s[x]])*wx
			out.Pix[y*out.Stride+x] = ClampGray(top*(1-wy) + bot*wy)
		}
	}
	return out
}

// linearTaps returns, for each of n output positions resampling src input
// positions, the two input indices and the weight of the second one.
func linearTaps(src, n int) (i0, i1 []int, w []float64) {
	i0, i1, w = make([]int, n), make([]int, n), make([]float64, n)
	scale := float64(src) / float64(n)
	for k := 0; k < n; k++ {
		s := (float64(k)+0.5)*scale - 0.5
		if s <= 0 {
			continue // i0 = i1 = 0
		}
		if s >= float64(src-1) {
			i0[k], i1[k] = src-1, src-1
			continue
		}
		f := math.Floor(s)
		i0[k], i1[k], w[k] = int(f), int(f)+1, s-f
	}
	return i0, i1, w
}

// ClampGray rounds v to the nearest integer in [0, 255].
func ClampGray(v float64) uint8 {
	switch {
	case v <= 0 || math.IsNaN(v):
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// ResizeMask resizes m to w x h by nearest neighbour with pixel centres
// aligned: output pixel (x, y) takes the source pixel that contains the
// point ((x+0.5)*sw/w, (y+0.5)*sh/h). The result stays binary.
func ResizeMask(m *mask.Mask, w, h int) *mask.Mask {
	out := mask.New(max(w, 0), max(h, 0))
	if m.Width == 0 || m.Height == 0 || w <= 0 || h <= 0 {
		return out
	}
	xs := nearestTaps(m.Width, w)
	for y := 0; y < h; y++ {
		sy := min(int((float64(y)+0.5)*float64(m.Height)/float64(h)), m.Height-1)
		row := m.Pix[sy*m.Width : (sy+1)*m.Width]
		for x, sx := range xs {
			if row[sx] != 0 {
				out.Pix[y*w+x] = 1
			}
		}
	}
	return out
}

func nearestTaps(src, n int) []int {
	xs := make([]int, n)
	for k := range xs {
		xs[k] = min(int((float64(k)+0.5)*float64(src)/float64(n)), src-1)
	}
	return xs
}

// ResizeProb resizes a w x h map of probabilities (row-major) to dw x dh by
// bilinear interpolation with pixel centres aligned, as ResizeGray does for
// images (OpenCV's INTER_LINEAR), without rounding: a model's output on its
// input grid brought back to an image's grid, to be thresholded there.
func ResizeProb(prob []float32, w, h, dw, dh int) []float32 {
	out := make([]float32, max(dw, 0)*max(dh, 0))
	if w <= 0 || h <= 0 || dw <= 0 || dh <= 0 || len(prob) < w*h {
		return out
	}
	x0s, x1s, wxs := linearTaps(w, dw)
	y0s, y1s, wys := linearTaps(h, dh)
	for y := 0; y < dh; y++ {
		r0, r1 := prob[y0s[y]*w:], prob[y1s[y]*w:]
		wy := float32(wys[y])
		row := out[y*dw : (y+1)*dw]
		for x := range row {
			wx := float32(wxs[x])
			top := r0[x0s[x]]*(1-wx) + r0[x1s[x]]*wx
			bot := r1[x0s[x]]*(1-wx) + r1[x1s[x]]*wx
			row[x] = top*(1-wy) + bot*wy
		}
	}
	return out
}
