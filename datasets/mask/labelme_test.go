package mask_test

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/internal/fixture"
	"github.com/covidxray/opacity/datasets/mask"
)

// TestWriteLabelmeRoundTrip goes from predicted masks to a labelme file and
// back through the loader: lung mask cleaned (KeepLargest 2, FillHoles),
// split into right and left lungs, masks traced and simplified, polygons
// written as right_lung, left_lung and opacity beside a PNG, the file read
// with datasets.ReadLabelme and datasets.LabelmeSample, and the masks compared.
func TestWriteLabelmeRoundTrip(t *testing.T) {
	const size = 256
	// Predicted lungs: the two lung fields, a hole in the right one and
	// specks outside.
	raw := mask.LungMask()
	for y := 118; y < 123; y++ {
		for x := 68; x < 73; x++ {
			raw.Set(x, y, false)
		}
	}
	for _, p := range [][2]int{{10, 10}, {250, 5}, {128, 250}, {129, 251}} {
		raw.Set(p[0], p[1], true)
	}
	lung := mask.FillHoles(mask.KeepLargest(raw, 2))
	right, left := mask.SplitLungs(lung)
	// The cleaning gives back the drawn lungs exactly, and the side of each.
	for i, got := range []*mask.Mask{right, left} {
		want := mask.New(size, size)
		mask.RasterizePolygon(want, mask.LungOutlines[i])
		if mask.Rows(got) != mask.Rows(want) {
			t.Fatalf("lung %d after cleaning and splitting differs from the drawn one", i)
		}
	}
	// Predicted opacity: an ellipse in the right lung, a disc in the left.
	opacity := mask.New(size, size)
	mask.RasterizePolygon(opacity, mask.EllipsePolygon(75, 150, 18, 30, 0.3))
	mask.RasterizeCircle(opacity, 185, 110, 20)

	tests := []struct {
		tol    float64
		minIoU float64
	}{{0, 1}, {0.5, 0.97}, {1, 0.97}}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("tol %g", tc.tol), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "cxr.png"), fixture.EncodePNG(t, image.NewGray(image.Rect(0, 0, size, size))), 0o644); err != nil {
				t.Fatal(err)
			}
			l := datasets.NewLabelme("cxr.png", size, size)
			l.AddPolygons(datasets.LabelRightLung, mask.Polygons(right, tc.tol, 0))
			l.AddPolygons(datasets.LabelLeftLung, mask.Polygons(left, tc.tol, 0))
			l.AddPolygons(datasets.LabelOpacityAny, mask.Polygons(opacity, tc.tol, 0))
			path := filepath.Join(dir, "cxr.json")
			if err := datasets.WriteLabelme(path, l); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), "{\n  \"version\": \"4.5.6\",\n  \"flags\": {},\n  \"shapes\": [\n") {
				t.Errorf("file starts %q", data[:min(len(data), 80)])
			}
			back, err := datasets.ReadLabelme(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := datasets.LabelmeSample(datasets.CohortCohen, path, back, datasets.LoadOptions{Images: true})
			if err != nil {
				t.Fatal(err)
			}
			if s.Image == nil || s.Width != size || s.Height != size {
				t.Fatalf("image %v, grid %dx%d", s.Image != nil, s.Width, s.Height)
			}
			if len(s.Warnings) != 0 {
				t.Errorf("warnings %q", s.Warnings)
			}
			for _, c := range []struct {
				name      string
				got, want *mask.Mask
			}{
				{datasets.LabelRightLung, s.Classes[datasets.LabelRightLung], right},
				{datasets.LabelLeftLung, s.Classes[datasets.LabelLeftLung], left},
				{"lung", s.Lung, lung},
				{"opacity", s.Opacity, opacity},
			} {
				if c.got == nil {
					t.Fatalf("%s: no mask", c.name)
				}
				iou := mask.MaskIoU(t, c.got, c.want)
				t.Logf("%s: IoU %.4f (%d px read back, %d px predicted)", c.name, iou, c.got.Count(), c.want.Count())
				if iou < tc.minIoU {
					t.Errorf("%s: IoU %.4f < %.2f", c.name, iou, tc.minIoU)
				}
			}
		})
	}
}
