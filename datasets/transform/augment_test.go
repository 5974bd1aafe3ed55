package transform

import (
	"bytes"
	"image"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/covidxray/opacity/datasets/mask"
)

// squareScene returns a 64x64 image, dark with a noise-free gradient, that
// holds a bright 16x16 square at (x0, y0), and a mask of the same square.
func squareScene(x0, y0 int) (*image.Gray, *mask.Mask) {
	const n = 64
	img := image.NewGray(image.Rect(0, 0, n, n))
	m := mask.New(n, n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			v := uint8(20 + x/4)
			if x >= x0 && x < x0+16 && y >= y0 && y < y0+16 {
				v = 230
				m.Set(x, y, true)
			}
			img.Pix[y*n+x] = v
		}
	}
	return img, m
}

func TestAugmentNoneIsIdentity(t *testing.T) {
	img, m := squareScene(10, 30)
	lung := mask.New(64, 64)
	lung.Set(3, 4, true)
	for seed := uint64(0); seed < 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		out, masks := Augment(rng, NoAugment(), img, m, lung, nil)
		if string(out.Pix) != string(img.Pix) {
			t.Fatal("image changed with NoAugment")
		}
		if string(masks[0].Pix) != string(m.Pix) || string(masks[1].Pix) != string(lung.Pix) || masks[2] != nil {
			t.Fatal("masks changed with NoAugment")
		}
		if masks[0] == m {
			t.Fatal("Augment must return copies, not its inputs")
		}
	}
}

func TestAugmentHFlip(t *testing.T) {
	img, m := squareScene(5, 20)
	opt := AugmentOptions{HFlip: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	once, om := Augment(rng, opt, img, m)
	// Pixel (x, y) goes to (63-x, y).
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			if once.GrayAt(63-x, y) != img.GrayAt(x, y) {
				t.Fatalf("image (%d,%d) not mirrored", x, y)
			}
			if om[0].At(63-x, y) != m.At(x, y) {
				t.Fatalf("mask (%d,%d) not mirrored", x, y)
			}
		}
	}
	twice, tm := Augment(rng, opt, once, om...)
	if string(twice.Pix) != string(img.Pix) || string(tm[0].Pix) != string(m.Pix) {
		t.Error("flipping twice should give back the input")
	}
}

// TestAugmentGeometricAlignment applies each geometric kind alone and checks
// that the mask follows the bright square of the image.
func TestAugmentGeometricAlignment(t *testing.T) {
	kinds := map[string]AugmentOptions{
		"hflip":       {HFlip: 1},
		"crop":        {Crop: CropOptions{P: 1, MinFraction: 0.6}},
		"affine":      {Affine: AffineOptions{P: 1, Scale: [2]float64{0.8, 1.2}, Rotate: 30, Shift: 0.1}},
		"perspective": {Perspective: PerspectiveOptions{P: 1, Scale: [2]float64{0.05, 0.1}}},
		"all":         {HFlip: 1, Crop: CropOptions{P: 1, MinFraction: 0.7}, Affine: AffineOptions{P: 1, Scale: [2]float64{0.9, 1.1}, Rotate: 20, Shift: 0.05}, Perspective: PerspectiveOptions{P: 1, Scale: [2]float64{0.03, 0.06}}},
	}
	for name, opt := range kinds {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(0); seed < 10; seed++ {
				img, m := squareScene(20, 24)
				rng := rand.New(rand.NewPCG(seed, 7))
				out, masks := Augment(rng, opt, img, m)
				om := masks[0]
				if string(om.Pix) == string(m.Pix) {
					t.Fatalf("seed %d: the mask did not move", seed)
				}
				// Bright image pixels (the square, > midway between 230 and
				// the background <= 36) against mask pixels.
				var both, onlyImg, onlyMask int
				var cImg, cMask [2]float64
				for i, v := range out.Pix {
					bright, in := v > 133, om.Pix[i] != 0
					x, y := float64(i%64), float64(i/64)
					if bright {
						cImg[0], cImg[1] = cImg[0]+x, cImg[1]+y
					}
					if in {
						cMask[0], cMask[1] = cMask[0]+x, cMask[1]+y
					}
					switch {
					case bright && in:
						both++
					case bright:
						onlyImg++
					case in:
						onlyMask++
					}
					if om.Pix[i] > 1 {
						t.Fatalf("mask value %d is not binary", om.Pix[i])
					}
				}
				iou := float64(both) / float64(both+onlyImg+onlyMask)
				nImg, nMask := float64(both+onlyImg), float64(both+onlyMask)
				dx, dy := cImg[0]/nImg-cMask[0]/nMask, cImg[1]/nImg-cMask[1]/nMask
				if math.Hypot(dx, dy) > 0.5 {
					t.Errorf("seed %d: centroids of image square and mask differ by (%.2f, %.2f) px", seed, dx, dy)
				}
				if both == 0 || iou < 0.85 {
					t.Errorf("seed %d: image square and mask disagree: IoU %.3f (both %d, image only %d, mask only %d)", seed, iou, both, onlyImg, onlyMask)
				}
			}
		})
	}
}

func TestAugmentPhotometricLeavesMasks(t *testing.T) {
	img, m := squareScene(20, 24)
	opt := AugmentOptions{
		BrightnessContrast: BrightnessContrastOptions{P: 1, Brightness: 0.2, Contrast: 0.2},
		Blur:               BlurOptions{P: 1, Sigma: [2]float64{1, 2}},
		Sharpen:            SharpenOptions{P: 1, Alpha: [2]float64{0.2, 0.5}},
		Noise:              NoiseOptions{P: 1, Sigma: [2]float64{3, 7}},
	}
	out, masks := Augment(rand.New(rand.NewPCG(3, 3)), opt, img, m)
	if string(masks[0].Pix) != string(m.Pix) {
		t.Error("photometric augmentation changed the mask")
	}
	if string(out.Pix) == string(img.Pix) {
		t.Error("photometric augmentation did not change the image")
	}
}

func TestBrightnessContrastByHand(t *testing.T) {
	// Contrast range 0 and brightness range 0.1 with rng draws b: every pixel
	// moves by the same 255*b, so differences between pixels are kept.
	img := grayFrom(2, 1, 100, 110)
	opt := AugmentOptions{BrightnessContrast: BrightnessContrastOptions{P: 1, Brightness: 0.1}}
	out, _ := Augment(rand.New(rand.NewPCG(9, 9)), opt, img)
	d0, d1 := int(out.Pix[0])-100, int(out.Pix[1])-110
	if d0 != d1 || d0 == 0 || math.Abs(float64(d0)) > 25.5 {
		t.Errorf("shifts %d, %d: want equal, non-zero, at most 25.5", d0, d1)
	}
}

func TestWarpBilinearShift(t *testing.T) {
	// Translation by +2 px in x: output x reads source x-2; the first two
	// columns come from outside and read 0.
	src := []float32{10, 20, 30, 40, 50}
	fwd := mat3{1, 0, 2, 0, 1, 0, 0, 0, 1}
	inv, _ := fwd.inverse()
	got := warpBilinear(src, 5, 1, inv)
	want := []float32{0, 0, 10, 20, 30}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// Half a pixel: output x reads source x-0.5 in index space, the mean of
	// the two neighbours; x=0 mixes 10 with the 0 outside.
	fwd = mat3{1, 0, 0.5, 0, 1, 0, 0, 0, 1}
	inv, _ = fwd.inverse()
	got = warpBilinear(src, 5, 1, inv)
	want = []float32{5, 15, 25, 35, 45}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestHomographyMapsCorners(t *testing.T) {
	src := [4][2]float64{{3, 2}, {60, 5}, {58, 61}, {1, 59}}
	dst := [4][2]float64{{0, 0}, {64, 0}, {64, 64}, {0, 64}}
	h, ok := homography(src, dst)
	if !ok {
		t.Fatal("homography failed")
	}
	for i := range src {
		u, v, _ := h.apply(src[i][0], src[i][1])
		if math.Abs(u-dst[i][0]) > 1e-9 || math.Abs(v-dst[i][1]) > 1e-9 {
			t.Errorf("corner %d -> (%v, %v), want %v", i, u, v, dst[i])
		}
	}
	if _, ok := homography([4][2]float64{{0, 0}, {0, 0}, {0, 0}, {0, 0}}, dst); ok {
		t.Error("degenerate points: want ok = false")
	}
}

func TestAugmentSeeds(t *testing.T) {
	img, m := squareScene(20, 24)
	run := func(seed uint64) (*image.Gray, *mask.Mask) {
		rng := rand.New(rand.NewPCG(seed, 0))
		var out *image.Gray
		var masks []*mask.Mask
		for i := 0; i < 3; i++ { // several draws from one stream
			out, masks = Augment(rng, DefaultAugment(), img, m)
		}
		return out, masks[0]
	}
	a, am := run(42)
	b, bm := run(42)
	if string(a.Pix) != string(b.Pix) || string(am.Pix) != string(bm.Pix) {
		t.Error("same seed gave different outputs")
	}
	differ := 0
	for seed := uint64(43); seed < 48; seed++ {
		c, _ := run(seed)
		if string(c.Pix) != string(a.Pix) {
			differ++
		}
	}
	if differ < 4 {
		t.Errorf("only %d of 5 other seeds changed the output", differ)
	}
}

func TestAugmentOptionsValidate(t *testing.T) {
	if err := DefaultAugment().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
	if err := NoAugment().Validate(); err != nil {
		t.Errorf("none: %v", err)
	}
	bad := []AugmentOptions{
		{HFlip: 1.5},
		{Crop: CropOptions{P: 0.5, MinFraction: 0}},
		{Affine: AffineOptions{P: 0.5, Scale: [2]float64{0, 1}}},
		{Affine: AffineOptions{Rotate: math.NaN()}},
		{Noise: NoiseOptions{Sigma: [2]float64{-1, 2}}},
	}
	for i, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("case %d: want an error", i)
		}
	}
}

func TestAugmentPanicsOnMaskSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("want a panic for a mask of another size")
		}
	}()
	Augment(rand.New(rand.NewPCG(1, 1)), NoAugment(), image.NewGray(image.Rect(0, 0, 4, 4)), mask.New(3, 4))
}

func BenchmarkAugment320(b *testing.B) {
	img := image.NewGray(image.Rect(0, 0, PaperSize, PaperSize))
	m1, m2 := mask.New(PaperSize, PaperSize), mask.New(PaperSize, PaperSize)
	rng := rand.New(rand.NewPCG(1, 1))
	opt := DefaultAugment()
	for b.Loop() {
		Augment(rng, opt, img, m1, m2)
	}
}

func TestNamedAugment(t *testing.T) {
	for _, tc := range []struct {
		name string
		want AugmentOptions
	}{
		{"", DefaultAugment()},
		{AugmentDefault, DefaultAugment()},
		{AugmentFlip, AugmentOptions{HFlip: 0.5}},
		{AugmentNone, AugmentOptions{}},
	} {
		got, err := NamedAugment(tc.name)
		if err != nil {
			t.Errorf("NamedAugment(%q): %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("NamedAugment(%q) = %+v, want %+v", tc.name, got, tc.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("NamedAugment(%q) does not validate: %v", tc.name, err)
		}
	}
	if _, err := NamedAugment("strong"); err == nil || !strings.Contains(err.Error(), `"strong"`) {
		t.Errorf("NamedAugment(strong) error = %v, want one naming it", err)
	}
}

// TestAugmentPlansInParallel checks what the training loop relies on: the
// plans of a batch drawn in order from one generator and applied in
// parallel give the images and masks of Augment called in order, and the
// generator ends in the same state.
func TestAugmentPlansInParallel(t *testing.T) {
	const n, size = 6, 48
	imgs := make([]*image.Gray, n)
	masks := make([]*mask.Mask, n)
	src := rand.New(rand.NewPCG(9, 9))
	for i := range imgs {
		imgs[i] = image.NewGray(image.Rect(0, 0, size, size))
		masks[i] = mask.New(size, size)
		for j := range imgs[i].Pix {
			imgs[i].Pix[j] = uint8(src.IntN(256))
			masks[i].Pix[j] = uint8(src.IntN(2))
		}
	}
	opt := DefaultAugment()
	seq := rand.New(rand.NewPCG(3, 4))
	wantImgs := make([]*image.Gray, n)
	wantMasks := make([]*mask.Mask, n)
	for i := range imgs {
		img, ms := Augment(seq, opt, imgs[i], masks[i])
		wantImgs[i], wantMasks[i] = img, ms[0]
	}
	par := rand.New(rand.NewPCG(3, 4))
	plans := make([]AugmentPlan, n)
	for i := range plans {
		plans[i] = DrawAugment(par, opt, size, size)
	}
	gotImgs := make([]*image.Gray, n)
	gotMasks := make([]*mask.Mask, n)
	var wg sync.WaitGroup
	for i := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, ms := plans[i].Apply(imgs[i], masks[i])
			gotImgs[i], gotMasks[i] = img, ms[0]
		}()
	}
	wg.Wait()
	for i := range imgs {
		if !bytes.Equal(gotImgs[i].Pix, wantImgs[i].Pix) || !bytes.Equal(gotMasks[i].Pix, wantMasks[i].Pix) {
			t.Errorf("image %d: the plan applied in parallel differs from Augment", i)
		}
	}
	if a, b := seq.Uint64(), par.Uint64(); a != b {
		t.Errorf("the generators end in different states: %d and %d", a, b)
	}
	// A plan applied twice gives the same result (it draws nothing).
	again, _ := plans[0].Apply(imgs[0], masks[0])
	if !bytes.Equal(again.Pix, gotImgs[0].Pix) {
		t.Error("applying a plan twice gave two results")
	}
}

// BenchmarkAugmentApply320 times applying one drawn augmentation (the
// paper's kinds) to a 320x320 image and two masks: the per-core rate of the
// training's augmentation.
func BenchmarkAugmentApply320(b *testing.B) {
	img := image.NewGray(image.Rect(0, 0, PaperSize, PaperSize))
	m1, m2 := mask.New(PaperSize, PaperSize), mask.New(PaperSize, PaperSize)
	rng := rand.New(rand.NewPCG(1, 1))
	opt := DefaultAugment()
	plans := make([]AugmentPlan, 64)
	for i := range plans {
		plans[i] = DrawAugment(rng, opt, PaperSize, PaperSize)
	}
	i := 0
	for b.Loop() {
		plans[i%len(plans)].Apply(img, m1, m2)
		i++
	}
}

// referenceWarpBilinear is warpBilinear as first written (mat3.apply per
// pixel), the definition the fast one must match bit for bit. It resamples src (w x h) at inv(output point) for every output
// pixel centre, bilinearly; taps outside the image read 0.
func referenceWarpBilinear(src []float32, w, h int, inv mat3) []float32 {
	out := make([]float32, w*h)
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 0
		}
		return float64(src[y*w+x])
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			u, v, ok := inv.apply(float64(x)+0.5, float64(y)+0.5)
			if !ok {
				continue
			}
			u, v = u-0.5, v-0.5 // to index space
			if u <= -1 || v <= -1 || u >= float64(w) || v >= float64(h) {
				continue
			}
			x0, y0 := math.Floor(u), math.Floor(v)
			ax, ay := u-x0, v-y0
			i, j := int(x0), int(y0)
			top := at(i, j)*(1-ax) + at(i+1, j)*ax
			bot := at(i, j+1)*(1-ax) + at(i+1, j+1)*ax
			out[y*w+x] = float32(top*(1-ay) + bot*ay)
		}
	}
	return out
}

// referenceWarpNearest is warpNearest as first written. It resamples m at inv(output point) for every output pixel
// centre, taking the source pixel that contains the point; outside is 0.
func referenceWarpNearest(m *mask.Mask, inv mat3) *mask.Mask {
	out := mask.New(m.Width, m.Height)
	for y := 0; y < m.Height; y++ {
		for x := 0; x < m.Width; x++ {
			u, v, ok := inv.apply(float64(x)+0.5, float64(y)+0.5)
			if !ok || u < 0 || v < 0 || u >= float64(m.Width) || v >= float64(m.Height) {
				continue
			}
			out.Pix[y*m.Width+x] = m.Pix[int(v)*m.Width+int(u)]
		}
	}
	return out
}

// TestWarpsMatchDefinition compares the warps with their definitions (one
// mat3.apply per pixel) on flips, affine and projective maps drawn as the
// training draws them: the values must be equal to the last bit.
func TestWarpsMatchDefinition(t *testing.T) {
	const w, h = 37, 29
	src := make([]float32, w*h)
	m := mask.New(w, h)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range src {
		src[i] = float32(rng.IntN(256))
		m.Pix[i] = uint8(rng.IntN(2))
	}
	opt := DefaultAugment()
	opt.Affine.P, opt.Perspective.P = 0.6, 0.6
	n := 0
	for trial := 0; trial < 200; trial++ {
		p := DrawAugment(rng, opt, w, h)
		if !p.moved {
			continue
		}
		n++
		got, want := warpBilinear(src, w, h, p.inv), referenceWarpBilinear(src, w, h, p.inv)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("trial %d: bilinear pixel %d = %v, the definition gives %v", trial, i, got[i], want[i])
			}
		}
		if gm, wm := warpNearest(m, p.inv), referenceWarpNearest(m, p.inv); !bytes.Equal(gm.Pix, wm.Pix) {
			t.Fatalf("trial %d: nearest warp differs from the definition", trial)
		}
	}
	if n < 100 {
		t.Fatalf("only %d of 200 draws moved the image", n)
	}
}
