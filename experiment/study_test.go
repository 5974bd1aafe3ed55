package experiment

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
)

// writeQUExStudy writes a data folder with a covid-qu-ex cohort of n 64x64
// images (two lungs each; every third Non-COVID, the others COVID-19 with an
// infection patch) whose near-duplicate pairs are (img00, img01), (img02,
// img03), ...: n/2 groups of two.
func writeQUExStudy(t *testing.T, n int) string {
	t.Helper()
	data := t.TempDir()
	dir := filepath.Join(data, datasets.CohortCovidQUEx)
	png64 := func(path string, f func(x, y int) bool) { writePNG64(t, path, f) }
	index := "file,class,source_split\n"
	pairs := "file_a,file_b,similarity_32px_ncc\n"
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("img%02d.png", i)
		class := datasets.QUExCOVID
		if i%3 == 2 {
			class = datasets.QUExNonCOVID
		}
		index += name + "," + class + ",Train\n"
		if i%2 == 1 {
			pairs += fmt.Sprintf("img%02d.png,%s,0.999\n", i-1, name)
		}
		png64(filepath.Join(dir, "images", name), func(x, y int) bool { return (x+y+i)%7 == 0 })
		lung := func(x, y int) bool { return y >= 10 && y < 54 && ((x >= 6 && x < 28) || (x >= 36 && x < 58)) }
		png64(filepath.Join(dir, "masks", "lung", name), lung)
		png64(filepath.Join(dir, "masks", "infection", name), func(x, y int) bool {
			return class == datasets.QUExCOVID && lung(x, y) && y < 20+i && x < 20
		})
	}
	os.WriteFile(filepath.Join(dir, datasets.QUExIndexFile), []byte(index), 0o644)
	os.WriteFile(filepath.Join(dir, datasets.QUExNearDuplicatesFile), []byte(pairs), 0o644)
	return data
}

// writePNG64 writes a 64x64 grey PNG, white where f is true.
func writePNG64(t *testing.T, path string, f func(x, y int) bool) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		if f(i%64, i/64) {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSplitSameAtEveryInputSize: whether an image has opacity (the split's
// stratification) is read from its annotation, not from the model input,
// where an opacity of one pixel vanishes at a smaller size; so a lung model
// at 64 px and an opacity model at 32 px have the same split.
func TestSplitSameAtEveryInputSize(t *testing.T) {
	data := writeQUExStudy(t, 24)
	tiny := map[string]bool{}
	for i := 0; i < 24; i += 3 { // COVID-19 images with an opacity of one pixel
		name := fmt.Sprintf("img%02d", i)
		tiny[name] = true
		writePNG64(t, filepath.Join(data, datasets.CohortCovidQUEx, "masks", "infection", name+".png"), func(x, y int) bool { return x == 15 && y == 31 })
	}
	var first map[string]string
	for _, c := range []struct {
		target string
		size   int
	}{{datasets.TargetLungs, 64}, {datasets.TargetLungs, 32}, {datasets.TargetOpacity, 32}, {datasets.TargetOpacity, 64}} {
		s, err := Preset(PresetTiny)
		if err != nil {
			t.Fatal(err)
		}
		s.Data, s.Cohort, s.TestFraction, s.Seed, s.InputSize = data, datasets.CohortCovidQUEx, 0.3, 1, c.size
		s.Targets = []string{c.target}
		st, err := LoadStudy(s)
		if err != nil {
			t.Fatal(err)
		}
		side := map[string]string{}
		for _, it := range st.Items {
			side[it.Stem] = it.Subset
			if tiny[it.Stem] && !it.Opaque() {
				t.Errorf("%s at %d px: %s, one pixel of opacity drawn, is not Opaque", c.target, c.size, it.Stem)
			}
		}
		if first == nil {
			first = side
			continue
		}
		for stem, sub := range side {
			if first[stem] != sub {
				t.Errorf("%s at %d px: %s on side %s, the lung model at 64 px put it on %s", c.target, c.size, stem, sub, first[stem])
			}
		}
	}
}

func TestStudyQUExKeepsNearDuplicatesTogether(t *testing.T) {
	data := writeQUExStudy(t, 24)
	for _, seed := range []int64{1, 2, 3} {
		s, err := Preset(PresetTiny)
		if err != nil {
			t.Fatal(err)
		}
		s.Data, s.Cohort, s.TestFraction, s.Seed, s.InputSize = data, datasets.CohortCovidQUEx, 0.3, seed, 32
		lungs, opacity := s, s
		lungs.Targets, opacity.Targets = []string{datasets.TargetLungs}, []string{datasets.TargetOpacity}
		ls, err := LoadStudy(lungs)
		if err != nil {
			t.Fatal(err)
		}
		os_, err := LoadStudy(opacity)
		if err != nil {
			t.Fatal(err)
		}
		side := map[string]string{}
		for _, it := range ls.Items {
			side[it.Stem] = it.Subset
		}
		if len(ls.Items) != 24 || ls.TrainCohort != datasets.CohortCovidQUEx {
			t.Fatalf("seed %d: lung study %d items of %s, want 24 of covid-qu-ex", seed, len(ls.Items), ls.TrainCohort)
		}
		for i := 0; i < 24; i += 2 {
			a, b := fmt.Sprintf("img%02d", i), fmt.Sprintf("img%02d", i+1)
			if side[a] != side[b] {
				t.Errorf("seed %d: near-duplicates %s (%s) and %s (%s) split", seed, a, side[a], b, side[b])
			}
		}
		// The opacity model: Non-COVID left out, the rest on the lung
		// model's side.
		if len(os_.Items) != 16 {
			t.Errorf("seed %d: opacity study %d items, want 16 (8 Non-COVID left out)", seed, len(os_.Items))
		}
		for _, it := range os_.Items {
			if it.Class == datasets.QUExNonCOVID || it.Subset != side[it.Stem] {
				t.Errorf("seed %d: opacity item %s (%s) on side %s, lungs %s", seed, it.Stem, it.Class, it.Subset, side[it.Stem])
			}
		}
		if !strings.Contains(strings.Join(os_.Problems, "\n"), "8 Non-COVID images left out") {
			t.Errorf("problems %v lack the Non-COVID count", os_.Problems)
		}
	}
}
