package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleDir is the small data folder written by testdata/genexample.go.
const exampleDir = "testdata/example"

// copyExample copies the example data folder into a temporary folder, to be
// spoilt by a test.
func copyExample(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(exampleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(exampleDir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func opacityPercent(s *Sample) float64 {
	n, err := s.Opacity.IntersectCount(s.Lung)
	if err != nil {
		panic(err)
	}
	return 100 * float64(n) / float64(s.Lung.Count())
}

func TestLoadCohortCovidAR(t *testing.T) {
	c, err := LoadCohort(exampleDir, CohortCovidAR, LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	// Lungs [0,10]x[0,20] and [10,20]x[0,20]: 200 + 200 centres, canvas
	// floor(20)+1 = 21 px a side. Ground glass [2,6]^2: 16 px, 4%.
	// Consolidation [12,16]x[4,9]: 20 px, 5%. The embedded 24x20 image: lungs
	// [1,11]x[1,19] and [12,23]x[1,19]: (10 + 11) * 18 = 378 px.
	want := []struct {
		file, patient string
		w, h, lung    int
		percent       float64
		image         bool
	}{
		{"COVID-19-AR-1_01-01-2020-XR.json", "COVID-19-AR-1", 21, 21, 400, 4, false},
		{"COVID-19-AR-1_01-05-2020-XR.json", "COVID-19-AR-1", 24, 20, 378, 0, true},
		{"COVID-19-AR-3_01-02-2020-XR.json", "COVID-19-AR-3", 21, 21, 400, 5, false},
	}
	if len(c.Samples) != len(want) {
		t.Fatalf("%d samples, want %d", len(c.Samples), len(want))
	}
	for i, w := range want {
		s := c.Samples[i]
		if s.File != w.file || s.Patient != w.patient || s.Width != w.w || s.Height != w.h || s.Lung.Count() != w.lung || opacityPercent(s) != w.percent || s.HasImage() != w.image {
			t.Errorf("sample %d: %s %s %dx%d lung %d opacity %g%% image %v; want %+v", i, s.File, s.Patient, s.Width, s.Height, s.Lung.Count(), opacityPercent(s), s.HasImage(), w)
		}
		if s.Cohort != CohortCovidAR {
			t.Errorf("cohort %q", s.Cohort)
		}
	}
	if len(c.Errors) != 1 || c.Errors[0].File != filepath.Join("annotations", "COVID-19-AR-4_01-03-2020-XR.json") ||
		!strings.Contains(c.Errors[0].Error, "COVID-19-AR-4_01-03-2020-XR.json: shape 0 (\"right_lung\"): a polygon needs at least 3 points, has 2") {
		t.Errorf("errors %v", c.Errors)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %v", c.Warnings)
	}
}

func TestLoadCohortCohen(t *testing.T) {
	c, err := LoadCohort(exampleDir, CohortCohen, LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Samples) != 2 || len(c.Errors) != 0 {
		t.Fatalf("%d samples, errors %v", len(c.Samples), c.Errors)
	}
	a, b := c.Samples[0], c.Samples[1]
	// a.json: image a.jpeg (imagePath says a.jpg), 24x20, patient 7 from
	// metadata.csv; opacity [3,7]x[3,5] = 8 px in 400 lung px = 2%.
	if !a.HasImage() || a.Width != 24 || a.Height != 20 || a.Patient != "7" || opacityPercent(a) != 2 {
		t.Errorf("a: image %v %dx%d patient %q opacity %g%%", a.HasImage(), a.Width, a.Height, a.Patient, opacityPercent(a))
	}
	// b.json: no image (canvas 21x21), no metadata row: patient = stem.
	if b.HasImage() || b.Width != 21 || b.Patient != "b" || !b.Opacity.Empty() {
		t.Errorf("b: image %v %dx%d patient %q", b.HasImage(), b.Width, b.Height, b.Patient)
	}
	got := fmt.Sprint(c.Warnings)
	for _, w := range []string{"no row for b in metadata.csv", `no image found for imagePath "b.jpg"`} {
		if !strings.Contains(got, w) {
			t.Errorf("warnings %s, want %q", got, w)
		}
	}
}

func TestLoadCohortMissing(t *testing.T) {
	if _, err := LoadCohort(filepath.Join(t.TempDir(), "nope"), CohortCovidAR, LoadOptions{}); err == nil {
		t.Error("no error for a missing data folder")
	}
	if _, err := LoadCohort(exampleDir, "other", LoadOptions{}); err == nil || !strings.Contains(err.Error(), `unknown cohort "other"`) {
		t.Errorf("error %v for an unknown cohort", err)
	}
	empty := t.TempDir()
	for _, name := range []string{CohortCovidAR, CohortCohen, CohortCXRSeg} {
		c, err := LoadCohort(empty, name, LoadOptions{})
		if err != nil || len(c.Samples) != 0 || len(c.Errors) != 0 || len(c.Warnings) != 0 || c.Name != name {
			t.Errorf("%s in an empty folder: %+v, %v", name, c, err)
		}
	}
}

func TestScanCohortStops(t *testing.T) {
	stop := errors.New("enough")
	n := 0
	_, err := ScanCohort(exampleDir, CohortCovidAR, LoadOptions{}, func(s *Sample) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d samples, want %v after 1", err, n, stop)
	}
}

// TestScanSamples reads the samples named by "cohort/stem" keys from the
// example folder, cohorts in name order and files in file order; a sample
// without pixels (cohen/b: its image is missing) is not handed over.
func TestScanSamples(t *testing.T) {
	want := map[string]bool{"cxr-seg/y": true, "cohen/b": true, "cohen/a": true, "cxr-seg/x": true, "cohen/none": true}
	var got []string
	err := ScanSamples(exampleDir, want, func(s *Sample) error {
		if !s.HasImage() {
			t.Errorf("%s/%s: no image", s.Cohort, s.Stem)
		}
		got = append(got, s.Cohort+"/"+s.Stem)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[cohen/a cxr-seg/x cxr-seg/y]" {
		t.Errorf("samples %v, want [cohen/a cxr-seg/x cxr-seg/y]", got)
	}
}

func TestRunOrdered(t *testing.T) {
	// More jobs than the window; results must come in index order.
	var got []int
	err := runOrdered(100, func(i int) (int, error) { return i * i, nil }, func(i, v int, err error) error {
		if v != i*i {
			t.Errorf("result %d for %d", v, i)
		}
		got = append(got, i)
		return nil
	})
	if err != nil || len(got) != 100 {
		t.Fatalf("%d results, %v", len(got), err)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("order %v", got)
		}
	}
}

func TestComputeStatsExample(t *testing.T) {
	st, err := ComputeStats(exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	// Worked out from testdata/genexample.go: covid-ar has 4 files, one
	// malformed; of the 3 others (patients 1, 1, 3) one is clear and one
	// embeds its image; patient 3 has no clinical row. cohen: a.json with
	// its image, opacity and a score (a.jpeg); b.json without image nor
	// opacity. cxr-seg: x.png (both lungs, ground glass) and y.png (left lung
	// only), one patient; the Monitoring Probes row has no mask.
	want := `{"synthetic":false,"cohorts":{` +
		`"covid-ar":{"annotations":4,"images_decoded":1,"patients":2,"without_opacity":1,` +
		`"labels":{"consolidation":1,"groud_glass_opacity":1,"left_lung":3,"right_lung":3},` +
		`"patients_without_clinical_row":["COVID-19-AR-3"],` +
		`"errors":[{"file":"annotations/COVID-19-AR-4_01-03-2020-XR.json","error":"testdata/example/covid-ar/annotations/COVID-19-AR-4_01-03-2020-XR.json: shape 0 (\"right_lung\"): a polygon needs at least 3 points, has 2"}]},` +
		`"cohen":{"annotations":2,"images_decoded":1,"without_opacity":1,"with_severity_score":1,"errors":[]},` +
		`"cxr-seg":{"images":2,"images_decoded":2,"patients":1,"without_opacity":1,"without_both_lungs":1,` +
		`"classes":{"Ground Glass Opacities":1,"Left Lung":2,"Right Lung":1},"errors":[]},"covid-qu-ex":{"images":0,"images_decoded":0,"groups":0,"near_duplicate_images":0,"without_opacity":0,"without_both_lungs":0,"classes":{},"errors":[]}}}`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestComputeStatsEmptyAndMissing(t *testing.T) {
	if _, err := ComputeStats(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("no error for a missing data folder")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "SYNTHETIC"), []byte("synthetic\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := ComputeStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(st)
	want := `{"synthetic":true,"cohorts":{` +
		`"covid-ar":{"annotations":0,"images_decoded":0,"patients":0,"without_opacity":0,"labels":{},"patients_without_clinical_row":[],"errors":[]},` +
		`"cohen":{"annotations":0,"images_decoded":0,"without_opacity":0,"with_severity_score":0,"errors":[]},` +
		`"cxr-seg":{"images":0,"images_decoded":0,"patients":0,"without_opacity":0,"without_both_lungs":0,"classes":{},"errors":[]},"covid-qu-ex":{"images":0,"images_decoded":0,"groups":0,"near_duplicate_images":0,"without_opacity":0,"without_both_lungs":0,"classes":{},"errors":[]}}}`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestComputeStatsMissingTables(t *testing.T) {
	dir := copyExample(t)
	os.Remove(filepath.Join(dir, "covid-ar", "patient_info.csv"))
	os.Remove(filepath.Join(dir, "cohen", "covid-severity-scores.csv"))
	st, err := ComputeStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	ar, co := st.Cohorts.CovidAR, st.Cohorts.Cohen
	// Without the clinical table every patient lacks a row, and the missing
	// file is an error; counts of files are unchanged.
	if strings.Join(ar.PatientsWithoutClinicalRow, " ") != "COVID-19-AR-1 COVID-19-AR-3" || len(ar.Errors) != 2 || ar.Errors[1].File != "patient_info.csv" || ar.Annotations != 4 {
		t.Errorf("covid-ar %+v", ar)
	}
	if co.WithSeverityScore != 0 || len(co.Errors) != 1 || co.Errors[0].File != "covid-severity-scores.csv" || co.Annotations != 2 {
		t.Errorf("cohen %+v", co)
	}
}

func TestIsSynthetic(t *testing.T) {
	dir := t.TempDir()
	if IsSynthetic(dir) {
		t.Error("synthetic without marker")
	}
	os.WriteFile(filepath.Join(dir, "SYNTHETIC"), nil, 0o644)
	if !IsSynthetic(dir) {
		t.Error("not synthetic with marker")
	}
}

func ExampleLoadCohort() {
	c, err := LoadCohort("testdata/example", CohortCovidAR, LoadOptions{Images: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range c.Samples {
		n, _ := s.Opacity.IntersectCount(s.Lung) // |O ∩ L|
		fmt.Printf("%s patient %s, %dx%d, image %v, opacity %.1f%%\n",
			s.File, s.Patient, s.Width, s.Height, s.HasImage(), 100*float64(n)/float64(s.Lung.Count()))
	}
	for _, e := range c.Errors {
		fmt.Println("cannot read", e.File)
	}
	// Output:
	// COVID-19-AR-1_01-01-2020-XR.json patient COVID-19-AR-1, 21x21, image false, opacity 4.0%
	// COVID-19-AR-1_01-05-2020-XR.json patient COVID-19-AR-1, 24x20, image true, opacity 0.0%
	// COVID-19-AR-3_01-02-2020-XR.json patient COVID-19-AR-3, 21x21, image false, opacity 5.0%
	// cannot read annotations/COVID-19-AR-4_01-03-2020-XR.json
}

func TestLoadCohortOnly(t *testing.T) {
	for _, name := range []string{CohortCohen, CohortCovidAR} {
		all, err := LoadCohort(exampleDir, name, LoadOptions{})
		if err != nil || len(all.Samples) < 2 {
			t.Fatalf("%s: %v, %d samples", name, err, len(all.Samples))
		}
		keep := all.Samples[1].Stem
		var asked []string
		c, err := LoadCohort(exampleDir, name, LoadOptions{Only: func(stem string) bool {
			asked = append(asked, stem)
			return stem == keep
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Samples) != 1 || c.Samples[0].Stem != keep || len(asked) < len(all.Samples) {
			t.Errorf("%s, only %q: %d samples, asked about %v", name, keep, len(c.Samples), asked)
		}
	}
}
