package phantom

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/transform"
)

// TestWriteReadBack loads the phantom with the package's readers and
// checks it against what the generator says it painted.
func TestWriteReadBack(t *testing.T) {
	dir := t.TempDir()
	sum := writeSmallPhantom(t, dir, 11)
	ar, err := datasets.LoadCohort(dir, datasets.CohortCovidAR, datasets.LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ar.Errors) > 0 || len(ar.Warnings) > 0 {
		t.Fatalf("errors %v warnings %v", ar.Errors, ar.Warnings)
	}
	if len(ar.Samples) != len(sum.Images) {
		t.Fatalf("%d samples, summary says %d", len(ar.Samples), len(sum.Images))
	}
	byFile := map[string]Image{}
	for _, im := range sum.Images {
		byFile[im.File] = im
	}
	clinical, err := datasets.ReadClinical(filepath.Join(dir, datasets.CohortCovidAR, "patient_info.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ar.Samples {
		im, ok := byFile[s.File]
		if !ok {
			t.Fatalf("%s not in the summary", s.File)
		}
		if s.Image == nil || s.Width != 64 || s.Height != 64 {
			t.Fatalf("%s: image %v %dx%d", s.File, s.Image != nil, s.Width, s.Height)
		}
		if s.Patient != im.Patient {
			t.Errorf("%s: patient %s, want %s", s.File, s.Patient, im.Patient)
		}
		if _, ok := clinical[s.Patient]; !ok {
			t.Errorf("%s: no clinical row", s.Patient)
		}
		if s.Classes["right_lung"].Empty() || s.Classes["left_lung"].Empty() {
			t.Errorf("%s: a lung is empty", s.File)
		}
		// Opacity percentage as the reader sees it: 100 |O ∩ L| / |L|.
		in, _ := s.Opacity.IntersectCount(s.Lung)
		pct := 100 * float64(in) / float64(s.Lung.Count())
		if math.Abs(pct-im.OpacityPercent) > 1e-9 {
			t.Errorf("%s: opacity %.3f%% read back, %.3f%% painted", s.File, pct, im.OpacityPercent)
		}
		if s.Opacity.Empty() != im.Clear() {
			t.Errorf("%s: empty opacity %v, clear %v", s.File, s.Opacity.Empty(), im.Clear())
		}
		// The paper's preprocessing keeps the opacity share of the lungs
		// (nearest resampling moves it by a few points at most).
		p, err := transform.Prepare(s, 48, transform.FrameLungCrop)
		if err != nil {
			t.Fatal(err)
		}
		pin, _ := p.Mask(datasets.TargetOpacity).IntersectCount(p.Mask(datasets.TargetLungs))
		if ppct := 100 * float64(pin) / float64(p.Mask(datasets.TargetLungs).Count()); math.Abs(ppct-pct) > 5 {
			t.Errorf("%s: opacity %.1f%% after Prepare, %.1f%% before", s.File, ppct, pct)
		}
	}
	for _, p := range sum.Patients {
		o := clinical[p.ID]
		if (o.ICU == 1) != p.ICU || (o.Mortality == 1) != p.Mortality {
			t.Errorf("%s: table %+v, summary ICU %v death %v", p.ID, o, p.ICU, p.Mortality)
		}
		if p.Mortality && !p.ICU {
			t.Errorf("%s died without ICU admission", p.ID)
		}
	}

	if !datasets.IsSynthetic(dir) {
		t.Error("IsSynthetic is false")
	}
	cohen, err := datasets.LoadCohort(dir, datasets.CohortCohen, datasets.LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cohen.Errors) > 0 || len(cohen.Samples) != len(sum.Cohen) {
		t.Fatalf("cohen: %d samples, errors %v", len(cohen.Samples), cohen.Errors)
	}
	scores, err := datasets.ReadSeverityScores(filepath.Join(dir, datasets.CohortCohen, "covid-severity-scores.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cohen.Samples {
		if s.Image == nil {
			t.Errorf("cohen %s: no image", s.File)
		}
		if _, ok := scores[s.Stem]; !ok {
			t.Errorf("cohen %s: no severity score", s.File)
		}
		if !strings.HasPrefix(s.Patient, "9") {
			t.Errorf("cohen %s: patient %q from metadata.csv", s.File, s.Patient)
		}
		for label := range s.Classes {
			if label != "right_lung" && label != "left_lung" && label != "opacity" {
				t.Errorf("cohen %s: label %q", s.File, label)
			}
		}
	}
}

// TestPhantomPaintsItsPolygons checks that the opacity the reader rasterises
// is where the image was painted: inside the lungs, and brighter there than
// the rest of the lungs; and that the lung polygons are the dark fields.
func TestPhantomPaintsItsPolygons(t *testing.T) {
	dir := t.TempDir()
	if _, err := Write(dir, Options{Patients: 12, Seed: 5, Size: 96, CohenImages: -1}); err != nil {
		t.Fatal(err)
	}
	ar, err := datasets.LoadCohort(dir, datasets.CohortCovidAR, datasets.LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	brighter, withOpacity := 0, 0
	for _, s := range ar.Samples {
		var lungSum, outSum float64
		var lungN, outN int
		for i, v := range s.Image.Pix {
			if s.Lung.Pix[i] != 0 && s.Opacity.Pix[i] == 0 {
				lungSum += float64(v)
				lungN++
			} else if s.Lung.Pix[i] == 0 {
				outSum += float64(v)
				outN++
			}
		}
		if lungSum/float64(lungN) >= outSum/float64(outN) {
			t.Errorf("%s: clear lung (mean %.0f) not darker than outside the lungs (%.0f)", s.File, lungSum/float64(lungN), outSum/float64(outN))
		}
		if s.Opacity.Empty() {
			continue
		}
		withOpacity++
		in, _ := s.Opacity.IntersectCount(s.Lung)
		if n := s.Opacity.Count(); float64(n-in) > 0.03*float64(n) {
			t.Errorf("%s: %d of %d opacity pixels outside the lungs", s.File, n-in, n)
		}
		var opSum float64
		var opN int
		for i, v := range s.Image.Pix {
			if s.Opacity.Pix[i] != 0 && s.Lung.Pix[i] != 0 {
				opSum += float64(v)
				opN++
			}
		}
		if lungN == 0 || opSum/float64(opN) > lungSum/float64(lungN)+2 {
			brighter++
		}
	}
	if withOpacity == 0 || brighter < withOpacity*9/10 {
		t.Errorf("opacity brighter than the clear lung in %d of %d images", brighter, withOpacity)
	}
}

func TestContactSheet(t *testing.T) {
	dir := t.TempDir()
	if _, err := Write(dir, Options{Patients: 4, Seed: 2, Size: 64, CohenImages: 2}); err != nil {
		t.Fatal(err)
	}
	img, err := ContactSheet(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	// 4 covid-ar tiles and (4+3)/4 = 1 cohen tile: 4 columns, 2 rows.
	wantW := 4*(sheetTile+sheetGap) + sheetGap
	wantH := 2*(sheetTile+sheetCaption+sheetGap) + sheetGap
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("sheet %v, want %dx%d", b, wantW, wantH)
	}
	green := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r>>8 == uint32(sheetLung.R) && g>>8 == uint32(sheetLung.G) && bl>>8 == uint32(sheetLung.B) {
				green++
			}
		}
	}
	if green == 0 {
		t.Error("no lung outline drawn")
	}
	if _, err := ContactSheet(t.TempDir(), 4); err == nil {
		t.Error("empty folder: want an error")
	}
}
