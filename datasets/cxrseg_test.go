package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCohortCXRSeg(t *testing.T) {
	c, err := LoadCohort(exampleDir, CohortCXRSeg, LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Samples) != 2 || len(c.Errors) != 0 {
		t.Fatalf("%d samples, errors %v", len(c.Samples), c.Errors)
	}
	x, y := c.Samples[0], c.Samples[1]
	// x.png: left lung crop 8x12 all set (96 px) at rows 2..13, columns
	// 1..8; right lung 8x12 with two black pixels (94 px) at columns
	// 11..18; ground glass 4x4 with one black pixel (15 px) at rows 4..7,
	// columns 3..6, inside the left lung: 15/190 of the lung.
	if x.File != "x.png" || x.Patient != "5" || !x.HasImage() || x.Width != 20 || x.Height != 16 {
		t.Fatalf("x: %s %s %dx%d", x.File, x.Patient, x.Width, x.Height)
	}
	if x.Lung.Count() != 190 || x.Opacity.Count() != 15 || x.Classes[ClassRightLung].Count() != 94 {
		t.Errorf("x: lung %d opacity %d right %d; want 190, 15, 94", x.Lung.Count(), x.Opacity.Count(), x.Classes[ClassRightLung].Count())
	}
	if !x.Lung.At(1, 2) || x.Lung.At(0, 2) || x.Lung.At(1, 1) || !x.Lung.At(8, 13) || x.Lung.At(9, 13) || x.Lung.At(11, 2) || !x.Lung.At(12, 2) {
		t.Error("x: lung crops misplaced")
	}
	if !x.Opacity.At(3, 4) || x.Opacity.At(6, 7) || !x.Opacity.At(5, 7) {
		t.Error("x: ground glass crop misplaced")
	}
	if _, ok := x.Classes["Monitoring Probes"]; ok {
		t.Error("class without mask file kept")
	}
	if y.Lung.Count() != 96 || !y.Opacity.Empty() {
		t.Errorf("y: lung %d, opacity %d", y.Lung.Count(), y.Opacity.Count())
	}
	got := fmt.Sprint(c.Warnings)
	for _, w := range []string{`structure.csv line 5: "Monitoring Probes" has no mask file, skipped`, `no "Right Lung" mask`} {
		if !strings.Contains(got, w) {
			t.Errorf("warnings %s, want %q", got, w)
		}
	}
}

func TestLoadCohortCXRSegBadInput(t *testing.T) {
	tests := []struct {
		name      string
		spoil     func(t *testing.T, dir string)
		wantFile  string
		wantError string
		samples   int
	}{
		{
			name: "crop does not fit",
			spoil: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "cxr-seg/structure.csv"), "masks/x_right.png,20x16,2,11", "masks/x_right.png,20x16,2,13")
			},
			wantFile:  "images/x.png",
			wantError: "x_right.png (Right Lung, structure.csv line 3): crop 8x12 at top 2, left 13 does not fit in the 20x16 image",
			samples:   1,
		},
		{
			name: "image not of the Resolution size",
			spoil: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "cxr-seg/structure.csv"), "y_left.png,20x16", "y_left.png,20x17")
			},
			wantFile:  "images/y.png",
			wantError: "y.png: image is 20x16, structure.csv line 6 says 20x17",
			samples:   1,
		},
		{
			name: "mask not of its Width x Height",
			spoil: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "cxr-seg/structure.csv"), "x_ggo.png,20x16,4,3,4,4", "x_ggo.png,20x16,4,3,4,5")
			},
			wantFile:  "images/x.png",
			wantError: "x_ggo.png is 4x4, structure.csv line 4 says 4x5",
			samples:   1,
		},
		{
			name: "missing image",
			spoil: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "cxr-seg/images/y.png"))
			},
			wantFile:  "images/y.png",
			wantError: "y.png: no such file",
			samples:   1,
		},
		{
			name: "corrupt mask",
			spoil: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "cxr-seg/masks/y_left.png"), []byte("\x89PNG\r\n\x1a\n"), 0o644)
			},
			wantFile:  "images/y.png",
			wantError: "y_left.png: corrupt PNG",
			samples:   1,
		},
		{
			name: "wrong field count in structure.csv",
			spoil: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "cxr-seg/structure.csv"), "2,11,8,12,", "2,11,8,12")
			},
			wantFile:  "structure.csv",
			wantError: "structure.csv:3: 14 fields, the header has 15",
		},
		{
			name: "mask path leaving the folder",
			spoil: func(t *testing.T, dir string) {
				editFile(t, filepath.Join(dir, "cxr-seg/structure.csv"), "masks/x_ggo.png", "../../x_ggo.png")
			},
			wantFile:  "structure.csv",
			wantError: `structure.csv:4: Mask "../../x_ggo.png" leaves the cohort folder`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyExample(t)
			tt.spoil(t, dir)
			c, err := LoadCohort(dir, CohortCXRSeg, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Samples) != tt.samples || len(c.Errors) != 1 || c.Errors[0].File != tt.wantFile || !strings.Contains(c.Errors[0].Error, tt.wantError) {
				t.Errorf("%d samples, errors %v; want %d samples and %s: %q", len(c.Samples), c.Errors, tt.samples, tt.wantFile, tt.wantError)
			}
		})
	}
}
