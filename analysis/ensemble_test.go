package analysis

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/experiment"
)

func TestNewSpread(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		pct                []float64
		mean, sd, min, max float64
	}{
		// 10, 20, 30: mean 20, sample SD sqrt((100+0+100)/2) = 10.
		{[]float64{10, 20, 30}, 20, 10, 10, 30},
		// NaN members are left out: 4 and 8, mean 6, SD sqrt((4+4)/1).
		{[]float64{4, nan, 8}, 6, math.Sqrt(8), 4, 8},
		{[]float64{7}, 7, 0, 7, 7},
		{[]float64{nan, nan}, nan, nan, nan, nan},
	}
	same := func(a, b float64) bool { return (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) < 1e-12 }
	for _, tt := range tests {
		s := NewSpread(tt.pct)
		if !same(s.Mean, tt.mean) || !same(s.SD, tt.sd) || !same(s.Min, tt.min) || !same(s.Max, tt.max) || len(s.Members) != len(tt.pct) {
			t.Errorf("%v: %+v, want mean %v sd %v range %v-%v", tt.pct, s, tt.mean, tt.sd, tt.min, tt.max)
		}
	}
}

func TestIntervalOutOfFold(t *testing.T) {
	// SD 1 (the floor) everywhere, errors 1..5, every image its own
	// patient, level 0.5: each image's factor is the ceil(5*0.5) = 3rd
	// smallest of the other four errors: 4 for errors 1, 2, 3 (covered),
	// 3 for errors 4 and 5 (not): coverage 3/5. Widths 2*factor: 8, 8, 8,
	// 6, 6, median 8. On all five: the 3rd smallest, 3.
	pct := []float64{50, 50, 50, 50, 50, math.NaN()}
	sd := []float64{1, 1, 1, 1, 1, 1}
	truth := []float64{51, 48, 53, 46, 55, 50}
	c, err := IntervalOutOfFold(pct, sd, truth, nil, 0.5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.N != 5 || math.Abs(c.Coverage-0.6) > 1e-12 || c.MedianWidth != 8 || c.Factor != 3 {
		t.Errorf("%+v, want coverage 0.6 of 5, median width 8, factor 3", c)
	}
	// The images with errors 1 and 5 are one patient: each is checked with
	// the factor of errors 2, 3, 4 (n = 3: the ceil(4*0.5) = 2nd smallest,
	// 3), so error 1 is covered and 5 is not; error 2 gets the 3rd smallest
	// of {1, 3, 4, 5}, 4 (covered), error 3 of {1, 2, 4, 5}, 4 (covered),
	// error 4 of {1, 2, 3, 5}, 3 (not). Coverage 3/5 again; widths 6, 8, 8,
	// 6, 6: median 6.
	g := []string{"a", "b", "c", "d", "a", "e"}
	c, err = IntervalOutOfFold(pct, sd, truth, g, 0.5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.N != 5 || math.Abs(c.Coverage-0.6) > 1e-12 || c.MedianWidth != 6 {
		t.Errorf("grouped: %+v, want coverage 0.6 of 5, median width 6", c)
	}
	if _, err := IntervalOutOfFold(pct[:2], sd[:2], truth[:2], []string{"a", "a"}, 0.5, 1); err == nil {
		t.Error("one patient accepted")
	}
	if _, err := IntervalOutOfFold(pct, sd, truth, []string{"a", "", "c", "d", "a", "e"}, 0.5, 1); err == nil {
		t.Error("empty patient id accepted")
	}
	if _, err := IntervalOutOfFold(pct, sd[:2], truth, nil, 0.5, 1); err == nil {
		t.Error("mismatched lengths accepted")
	}
}

func TestFitInterval(t *testing.T) {
	// Normalised errors |truth - pct| / max(sd, 1): 0/2, 2/1 (sd 0.5 < floor
	// 1), 3/1, 8/2, 10/2 = 0, 2, 3, 4, 5 (and a NaN row left out); n = 5,
	// level 0.5: the ceil(6*0.5) = 3rd smallest, 3.
	pct := []float64{10, 20, 30, 40, 50, math.NaN()}
	sd := []float64{2, 0.5, 1, 2, 2, 1}
	truth := []float64{10, 22, 27, 48, 40, 5}
	iv, err := FitInterval(pct, sd, truth, 0.5, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	if iv.Factor != 3 || iv.FittedOn != 5 || iv.Level != 0.5 || iv.Source != "test" {
		t.Errorf("%+v, want factor 3 on 5 images", iv)
	}
	// Bounds: 30 ± 3*max(2, 1) = 24..36; clipped at 0 and 100.
	if lo, hi := iv.Bounds(30, 2); lo != 24 || hi != 36 {
		t.Errorf("bounds %v %v, want 24 36", lo, hi)
	}
	if lo, hi := iv.Bounds(1, 0.2); lo != 0 || hi != 4 {
		t.Errorf("bounds %v %v, want 0 (clipped) and 1+3*1 = 4", lo, hi)
	}
	if lo, _ := iv.Bounds(math.NaN(), 1); !math.IsNaN(lo) {
		t.Error("bounds of NaN")
	}
	// Coverage on the calibration rows: errors 0, 2, 3 within 3 units of
	// scale, 4 and 5 not: 3 of 5.
	if c, n := iv.Coverage(pct, sd, truth); n != 5 || math.Abs(c-0.6) > 1e-12 {
		t.Errorf("coverage %v of %d, want 0.6 of 5", c, n)
	}
	// Level 0.9 with 5 images: ceil(6*0.9) = 6 > 5: the largest error.
	if iv, _ := FitInterval(pct, sd, truth, 0.9, 1, ""); iv.Factor != 5 {
		t.Errorf("level 0.9: factor %v, want 5", iv.Factor)
	}
	for _, bad := range []struct {
		pct, sd, truth []float64
		level, floor   float64
	}{
		{[]float64{1}, []float64{1, 2}, []float64{1}, 0.9, 1},
		{[]float64{1}, []float64{1}, []float64{1}, 1, 1},
		{[]float64{1}, []float64{1}, []float64{1}, 0.9, 0},
		{[]float64{math.NaN()}, []float64{1}, []float64{1}, 0.9, 1},
	} {
		if _, err := FitInterval(bad.pct, bad.sd, bad.truth, bad.level, bad.floor, ""); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestMemberTransform(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(img.Pix, []uint8{0, 64, 255, 128, 255, 0})
	in := &transform.Prepared{Size: 3, Image: img}
	if got := (Member{}).transformed(in); got != in {
		t.Error("the identity copied its input")
	}
	// Flip mirrors each row; gamma 2: 64 -> 255*(64/255)^2 = 16.06 -> 16,
	// 128 -> 64.25 -> 64.
	got := Member{Flip: true, Gamma: 2}.transformed(in).Image.Pix
	want := []uint8{255, 16, 0, 0, 255, 64}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("flip+gamma %v, want %v", got, want)
		}
	}
	if img.Pix[1] != 64 {
		t.Error("the input was changed")
	}
	p := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	Member{Flip: true}.untransform(p, 3)
	if p[0] != 3 || p[2] != 1 || p[4] != 5 || p[6] != 9 {
		t.Errorf("untransform %v", p)
	}
}

func TestEnsembleResult(t *testing.T) {
	s, m := fixture(t)
	if len(m.Record.Members) != len(DefaultMembers()) {
		t.Fatalf("record members %v", m.Record.Members)
	}
	r, err := m.Analyze(phantomImage(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if r.LungPixels == 0 {
		t.Skip("the tiny models found no lungs on this image")
	}
	if len(r.Spread.Members) != len(m.Record.Members) || r.Spread.Min > r.Spread.Max || !(r.Spread.SD >= 0) {
		t.Errorf("spread %+v", r.Spread)
	}
	// The zones partition the lungs: every lung pixel in exactly one.
	for i, v := range r.Lungs.Pix {
		n := 0
		for _, z := range r.Zones {
			n += int(z.Pix[i])
		}
		if n != int(v) {
			t.Fatalf("pixel %d: lungs %d, in %d zones", i, v, n)
		}
	}
	// With the identity alone the ensemble is the single model.
	one := m.Single()
	r1, err := one.Analyze(phantomImage(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if m.Record.Members == nil || m.Record.Interval == nil {
		t.Error("Single changed the models it was made from")
	}
	if r1.Spread.SD != 0 || r1.Spread.Min != r1.OpacityPct || len(r1.Spread.Members) != 1 || !math.IsNaN(r1.PctLo) {
		t.Errorf("one member: spread %+v, pct %v", r1.Spread, r1.OpacityPct)
	}
}

func TestOpenModelsRefusesDamagedFolder(t *testing.T) {
	s, m := fixture(t)
	tests := []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"altered record", func(dir string) error {
			b, err := os.ReadFile(filepath.Join(dir, ModelsFile))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, ModelsFile), append(b, ' '), 0o644)
		}, "altered: " + ModelsFile},
		{"missing weights", func(dir string) error {
			ck, _ := filepath.Glob(filepath.Join(dir, OpacityDir, "checkpoints", "*.ckpt"))
			if len(ck) != 1 {
				return os.ErrNotExist
			}
			return os.Remove(ck[0])
		}, "missing: " + OpacityDir + "/checkpoints/"},
		{"extra file", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, LungsDir, "notes.txt"), []byte("x"), 0o644)
		}, "extra: " + LungsDir + "/notes.txt"},
		{"no manifest", func(dir string) error { return os.Remove(filepath.Join(dir, ManifestFile)) }, ManifestFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "copy")
			if err := os.CopyFS(dir, os.DirFS(m.Dir)); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenModels(dir, s.Backend); err != nil {
				t.Fatalf("the copied folder is refused: %v", err)
			}
			if err := tt.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, err := OpenModels(dir, s.Backend)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("damaged folder: %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestFitBrixia(t *testing.T) {
	// Eight patients; zone z of image i has score (i+z) mod 4 by both
	// radiologists and opacity share (score+0.5)/4: the shares separate the
	// scores, so thresholds fitted without any one patient score every
	// zone right.
	var images []BrixiaImage
	for i := 0; i < 8; i++ {
		im := BrixiaImage{Key: "cxr-seg/" + string(rune('a'+i)), Patient: string(rune('a' + i))}
		for z := 0; z < 6; z++ {
			sc := (i + z) % 4
			im.Shares[z] = (float64(sc) + 0.5) / 4
			im.S.Zones[z], im.J.Zones[z] = sc, sc
			im.S.Global += sc
			im.J.Global += sc
		}
		images = append(images, im)
	}
	b, err := FitBrixia(images)
	if err != nil {
		t.Fatal(err)
	}
	if b.GlobalMAE != [2]float64{0, 0} || b.ZoneMAE != [2]float64{0, 0} || b.RadiologistsGlobalMAE != 0 || len(b.FittedOn) != 8 {
		t.Errorf("separable scores: %+v", b)
	}
	if z, g := b.Scores([6]float64{0.1, 0.3, 0.6, 0.9, math.NaN(), 0}); z != [6]int{0, 1, 2, 3, 0, 0} || g != 6 {
		t.Errorf("scores %v global %d, want 0 1 2 3 0 0 and 6", z, g)
	}
	// Radiologist J scores zone A one higher than S (where S < 3), and its
	// share lies between the levels S and S + 1 of the other zones: the
	// target there is S + 0.5, equally well scored S or S + 1; the fit
	// scores it S + 1 (ties go to the higher score): zone A agrees with J
	// and is 1 off S.
	n := 0
	for i := range images {
		if s := images[i].S.Zones[0]; s < 3 {
			images[i].Shares[0] += 0.1
			images[i].J.Zones[0] = s + 1
			images[i].J.Global++
			n++
		}
	}
	b, err = FitBrixia(images)
	if err != nil {
		t.Fatal(err)
	}
	want := float64(n) / 8 // global: 1 off S on n of 8 images
	if math.Abs(b.RadiologistsGlobalMAE-want) > 1e-12 || math.Abs(b.RadiologistsZoneMAE-want/6) > 1e-12 {
		t.Errorf("radiologists' MAE %v / %v, want %v / %v", b.RadiologistsGlobalMAE, b.RadiologistsZoneMAE, want, want/6)
	}
	if math.Abs(b.GlobalMAE[0]-want) > 1e-12 || b.GlobalMAE[1] != 0 {
		t.Errorf("global MAE against S, J: %v, want %v and 0", b.GlobalMAE, want)
	}
	if _, err := FitBrixia(images[:3]); err == nil {
		t.Error("3 images fitted")
	}
}

// TestBrixiaImagesOf matches out-of-fold images to the data folder's Brixia
// table by stem (with or without the cohort in the name), takes their
// recorded zone shares, skips unscored images, and says why when the
// table is missing or an image has no shares.
func TestBrixiaImagesOf(t *testing.T) {
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, datasets.BrixiaDir), 0o755); err != nil {
		t.Fatal(err)
	}
	csv := "filename,S-A,S-B,S-C,S-D,S-E,S-F,S-Global,J-A,J-B,J-C,J-D,J-E,J-F,J-Global\n" +
		"a.jpg,1,2,3,0,1,2,9,0,0,0,0,0,1,1\n" +
		"b.png,3,3,3,3,3,3,18,0,0,0,0,0,0,0\n"
	if err := os.WriteFile(filepath.Join(data, datasets.BrixiaDir, datasets.BrixiaFile), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	shares := func(base float64) map[string]float64 {
		v := map[string]float64{}
		for z := 0; z < 6; z++ {
			v[ValueZoneShare(z)] = base + float64(z)/10
		}
		return v
	}
	oof := []experiment.OOFImage{
		{Image: "b", Patient: "pb", Values: shares(0.5)},
		{Image: "c", Patient: "pc", Values: shares(0)}, // not scored
		{Image: "cxr-seg/a", Patient: "pa", Values: shares(0)},
	}
	got, note, err := BrixiaImagesOf(data, oof)
	if err != nil || note != "" {
		t.Fatalf("err %v, note %q", err, note)
	}
	if len(got) != 2 || got[0].Key != "b" || got[1].Key != "cxr-seg/a" {
		t.Fatalf("images %+v, want b and cxr-seg/a", got)
	}
	a := got[1]
	if a.Patient != "pa" || a.Shares != [6]float64{0, 0.1, 0.2, 0.3, 0.4, 0.5} || a.S.Global != 9 || a.J.Zones != [6]int{0, 0, 0, 0, 0, 1} {
		t.Errorf("a: %+v", a)
	}
	if got[0].Shares[0] != 0.5 || got[0].S.Global != 18 {
		t.Errorf("b: %+v", got[0])
	}
	delete(oof[0].Values, ValueZoneShare(3))
	if _, _, err := BrixiaImagesOf(data, oof); err == nil || !strings.Contains(err.Error(), "b: no zone shares") {
		t.Errorf("an image without zone shares: err = %v", err)
	}
	if imgs, note, err := BrixiaImagesOf(t.TempDir(), oof); err != nil || imgs != nil || !strings.Contains(note, "no Brixia scores") {
		t.Errorf("no Brixia table: %v, %q, %v", imgs, note, err)
	}
}

// TestIntervalConstantWidth: a constant-width interval ignores the
// members' spread (pct ± Factor × SDFloor), the other form scales by it.
func TestIntervalConstantWidth(t *testing.T) {
	for _, c := range []struct {
		iv      Interval
		pct, sd float64
		lo, hi  float64
	}{
		{Interval{Level: 0.9, Factor: 3, SDFloor: 1, ConstantWidth: true}, 50, 10, 47, 53},
		{Interval{Level: 0.9, Factor: 3, SDFloor: 1}, 50, 10, 20, 80},
		{Interval{Level: 0.9, Factor: 3, SDFloor: 2, ConstantWidth: true}, 2, 0.5, 0, 8},
		{Interval{Level: 0.9, Factor: 3, SDFloor: 2}, 99, 0.5, 93, 100},
	} {
		if lo, hi := c.iv.Bounds(c.pct, c.sd); lo != c.lo || hi != c.hi {
			t.Errorf("%+v: Bounds(%v, %v) = %v, %v; want %v, %v", c.iv, c.pct, c.sd, lo, hi, c.lo, c.hi)
		}
	}
}

// writeCVFolder writes a CV folder of two complete folds holding the
// images (each its own patient) with the given automatic and manual
// percentages and members' spreads, as opacity cv --pipeline --ensemble
// would.
func writeCVFolder(t *testing.T, auto, manual, sd []float64) string {
	t.Helper()
	dir := t.TempDir()
	folds := [2][]experiment.OOFImage{}
	for i := range auto {
		a, m, s := auto[i], manual[i], sd[i]
		folds[i%2] = append(folds[i%2], experiment.OOFImage{Image: fmt.Sprint("x", i), Patient: fmt.Sprint("p", i), Fold: i % 2,
			JSONValues: map[string]*float64{ValueOpacityPctAuto: &a, ValueOpacityPctManual: &m, ValueOpacityPctSD: &s}})
	}
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(experiment.CVReportFile, experiment.CVReport{Folds: 2, Complete: []int{0, 1}, Images: len(auto)})
	for f, ims := range folds {
		write(fmt.Sprintf("fold-%02d.json", f), experiment.FoldResult{Fold: f, Folds: 2, Status: experiment.StatusComplete, Images: ims})
	}
	return dir
}

// TestIntervalFromCV checks the choice and the fit against values worked
// out by hand (IntervalOutOfFold leaves one patient out; the 90% factor of
// n scores is the ceil((n+1) 0.9)-th smallest).
func TestIntervalFromCV(t *testing.T) {
	pct := make([]float64, 10)
	for i := range pct {
		pct[i] = 50
	}
	// A: eight exact with a spread of 1, two off by 10 and 20 with spreads
	// 10 and 20. Scaled by the spread every left-out factor is 1 (median
	// width 2); at a constant width it is 20 or 10 (width 40): the spread
	// wins, fitted on all ten: the 10th smallest of [0 x8, 1, 1] = 1.
	manualA := []float64{50, 50, 50, 50, 50, 50, 50, 50, 60, 70}
	sdA := []float64{1, 1, 1, 1, 1, 1, 1, 1, 10, 20}
	iv, err := IntervalFromCV(writeCVFolder(t, pct, manualA, sdA), 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if iv.ConstantWidth || iv.Factor != 1 || iv.FittedOn != 10 {
		t.Errorf("A: %+v; want scaled by the spread, factor 1 on 10", iv)
	}
	// B: every image off by 1, spreads 5 (six) and 1 (four). Scaled, the
	// left-out factor is 1, so widths 10 (six) and 2 (four), median 10; at
	// a constant width every factor is 1, width 2: the constant wins,
	// factor 1, the interval % ± 1 whatever the spread.
	manualB := []float64{51, 49, 51, 49, 51, 49, 51, 49, 51, 49}
	sdB := []float64{5, 5, 5, 5, 5, 5, 1, 1, 1, 1}
	iv, err = IntervalFromCV(writeCVFolder(t, pct, manualB, sdB), 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := iv.Bounds(50, 5); !iv.ConstantWidth || iv.Factor != 1 || lo != 49 || hi != 51 {
		t.Errorf("B: %+v, bounds at SD 5 %v..%v; want a constant width, factor 1, 49..51", iv, lo, hi)
	}
	// Not a CV folder; a CV with a fold missing.
	if _, err := IntervalFromCV(t.TempDir(), 0.9); err == nil || !strings.Contains(err.Error(), "not a merged CV folder") {
		t.Errorf("an empty folder: %v", err)
	}
	dir := writeCVFolder(t, pct, manualB, sdB)
	if err := os.Remove(filepath.Join(dir, "fold-01.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := IntervalFromCV(dir, 0.9); err == nil || !strings.Contains(err.Error(), "fold 1 of 2 has no result") {
		t.Errorf("a CV with fold 1 missing: %v", err)
	}
}

// TestManualBrixiaImages takes the zone shares from the hand-drawn masks:
// a cohen/ annotation with two 20×30 lungs, opacity over the upper third
// of the image-left lung and the lower half of the image-right one, gives
// shares worked out by hand (thirds of 30 rows: 0-9, 10-19, 20-29), keeps
// the radiologists' scores, matches by stem and by cohort/stem, and leaves
// out an image without an annotation or from another cohort.
func TestManualBrixiaImages(t *testing.T) {
	data := t.TempDir()
	ann := filepath.Join(data, datasets.CohortCohen, datasets.AnnotationsDir)
	if err := os.MkdirAll(ann, 0o755); err != nil {
		t.Fatal(err)
	}
	rect := func(x0, y0, x1, y1 float64) [][2]float64 {
		return [][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
	}
	l := datasets.NewLabelme("x.png", 60, 30)
	l.AddPolygons(datasets.LabelRightLung, [][][2]float64{rect(5, 0, 25, 30)})
	l.AddPolygons(datasets.LabelLeftLung, [][][2]float64{rect(35, 0, 55, 30)})
	l.AddPolygons(datasets.LabelOpacityAny, [][][2]float64{rect(5, 0, 25, 10), rect(35, 15, 55, 30)})
	if err := datasets.WriteLabelme(filepath.Join(ann, "x.json"), l); err != nil {
		t.Fatal(err)
	}
	s := datasets.BrixiaScore{Zones: [6]int{3, 0, 0, 0, 1, 3}, Global: 7}
	images := []BrixiaImage{
		{Key: "x", Patient: "p", Shares: [6]float64{9, 9, 9, 9, 9, 9}, S: s},
		{Key: "cohen/x", Patient: "p"},
		{Key: "cxr-seg/x", Patient: "p"}, // no cxr-seg annotation of x
		{Key: "y", Patient: "q"},         // no annotation at all
	}
	got, err := ManualBrixiaImages(data, images)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "cohen/x" || got[1].Key != "x" {
		t.Fatalf("images %+v, want cohen/x and x", got)
	}
	want := [6]float64{1, 0, 0, 0, 0.5, 1}
	for _, im := range got {
		if im.Shares != want {
			t.Errorf("%s: shares %v, want %v", im.Key, im.Shares, want)
		}
	}
	if got[1].S != s || got[1].Patient != "p" {
		t.Errorf("x: scores or patient lost: %+v", got[1])
	}
	if _, err := ManualBrixiaImages(filepath.Join(data, "missing"), images); err == nil {
		t.Error("a missing data folder gave no error")
	}
}
