package phantom

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
)

// field is a row-major float image used while painting a phantom.
type field struct {
	W, H int
	V    []float32
}

func newField(w, h int) *field { return &field{W: w, H: h, V: make([]float32, w*h)} }

// valueNoise returns smooth noise in [0, 1]: random values on a grid of
// the given cell size (pixels), interpolated with a smoothstep, summed over
// octaves (each half the cell size and half the weight of the one before)
// and rescaled to [0, 1].
func valueNoise(rng *rand.Rand, w, h int, cell float64, octaves int) *field {
	f := newField(w, h)
	total := 0.0
	amp := 1.0
	for o := 0; o < octaves; o++ {
		c := max(cell, 1.5)
		gw, gh := int(float64(w)/c)+2, int(float64(h)/c)+2
		grid := make([]float32, gw*gh)
		for i := range grid {
			grid[i] = rng.Float32()
		}
		for y := 0; y < h; y++ {
			gy := float64(y) / c
			j := int(gy)
			ty := smooth(gy - float64(j))
			for x := 0; x < w; x++ {
				gx := float64(x) / c
				i := int(gx)
				tx := smooth(gx - float64(i))
				a := float64(grid[j*gw+i])*(1-tx) + float64(grid[j*gw+i+1])*tx
				b := float64(grid[(j+1)*gw+i])*(1-tx) + float64(grid[(j+1)*gw+i+1])*tx
				f.V[y*w+x] += float32(amp * (a*(1-ty) + b*ty))
			}
		}
		total += amp
		amp /= 2
		cell /= 2
	}
	for i := range f.V {
		f.V[i] /= float32(total)
	}
	return f
}

// smooth is the cubic smoothstep on [0, 1].
func smooth(t float64) float64 { return t * t * (3 - 2*t) }

// smoothstep is 0 at a, 1 at b and a cubic ramp in between, constant
// beyond them (a > b gives a falling step).
func smoothstep(a, b, x float64) float64 {
	t := (x - a) / (b - a)
	if t <= 0 {
		return 0
	}
	if t >= 1 {
		return 1
	}
	return smooth(t)
}

// maskField returns m as a field of 0 and 1.
func maskField(m *mask.Mask) *field {
	f := newField(m.Width, m.Height)
	for i, p := range m.Pix {
		f.V[i] = float32(p)
	}
	return f
}

// blurRegion returns a Gaussian blur of f (sigma in pixels) computed only
// inside r grown by 3 sigma; outside that the result is f itself. Edges of
// the image are clamped.
func (f *field) blurRegion(r image.Rectangle, sigma float64) *field {
	out := &field{W: f.W, H: f.H, V: append([]float32(nil), f.V...)}
	if sigma <= 0 {
		return out
	}
	pad := int(math.Ceil(3*sigma)) + 1
	r = image.Rect(r.Min.X-pad, r.Min.Y-pad, r.Max.X+pad, r.Max.Y+pad).Intersect(image.Rect(0, 0, f.W, f.H))
	if r.Empty() {
		return out
	}
	// Blur a copy of the region with a margin of real neighbours (or clamped
	// edges) so that its border is right.
	src := image.Rect(r.Min.X-pad, r.Min.Y-pad, r.Max.X+pad, r.Max.Y+pad).Intersect(image.Rect(0, 0, f.W, f.H))
	sw, sh := src.Dx(), src.Dy()
	sub := make([]float32, sw*sh)
	for y := 0; y < sh; y++ {
		copy(sub[y*sw:(y+1)*sw], f.V[(src.Min.Y+y)*f.W+src.Min.X:])
	}
	sub = transform.GaussianBlur(sub, sw, sh, sigma)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			out.V[y*f.W+x] = sub[(y-src.Min.Y)*sw+x-src.Min.X]
		}
	}
	return out
}

// maskBounds returns the bounding box of m's set pixels (empty if none).
func maskBounds(m *mask.Mask) image.Rectangle {
	r, _ := mask.BoundingBox(m)
	return r
}
