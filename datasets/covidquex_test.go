package datasets

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeGrayPNG writes a w x h grey PNG whose pixel (x, y) is f(x, y).
func writeGrayPNG(t *testing.T, path string, w, h int, f func(x, y int) uint8) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Pix[y*img.Stride+x] = f(x, y)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeQUEx writes a covid-qu-ex cohort of 16x12 images into data:
//
//	a.png  COVID-19: lungs columns 2..5 and 10..13 (rows 2..9: 8 rows x 4
//	       columns each, 64 px), infection columns 2..3, rows 2..5 (8 px,
//	       inside the right lung), mask grey 200 (>= 128: set) with a
//	       stray grey 100 pixel at (0, 0) (< 128: not set)
//	b.png  Normal: same lungs, empty infection
//	c.png  Non-COVID: same lungs, empty infection
//
// near-duplicates.csv pairs a and c.
func writeQUEx(t *testing.T, data string) string {
	t.Helper()
	dir := filepath.Join(data, CohortCovidQUEx)
	lung := func(x, y int) uint8 {
		if y >= 2 && y <= 9 && ((x >= 2 && x <= 5) || (x >= 10 && x <= 13)) {
			return 255
		}
		return 0
	}
	for _, name := range []string{"a.png", "b.png", "c.png"} {
		writeGrayPNG(t, filepath.Join(dir, QUExImagesDir, name), 16, 12, func(x, y int) uint8 { return uint8(10 * x) })
		writeGrayPNG(t, filepath.Join(dir, filepath.FromSlash(QUExLungMasksDir), name), 16, 12, lung)
		inf := func(x, y int) uint8 { return 0 }
		if name == "a.png" {
			inf = func(x, y int) uint8 {
				switch {
				case x == 0 && y == 0:
					return 100
				case x >= 2 && x <= 3 && y >= 2 && y <= 5:
					return 200
				}
				return 0
			}
		}
		writeGrayPNG(t, filepath.Join(dir, filepath.FromSlash(QUExInfectionMasksDir), name), 16, 12, inf)
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(QUExIndexFile, "file,class,source_split\r\nc.png,Non-COVID,Val\r\na.png,COVID-19,Train\r\nb.png,Normal,Train\r\n")
	write(QUExNearDuplicatesFile, "file_a,file_b,similarity_32px_ncc\nc.png,a.png,0.995\n")
	return dir
}

func TestLoadCohortQUEx(t *testing.T) {
	data := t.TempDir()
	writeQUEx(t, data)
	c, err := LoadCohort(data, CohortCovidQUEx, LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Samples) != 3 || len(c.Errors) != 0 || len(c.Warnings) != 0 {
		t.Fatalf("%d samples, errors %v, warnings %v", len(c.Samples), c.Errors, c.Warnings)
	}
	a, b, cc := c.Samples[0], c.Samples[1], c.Samples[2]
	if a.File != "a.png" || b.File != "b.png" || cc.File != "c.png" {
		t.Fatalf("order %s %s %s, want file-name order", a.File, b.File, cc.File)
	}
	// a and c are one group, named by the first file's stem; b its own.
	if a.Patient != "a" || cc.Patient != "a" || b.Patient != "b" {
		t.Errorf("groups %s %s %s, want a a b", a.Patient, cc.Patient, b.Patient)
	}
	if a.Class != QUExCOVID || b.Class != QUExNormal || cc.Class != QUExNonCOVID {
		t.Errorf("classes %s %s %s", a.Class, b.Class, cc.Class)
	}
	if a.Lung.Count() != 64 || a.Opacity.Count() != 8 || a.Opacity.At(0, 0) || !a.Opacity.At(3, 5) || a.Opacity.At(3, 6) {
		t.Errorf("a: lung %d px, infection %d px; want 64, 8 (grey 100 not set)", a.Lung.Count(), a.Opacity.Count())
	}
	// Right lung: the component with the smaller x (columns 2..5).
	r, l := a.Classes[LabelRightLung], a.Classes[LabelLeftLung]
	if r.Count() != 32 || l.Count() != 32 || !r.At(2, 2) || !l.At(13, 9) || !a.BothLungs() {
		t.Errorf("lung split: right %d, left %d", r.Count(), l.Count())
	}
	if !b.Opacity.Empty() || b.Image == nil || b.Image.Pix[3] != 30 {
		t.Error("b: want an empty infection mask and the image's pixels")
	}
	// Without images: sizes from the headers, masks still read.
	c2, err := LoadCohort(data, CohortCovidQUEx, LoadOptions{})
	if err != nil || len(c2.Samples) != 3 || c2.Samples[0].Image != nil || c2.Samples[0].Width != 16 || c2.Samples[0].Opacity.Count() != 8 {
		t.Errorf("without images: %v", err)
	}
}

func TestLoadCohortQUExBadInput(t *testing.T) {
	tests := []struct {
		name      string
		spoil     func(t *testing.T, dir string)
		wantFile  string
		wantError string
		samples   int
	}{
		{"missing lung mask", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "masks", "lung", "b.png"))
		}, "images/b.png", filepath.Join("masks", "lung", "b.png"), 2},
		{"mask of another size", func(t *testing.T, dir string) {
			writeGrayPNG(t, filepath.Join(dir, "masks", "infection", "a.png"), 8, 12, func(x, y int) uint8 { return 0 })
		}, "images/a.png", "mask is 8x12, the image 16x12", 2},
		{"corrupt image", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "images", "c.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
		}, "images/c.png", "c.png", 2},
		{"missing image", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "images", "a.png"))
		}, "images/a.png", "a.png", 2},
		{"unknown class", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, QUExIndexFile), []byte("file,class,source_split\na.png,Pneumonia,Train\n"), 0o644)
		}, QUExIndexFile, `index.csv:2: class "Pneumonia"`, 0},
		{"file listed twice", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, QUExIndexFile), []byte("file,class,source_split\na.png,COVID-19,Train\na.png,Normal,Val\n"), 0o644)
		}, QUExIndexFile, `index.csv:3: file "a.png" listed twice (line 2 too)`, 0},
		{"path in index", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, QUExIndexFile), []byte("file,class,source_split\n../a.png,COVID-19,Train\n"), 0o644)
		}, QUExIndexFile, "not a plain file name", 0},
		{"no class column", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, QUExIndexFile), []byte("file,split\na.png,Train\n"), 0o644)
		}, QUExIndexFile, `no column "class"`, 0},
		{"missing index", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, QUExIndexFile))
		}, QUExIndexFile, "index.csv", 0},
		{"bad near-duplicates", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, QUExNearDuplicatesFile), []byte("file_a,file_b\na.png,a.png\n"), 0o644)
		}, QUExNearDuplicatesFile, `"a.png" paired with itself`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			tt.spoil(t, writeQUEx(t, data))
			c, err := LoadCohort(data, CohortCovidQUEx, LoadOptions{Images: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Samples) != tt.samples {
				t.Errorf("%d samples, want %d", len(c.Samples), tt.samples)
			}
			found := false
			for _, e := range c.Errors {
				if e.File == tt.wantFile && strings.Contains(e.Error, tt.wantError) {
					found = true
				}
			}
			if !found {
				t.Errorf("errors %v, want one for %s containing %q", c.Errors, tt.wantFile, tt.wantError)
			}
		})
	}
}

func TestQUExNearDuplicatesMissingWarns(t *testing.T) {
	data := t.TempDir()
	dir := writeQUEx(t, data)
	os.Remove(filepath.Join(dir, QUExNearDuplicatesFile))
	c, err := LoadCohort(data, CohortCovidQUEx, LoadOptions{})
	if err != nil || len(c.Samples) != 3 || len(c.Errors) != 0 || len(c.Warnings) != 1 || c.Warnings[0].File != QUExNearDuplicatesFile {
		t.Fatalf("err %v, %d samples, errors %v, warnings %v", err, len(c.Samples), c.Errors, c.Warnings)
	}
	if c.Samples[2].Patient != "c" {
		t.Errorf("without pairs every image is its own group, got %s", c.Samples[2].Patient)
	}
}

func TestDuplicateGroups(t *testing.T) {
	tests := []struct {
		files []string
		pairs [][2]string
		want  map[string]string
	}{
		{[]string{"a.png", "b.png"}, nil, map[string]string{"a.png": "a", "b.png": "b"}},
		// Transitive: d-c and c-b put b, c, d in one group named b; e is
		// outside the files and ignored.
		{[]string{"a.png", "b.png", "c.png", "d.png"}, [][2]string{{"d.png", "c.png"}, {"c.png", "b.png"}, {"a.png", "e.png"}},
			map[string]string{"a.png": "a", "b.png": "b", "c.png": "b", "d.png": "b"}},
		// A pair listed twice and in both orders.
		{[]string{"x.png", "y.png"}, [][2]string{{"y.png", "x.png"}, {"x.png", "y.png"}}, map[string]string{"x.png": "x", "y.png": "x"}},
	}
	for i, tt := range tests {
		if got := DuplicateGroups(tt.files, tt.pairs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%d: %v, want %v", i, got, tt.want)
		}
	}
}

func TestComputeStatsQUEx(t *testing.T) {
	data := t.TempDir()
	writeQUEx(t, data)
	st, err := ComputeStats(data)
	if err != nil {
		t.Fatal(err)
	}
	q := st.Cohorts.QUEx
	want := QUExStats{Images: 3, ImagesDecoded: 3, Groups: 2, NearDuplicates: 2, WithoutOpacity: 2, Classes: map[string]int{QUExCOVID: 1, QUExNormal: 1, QUExNonCOVID: 1}}
	q.Errors, q.Warnings = nil, nil
	if !reflect.DeepEqual(q, want) {
		t.Errorf("stats %+v, want %+v", q, want)
	}
}

func FuzzReadQUExIndex(f *testing.F) {
	f.Add([]byte("file,class,source_split\na.png,COVID-19,Train\n"))
	f.Add([]byte("\uFEFFfile,class,source_split\r\n\"a,b.png\",Normal,Val\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseQUExIndex("index.csv", bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "index.csv") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		for _, e := range entries {
			if !plainFileName(e.File) || fmt.Sprint(e.OpacityLabelled()) == "" {
				t.Errorf("entry %+v accepted", e)
			}
		}
	})
}
