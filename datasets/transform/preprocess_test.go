package transform

import (
	"image"
	"math"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
)

func grayFrom(w, h int, pix ...uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	copy(img.Pix, pix)
	return img
}

func maskFrom(w, h int, rows ...string) *mask.Mask {
	m := mask.New(w, h)
	for y, r := range rows {
		for x, c := range r {
			m.Set(x, y, c == '#')
		}
	}
	return m
}

func TestResizeGray(t *testing.T) {
	tests := []struct {
		name string
		in   *image.Gray
		w, h int
		want []uint8
	}{
		{
			// Output x samples source (x+0.5)*2/4-0.5 = -0.25, 0.25, 0.75, 1.25;
			// clamped to [0, 1]: 0, 0.25, 0.75, 1 of the way from 0 to 100.
			name: "upsample 2->4", in: grayFrom(2, 1, 0, 100), w: 4, h: 1,
			want: []uint8{0, 25, 75, 100},
		},
		{
			// (x+0.5)*4/2-0.5 = 0.5, 2.5: means of pairs (0+10)/2, (20+31)/2=25.5 -> 26.
			name: "downsample 4->2", in: grayFrom(4, 1, 0, 10, 20, 31), w: 2, h: 1,
			want: []uint8{5, 26},
		},
		{
			// 2x2 to 1x1 samples (0.5, 0.5): mean of 0, 40, 80, 120 = 60.
			name: "2x2 -> 1x1", in: grayFrom(2, 2, 0, 40, 80, 120), w: 1, h: 1,
			want: []uint8{60},
		},
		{
			name: "same size is identity", in: grayFrom(3, 2, 1, 2, 3, 4, 5, 6), w: 3, h: 2,
			want: []uint8{1, 2, 3, 4, 5, 6},
		},
		{
			// Vertical: rows 0 and 200, 2->4 as in the first case.
			name: "upsample vertical", in: grayFrom(1, 2, 0, 200), w: 1, h: 4,
			want: []uint8{0, 50, 150, 200},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ResizeGray(tc.in, tc.w, tc.h)
			if got.Bounds() != image.Rect(0, 0, tc.w, tc.h) {
				t.Fatalf("bounds %v", got.Bounds())
			}
			if string(got.Pix) != string(tc.want) {
				t.Errorf("got %v, want %v", got.Pix, tc.want)
			}
		})
	}
}

func TestResizeGraySubImage(t *testing.T) {
	// A sub-image with a non-zero origin resizes like its copy.
	img := grayFrom(4, 4, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
	sub := img.SubImage(image.Rect(1, 1, 3, 3)).(*image.Gray)
	got := ResizeGray(sub, 2, 2)
	want := []uint8{5, 6, 9, 10}
	if string(got.Pix) != string(want) {
		t.Errorf("got %v, want %v", got.Pix, want)
	}
}

func TestResizeMask(t *testing.T) {
	tests := []struct {
		name string
		in   *mask.Mask
		w, h int
		want *mask.Mask
	}{
		{
			// Output x=0..3 takes source floor((x+0.5)/2) = 0, 0, 1, 1.
			name: "upsample", in: maskFrom(2, 1, ".#"), w: 4, h: 1,
			want: maskFrom(4, 1, "..##"),
		},
		{
			// Output (x, 0) takes source (floor((x+0.5)*2), floor(0.5*2)) = (1, 1), (3, 1).
			name: "downsample", in: maskFrom(4, 2, "....", "#.##"), w: 2, h: 1,
			want: maskFrom(2, 1, ".#"),
		},
		{
			name: "3x3 -> 3x3", in: maskFrom(3, 3, "#..", ".#.", "..#"), w: 3, h: 3,
			want: maskFrom(3, 3, "#..", ".#.", "..#"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ResizeMask(tc.in, tc.w, tc.h)
			if got.Width != tc.w || got.Height != tc.h || string(got.Pix) != string(tc.want.Pix) {
				t.Errorf("got %dx%d %v, want %v", got.Width, got.Height, got.Pix, tc.want.Pix)
			}
		})
	}
}

func TestCropBox(t *testing.T) {
	// 10x8 mask with lung pixels at x 2..5, y 1..4: box [2,6)x[1,5), 4x4.
	lung := mask.New(10, 8)
	for y := 1; y <= 4; y++ {
		for x := 2; x <= 5; x++ {
			lung.Set(x, y, true)
		}
	}
	tests := []struct {
		margin float64
		want   image.Rectangle
	}{
		{0, image.Rect(2, 1, 6, 5)},
		{0.25, image.Rect(1, 0, 7, 6)}, // 0.25*4 = 1 px each side
		{0.1, image.Rect(1, 0, 7, 6)},  // ceil(0.4) = 1 px
		{1, image.Rect(0, 0, 10, 8)},   // 4 px each side, clipped
		{0.5, image.Rect(0, 0, 8, 7)},  // 2 px: [0,8)x[-1,7) clipped to y>=0
	}
	for _, tc := range tests {
		got, err := CropBox(lung, tc.margin)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("margin %v: got %v, want %v", tc.margin, got, tc.want)
		}
	}
	if _, err := CropBox(mask.New(5, 5), 0.1); err == nil {
		t.Error("empty lung: want an error")
	}
	if _, err := CropBox(lung, -1); err == nil {
		t.Error("negative margin: want an error")
	}
}

func TestPrepare(t *testing.T) {
	// 8x8 image whose value is 10*x+y; lung is the 4x4 block [2,6)x[2,6);
	// opacity the single pixel (3,4). Margin 0, size 4: the crop is copied.
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	lung := mask.New(8, 8)
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			img.Pix[y*8+x] = uint8(10*x + y)
			lung.Set(x, y, x >= 2 && x < 6 && y >= 2 && y < 6)
		}
	}
	opac := mask.New(8, 8)
	opac.Set(3, 4, true)
	s := &datasets.Sample{Cohort: datasets.CohortCovidAR, File: "p_1.json", Stem: "p_1", Patient: "p", Image: img, Width: 8, Height: 8, Lung: lung, Opacity: opac}
	p, err := PrepareBox(s, 4, image.Rect(2, 2, 6, 6))
	if err != nil {
		t.Fatal(err)
	}
	if p.Crop != image.Rect(2, 2, 6, 6) || p.Size != 4 || p.Stem != "p_1" || p.Patient != "p" || p.Cohort != datasets.CohortCovidAR || p.Frame != FrameLungCrop {
		t.Errorf("got %+v", p)
	}
	if v := p.Image.GrayAt(0, 0).Y; v != 22 { // source (2,2)
		t.Errorf("image(0,0) = %d, want 22", v)
	}
	if v := p.Image.GrayAt(3, 1).Y; v != 53 { // source (5,3)
		t.Errorf("image(3,1) = %d, want 53", v)
	}
	if p.Mask(datasets.TargetLungs).Count() != 16 {
		t.Errorf("lung count %d, want 16 (the crop is all lung)", p.Mask(datasets.TargetLungs).Count())
	}
	if o := p.Mask(datasets.TargetOpacity); o.Count() != 1 || !o.At(1, 2) {
		t.Errorf("opacity should be the single pixel (1,2), got %v", o.Pix)
	}
	if pix := p.Pix(datasets.TargetOpacity); len(pix) != 16 || pix[2*4+1] != 1 {
		t.Errorf("opacity pixels %v", pix)
	}

	// Size 8 doubles every pixel: opacity covers 2x2.
	p, err = PrepareBox(s, 8, image.Rect(2, 2, 6, 6))
	if err != nil {
		t.Fatal(err)
	}
	if o := p.Mask(datasets.TargetOpacity); o.Count() != 4 || !o.At(2, 4) || !o.At(3, 5) {
		t.Errorf("opacity at size 8: %v", o.Pix)
	}

	// The paper's lung crop grows the 4x4 box by ceil(5% of 4) = 1 pixel on
	// each side; the whole framing keeps the 8x8 image (size 8: a copy).
	if p, err = Prepare(s, 6, FrameLungCrop); err != nil || p.Crop != image.Rect(1, 1, 7, 7) || p.Frame != FrameLungCrop {
		t.Errorf("lung crop: %v, err %v", p.Crop, err)
	}
	p, err = Prepare(s, 8, FrameWhole)
	if err != nil || p.Crop != image.Rect(0, 0, 8, 8) || p.Frame != FrameWhole {
		t.Fatalf("whole: %+v, err %v", p, err)
	}
	if v := p.Image.GrayAt(5, 3).Y; v != 53 || p.Mask(datasets.TargetLungs).Count() != 16 || !p.Mask(datasets.TargetOpacity).At(3, 4) {
		t.Errorf("whole framing changed the pixels: image(5,3) %d", v)
	}

	// Nil opacity is empty; without lungs the whole framing still works
	// (an image to analyse), the lung crop does not.
	s2 := *s
	s2.Opacity = nil
	if p, err = Prepare(&s2, 4, FrameLungCrop); err != nil || !p.Mask(datasets.TargetOpacity).Empty() {
		t.Errorf("nil opacity: err %v", err)
	}
	s2.Lung = nil
	if p, err = Prepare(&s2, 4, FrameWhole); err != nil || p.Mask(datasets.TargetLungs) != nil || len(p.Pix(datasets.TargetLungs)) != 16 {
		t.Errorf("no lungs, whole framing: %+v, err %v", p, err)
	}
	if _, err = Prepare(&s2, 4, FrameLungCrop); err == nil {
		t.Error("no lungs, lung crop: no error")
	}
	if _, err = Prepare(s, 4, "zoom"); err == nil || !strings.Contains(err.Error(), "zoom") {
		t.Errorf("unknown framing: err %v", err)
	}
}

func TestPrepareErrors(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	full := maskFrom(4, 4, "####", "####", "####", "####")
	tests := []struct {
		name string
		s    *datasets.Sample
		want string
	}{
		{"no image", &datasets.Sample{File: "a.json", Lung: full}, "no image"},
		{"no lung", &datasets.Sample{File: "b.json", Image: img}, "no lung mask"},
		{"empty lung", &datasets.Sample{File: "c.json", Image: img, Lung: mask.New(4, 4)}, "empty"},
		{"lung size", &datasets.Sample{File: "d.json", Image: img, Lung: mask.New(3, 4)}, "3x4"},
		{"opacity size", &datasets.Sample{File: "e.json", Image: img, Lung: full, Opacity: mask.New(4, 5)}, "4x5"},
	}
	for _, tc := range tests {
		_, err := Prepare(tc.s, 4, FrameLungCrop)
		if err == nil {
			t.Errorf("%s: want an error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.s.File) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q should name %s and say %q", tc.name, err, tc.s.File, tc.want)
		}
	}
}

func TestResizeProb(t *testing.T) {
	// 2x1 -> 4x1: output centres at 0.125, 0.375, 0.625, 0.875 of the width
	// map to source positions -0.25 (clamped: 0), 0.25, 0.75, 1.25 (clamped:
	// 1) in index space, between the values 0 and 1.
	got := ResizeProb([]float32{0, 1}, 2, 1, 4, 1)
	want := []float32{0, 0.25, 0.75, 1}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-7 {
			t.Errorf("ResizeProb 2->4: %v, want %v", got, want)
			break
		}
	}
	// Same size: a copy; shrinking 4x4 -> 2x2 samples at source 0.5 and 2.5
	// (means of 2x2 blocks here, as the values are linear).
	src := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if same := ResizeProb(src, 4, 4, 4, 4); same[5] != 5 || same[15] != 15 {
		t.Errorf("ResizeProb to the same size changed values: %v", same)
	}
	if small := ResizeProb(src, 4, 4, 2, 2); small[0] != 2.5 || small[3] != 12.5 {
		t.Errorf("ResizeProb 4->2: %v, want [2.5 4.5 10.5 12.5]", small)
	}
	if empty := ResizeProb(nil, 0, 0, 3, 2); len(empty) != 6 {
		t.Errorf("ResizeProb of nothing: %v", empty)
	}
}
