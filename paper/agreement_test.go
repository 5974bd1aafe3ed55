package paper

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
)

// writeGray writes a w x h PNG of one gray level.
func writeGray(t *testing.T, path string, w, h int, level uint8) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, &image.Gray{Pix: bytes.Repeat([]byte{level}, w*h), Stride: w, Rect: image.Rect(0, 0, w, h)}); err != nil {
		t.Fatal(err)
	}
	writeText(t, path, b.String())
}

// agreementData writes a data folder where cohen/annotations (a) and
// cxr-seg (b) share two 20x16 images:
//
//	x: a's lungs are columns 1-8, rows 2-13 (96 px); b's are those and
//	   columns 11-18 of the same rows (192 px). a's opacity is columns 3-6,
//	   rows 4-5 (8 px), b's columns 3-6, rows 4-9 (24 px).
//	y: a's and b's lungs are columns 1-8, rows 2-13; neither has opacity.
//
// cohen/ also has z (not in cxr-seg) and a file that cannot be read.
func agreementData(t *testing.T) string {
	dir := t.TempDir()
	lungA := [][][2]float64{box(1, 2, 9, 14)}
	ann := filepath.Join(dir, datasets.CohortCohen, "annotations")
	writeAnnotation(t, filepath.Join(ann, "x.json"), 20, 16, lungA, [][][2]float64{box(3, 4, 7, 6)})
	writeAnnotation(t, filepath.Join(ann, "y.json"), 20, 16, lungA, nil)
	writeAnnotation(t, filepath.Join(ann, "z.json"), 20, 16, lungA, nil)
	writeText(t, filepath.Join(ann, "bad.json"), "{")
	seg := filepath.Join(dir, datasets.CohortCXRSeg)
	for _, im := range []string{"x", "y"} {
		writeGray(t, filepath.Join(seg, "images", im+".png"), 20, 16, 90)
	}
	for _, m := range []struct {
		name string
		w, h int
	}{{"x_left", 8, 12}, {"x_right", 8, 12}, {"x_ggo", 4, 6}, {"y_left", 8, 12}} {
		writeGray(t, filepath.Join(seg, "masks", m.name+".png"), m.w, m.h, 255)
	}
	writeText(t, filepath.Join(seg, "structure.csv"), `Template Name,Filename,Mask,Resolution,Top,Left,Width,Height
Left Lung,x.png,masks/x_left.png,20x16,2,1,8,12
Right Lung,x.png,masks/x_right.png,20x16,2,11,8,12
Ground Glass Opacities,x.png,masks/x_ggo.png,20x16,4,3,4,6
Left Lung,y.png,masks/y_left.png,20x16,2,1,8,12
`)
	return dir
}

func TestCompareAnnotations(t *testing.T) {
	dir := agreementData(t)
	for _, images := range []bool{false, true} {
		x, err := CompareAnnotations(dir, images)
		if err != nil {
			t.Fatal(err)
		}
		ag := x.Agreement
		if ag.Pairs != 2 || len(ag.Images) != 2 || ag.Images[0].Image != "x" || ag.Images[1].Image != "y" {
			t.Fatalf("images %v, want x and y", ag.Images)
		}
		// By the definitions: lung IoU |La∩Lb|/|La∪Lb|, opacity IoU of
		// each opacity within its lungs (1 when both are empty), opacity %
		// 100|O∩L|/|L|.
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"x lung IoU", ag.Images[0].LungIoU, 96.0 / 192},
			{"x opacity IoU", ag.Images[0].OpacityIoU, 8.0 / 24},
			{"x opacity % a", ag.Images[0].OpacityPctA, 100 * 8.0 / 96},
			{"x opacity % b", ag.Images[0].OpacityPctB, 100 * 24.0 / 192},
			{"y lung IoU", ag.Images[1].LungIoU, 1},
			{"y opacity IoU", ag.Images[1].OpacityIoU, 1},
			{"y opacity % a", ag.Images[1].OpacityPctA, 0},
			{"mean lung IoU", ag.LungIoUMean, (0.5 + 1) / 2},
			{"mean opacity IoU", ag.OpacityIoUMean, (1.0/3 + 1) / 2},
			{"Bland-Altman bias", ag.BlandAltman.Bias, (100*8.0/96 - 12.5) / 2},
		} {
			if math.Abs(c.got-c.want) > 1e-9 {
				t.Errorf("images %v: %s %v, want %v", images, c.name, c.got, c.want)
			}
		}
		if strings.Join(ag.BothClear, " ") != "y" || len(x.Problems) != 1 || !strings.HasPrefix(x.Problems[0], "cohen/annotations/bad.json: ") {
			t.Errorf("both clear %v, problems %q; want y and cohen/annotations/bad.json", ag.BothClear, x.Problems)
		}
		if got := x.A["x"].HasImage() || x.B["x"].HasImage(); got != images {
			t.Errorf("images read: %v, want %v", got, images)
		}
		tab := x.Table()
		if len(tab.Rows) != 3 || strings.Join(tab.Rows[0], "|") != "x|0.500|0.333|8.3|12.5" || tab.Rows[2][0] != "mean (2 images)" || tab.Rows[2][1] != "0.750" {
			t.Errorf("table %v", tab)
		}
		paths, err := x.SaveFigures(t.TempDir(), "agreement-")
		if err != nil {
			t.Fatal(err)
		}
		want := "agreement-bland-altman.png agreement-bland-altman.svg" // the grid needs the images
		if images {
			want += " agreement-grid.png agreement-grid.svg"
		}
		if got := written(t, paths); got != want {
			t.Errorf("images %v: files %s, want %s", images, got, want)
		}
	}
}

func TestCompareAnnotationsWithoutPairs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		remove  string // under the data folder; "" for the folder itself
		wantErr bool
	}{
		{"no cohen/", datasets.CohortCohen, false},
		{"no cxr-seg/", datasets.CohortCXRSeg, false},
		{"no data folder", "", true},
	} {
		dir := agreementData(t)
		if err := os.RemoveAll(filepath.Join(dir, tc.remove)); err != nil {
			t.Fatal(err)
		}
		x, err := CompareAnnotations(dir, false)
		switch {
		case tc.wantErr && err == nil:
			t.Errorf("%s: no error", tc.name)
		case !tc.wantErr && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.wantErr && x.Agreement.Pairs != 0:
			t.Errorf("%s: %d pairs, want 0", tc.name, x.Agreement.Pairs)
		}
	}
}
