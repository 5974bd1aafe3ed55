package datasets

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/covidxray/opacity/datasets/internal/fixture"
)

var realStatsOnce struct {
	sync.Once
	st  *Stats
	err error
}

// realStats computes the statistics of the real data once for all tests.
func realStats(t *testing.T, data string) *Stats {
	t.Helper()
	realStatsOnce.Do(func() { realStatsOnce.st, realStatsOnce.err = ComputeStats(data) })
	if realStatsOnce.err != nil {
		t.Fatal(realStatsOnce.err)
	}
	return realStatsOnce.st
}

// rawLabelmeFile is an independent minimal decoding of a labelme file, for
// counting without the code under test.
type rawLabelmeFile struct {
	ImagePath string `json:"imagePath"`
	Shapes    []struct {
		Label  string      `json:"label"`
		Points [][]float64 `json:"points"`
	} `json:"shapes"`
}

func readRawAnnotations(t *testing.T, dir string) map[string]rawLabelmeFile {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]rawLabelmeFile{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var f rawLabelmeFile
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = f
	}
	return out
}

func TestRealCovidAR(t *testing.T) {
	data := fixture.RealDataDir(t)
	raw := readRawAnnotations(t, filepath.Join(data, "covid-ar", "annotations"))
	// Independent counts: files, patients (name before '_'), files with no
	// label other than the two lung labels, shapes per label.
	patients := map[string]bool{}
	clear := 0
	labels := map[string]int{}
	for name, f := range raw {
		patients[name[:strings.Index(name, "_")]] = true
		opacity := false
		for _, s := range f.Shapes {
			labels[s.Label]++
			if s.Label != "right_lung" && s.Label != "left_lung" {
				opacity = true
			}
		}
		if !opacity {
			clear++
		}
	}
	// The numbers of ../shared/data/README.md.
	if len(raw) != 184 || len(patients) != 76 || clear != 47 {
		t.Fatalf("direct count: %d files, %d patients, %d clear; README says 184, 76, 47", len(raw), len(patients), clear)
	}

	// At native resolution the masks of all files take GBs: scan them.
	got := map[string]bool{}
	gotClear := 0
	n := 0
	prev := ""
	c, err := ScanCohort(data, CohortCovidAR, LoadOptions{}, func(s *Sample) error {
		n++
		if prev >= s.File {
			t.Errorf("not sorted: %s before %s", prev, s.File)
		}
		prev = s.File
		got[s.Patient] = true
		if s.Opacity.Empty() {
			gotClear++
		}
		if s.Lung.Empty() {
			t.Errorf("%s: empty lung mask", s.File)
		}
		if s.Lung.Width != s.Width || s.Opacity.Width != s.Width || s.Lung.Height != s.Height || s.Opacity.Height != s.Height {
			t.Errorf("%s: masks not on the %dx%d grid", s.File, s.Width, s.Height)
		}
		// Canvas: floor(max coordinate)+1, computed here from the raw points.
		maxX, maxY := 0.0, 0.0
		for _, sh := range raw[s.File].Shapes {
			for _, p := range sh.Points {
				maxX, maxY = max(maxX, p[0]), max(maxY, p[1])
			}
		}
		if s.Width != int(maxX)+1 || s.Height != int(maxY)+1 {
			t.Errorf("%s: grid %dx%d, want %dx%d from max point (%g, %g)", s.File, s.Width, s.Height, int(maxX)+1, int(maxY)+1, maxX, maxY)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Errors) != 0 || n != 184 {
		t.Errorf("%d samples, errors %v; want 184 and none", n, c.Errors)
	}
	if len(got) != 76 || gotClear != 47 {
		t.Errorf("loaded: %d patients, %d without opacity pixels; want 76, 47", len(got), gotClear)
	}

	// The clinical table: 104 rows, 29 ICU admissions, 10 deaths (README);
	// the one annotated patient without a row.
	clinical, err := ReadClinical(filepath.Join(data, "covid-ar", "patient_info.csv"))
	if err != nil {
		t.Fatal(err)
	}
	icu, dead := 0, 0
	for _, o := range clinical {
		icu += o.ICU
		dead += o.Mortality
	}
	if len(clinical) != 104 || icu != 29 || dead != 10 {
		t.Errorf("clinical: %d rows, %d ICU, %d deaths; want 104, 29, 10", len(clinical), icu, dead)
	}
	var missing []string
	for p := range patients {
		if _, ok := clinical[p]; !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) != 1 || missing[0] != "COVID-19-AR-16407177" {
		t.Errorf("patients without clinical row: %v, want [COVID-19-AR-16407177]", missing)
	}

	st := realStats(t, data)
	ar := st.Cohorts.CovidAR
	if ar.Annotations != 184 || ar.Patients != 76 || ar.WithoutOpacity != 47 || ar.ImagesDecoded != 0 || len(ar.Errors) != 0 || st.Synthetic {
		t.Errorf("stats %+v", ar)
	}
	if len(ar.Labels) != len(labels) {
		t.Errorf("labels %v, want %v", ar.Labels, labels)
	}
	for l, n := range labels {
		if ar.Labels[l] != n {
			t.Errorf("label %s: %d shapes, want %d", l, ar.Labels[l], n)
		}
	}
	if strings.Join(ar.PatientsWithoutClinicalRow, ",") != "COVID-19-AR-16407177" {
		t.Errorf("without clinical row: %v", ar.PatientsWithoutClinicalRow)
	}
}

func TestRealRadiologistNotes(t *testing.T) {
	data := fixture.RealDataDir(t)
	path := filepath.Join(data, "covid-ar", "radiologist_notes.csv")
	// Independent count: records of encoding/csv with a patient id.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range recs[1:] {
		if r[0] != "" {
			want++
		}
	}
	notes, err := ReadRadiologistNotes(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != want || want == 0 {
		t.Errorf("%d notes, want %d", len(notes), want)
	}
}

func TestRealCohen(t *testing.T) {
	data := fixture.RealDataDir(t)
	dir := filepath.Join(data, "cohen")
	raw := readRawAnnotations(t, filepath.Join(dir, "annotations"))
	images, err := os.ReadDir(filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 22 || len(images) != 21 {
		t.Fatalf("%d annotations, %d images; README says 22 and 21", len(raw), len(images))
	}
	// Every image decodes (header here with the standard library, pixels
	// below by ComputeStats with DecodeGray), and every annotation point
	// lies inside its image: 3 points of two files lie 0.7-0.8 px left of
	// it (x = -0.8, -0.7, -0.7; clicks on the image's edge), clipped with a
	// warning; none lies further out.
	sizes := map[string]image.Point{}
	for _, e := range images {
		p := filepath.Join(dir, "images", e.Name())
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		sizes[strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))] = image.Pt(cfg.Width, cfg.Height)
	}
	slightly := 0
	withImage := 0
	for name, f := range raw {
		size, ok := sizes[strings.TrimSuffix(name, ".json")]
		if !ok {
			continue
		}
		withImage++
		for _, s := range f.Shapes {
			for _, p := range s.Points {
				x, y := p[0], p[1]
				if x < -1 || y < -1 || x > float64(size.X)+1 || y > float64(size.Y)+1 {
					t.Errorf("%s: point (%g, %g) outside the %v image", name, x, y, size)
				} else if x < 0 || y < 0 || x > float64(size.X) || y > float64(size.Y) {
					slightly++
				}
			}
		}
	}
	if withImage != 21 || slightly != 3 {
		t.Errorf("%d annotations with an image, %d points within 1 px outside; want 21 and 3", withImage, slightly)
	}

	c, err := LoadCohort(data, CohortCohen, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Errors) != 0 || len(c.Samples) != 22 {
		t.Fatalf("%d samples, errors %v", len(c.Samples), c.Errors)
	}
	for _, s := range c.Samples {
		size, ok := sizes[s.Stem]
		if !ok {
			continue // the one without image: on a canvas
		}
		if s.Width != size.X || s.Height != size.Y {
			t.Errorf("%s: grid %dx%d, image %v", s.File, s.Width, s.Height, size)
		}
		if s.Lung.Empty() {
			t.Errorf("%s: empty lung mask", s.File)
		}
	}
	st := realStats(t, data)
	// 4 of the 22 files have only lung shapes; all 22 stems have a severity
	// score (counted here from the raw files).
	clear := 0
	for _, f := range raw {
		opacity := false
		for _, s := range f.Shapes {
			opacity = opacity || s.Label == "opacity"
		}
		if !opacity {
			clear++
		}
	}
	scored := 0
	sev, err := os.ReadFile(filepath.Join(dir, "covid-severity-scores.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(sev), "\n") {
		name, _, _ := strings.Cut(line, ",")
		if _, ok := raw[strings.TrimSuffix(name, filepath.Ext(name))+".json"]; ok {
			scored++
		}
	}
	co := st.Cohorts.Cohen
	if co.Annotations != 22 || co.ImagesDecoded != 21 || co.WithoutOpacity != clear || clear != 4 || co.WithSeverityScore != scored || len(co.Errors) != 0 {
		t.Errorf("stats %+v; want 22 annotations, 21 decoded, %d (=4) without opacity, %d with score", co, clear, scored)
	}
}

func TestRealCXRSeg(t *testing.T) {
	data := fixture.RealDataDir(t)
	dir := filepath.Join(data, "cxr-seg")
	// Independent reading of structure.csv with encoding/csv.
	f, err := os.Open(filepath.Join(dir, "structure.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	classes := map[string]map[string]int{} // image -> class -> masks
	sizes := map[string]image.Point{}
	masks := 0
	for _, r := range recs[1:] {
		img, class, mask := r[col["Filename"]], r[col["Template Name"]], r[col["Mask"]]
		if classes[img] == nil {
			classes[img] = map[string]int{}
		}
		if mask == "" {
			continue
		}
		masks++
		classes[img][class]++
		// Every mask decodes and fits inside its image.
		var w, h, top, left, cw, ch int
		if _, err := fmt.Sscanf(r[col["Resolution"]]+" "+r[col["Top"]]+" "+r[col["Left"]]+" "+r[col["Width"]]+" "+r[col["Height"]], "%dx%d %d %d %d %d", &w, &h, &top, &left, &cw, &ch); err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		mf, err := os.Open(filepath.Join(dir, mask))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(mf)
		mf.Close()
		if err != nil {
			t.Errorf("%s: %v", mask, err)
			continue
		}
		if cfg.Width != cw || cfg.Height != ch || top < 0 || left < 0 || top+ch > h || left+cw > w {
			t.Errorf("%s: %dx%d at (%d,%d) does not fit %dx%d or is not %dx%d", mask, cfg.Width, cfg.Height, top, left, w, h, cw, ch)
		}
		// The image has the Resolution size.
		imgFile := filepath.Join(dir, "images", img)
		if sizes[img] == (image.Point{}) {
			f, err := os.Open(imgFile)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := image.DecodeConfig(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", imgFile, err)
			}
			sizes[img] = image.Pt(cfg.Width, cfg.Height)
		}
		if sizes[img] != image.Pt(w, h) {
			t.Errorf("%s: %v, Resolution %dx%d", img, sizes[img], w, h)
		}
	}
	withoutOpacity, withoutBoth := 0, 0
	for _, c := range classes {
		if c["Ground Glass Opacities"]+c["Consolidation"] == 0 {
			withoutOpacity++
		}
		if c["Left Lung"] == 0 || c["Right Lung"] == 0 {
			withoutBoth++
		}
	}
	if len(classes) != 100 || withoutOpacity != 5 || withoutBoth != 2 {
		t.Fatalf("direct count: %d images, %d without opacity, %d without both lungs; README says 100, 5, 2", len(classes), withoutOpacity, withoutBoth)
	}

	// ComputeStats decodes every image and mask and places every crop.
	st := realStats(t, data)
	cx := st.Cohorts.CXRSeg
	total := 0
	for _, n := range cx.Classes {
		total += n
	}
	if cx.Images != 100 || cx.ImagesDecoded != 100 || cx.WithoutOpacity != 5 || cx.WithoutBothLungs != 2 || total != masks || len(cx.Errors) != 0 {
		t.Errorf("stats %+v; want 100 images and decoded, 5 without opacity, 2 without both lungs, %d masks", cx, masks)
	}
	for class, n := range cx.Classes {
		want := 0
		for _, c := range classes {
			want += c[class]
		}
		if n != want {
			t.Errorf("class %s: %d masks, structure.csv has %d", class, n, want)
		}
	}
	// Patients: metadata.csv's patientid of each image, counted here.
	ids, err := os.Open(filepath.Join(dir, "metadata.csv"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := csv.NewReader(ids).ReadAll()
	ids.Close()
	if err != nil {
		t.Fatal(err)
	}
	mcol := map[string]int{}
	for i, h := range meta[0] {
		mcol[h] = i
	}
	patients := map[string]bool{}
	for _, r := range meta[1:] {
		if _, ok := classes[r[mcol["filename"]]]; ok {
			patients[r[mcol["patientid"]]] = true
		}
	}
	if cx.Patients != len(patients) {
		t.Errorf("%d patients, metadata.csv gives %d", cx.Patients, len(patients))
	}
}

// TestRealCXRSegPlacement checks mask placement pixel by pixel on a few
// images: the class mask holds exactly the non-black pixels of its crop(s),
// shifted by (Left, Top).
func TestRealCXRSegPlacement(t *testing.T) {
	data := fixture.RealDataDir(t)
	dir := filepath.Join(data, "cxr-seg")
	rows, err := ReadCXRSegStructure(filepath.Join(dir, "structure.csv"))
	if err != nil {
		t.Fatal(err)
	}
	names, byImage := groupCXRSeg(rows)
	sort.Strings(names)
	for _, name := range names[:4] {
		s, err := CXRSegSample(dir, byImage[name], LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range byImage[name] {
			if r.Mask == "" {
				continue
			}
			f, err := os.Open(filepath.Join(dir, r.Mask))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			m := s.Classes[r.Class]
			for y := 0; y < r.CropH; y++ {
				for x := 0; x < r.CropW; x++ {
					cr, cg, cb, _ := img.At(x, y).RGBA()
					on := cr|cg|cb != 0
					if on {
						want++
					}
					if on && !m.At(r.Left+x, r.Top+y) {
						t.Fatalf("%s %s: crop pixel (%d,%d) set, mask (%d,%d) not", name, r.Class, x, y, r.Left+x, r.Top+y)
					}
				}
			}
			if got := m.Count(); got != want && countRows(byImage[name], r.Class) == 1 {
				t.Errorf("%s %s: %d px, crop has %d non-black", name, r.Class, got, want)
			}
		}
	}
}

func countRows(rows []CXRSegMask, class string) int {
	n := 0
	for _, r := range rows {
		if r.Class == class && r.Mask != "" {
			n++
		}
	}
	return n
}

// BenchmarkLoadRealAnnotations loads and rasterises every annotation of
// ../shared/data at native resolution: the 184 covid-ar and 22 cohen labelme
// files (polygons to masks on the image grid, or the canvas; image headers
// only) and the 100 cxr-seg images' 588 mask crops (decoded and placed).
func BenchmarkLoadRealAnnotations(b *testing.B) {
	data := fixture.RealDataDir(b)
	for b.Loop() {
		n := 0
		for _, name := range []string{CohortCovidAR, CohortCohen, CohortCXRSeg} {
			c, err := ScanCohort(data, name, LoadOptions{}, func(s *Sample) error {
				n++
				return nil
			})
			if err != nil || len(c.Errors) != 0 {
				b.Fatal(err, c.Errors)
			}
		}
		if n != 184+22+100 {
			b.Fatalf("%d samples", n)
		}
	}
}
