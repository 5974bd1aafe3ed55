package analysis

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/datasets/xrayfile"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla/unet"
)

// The tests share one tiny synthetic cohort and one models folder trained
// on it (tiny preset: 32 px, 2 epochs; the models are poor, the pipeline's
// plumbing is what is tested).
var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureS    experiment.Settings
	fixtureM    *Models
	fixtureErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// tinySettings are the tiny preset's settings with the cache and runs in
// dir.
func tinySettings(t *testing.T, dir string) experiment.Settings {
	t.Helper()
	s, err := experiment.Preset(experiment.PresetTiny)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := experiment.FindRepo()
	if err != nil {
		t.Fatal(err)
	}
	s = s.WithRepo(repo)
	s.Cache, s.Runs, s.Figures = filepath.Join(dir, "cache"), filepath.Join(dir, "runs"), filepath.Join(dir, "figures")
	return s
}

// fixture returns the shared settings and models.
func fixture(t *testing.T) (experiment.Settings, *Models) {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "analysis-test-")
		if fixtureErr != nil {
			return
		}
		s := tinySettings(t, fixtureDir)
		s.Cohort, s.TestFraction = experiment.CohortAll, 0
		if _, fixtureErr = s.EnsureData(); fixtureErr != nil {
			return
		}
		fixtureS = s
		fixtureM, fixtureErr = TrainModels(context.Background(), s, filepath.Join(fixtureDir, "models"), experiment.Monitor{})
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureS, fixtureM
}

func TestTrainModelsRecordAndOpen(t *testing.T) {
	s, m := fixture(t)
	rec := m.Record
	if rec.Format != ModelsFormat || !rec.Synthetic || rec.PostProcess != DefaultPostProcess() {
		t.Errorf("record: format %d synthetic %v post-processing %+v", rec.Format, rec.Synthetic, rec.PostProcess)
	}
	if got := rec.Lungs.Settings.Targets; len(got) != 1 || got[0] != datasets.TargetLungs {
		t.Errorf("lung model targets %v", got)
	}
	if got := rec.Opacity.Settings.Targets; len(got) != 1 || got[0] != datasets.TargetOpacity {
		t.Errorf("opacity model targets %v", got)
	}
	if rec.Lungs.Images == 0 || rec.Lungs.Images != rec.Opacity.Images || rec.Lungs.Parameters == 0 {
		t.Errorf("train images %d / %d, parameters %d", rec.Lungs.Images, rec.Opacity.Images, rec.Lungs.Parameters)
	}
	// The tiny cohort has 6 scored cohen/ images, fewer than a map needs:
	// no maps, and the record says why.
	if rec.Severity != nil || !strings.Contains(rec.Note, "no severity maps") {
		t.Errorf("severity %+v, note %q: want none, with the reason", rec.Severity, rec.Note)
	}
	for _, sub := range []string{LungsDir, OpacityDir} {
		ck, _ := filepath.Glob(filepath.Join(m.Dir, sub, "checkpoints", "*.ckpt"))
		if len(ck) != 1 {
			t.Errorf("%s: %d checkpoints, want 1", sub, len(ck))
		}
	}
	// Opened from the folder, the models give the same result as in memory.
	m2, err := OpenModels(m.Dir, s.Backend)
	if err != nil {
		t.Fatal(err)
	}
	img := phantomImage(t, s)
	r1, err := m.Analyze(img)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := m2.Analyze(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r1.Lungs.Pix, r2.Lungs.Pix) || !bytes.Equal(r1.Opacity.Pix, r2.Opacity.Pix) {
		t.Error("the reopened models predict other masks")
	}
	// TrainModels again reuses the runs: same weights, same masks.
	m3, err := TrainModels(context.Background(), s, filepath.Join(t.TempDir(), "again"), experiment.Monitor{})
	if err != nil {
		t.Fatal(err)
	}
	r3, err := m3.Analyze(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r1.Lungs.Pix, r3.Lungs.Pix) {
		t.Error("TrainModels a second time gave other lungs")
	}
}

func TestOpenModelsErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenModels(dir, ""); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), ModelsFile) {
		t.Errorf("empty folder: %v; want an error naming the folder and %s", err, ModelsFile)
	}
	os.WriteFile(filepath.Join(dir, ModelsFile), []byte("{not json"), 0o644)
	if _, err := OpenModels(dir, ""); err == nil || !strings.Contains(err.Error(), "no "+ManifestFile) {
		t.Errorf("no manifest: %v; want the folder refused", err)
	}
	// With a manifest that matches, the record itself is read and checked.
	if _, err := WriteManifest(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenModels(dir, ""); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, ModelsFile)) {
		t.Errorf("damaged record: %v; want an error naming the file", err)
	}
	os.WriteFile(filepath.Join(dir, ModelsFile), []byte(`{"format": 99}`), 0o644)
	if _, err := WriteManifest(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenModels(dir, ""); err == nil || !strings.Contains(err.Error(), "format 99") {
		t.Errorf("future format: %v", err)
	}
}

// phantomImage returns the first cohen/ image of the tiny cohort, with one
// pixel set to 0 and one to 255, so that 16-bit and DICOM encodings of it
// stretched to their own range decode to the same 8-bit pixels.
func phantomImage(t *testing.T, s experiment.Settings) *image.Gray {
	t.Helper()
	c, err := datasets.LoadCohort(s.DataDir(), datasets.CohortCohen, datasets.LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, sm := range c.Samples {
		if sm.HasImage() {
			img := transform.ResizeGray(sm.Image, sm.Width, sm.Height)
			img.Pix[0], img.Pix[1] = 0, 255
			return img
		}
	}
	t.Fatal("no cohen/ image with pixels")
	return nil
}

func TestAnalyzeInvariants(t *testing.T) {
	s, m := fixture(t)
	img := phantomImage(t, s)
	r, err := m.Analyze(img)
	if err != nil {
		t.Fatal(err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	for name, mk := range map[string]*mask.Mask{"lungs": r.Lungs, "raw": r.LungsRaw, "right": r.Right, "left": r.Left, "opacity": r.Opacity} {
		if mk.Width != w || mk.Height != h || len(mk.Pix) != w*h {
			t.Fatalf("%s mask %dx%d, image %dx%d", name, mk.Width, mk.Height, w, h)
		}
	}
	if !bytes.Equal(r.Lungs.Pix, m.Record.PostProcess.Apply(r.LungsRaw).Pix) {
		t.Error("Lungs is not the post-processed raw mask")
	}
	// Right and left partition the lungs; the opacity stays in the crop.
	var lungs, inter, outside int
	for i := range r.Lungs.Pix {
		l, rt, lf := r.Lungs.Pix[i] != 0, r.Right.Pix[i] != 0, r.Left.Pix[i] != 0
		if l != (rt || lf) || (rt && lf) {
			t.Fatalf("pixel %d: lungs %v right %v left %v", i, l, rt, lf)
		}
		if l {
			lungs++
			if r.Opacity.Pix[i] != 0 {
				inter++
			}
		}
		if r.Opacity.Pix[i] != 0 && !image.Pt(i%w, i/w).In(r.Crop) {
			outside++
		}
	}
	if outside > 0 {
		t.Errorf("%d opacity pixels outside the crop %v", outside, r.Crop)
	}
	if lungs != r.LungPixels || math.Abs(r.LungShare-float64(lungs)/float64(w*h)) > 1e-12 {
		t.Errorf("lung pixels %d share %v; counted %d", r.LungPixels, r.LungShare, lungs)
	}
	if lungs > 0 {
		if want := 100 * float64(inter) / float64(lungs); math.Abs(r.OpacityPct-want) > 1e-9 {
			t.Errorf("opacity %% %v, want 100*%d/%d = %v", r.OpacityPct, inter, lungs, want)
		}
	} else if !math.IsNaN(r.OpacityPct) || len(r.Flags) == 0 || r.Flags[0] != FlagNoLungs {
		t.Errorf("no lungs: pct %v flags %v", r.OpacityPct, r.Flags)
	}
	if _, err := m.Analyze(image.NewGray(image.Rect(0, 0, 0, 0))); err == nil {
		t.Error("an empty image was analysed")
	}
}

func TestPostProcess(t *testing.T) {
	// Two 4x4 squares (one with a 1-pixel hole), a 1-pixel speck, a
	// 2x1 bar: keep the two largest components, fill the hole.
	m := mask.New(12, 8)
	set := func(x0, y0, x1, y1 int) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				m.Pix[y*12+x] = 1
			}
		}
	}
	set(1, 1, 5, 5)
	m.Pix[2*12+2] = 0 // the hole
	set(7, 1, 11, 5)
	set(6, 7, 7, 8) // speck
	set(1, 7, 3, 8) // bar
	if got := m.Count(); got != 15+16+1+2 {
		t.Fatalf("fixture has %d pixels", got)
	}
	got := DefaultPostProcess().Apply(m)
	if got.Count() != 32 || got.Pix[2*12+2] == 0 || got.Pix[7*12+6] != 0 || got.Pix[7*12+1] != 0 {
		t.Errorf("post-processed: %d pixels (want 32: two full squares), hole %d, speck %d, bar %d", got.Count(), got.Pix[2*12+2], got.Pix[7*12+6], got.Pix[7*12+1])
	}
	if none := (PostProcess{}).Apply(m); !bytes.Equal(none.Pix, m.Pix) {
		t.Error("the empty post-processing changed the mask")
	}
}

// dicomMono1 encodes img as a native 16-bit MONOCHROME1 DICOM (explicit VR
// little endian), stored value (255-p)*257, with the given modality.
func dicomMono1(img *image.Gray, modality string) []byte {
	le := binary.LittleEndian
	el := func(b []byte, g, e uint16, vr string, val []byte) []byte {
		if len(val)%2 == 1 {
			val = append(val, ' ')
		}
		b = le.AppendUint16(le.AppendUint16(b, g), e)
		b = append(b, vr...)
		if vr == "OB" || vr == "OW" {
			b = le.AppendUint32(append(b, 0, 0), uint32(len(val)))
		} else {
			b = le.AppendUint16(b, uint16(len(val)))
		}
		return append(b, val...)
	}
	us := func(v int) []byte { return le.AppendUint16(nil, uint16(v)) }
	uid := func(s string) []byte {
		if len(s)%2 == 1 {
			s += "\x00"
		}
		return []byte(s)
	}
	meta := el(nil, 0x0002, 0x0010, "UI", uid("1.2.840.10008.1.2.1"))
	out := append(make([]byte, 128), "DICM"...)
	out = el(out, 0x0002, 0x0000, "UL", le.AppendUint32(nil, uint32(len(meta))))
	out = append(out, meta...)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	out = el(out, 0x0008, 0x0060, "CS", []byte(modality))
	out = el(out, 0x0018, 0x0015, "CS", []byte("CHEST"))
	out = el(out, 0x0028, 0x0002, "US", us(1))
	out = el(out, 0x0028, 0x0004, "CS", []byte("MONOCHROME1"))
	out = el(out, 0x0028, 0x0010, "US", us(h))
	out = el(out, 0x0028, 0x0011, "US", us(w))
	out = el(out, 0x0028, 0x0100, "US", us(16))
	out = el(out, 0x0028, 0x0101, "US", us(16))
	out = el(out, 0x0028, 0x0102, "US", us(15))
	out = el(out, 0x0028, 0x0103, "US", us(0))
	var pix []byte
	for _, p := range img.Pix {
		pix = le.AppendUint16(pix, uint16(255-int(p))*257)
	}
	return el(out, 0x7fe0, 0x0010, "OW", pix)
}

// png16 encodes img as a 16-bit grayscale PNG, value p*257.
func png16(t *testing.T, img *image.Gray) []byte {
	g := image.NewGray16(img.Bounds())
	for i, p := range img.Pix {
		g.SetGray16(i%img.Stride, i/img.Stride, color.Gray16{Y: uint16(p) * 257})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAnalyzeFiles(t *testing.T) {
	s, m := fixture(t)
	img := phantomImage(t, s)
	in := t.TempDir()
	var p8 bytes.Buffer
	png.Encode(&p8, img)
	files := map[string][]byte{
		"a.png":         p8.Bytes(),
		"b16.png":       png16(t, img),
		"c.dcm":         dicomMono1(img, "DX"),
		"d-ct.dcm":      dicomMono1(img, "CT"),
		"e-garbage.jpg": []byte("not an image at all"),
		"sub/a.png":     p8.Bytes(), // same stem as a.png
		".hidden.png":   p8.Bytes(),
		"notes.txt":     []byte("ignored"),
	}
	for name, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(in, name)), 0o755)
		if err := os.WriteFile(filepath.Join(in, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := XrayFiles([]string{in})
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, p := range paths {
		r, _ := filepath.Rel(in, p)
		rel = append(rel, r)
	}
	if want := "a.png b16.png c.dcm d-ct.dcm e-garbage.jpg sub/a.png"; strings.Join(rel, " ") != want {
		t.Fatalf("XrayFiles: %v, want %s", rel, want)
	}
	if _, err := XrayFiles([]string{filepath.Join(in, "missing.png")}); err == nil {
		t.Error("a missing argument gave no error")
	}

	out := filepath.Join(t.TempDir(), "out")
	var errs bytes.Buffer
	rep, err := m.AnalyzeFiles(paths, FileOptions{Out: out, Errors: &errs})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Analysed != 4 || rep.Failed != 2 || len(rep.Files) != 6 {
		t.Fatalf("analysed %d failed %d rows %d; want 4, 2, 6", rep.Analysed, rep.Failed, len(rep.Files))
	}
	byName := map[string]FileReport{}
	for _, f := range rep.Files {
		r, _ := filepath.Rel(in, f.File)
		byName[r] = f
	}
	for name, want := range map[string]string{"d-ct.dcm": "Modality CT", "e-garbage.jpg": "e-garbage.jpg"} {
		f := byName[name]
		if f.Status != "error" || !strings.Contains(f.Error, want) || !strings.Contains(errs.String(), name) {
			t.Errorf("%s: status %s error %q (stderr %q); want an error naming %q", name, f.Status, f.Error, errs.String(), want)
		}
	}
	// The same pixels through PNG-8, PNG-16 and a MONOCHROME1 DICOM give
	// the same analysis.
	a := byName["a.png"]
	for _, name := range []string{"b16.png", "c.dcm", "sub/a.png"} {
		f := byName[name]
		if f.Status != "ok" || f.LungPixels != a.LungPixels || !sameNullable(f.OpacityPct, a.OpacityPct) {
			t.Errorf("%s: status %s (%s) lungs %d pct %v; a.png: lungs %d pct %v", name, f.Status, f.Error, f.LungPixels, deref(f.OpacityPct), a.LungPixels, deref(a.OpacityPct))
		}
	}
	// The ensemble's spread and interval, and the zones, are in the report:
	// one percentage per member, min <= pct's members <= max, the interval
	// around the percentage; six zone shares; no Brixia score without
	// thresholds (the phantom has no Brixia table).
	if len(a.MembersPct) != len(m.Record.Members) || len(a.ZoneShares) != 6 || a.BrixiaGlobal != nil || a.ZoneScores != nil {
		t.Errorf("a.png: %d member percentages (want %d), %d zone shares, Brixia %v %v", len(a.MembersPct), len(m.Record.Members), len(a.ZoneShares), a.BrixiaGlobal, a.ZoneScores)
	}
	if a.OpacityPct != nil && m.Record.Interval != nil {
		if a.OpacityPctLo == nil || a.OpacityPctHi == nil || *a.OpacityPctLo > *a.OpacityPct || *a.OpacityPctHi < *a.OpacityPct || a.IntervalLevel != IntervalLevel {
			t.Errorf("a.png: interval %v-%v level %v around %v", deref(a.OpacityPctLo), deref(a.OpacityPctHi), a.IntervalLevel, *a.OpacityPct)
		}
		for _, v := range a.MembersPct {
			if v != nil && (*v < *a.OpacityPctMin || *v > *a.OpacityPctMax) {
				t.Errorf("a.png: member %v outside %v-%v", *v, *a.OpacityPctMin, *a.OpacityPctMax)
			}
		}
	}
	if f := byName["c.dcm"]; f.Format != "dicom" || !strings.Contains(strings.Join(f.Notes, ";"), "MONOCHROME1") {
		t.Errorf("c.dcm: format %q notes %v", f.Format, f.Notes)
	}
	// Distinct output names for the two a.png; every output exists.
	if got := byName["sub/a.png"].Outputs; len(got) != 5 || got[0] != "a-2.png" {
		t.Errorf("outputs of sub/a.png: %v", got)
	}
	for _, f := range rep.Files {
		for _, o := range f.Outputs {
			if _, err := os.Stat(filepath.Join(out, o)); err != nil {
				t.Error(err)
			}
		}
	}
	// Masks are the image's size and match the report.
	lm := readPNGGray(t, filepath.Join(out, "a_lungs.png"))
	if lm.Bounds() != img.Bounds() {
		t.Errorf("lung mask %v, image %v", lm.Bounds(), img.Bounds())
	}
	n := 0
	for _, p := range lm.Pix {
		if p != 0 {
			n++
		}
	}
	if n != a.LungPixels {
		t.Errorf("lung mask PNG has %d pixels, report %d", n, a.LungPixels)
	}
	// The labelme file reads back through the project's loader.
	sm, err := datasets.ReadLabelmeSample(filepath.Join(out, "a.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sm.Width != img.Bounds().Dx() || sm.Height != img.Bounds().Dy() {
		t.Errorf("labelme image %dx%d", sm.Width, sm.Height)
	}
	// The report's round-trip IoU is that of the file read back with the
	// written lung mask.
	lmPix := make([]uint8, len(lm.Pix))
	for i, p := range lm.Pix {
		lmPix[i] = p / 255
	}
	if want, ok := research.MaskIoU(sm.Lung.Pix, nil, lmPix, nil, math.NaN()); ok != (a.LabelmeLungsIoU != nil) || (ok && math.Abs(want-*a.LabelmeLungsIoU) > 1e-12) {
		t.Errorf("labelme lungs IoU in the report %v, from the files %v (%v)", deref(a.LabelmeLungsIoU), want, ok)
	}
	// The report files: JSON as returned, CSV one row per file.
	var back BatchReport
	b, err := os.ReadFile(filepath.Join(out, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Files) != 6 || back.Failed != 2 {
		t.Errorf("report.json: %v, %d rows, %d failed", err, len(back.Files), back.Failed)
	}
	c, _ := os.ReadFile(filepath.Join(out, ReportCSV))
	if lines := strings.Split(strings.TrimSpace(string(c)), "\n"); len(lines) != 7 || !strings.HasPrefix(lines[0], "file,status,error") {
		t.Errorf("report.csv: %d lines, header %q", len(lines), lines[0])
	}
	// --any-modality analyses the CT file too.
	rep2, err := m.AnalyzeFiles([]string{filepath.Join(in, "d-ct.dcm")}, FileOptions{Out: t.TempDir(), Xray: xrayfile.Options{AnyModality: true}})
	if err != nil || rep2.Analysed != 1 {
		t.Errorf("any modality: %v, %+v", err, rep2.Files)
	}
}

func sameNullable(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b || (math.IsNaN(*a) && math.IsNaN(*b))
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

func readPNGGray(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := im.(*image.Gray)
	if !ok {
		t.Fatalf("%s: %T, want gray", path, im)
	}
	return g
}

func TestLabelmeRoundTrip(t *testing.T) {
	// Two lung-like ellipses (radii 22x40) and an opacity blob in the
	// right lung, on a 160x128 grid: the polygons at the default
	// tolerance read back within IoU 0.97 of the masks.
	w, h := 160, 128
	lungs, op := mask.New(w, h), mask.New(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			in := func(cx, cy, rx, ry float64) bool {
				dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
				return dx*dx+dy*dy <= 1
			}
			if in(45, 64, 22, 40) || in(115, 64, 22, 40) {
				lungs.Pix[y*w+x] = 1
			}
			if in(45, 75, 14, 20) {
				op.Pix[y*w+x] = 1
			}
		}
	}
	r := &Result{Width: w, Height: h, Lungs: lungs, Opacity: op}
	r.Right, r.Left = mask.SplitLungs(lungs)
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, w, h))
	var b bytes.Buffer
	png.Encode(&b, img)
	os.WriteFile(filepath.Join(dir, "x.png"), b.Bytes(), 0o644)
	data, err := Labelme("x.png", r, DefaultTolerance).Encode()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "x.json"), data, 0o644)
	sm, err := datasets.ReadLabelmeSample(filepath.Join(dir, "x.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !sm.BothLungs() {
		t.Error("the labelme file lacks a lung side")
	}
	for name, pair := range map[string][2]*mask.Mask{"lungs": {lungs, sm.Lung}, "opacity": {op, sm.Opacity}} {
		iou, ok := research.MaskIoU(pair[0].Pix, nil, pair[1].Pix, nil, math.NaN())
		if !ok || iou < 0.97 {
			t.Errorf("%s: IoU %.4f after the labelme round trip, want >= 0.97", name, iou)
		}
	}
}

func TestValidateSeverity(t *testing.T) {
	// Scores exactly linear in the percentage (geographic = pct/10,
	// opacity = pct/20): every map fitted without an image's patient
	// predicts it exactly; the linear map's MAE is 0.
	var oof []experiment.OOFImage
	for i := 0; i < 12; i++ {
		p := float64(5 * i)
		oof = append(oof, experiment.OOFImage{Image: string(rune('a' + i)), Patient: string(rune('A' + i/2)), Values: map[string]float64{
			ValueOpacityPctAuto: p, ValueCohenGeographic: p / 10, ValueCohenOpacity: p / 20}})
	}
	oof = append(oof, experiment.OOFImage{Image: "unscored", Patient: "Z", Values: map[string]float64{ValueOpacityPctAuto: 3}})
	vs, n, err := ValidateSeverity(oof, ValueOpacityPctAuto, research.BootstrapOptions{Resamples: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if n != 12 {
		t.Errorf("%d scored images, want 12", n)
	}
	found := false
	for _, v := range vs {
		if v.Source != "automatic" {
			t.Errorf("source %q", v.Source)
		}
		if v.Method == research.ScoreMapLinear {
			found = true
			if v.Geographic.MAE > 1e-9 || v.Opacity.MAE > 1e-9 || math.Abs(v.GeographicPct.Rho-1) > 1e-12 {
				t.Errorf("linear: MAE %v / %v, rho %v; want 0, 0, 1", v.Geographic.MAE, v.Opacity.MAE, v.GeographicPct.Rho)
			}
		}
	}
	if !found {
		t.Error("no linear map")
	}
	if _, _, err := ValidateSeverity(oof[:5], ValueOpacityPctAuto, research.BootstrapOptions{Resamples: 10}); err == nil {
		t.Error("5 images were mapped")
	}
}

func TestPipelineCV(t *testing.T) {
	s := tinySettings(t, t.TempDir())
	if _, err := s.EnsureData(); err != nil {
		t.Fatal(err)
	}
	s.Folds = 2
	cv, err := PipelineCV(s)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := cv.Run(context.Background(), experiment.Monitor{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := experiment.LoadStudy(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Complete) != 2 || rep.Images != len(st.Items)-len(st.Subset(experiment.SubsetValidation)) {
		t.Fatalf("complete %v, %d images; study %d items, %d validation", rep.Complete, rep.Images, len(st.Items), len(st.Subset(experiment.SubsetValidation)))
	}
	for _, im := range rep.OOF {
		for _, v := range []string{ValueOpacityPctAuto, ValueOpacityPctManual, ValueOpacityPctManualLungs, ValueLungShare, ValueBothLungs} {
			if _, ok := im.Values[v]; !ok {
				t.Errorf("%s: no %s", im.Image, v)
			}
		}
		if d, ok := im.Values[ValueLungsDice]; im.Values[ValueBothLungs] == 1 && (!ok || d < 0 || d > 1) {
			t.Errorf("%s: lungs Dice %v", im.Image, d)
		}
		if _, ok := im.Counts[datasets.TargetOpacity]; !ok {
			t.Errorf("%s: no opacity counts", im.Image)
		}
	}
	// A fold's models are the runs that opacity cv --targets lungs (and
	// opacity) trains: the same folders.
	res, ok, err := cv.ReadFold(1)
	if err != nil || !ok {
		t.Fatal(err)
	}
	ls, _ := ModelSettings(cv.FoldSettings(1))
	lst, err := experiment.LoadStudy(ls)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ls.Key(lst.TrainCohort)
	if err != nil {
		t.Fatal(err)
	}
	if res.Runs[0] != key.Dir(ls.Runs) {
		t.Errorf("fold 1's lung run %s, want %s", res.Runs[0], key.Dir(ls.Runs))
	}
	// With the ensemble: another CV folder, the same fold models (reused,
	// not trained again), every image with its members' spread.
	s.Ensemble = true
	ecv, err := PipelineCV(s)
	if err != nil {
		t.Fatal(err)
	}
	if ecv.Dir == cv.Dir {
		t.Fatalf("the ensemble's CV shares the folder %s", cv.Dir)
	}
	erep, err := ecv.Run(context.Background(), experiment.Monitor{})
	if err != nil {
		t.Fatal(err)
	}
	eres, ok, err := ecv.ReadFold(1)
	if err != nil || !ok {
		t.Fatal(err)
	}
	if strings.Join(eres.Runs, ",") != strings.Join(res.Runs, ",") {
		t.Errorf("the ensemble's fold 1 used runs %v, the single pass's %v", eres.Runs, res.Runs)
	}
	if erep.Images != rep.Images {
		t.Errorf("ensemble: %d images, single pass %d", erep.Images, rep.Images)
	}
	for _, im := range erep.OOF {
		// NaN only where the lungs were not found (no percentage).
		if sd, ok := im.Values[ValueOpacityPctSD]; !ok || !(sd >= 0) && !math.IsNaN(im.Values[ValueOpacityPctAuto]) {
			t.Errorf("%s: the members' SD %v (recorded %v) of the percentage %v", im.Image, sd, ok, im.Values[ValueOpacityPctAuto])
		}
	}
	for _, im := range rep.OOF {
		if _, ok := im.Values[ValueOpacityPctSD]; ok {
			t.Errorf("%s: a single pass recorded a members' SD", im.Image)
		}
	}
	// The interval calibrated on the ensemble's out-of-fold images: the
	// form with the narrower out-of-fold median width, fitted on them all.
	iv, err := IntervalFromCV(ecv.Dir, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	var pct, sd, flat, truth []float64
	var patients []string
	for _, im := range erep.OOF {
		pct, sd, flat = append(pct, im.Values[ValueOpacityPctAuto]), append(sd, im.Values[ValueOpacityPctSD]), append(flat, 0)
		truth, patients = append(truth, im.Values[ValueOpacityPctManual]), append(patients, im.Patient)
	}
	spread, err1 := IntervalOutOfFold(pct, sd, truth, patients, 0.9, DefaultSDFloor)
	constant, err2 := IntervalOutOfFold(pct, flat, truth, patients, 0.9, DefaultSDFloor)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	scale := sd
	if constant.MedianWidth < spread.MedianWidth {
		scale = flat
	}
	want, err := FitInterval(pct, scale, truth, 0.9, DefaultSDFloor, "")
	if err != nil {
		t.Fatal(err)
	}
	if iv.ConstantWidth != (constant.MedianWidth < spread.MedianWidth) || iv.Factor != want.Factor || iv.FittedOn != want.FittedOn || iv.Level != 0.9 {
		t.Errorf("interval from the CV %+v; want constant %v, factor %v on %d images", iv, constant.MedianWidth < spread.MedianWidth, want.Factor, want.FittedOn)
	}
	// A CV of single passes has no spread to calibrate with.
	if _, err := IntervalFromCV(cv.Dir, 0.9); err == nil || !strings.Contains(err.Error(), "--ensemble true") {
		t.Errorf("a single-pass CV: %v", err)
	}
}

func TestAnalyzeWithLungs(t *testing.T) {
	s, m := fixture(t)
	img := phantomImage(t, s)
	auto, err := m.Analyze(img)
	if err != nil {
		t.Fatal(err)
	}
	// Given the lungs Analyze found, the paper's pipeline is Analyze.
	r, err := m.AnalyzeWithLungs(img, auto.Lungs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Opacity.Pix, auto.Opacity.Pix) || !sameNullable(&r.OpacityPct, &auto.OpacityPct) || r.Crop != auto.Crop {
		t.Errorf("with the predicted lungs given: pct %v crop %v; Analyze: %v %v", r.OpacityPct, r.Crop, auto.OpacityPct, auto.Crop)
	}
	// A whole-image lung mask: the crop is the image (margin clipped) and
	// the percentage is over every pixel.
	all := mask.New(img.Bounds().Dx(), img.Bounds().Dy())
	for i := range all.Pix {
		all.Pix[i] = 1
	}
	r, err = m.AnalyzeWithLungs(img, all)
	if err != nil {
		t.Fatal(err)
	}
	if want := 100 * float64(r.Opacity.Count()) / float64(len(all.Pix)); math.Abs(r.OpacityPct-want) > 1e-9 || r.Crop != img.Bounds() {
		t.Errorf("whole-image lungs: pct %v want %v, crop %v", r.OpacityPct, want, r.Crop)
	}
	if _, err := m.AnalyzeWithLungs(img, mask.New(3, 3)); err == nil {
		t.Error("a lung mask of another size was accepted")
	}
}

// TestModelSettingsLungsAndStart: the lung model of a pair takes the
// settings' lung overrides, the opacity model does not, and neither run
// carries them; a models folder as the start starts each model from its
// counterpart.
func TestModelSettingsLungsAndStart(t *testing.T) {
	s := tinySettings(t, t.TempDir())
	s.Tiny, s.Epochs, s.EvalEvery = false, 5, 5
	s.LungsModel, s.LungsEpochs, s.LungsEvalEvery, s.LungsSize = "tiny", 3, 1, s.InputSize*2
	s.Ensemble = true
	s.Loss = unet.LossImageDiceFocal
	s.Start = t.TempDir()
	if err := os.WriteFile(filepath.Join(s.Start, ModelsFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, o := ModelSettings(s)
	if !l.Tiny || l.Epochs != 3 || l.EvalEvery != 1 || l.InputSize != 2*s.InputSize {
		t.Errorf("lung model: tiny %v, epochs %d, eval every %d, size %d; want true, 3, 1, %d", l.Tiny, l.Epochs, l.EvalEvery, l.InputSize, 2*s.InputSize)
	}
	if l.Loss != "" || o.Loss != unet.LossImageDiceFocal {
		t.Errorf("losses: lung model %q, opacity model %q; want the paper's and %s", l.Loss, o.Loss, unet.LossImageDiceFocal)
	}
	if o.Tiny || o.Epochs != 5 || o.EvalEvery != 5 || o.InputSize != s.InputSize {
		t.Errorf("opacity model: tiny %v, epochs %d, eval every %d, size %d; want false, 5, 5, %d", o.Tiny, o.Epochs, o.EvalEvery, o.InputSize, s.InputSize)
	}
	for _, x := range []experiment.Settings{l, o} {
		if x.LungsModel != "" || x.LungsEpochs != 0 || x.LungsEvalEvery != 0 || x.LungsSize != 0 {
			t.Errorf("targets %v: lung overrides %q %d %d %d left in a model's own settings", x.Targets, x.LungsModel, x.LungsEpochs, x.LungsEvalEvery, x.LungsSize)
		}
		if x.Ensemble {
			t.Errorf("targets %v: the pipeline's ensemble left in a model's own settings (it would name another run)", x.Targets)
		}
	}
	if l.Start != filepath.Join(s.Start, LungsDir) || o.Start != filepath.Join(s.Start, OpacityDir) {
		t.Errorf("starts %s and %s, want the models folder's %s and %s", l.Start, o.Start, LungsDir, OpacityDir)
	}
	// A start that is not a models folder is each model's as it is.
	s.Start = filepath.Join(t.TempDir(), "weights.ckpt")
	if l, o := ModelSettings(s); l.Start != s.Start || o.Start != s.Start {
		t.Errorf("a checkpoint file as the start became %s and %s", l.Start, o.Start)
	}
}

// TestTrainModelsFromModelsFolder fine-tunes a pair from a models folder:
// new runs (named after the start's weights), each model started from its
// counterpart; a models folder that fails its manifest check is refused by
// name before anything trains.
func TestTrainModelsFromModelsFolder(t *testing.T) {
	s, m := fixture(t)
	s.Start, s.Epochs = m.Dir, 1
	tuned, err := TrainModels(context.Background(), s, filepath.Join(t.TempDir(), "tuned"), experiment.Monitor{})
	if err != nil {
		t.Fatal(err)
	}
	for i, pair := range [][2]ModelInfo{{m.Record.Lungs, tuned.Record.Lungs}, {m.Record.Opacity, tuned.Record.Opacity}} {
		sub := []string{LungsDir, OpacityDir}[i]
		if pair[0].Run == pair[1].Run {
			t.Errorf("%s: the fine-tuning reused the start's run %s", sub, pair[0].Run)
		}
		if want := filepath.Join(m.Dir, sub); pair[1].Settings.Start != want {
			t.Errorf("%s: recorded start %q, want %q", sub, pair[1].Settings.Start, want)
		}
		digest, err := unet.StartDigest(filepath.Join(m.Dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		l, err := unet.LoadModel(filepath.Join(tuned.Dir, sub), "go")
		if err != nil {
			t.Fatal(err)
		}
		if l.Config.StartSHA256 != digest {
			t.Errorf("%s: the tuned model's configuration says start %q, want %q", sub, l.Config.StartSHA256, digest)
		}
		// The run record says what the starting weights had seen: the
		// start's training images count as seen by the tuned model.
		start, err := experiment.OpenRun(filepath.Join(m.Dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		run, err := experiment.OpenRun(filepath.Join(tuned.Dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		st := run.Record.Start
		if st == nil || !st.Known || st.SHA256 != digest || !slices.Equal(st.TrainImages, sortedCopy(start.Record.Split.TrainImages)) {
			t.Errorf("%s: start record %+v, want the start's %d training images", sub, st, len(start.Record.Split.TrainImages))
		}
		seen := run.Record.Seen()
		for _, s := range start.Record.Split.TrainImages {
			if !seen[s] {
				t.Errorf("%s: the start's training image %s not counted as seen", sub, s)
			}
		}
	}

	// A copy of the models folder with a file added fails its manifest.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.CopyFS(bad, os.DirFS(m.Dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Start, s.Epochs = bad, 2
	_, err = TrainModels(context.Background(), s, filepath.Join(t.TempDir(), "refused"), experiment.Monitor{})
	if err == nil || !strings.Contains(err.Error(), "starting weights refused") || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("a models folder with an extra file as the start: err = %v, want a refusal naming notes.txt", err)
	}
}

// sortedCopy returns a sorted copy of s.
func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
