package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets/phantom"
)

// This file checks "opacity severity --json --cohen" against a computation
// written here from scratch: its own JSON decoding of the annotations, its
// own scanline polygon fill, its own CSV reading and O(n²) statistics. It
// shares no code with the packages under test (the phantom cohort is only
// generated with phantom.Write).

// sharedData returns ../shared/data seen from the module root, or skips.
func sharedData(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(data, "covid-ar", "annotations")); err != nil {
		t.Skipf("real data not available (%s absent): skipping the check against it", data)
	}
	return data
}

// sevJSON is the command's output, decoded with the schema's keys.
type sevJSON struct {
	Synthetic *bool  `json:"synthetic"`
	Source    string `json:"source"`
	Images    []struct {
		File       string   `json:"file"`
		Patient    string   `json:"patient"`
		OpacityPct *float64 `json:"opacity_pct"`
		ICU        *int     `json:"icu"`
		Mortality  *int     `json:"mortality"`
	} `json:"images"`
	ROC struct {
		Image struct {
			ICU       rocJSON `json:"icu"`
			Mortality rocJSON `json:"mortality"`
		} `json:"image"`
		Patient struct {
			Aggregate string  `json:"aggregate"`
			ICU       rocJSON `json:"icu"`
			Mortality rocJSON `json:"mortality"`
		} `json:"patient"`
	} `json:"roc"`
	Cohen *struct {
		N   int `json:"n"`
		Geo struct {
			Rho  float64    `json:"rho"`
			CI95 [2]float64 `json:"ci95"`
		} `json:"spearman_geographic"`
		Op struct {
			Rho  float64    `json:"rho"`
			CI95 [2]float64 `json:"ci95"`
		} `json:"spearman_opacity"`
	} `json:"cohen"`
}

type rocJSON struct {
	AUC           *float64   `json:"auc"`
	CI95DeLong    [2]float64 `json:"ci95_delong"`
	CI95Bootstrap [2]float64 `json:"ci95_bootstrap"`
	NPos          int        `json:"n_pos"`
	NNeg          int        `json:"n_neg"`
	Youden        *struct {
		Threshold   float64 `json:"threshold"`
		Sensitivity float64 `json:"sensitivity"`
		Specificity float64 `json:"specificity"`
	} `json:"youden"`
}

// --- the independent computation ---

type lmShape struct {
	Label     string       `json:"label"`
	Points    [][2]float64 `json:"points"`
	ShapeType string       `json:"shape_type"`
}

type lmFile struct {
	Shapes      []lmShape `json:"shapes"`
	ImageData   *string   `json:"imageData"`
	ImageWidth  int       `json:"imageWidth"`
	ImageHeight int       `json:"imageHeight"`
}

// gridOf returns the pixel grid of an annotation: its embedded image, an
// image beside it in ../images with the same stem, imageWidth/imageHeight,
// or else the canvas floor(max x)+1 by floor(max y)+1 of its points.
func gridOf(t *testing.T, path string, f *lmFile) (int, int) {
	if f.ImageData != nil {
		raw, err := base64.StdEncoding.DecodeString(*f.ImageData)
		if err != nil {
			t.Fatalf("%s: imageData: %v", path, err)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: imageData: %v", path, err)
		}
		return cfg.Width, cfg.Height
	}
	stem := strings.TrimSuffix(filepath.Base(path), ".json")
	imgDir := filepath.Join(filepath.Dir(filepath.Dir(path)), "images")
	for _, ext := range []string{".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG"} {
		if fh, err := os.Open(filepath.Join(imgDir, stem+ext)); err == nil {
			cfg, _, err := image.DecodeConfig(bufio.NewReader(fh))
			fh.Close()
			if err != nil {
				t.Fatalf("%s: %v", stem+ext, err)
			}
			return cfg.Width, cfg.Height
		}
	}
	if f.ImageWidth > 0 && f.ImageHeight > 0 {
		return f.ImageWidth, f.ImageHeight
	}
	var mx, my float64
	for _, s := range f.Shapes {
		for _, p := range s.Points {
			mx, my = math.Max(mx, p[0]), math.Max(my, p[1])
		}
	}
	return int(mx) + 1, int(my) + 1
}

// fill sets in m (w x h) the pixels whose centre lies inside the polygon by
// the even-odd rule: per row, the crossings of the line y+0.5 with the
// edges (an edge counts when one end is at or below the line and the other
// above it), sorted, filled pairwise for centres x+0.5 in [x0, x1).
func fill(m []bool, w, h int, pts [][2]float64) {
	for y := 0; y < h; y++ {
		yc := float64(y) + 0.5
		var xs []float64
		for i := range pts {
			p, q := pts[i], pts[(i+1)%len(pts)]
			if (p[1] <= yc) != (q[1] <= yc) {
				xs = append(xs, p[0]+(yc-p[1])*(q[0]-p[0])/(q[1]-p[1]))
			}
		}
		sort.Float64s(xs)
		for k := 0; k+1 < len(xs); k += 2 {
			for x := max(0, int(math.Ceil(xs[k]-0.5))); x < w && float64(x)+0.5 < xs[k+1]; x++ {
				m[y*w+x] = true
			}
		}
	}
}

// opacityPct computes 100 |O ∩ L| / |L| of one annotation file.
func opacityPct(t *testing.T, path string) float64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f lmFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	w, h := gridOf(t, path, &f)
	lung := make([]bool, w*h)
	op := make([]bool, w*h)
	for _, s := range f.Shapes {
		if s.ShapeType != "polygon" {
			t.Fatalf("%s: shape type %q: this check only fills polygons", path, s.ShapeType)
		}
		if s.Label == "right_lung" || s.Label == "left_lung" {
			fill(lung, w, h, s.Points)
		} else {
			fill(op, w, h, s.Points)
		}
	}
	var nl, no int
	for i := range lung {
		if lung[i] {
			nl++
			if op[i] {
				no++
			}
		}
	}
	if nl == 0 {
		return math.NaN()
	}
	return 100 * float64(no) / float64(nl)
}

// readTable reads a CSV (skipping lines starting with "##") into a header
// index and rows.
func readTable(t *testing.T, path string) (map[string]int, [][]string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n") {
		if !strings.HasPrefix(l, "##") && strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	r := csv.NewReader(strings.NewReader(strings.Join(keep, "\n")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	return col, rows[1:]
}

// aucDirect is U/(n1 n0) by the double loop, with DeLong's variance from
// components computed by the same loop.
func aucDirect(s []float64, l []bool) (auc, variance float64, nPos, nNeg int) {
	var x, y []float64
	for i := range s {
		if l[i] {
			x = append(x, s[i])
		} else {
			y = append(y, s[i])
		}
	}
	v10 := make([]float64, len(x))
	v01 := make([]float64, len(y))
	for i := range x {
		for j := range y {
			p := 0.0
			if x[i] > y[j] {
				p = 1
			} else if x[i] == y[j] {
				p = 0.5
			}
			v10[i] += p / float64(len(y))
			v01[j] += p / float64(len(x))
			auc += p
		}
	}
	auc /= float64(len(x) * len(y))
	var s10, s01 float64
	for _, v := range v10 {
		s10 += (v - auc) * (v - auc) / float64(len(x)-1)
	}
	for _, v := range v01 {
		s01 += (v - auc) * (v - auc) / float64(len(y)-1)
	}
	return auc, s10/float64(len(x)) + s01/float64(len(y)), len(x), len(y)
}

// youdenDirect tries every observed score as the cut (score >= cut is
// positive) and returns the best J (ties: the highest cut).
func youdenDirect(s []float64, l []bool) (cut, sens, spec float64) {
	cuts := append([]float64(nil), s...)
	sort.Sort(sort.Reverse(sort.Float64Slice(cuts)))
	best := math.Inf(-1)
	for _, c := range cuts {
		var tp, fn, tn, fp float64
		for i := range s {
			switch {
			case l[i] && s[i] >= c:
				tp++
			case l[i]:
				fn++
			case s[i] >= c:
				fp++
			default:
				tn++
			}
		}
		if j := tp/(tp+fn) + tn/(tn+fp) - 1; j > best+1e-12 {
			best, cut, sens, spec = j, c, tp/(tp+fn), tn/(tn+fp)
		}
	}
	return
}

func spearmanDirect(a, b []float64) float64 {
	rank := func(v []float64) []float64 {
		r := make([]float64, len(v))
		for i := range v {
			less, eq := 0.0, 0.0
			for j := range v {
				if v[j] < v[i] {
					less++
				} else if v[j] == v[i] {
					eq++
				}
			}
			r[i] = less + (eq+1)/2
		}
		return r
	}
	ra, rb := rank(a), rank(b)
	var ma, mb float64
	for i := range ra {
		ma += ra[i] / float64(len(ra))
		mb += rb[i] / float64(len(rb))
	}
	var sab, saa, sbb float64
	for i := range ra {
		sab += (ra[i] - ma) * (rb[i] - mb)
		saa += (ra[i] - ma) * (ra[i] - ma)
		sbb += (rb[i] - mb) * (rb[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

// checkROC compares one R object with the direct computation.
func checkROC(t *testing.T, name string, got rocJSON, s []float64, l []bool) {
	t.Helper()
	auc, v, np, nn := aucDirect(s, l)
	if got.AUC == nil || math.Abs(*got.AUC-auc) > 1e-9 || got.NPos != np || got.NNeg != nn {
		t.Errorf("%s: AUC %v n %d/%d, direct %v n %d/%d", name, got.AUC, got.NPos, got.NNeg, auc, np, nn)
		return
	}
	se := math.Sqrt(v)
	lo, hi := math.Max(0, auc-1.959964*se), math.Min(1, auc+1.959964*se)
	if math.Abs(got.CI95DeLong[0]-lo) > 1e-5 || math.Abs(got.CI95DeLong[1]-hi) > 1e-5 {
		t.Errorf("%s: DeLong CI %v, direct [%v, %v]", name, got.CI95DeLong, lo, hi)
	}
	if b := got.CI95Bootstrap; !(b[0] <= auc && auc <= b[1] && b[0] >= 0 && b[1] <= 1 && b[1]-b[0] > 0.01) {
		t.Errorf("%s: bootstrap CI %v does not bracket the AUC %v inside [0, 1]", name, b, auc)
	}
	cut, sens, spec := youdenDirect(s, l)
	if y := got.Youden; y == nil || y.Threshold != cut || math.Abs(y.Sensitivity-sens) > 1e-12 || math.Abs(y.Specificity-spec) > 1e-12 {
		t.Errorf("%s: Youden %+v, direct cut %v sens %v spec %v", name, got.Youden, cut, sens, spec)
	}
}

// checkSeverity runs the command on dataDir and checks every number against
// the independent computation.
func checkSeverity(t *testing.T, dataDir string, wantSynthetic bool) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"severity", "--data", dataDir, "--json", "--cohen"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got sevJSON
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("output is not the schema's JSON: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Error("more than one JSON value on stdout")
	}
	if got.Synthetic == nil || *got.Synthetic != wantSynthetic || got.Source != "manual" {
		t.Errorf("synthetic %v source %q, want %v, manual", got.Synthetic, got.Source, wantSynthetic)
	}

	// Clinical table.
	col, rows := readTable(t, filepath.Join(dataDir, "covid-ar", "patient_info.csv"))
	type outcome struct{ icu, mort int }
	clin := map[string]outcome{}
	for _, r := range rows {
		if len(r) <= col["MORTALITY"] || strings.TrimSpace(r[col["PATIENT_ID"]]) == "" {
			continue
		}
		icu := strings.TrimSpace(r[col["ICU Admit"]])
		mort := strings.TrimSpace(r[col["MORTALITY"]])
		clin[strings.TrimSpace(r[col["PATIENT_ID"]])] = outcome{int(icu[0] - '0'), int(mort[0] - '0')}
	}

	// Every annotation, its opacity %, its outcome.
	files, err := filepath.Glob(filepath.Join(dataDir, "covid-ar", "annotations", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no annotations: %v", err)
	}
	sort.Strings(files)
	if len(got.Images) != len(files) {
		t.Fatalf("%d images in the output, %d annotation files", len(got.Images), len(files))
	}
	type img struct {
		patient string
		pct     float64
		o       *outcome
	}
	var imgs []img
	maxDiff := 0.0
	for i, f := range files {
		base := filepath.Base(f)
		g := got.Images[i]
		patient := base[:strings.Index(base, "_")]
		pct := opacityPct(t, f)
		if g.File != base || g.Patient != patient || g.OpacityPct == nil {
			t.Fatalf("image %d: %+v, want file %s patient %s", i, g, base, patient)
		}
		maxDiff = math.Max(maxDiff, math.Abs(*g.OpacityPct-pct))
		if math.Abs(*g.OpacityPct-pct) > 1e-9 {
			t.Errorf("%s: opacity %% %v, direct %v", base, *g.OpacityPct, pct)
		}
		o, ok := clin[patient]
		switch {
		case !ok && (g.ICU != nil || g.Mortality != nil):
			t.Errorf("%s: patient without clinical row has outcomes %v %v", base, g.ICU, g.Mortality)
		case ok && (g.ICU == nil || g.Mortality == nil || *g.ICU != o.icu || *g.Mortality != o.mort):
			t.Errorf("%s: outcomes %v %v, table %+v", base, g.ICU, g.Mortality, o)
		}
		im := img{patient: patient, pct: pct}
		if ok {
			im.o = &o
		}
		imgs = append(imgs, im)
	}
	t.Logf("%d images, largest opacity %% difference %.3g", len(files), maxDiff)

	// ROC per image and per patient (max).
	for _, oc := range []struct {
		name           string
		get            func(outcome) int
		image, patient rocJSON
	}{
		{"ICU", func(o outcome) int { return o.icu }, got.ROC.Image.ICU, got.ROC.Patient.ICU},
		{"mortality", func(o outcome) int { return o.mort }, got.ROC.Image.Mortality, got.ROC.Patient.Mortality},
	} {
		var s []float64
		var l []bool
		pmax := map[string]float64{}
		plab := map[string]bool{}
		for _, im := range imgs {
			if im.o == nil {
				continue
			}
			s = append(s, im.pct)
			l = append(l, oc.get(*im.o) == 1)
			if v, ok := pmax[im.patient]; !ok || im.pct > v {
				pmax[im.patient] = im.pct
			}
			plab[im.patient] = oc.get(*im.o) == 1
		}
		checkROC(t, oc.name+" per image", oc.image, s, l)
		var ps []float64
		var pl []bool
		for p, v := range pmax {
			ps = append(ps, v)
			pl = append(pl, plab[p])
		}
		checkROC(t, oc.name+" per patient", oc.patient, ps, pl)
	}
	if got.ROC.Patient.Aggregate != "max" {
		t.Errorf("aggregate %q, want max", got.ROC.Patient.Aggregate)
	}

	// Cohen: opacity % of cohen/annotations vs the severity scores.
	if got.Cohen == nil {
		t.Fatal("no cohen object with --cohen")
	}
	scol, srows := readTable(t, filepath.Join(dataDir, "cohen", "covid-severity-scores.csv"))
	type score struct{ geo, op float64 }
	scores := map[string]score{}
	for _, r := range srows {
		name := r[scol["filename"]]
		var sc score
		var err error
		if sc.geo, err = strconv.ParseFloat(strings.TrimSpace(r[scol["geographic_mean"]]), 64); err != nil {
			t.Fatal(err)
		}
		if sc.op, err = strconv.ParseFloat(strings.TrimSpace(r[scol["opacity_mean"]]), 64); err != nil {
			t.Fatal(err)
		}
		scores[strings.TrimSuffix(name, filepath.Ext(name))] = sc
	}
	cfiles, _ := filepath.Glob(filepath.Join(dataDir, "cohen", "annotations", "*.json"))
	var pct, geo, op []float64
	for _, f := range cfiles {
		stem := strings.TrimSuffix(filepath.Base(f), ".json")
		sc, ok := scores[stem]
		if !ok {
			continue
		}
		p := opacityPct(t, f)
		if math.IsNaN(p) {
			continue
		}
		pct, geo, op = append(pct, p), append(geo, sc.geo), append(op, sc.op)
	}
	if got.Cohen.N != len(pct) {
		t.Errorf("cohen n %d, direct %d", got.Cohen.N, len(pct))
	}
	for _, c := range []struct {
		name string
		rho  float64
		ci   [2]float64
		y    []float64
	}{{"geographic", got.Cohen.Geo.Rho, got.Cohen.Geo.CI95, geo}, {"opacity", got.Cohen.Op.Rho, got.Cohen.Op.CI95, op}} {
		rho := spearmanDirect(pct, c.y)
		h := 1.959964 * math.Sqrt(1.06/float64(len(pct)-3))
		lo, hi := math.Tanh(math.Atanh(rho)-h), math.Tanh(math.Atanh(rho)+h)
		if math.Abs(c.rho-rho) > 1e-9 || math.Abs(c.ci[0]-lo) > 1e-5 || math.Abs(c.ci[1]-hi) > 1e-5 {
			t.Errorf("spearman %s: %v %v, direct %v [%v, %v]", c.name, c.rho, c.ci, rho, lo, hi)
		}
	}
}

func TestSeverityRealDataIndependent(t *testing.T) {
	checkSeverity(t, sharedData(t), false)
}

func TestSeverityPhantomIndependent(t *testing.T) {
	dir := t.TempDir()
	if _, err := phantom.Write(dir, phantom.Options{Patients: 30, Seed: 3, Size: 64}); err != nil {
		t.Fatal(err)
	}
	checkSeverity(t, dir, true)
}

func TestSeverityTextAndFlags(t *testing.T) {
	dir := t.TempDir()
	if _, err := phantom.Write(dir, phantom.Options{Patients: 30, Seed: 3, Size: 64}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	plotDir := filepath.Join(dir, "figs")
	if code := run([]string{"severity", "--data", dir, "--cohen", "--aggregate", "first", "--bootstrap", "200", "--figures", plotDir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"SYNTHETIC", "patient (first)", "DeLong", "bootstrap (200 resamples", "Spearman rho, geographic"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"severity-roc.png", "severity-roc.svg", "severity-cohen-scatter.png"} {
		if _, err := os.Stat(filepath.Join(plotDir, f)); err != nil {
			t.Error(err)
		}
	}
	for _, bad := range [][]string{
		{"severity"},
		{"severity", "--data", dir, "--aggregate", "median"},
		{"severity", "--data", dir, "--bootstrap", "0"},
		{"severity", "--data", filepath.Join(dir, "missing")},
		{"severity", "--data", dir, "extra"},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := run(bad, &stdout, &stderr); code == 0 {
			t.Errorf("%v: exit 0", bad)
		}
	}
}
