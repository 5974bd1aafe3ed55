package transform

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/num"
)

// AugmentOptions sets every augmentation of the paper's section 2.4 (done
// there with Albumentations): each kind is applied with its own
// probability P, with parameters drawn uniformly from its ranges. A range
// [2]float64{a, b} means a uniform draw in [a, b].
//
// Geometric kinds (HFlip, Crop, Affine, Perspective) are composed into one
// projective map and applied in a single inverse-mapped resampling, bilinear
// for the image and nearest for the masks, so masks stay aligned with the
// image and binary. Points mapped from outside the image read as 0 (black
// image, background mask). Photometric kinds (BrightnessContrast, Blur,
// Sharpen, Noise) change the image only, in that order, after the geometric
// ones; the image is rounded to 8 bits once, at the end.
type AugmentOptions struct {
	// HFlip is the probability of a horizontal flip (left-right mirror).
	HFlip float64
	// Crop takes a random window and resizes it back to the full size.
	Crop CropOptions
	// Affine scales, rotates and shifts about the image centre.
	Affine AffineOptions
	// Perspective moves the corners inwards and maps the quadrilateral
	// they span back onto the full image.
	Perspective PerspectiveOptions
	// BrightnessContrast changes gain and offset of the gray levels.
	BrightnessContrast BrightnessContrastOptions
	// Blur is a Gaussian blur.
	Blur BlurOptions
	// Sharpen adds a Laplacian high-pass (Albumentations' Sharpen with
	// lightness 1).
	Sharpen SharpenOptions
	// Noise adds independent Gaussian noise to every pixel.
	Noise NoiseOptions
}

// CropOptions sets the random crop: a window whose width and height are
// each a fraction in [MinFraction, 1] of the image's (drawn independently),
// at a uniform position, resized back to the image size.
type CropOptions struct {
	P           float64
	MinFraction float64
}

// AffineOptions sets the affine transform about the image centre: an
// isotropic scale drawn from Scale, a rotation drawn from [-Rotate, Rotate]
// degrees and a shift drawn from [-Shift, Shift] times the width (x) and the
// height (y), independently.
type AffineOptions struct {
	P      float64
	Scale  [2]float64
	Rotate float64 // degrees
	Shift  float64 // fraction of the image size
}

// PerspectiveOptions sets the perspective transform: a sigma is drawn from
// Scale, each corner moves inwards by |N(0, sigma)| times the width and the
// height (capped at a quarter of it), and the quadrilateral spanned by the
// moved corners is mapped onto the whole image (Albumentations'
// Perspective with keep_size).
type PerspectiveOptions struct {
	P     float64
	Scale [2]float64
}

// BrightnessContrastOptions sets v' = (v - m)*(1 + c) + m + 255*b, where m is
// the image's mean gray level, c is drawn from [-Contrast, Contrast] and b
// from [-Brightness, Brightness].
type BrightnessContrastOptions struct {
	P          float64
	Brightness float64 // fraction of the full gray range
	Contrast   float64 // relative change of the contrast about the mean
}

// BlurOptions sets a Gaussian blur whose sigma, in pixels, is drawn from
// Sigma; the kernel reaches 3 sigma, edges are clamped.
type BlurOptions struct {
	P     float64
	Sigma [2]float64
}

// SharpenOptions sets v' = v + 8*alpha*(v - mean of the 8 neighbours), alpha
// drawn from Alpha: Albumentations' Sharpen kernel with lightness 1.
type SharpenOptions struct {
	P     float64
	Alpha [2]float64
}

// NoiseOptions sets additive Gaussian noise whose standard deviation, in
// gray levels (0–255), is drawn from Sigma.
type NoiseOptions struct {
	P     float64
	Sigma [2]float64
}

// DefaultAugment returns the augmentation used for training: the kinds of
// the paper with Albumentations-like strengths, toned down where chest
// X-rays call for it (rotation ±10° instead of ±45°).
func DefaultAugment() AugmentOptions {
	return AugmentOptions{
		// Lungs are nearly mirror images; the heart's side flips too.
		HFlip: 0.5,
		// Keep at least 80% of each side.
		Crop: CropOptions{P: 0.3, MinFraction: 0.8},
		// Shift and scale of Albumentations' ShiftScaleRotate; ±10° rotation
		// (patients are positioned upright).
		Affine: AffineOptions{P: 0.5, Scale: [2]float64{0.9, 1.1}, Rotate: 10, Shift: 0.0625},
		// Corners move about 2–5% of the size.
		Perspective: PerspectiveOptions{P: 0.3, Scale: [2]float64{0.02, 0.05}},
		// Albumentations' RandomBrightnessContrast limits.
		BrightnessContrast: BrightnessContrastOptions{P: 0.5, Brightness: 0.2, Contrast: 0.2},
		// A slight defocus.
		Blur: BlurOptions{P: 0.2, Sigma: [2]float64{0.5, 1.5}},
		// Albumentations' Sharpen alpha.
		Sharpen: SharpenOptions{P: 0.2, Alpha: [2]float64{0.2, 0.5}},
		// Albumentations' GaussNoise variance 10–50, as a sigma in gray levels.
		Noise: NoiseOptions{P: 0.3, Sigma: [2]float64{3, 7}},
	}
}

// NoAugment returns options that apply nothing: Augment returns copies of
// its inputs.
func NoAugment() AugmentOptions { return AugmentOptions{} }

// Names of the augmentations NamedAugment knows.
const (
	AugmentDefault = "default" // DefaultAugment: the paper's kinds
	AugmentFlip    = "flip"    // horizontal flips only
	AugmentNone    = "none"    // NoAugment
)

// NamedAugment returns the augmentation of a name: AugmentDefault,
// AugmentFlip (left-right mirror images with probability 1/2, nothing
// else: on small training sets trained for minutes, such as the 64 px
// phantom, the default kinds slow the fit more than they help it
// generalise) or AugmentNone. The empty name is AugmentDefault.
func NamedAugment(name string) (AugmentOptions, error) {
	switch name {
	case AugmentDefault, "":
		return DefaultAugment(), nil
	case AugmentFlip:
		return AugmentOptions{HFlip: 0.5}, nil
	case AugmentNone:
		return NoAugment(), nil
	}
	return AugmentOptions{}, fmt.Errorf("augmentation %q: want %s, %s or %s", name, AugmentDefault, AugmentFlip, AugmentNone)
}

// Validate reports the first option out of its domain: probabilities in
// [0, 1], positive scales, crop fraction in (0, 1], non-negative strengths.
func (o AugmentOptions) Validate() error {
	probs := []struct {
		name string
		p    float64
	}{
		{"HFlip", o.HFlip}, {"Crop.P", o.Crop.P}, {"Affine.P", o.Affine.P},
		{"Perspective.P", o.Perspective.P}, {"BrightnessContrast.P", o.BrightnessContrast.P},
		{"Blur.P", o.Blur.P}, {"Sharpen.P", o.Sharpen.P}, {"Noise.P", o.Noise.P},
	}
	for _, p := range probs {
		if !(p.p >= 0 && p.p <= 1) {
			return fmt.Errorf("augment %s = %v: want a probability in [0, 1]", p.name, p.p)
		}
	}
	check := func(name string, ok bool, v any) error {
		if !ok {
			return fmt.Errorf("augment %s = %v: out of range", name, v)
		}
		return nil
	}
	return errors.Join(
		check("Crop.MinFraction", o.Crop.P == 0 || (o.Crop.MinFraction > 0 && o.Crop.MinFraction <= 1), o.Crop.MinFraction),
		check("Affine.Scale", o.Affine.P == 0 || (o.Affine.Scale[0] > 0 && o.Affine.Scale[1] > 0 && num.Finite(o.Affine.Scale[:]...)), o.Affine.Scale),
		check("Affine.Rotate", num.Finite(o.Affine.Rotate) && o.Affine.Rotate >= 0, o.Affine.Rotate),
		check("Affine.Shift", num.Finite(o.Affine.Shift) && o.Affine.Shift >= 0 && o.Affine.Shift < 1, o.Affine.Shift),
		check("Perspective.Scale", num.Finite(o.Perspective.Scale[:]...) && o.Perspective.Scale[0] >= 0 && o.Perspective.Scale[1] >= 0, o.Perspective.Scale),
		check("BrightnessContrast.Brightness", num.Finite(o.BrightnessContrast.Brightness) && o.BrightnessContrast.Brightness >= 0, o.BrightnessContrast.Brightness),
		check("BrightnessContrast.Contrast", num.Finite(o.BrightnessContrast.Contrast) && o.BrightnessContrast.Contrast >= 0, o.BrightnessContrast.Contrast),
		check("Blur.Sigma", num.Finite(o.Blur.Sigma[:]...) && o.Blur.Sigma[0] >= 0 && o.Blur.Sigma[1] >= 0 && max(o.Blur.Sigma[0], o.Blur.Sigma[1]) <= 50, o.Blur.Sigma),
		check("Sharpen.Alpha", num.Finite(o.Sharpen.Alpha[:]...) && o.Sharpen.Alpha[0] >= 0 && o.Sharpen.Alpha[1] >= 0, o.Sharpen.Alpha),
		check("Noise.Sigma", num.Finite(o.Noise.Sigma[:]...) && o.Noise.Sigma[0] >= 0 && o.Noise.Sigma[1] >= 0, o.Noise.Sigma),
	)
}

// Augment draws one random augmentation from rng according to opt and
// applies it to img and, identically, to every mask. It returns new images
// and masks of the same size as the inputs (image bounds start at (0, 0));
// the inputs are not changed. A nil mask stays nil. Each mask must have the
// image's size: Augment panics otherwise, as for an index out of range.
// The same rng state and inputs give the same outputs.
//
// It is DrawAugment followed by AugmentPlan.Apply: the draws depend only on
// the image's size, so a caller can draw the plans of many images in order
// from one generator and apply them in parallel, with the same results.
func Augment(rng *rand.Rand, opt AugmentOptions, img *image.Gray, masks ...*mask.Mask) (*image.Gray, []*mask.Mask) {
	b := img.Bounds()
	return DrawAugment(rng, opt, b.Dx(), b.Dy()).Apply(img, masks...)
}

// AugmentPlan is one random draw of an augmentation for images of one size:
// the geometric map and the photometric parameters, noise included.
type AugmentPlan struct {
	W, H int
	// inv maps output pixel centres to source coordinates; moved says
	// whether any geometric kind was drawn.
	inv   mat3
	moved bool
	// Photometric kinds, applied in this order when their flag is set.
	bc                 bool
	contrast, offset   float64
	blur, sharp        bool
	blurSigma, sharpen float64
	noise              []float32 // one value per pixel, nil without noise
}

// DrawAugment draws one augmentation for w x h images from rng according to
// opt, consuming the generator as Augment does.
func DrawAugment(rng *rand.Rand, opt AugmentOptions, w, h int) AugmentPlan {
	fw, fh := float64(w), float64(h)
	plan := AugmentPlan{W: w, H: h}

	// Geometric kinds, composed as forward maps from source to output
	// coordinates (continuous, pixel centres at i+0.5).
	fwd, moved := identity3(), false
	if hit(rng, opt.HFlip) {
		fwd = mat3{-1, 0, fw, 0, 1, 0, 0, 0, 1}.mul(fwd)
		moved = true
	}
	if hit(rng, opt.Crop.P) {
		cw := fw * uniform(rng, opt.Crop.MinFraction, 1)
		ch := fh * uniform(rng, opt.Crop.MinFraction, 1)
		x0, y0 := uniform(rng, 0, fw-cw), uniform(rng, 0, fh-ch)
		sx, sy := fw/cw, fh/ch
		fwd = mat3{sx, 0, -x0 * sx, 0, sy, -y0 * sy, 0, 0, 1}.mul(fwd)
		moved = true
	}
	if a := opt.Affine; hit(rng, a.P) {
		s := uniform(rng, a.Scale[0], a.Scale[1])
		th := uniform(rng, -a.Rotate, a.Rotate) * math.Pi / 180
		tx, ty := uniform(rng, -a.Shift, a.Shift)*fw, uniform(rng, -a.Shift, a.Shift)*fh
		fwd = affineAbout(fw/2, fh/2, s, th, tx, ty).mul(fwd)
		moved = true
	}
	if p := opt.Perspective; hit(rng, p.P) {
		sigma := uniform(rng, p.Scale[0], p.Scale[1])
		in := func(size float64) float64 { return min(math.Abs(rng.NormFloat64())*sigma, 0.25) * size }
		quad := [4][2]float64{
			{in(fw), in(fh)}, {fw - in(fw), in(fh)}, {fw - in(fw), fh - in(fh)}, {in(fw), fh - in(fh)},
		}
		rect := [4][2]float64{{0, 0}, {fw, 0}, {fw, fh}, {0, fh}}
		if hm, ok := homography(quad, rect); ok {
			fwd = hm.mul(fwd)
			moved = true
		}
	}
	if inv, ok := fwd.inverse(); moved && ok {
		plan.inv, plan.moved = inv, true
	}

	// Photometric kinds: the image only.
	if bc := opt.BrightnessContrast; hit(rng, bc.P) {
		plan.bc = true
		plan.contrast = 1 + uniform(rng, -bc.Contrast, bc.Contrast)
		plan.offset = 255 * uniform(rng, -bc.Brightness, bc.Brightness)
	}
	if hit(rng, opt.Blur.P) {
		plan.blur, plan.blurSigma = true, uniform(rng, opt.Blur.Sigma[0], opt.Blur.Sigma[1])
	}
	if hit(rng, opt.Sharpen.P) {
		plan.sharp, plan.sharpen = true, uniform(rng, opt.Sharpen.Alpha[0], opt.Sharpen.Alpha[1])
	}
	if hit(rng, opt.Noise.P) {
		sigma := uniform(rng, opt.Noise.Sigma[0], opt.Noise.Sigma[1])
		plan.noise = make([]float32, w*h)
		for i := range plan.noise {
			plan.noise[i] = float32(sigma * rng.NormFloat64())
		}
	}
	return plan
}

// Apply applies the drawn augmentation to img and, identically, to every
// mask (see Augment). It draws nothing, so plans can be applied in
// parallel. img and the masks must have the plan's size; Apply panics
// otherwise.
func (p AugmentPlan) Apply(img *image.Gray, masks ...*mask.Mask) (*image.Gray, []*mask.Mask) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w != p.W || h != p.H {
		panic(fmt.Sprintf("transform.AugmentPlan: image is %dx%d, the plan %dx%d", w, h, p.W, p.H))
	}
	for i, m := range masks {
		if m != nil && (m.Width != w || m.Height != h) {
			panic(fmt.Sprintf("transform.Augment: mask %d is %dx%d, image %dx%d", i, m.Width, m.Height, w, h))
		}
	}
	vals := grayToFloat(img)
	outMasks := make([]*mask.Mask, len(masks))
	if p.moved {
		vals = warpBilinear(vals, w, h, p.inv)
		for i, m := range masks {
			if m != nil {
				outMasks[i] = warpNearest(m, p.inv)
			}
		}
	} else {
		for i, m := range masks {
			if m != nil {
				outMasks[i] = m.Clone()
			}
		}
	}
	if p.bc {
		mean := 0.0
		for _, v := range vals {
			mean += float64(v)
		}
		mean /= float64(max(len(vals), 1))
		for i, v := range vals {
			vals[i] = float32((float64(v)-mean)*p.contrast + mean + p.offset)
		}
	}
	if p.blur {
		vals = GaussianBlur(vals, w, h, p.blurSigma)
	}
	if p.sharp {
		vals = sharpen(vals, w, h, p.sharpen)
	}
	for i, n := range p.noise {
		vals[i] += n
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range vals {
		out.Pix[i] = ClampGray(float64(v))
	}
	return out, outMasks
}

// hit reports whether an event of probability p happens. p <= 0 never
// happens and draws nothing, so NoAugment consumes no randomness.
func hit(rng *rand.Rand, p float64) bool {
	if p <= 0 {
		return false
	}
	return rng.Float64() < p
}

// uniform draws from [a, b] (or [b, a]).
func uniform(rng *rand.Rand, a, b float64) float64 {
	if a == b {
		return a
	}
	return a + (b-a)*rng.Float64()
}

// grayToFloat copies img's pixels into a row-major float slice.
func grayToFloat(img *image.Gray) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	vals := make([]float32, w*h)
	for y := 0; y < h; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < w; x++ {
			vals[y*w+x] = float32(row[x])
		}
	}
	return vals
}

// warpBilinear resamples src (w x h) at inv(output point) for every output
// pixel centre, bilinearly; taps outside the image read 0. The source point
// is computed as mat3.apply does, with the terms of each row hoisted out of
// the inner loop in the same order of operations (and no division by the
// exact 1 of an affine map), so the values are those of mat3.apply.
func warpBilinear(src []float32, w, h int, inv mat3) []float32 {
	out := make([]float32, w*h)
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 0
		}
		return float64(src[y*w+x])
	}
	affine := inv[6] == 0 && inv[7] == 0 && inv[8] == 1
	fw, fh := float64(w), float64(h)
	for y := 0; y < h; y++ {
		fy := float64(y) + 0.5
		a1y, a4y, a7y := inv[1]*fy, inv[4]*fy, inv[7]*fy
		row := out[y*w : (y+1)*w]
		for x := range row {
			u, v, ok := inv.sourcePoint(float64(x)+0.5, a1y, a4y, a7y, affine)
			if !ok {
				continue
			}
			u, v = u-0.5, v-0.5 // to index space
			if u <= -1 || v <= -1 || u >= fw || v >= fh {
				continue
			}
			x0, y0 := math.Floor(u), math.Floor(v)
			ax, ay := u-x0, v-y0
			i, j := int(x0), int(y0)
			var top, bot float64
			if i >= 0 && j >= 0 && i+1 < w && j+1 < h {
				k := j*w + i
				top = float64(src[k])*(1-ax) + float64(src[k+1])*ax
				bot = float64(src[k+w])*(1-ax) + float64(src[k+w+1])*ax
			} else {
				top = at(i, j)*(1-ax) + at(i+1, j)*ax
				bot = at(i, j+1)*(1-ax) + at(i+1, j+1)*ax
			}
			row[x] = float32(top*(1-ay) + bot*ay)
		}
	}
	return out
}

// sourcePoint is inv applied to the output point (fx, fy) as mat3.apply
// does, given the row's hoisted terms a1y, a4y, a7y (inv[1], inv[4],
// inv[7] times fy); ok is false where the projective divisor vanishes.
func (inv mat3) sourcePoint(fx, a1y, a4y, a7y float64, affine bool) (u, v float64, ok bool) {
	u, v = inv[0]*fx+a1y+inv[2], inv[3]*fx+a4y+inv[5]
	if !affine {
		z := inv[6]*fx + a7y + inv[8]
		if math.Abs(z) < 1e-12 {
			return 0, 0, false
		}
		u, v = u/z, v/z
	}
	return u, v, true
}

// warpNearest resamples m at inv(output point) for every output pixel
// centre, taking the source pixel that contains the point; outside is 0.
// The source point is computed as in warpBilinear.
func warpNearest(m *mask.Mask, inv mat3) *mask.Mask {
	out := mask.New(m.Width, m.Height)
	affine := inv[6] == 0 && inv[7] == 0 && inv[8] == 1
	fw, fh := float64(m.Width), float64(m.Height)
	for y := 0; y < m.Height; y++ {
		fy := float64(y) + 0.5
		a1y, a4y, a7y := inv[1]*fy, inv[4]*fy, inv[7]*fy
		row := out.Pix[y*m.Width : (y+1)*m.Width]
		for x := range row {
			u, v, ok := inv.sourcePoint(float64(x)+0.5, a1y, a4y, a7y, affine)
			if !ok || u < 0 || v < 0 || u >= fw || v >= fh {
				continue
			}
			row[x] = m.Pix[int(v)*m.Width+int(u)]
		}
	}
	return out
}

// GaussianBlur blurs with a separable Gaussian kernel of the given sigma
// (radius ceil(3 sigma)), clamping at the edges.
func GaussianBlur(src []float32, w, h int, sigma float64) []float32 {
	if sigma <= 0 || w == 0 || h == 0 {
		return src
	}
	r := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*r+1)
	sum := 0.0
	for i := range k {
		d := float64(i - r)
		v := math.Exp(-d * d / (2 * sigma * sigma))
		k[i] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] /= float32(sum)
	}
	// convolve filters n values read with stride from src into dst, through
	// a buffer padded with the edge values.
	buf := make([]float32, max(w, h)+2*r)
	convolve := func(dst, src []float32, off, stride, n int) {
		for i := 0; i < r; i++ {
			buf[i] = src[off]
			buf[r+n+i] = src[off+(n-1)*stride]
		}
		for i := 0; i < n; i++ {
			buf[r+i] = src[off+i*stride]
		}
		for i := 0; i < n; i++ {
			var s float32
			win := buf[i : i+2*r+1]
			for t, kv := range k {
				s += kv * win[t]
			}
			dst[off+i*stride] = s
		}
	}
	tmp := make([]float32, w*h)
	for y := 0; y < h; y++ {
		convolve(tmp, src, y*w, 1, w)
	}
	out := make([]float32, w*h)
	for x := 0; x < w; x++ {
		convolve(out, tmp, x, w, h)
	}
	return out
}

// sharpen returns v + 8*alpha*(v - mean of the 8 neighbours), edges clamped.
func sharpen(src []float32, w, h int, alpha float64) []float32 {
	out := make([]float32, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := float64(src[y*w+x])
			n := 0.0
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if dx == 0 && dy == 0 {
						continue
					}
					xx, yy := min(max(x+dx, 0), w-1), min(max(y+dy, 0), h-1)
					n += float64(src[yy*w+xx])
				}
			}
			out[y*w+x] = float32(c + alpha*(8*c-n))
		}
	}
	return out
}

// mat3 is a 3x3 matrix in row-major order acting on homogeneous 2-D points.
type mat3 [9]float64

func identity3() mat3 { return mat3{1, 0, 0, 0, 1, 0, 0, 0, 1} }

// mul returns a·b (b applied first).
func (a mat3) mul(b mat3) mat3 {
	var c mat3
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			c[3*i+j] = a[3*i]*b[j] + a[3*i+1]*b[3+j] + a[3*i+2]*b[6+j]
		}
	}
	return c
}

// apply maps (x, y); ok is false where the point goes to infinity.
func (a mat3) apply(x, y float64) (u, v float64, ok bool) {
	z := a[6]*x + a[7]*y + a[8]
	if math.Abs(z) < 1e-12 {
		return 0, 0, false
	}
	return (a[0]*x + a[1]*y + a[2]) / z, (a[3]*x + a[4]*y + a[5]) / z, true
}

// inverse returns a⁻¹; ok is false if a is singular.
func (a mat3) inverse() (mat3, bool) {
	c := mat3{
		a[4]*a[8] - a[5]*a[7], a[2]*a[7] - a[1]*a[8], a[1]*a[5] - a[2]*a[4],
		a[5]*a[6] - a[3]*a[8], a[0]*a[8] - a[2]*a[6], a[2]*a[3] - a[0]*a[5],
		a[3]*a[7] - a[4]*a[6], a[1]*a[6] - a[0]*a[7], a[0]*a[4] - a[1]*a[3],
	}
	det := a[0]*c[0] + a[1]*c[3] + a[2]*c[6]
	if math.Abs(det) < 1e-12 || math.IsNaN(det) {
		return mat3{}, false
	}
	for i := range c {
		c[i] /= det
	}
	return c, true
}

// affineAbout returns the map p -> centre + t + s·R(theta)·(p - centre).
func affineAbout(cx, cy, s, theta, tx, ty float64) mat3 {
	cs, sn := s*math.Cos(theta), s*math.Sin(theta)
	return mat3{
		cs, -sn, cx + tx - cs*cx + sn*cy,
		sn, cs, cy + ty - sn*cx - cs*cy,
		0, 0, 1,
	}
}

// homography returns the projective map sending each src[i] to dst[i];
// ok is false when the points are degenerate.
func homography(src, dst [4][2]float64) (mat3, bool) {
	// Unknowns h0..h7 (h8 = 1): for each pair,
	//   h0 x + h1 y + h2 - h6 x u - h7 y u = u
	//   h3 x + h4 y + h5 - h6 x v - h7 y v = v
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y, u, v := src[i][0], src[i][1], dst[i][0], dst[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -x * u, -y * u, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -x * v, -y * v, v}
	}
	for col := 0; col < 8; col++ {
		piv := col
		for r := col + 1; r < 8; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		if math.Abs(a[piv][col]) < 1e-12 {
			return mat3{}, false
		}
		a[col], a[piv] = a[piv], a[col]
		for r := 0; r < 8; r++ {
			if r == col {
				continue
			}
			f := a[r][col] / a[col][col]
			for c := col; c < 9; c++ {
				a[r][c] -= f * a[col][c]
			}
		}
	}
	var m mat3
	for i := 0; i < 8; i++ {
		m[i] = a[i][8] / a[i][i]
	}
	m[8] = 1
	return m, true
}
