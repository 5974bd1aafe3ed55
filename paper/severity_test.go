package paper

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/covidxray/opacity/analysis"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
)

// box is the polygon of the pixels x0 <= x < x1, y0 <= y < y1 (a pixel is
// inside when its centre is).
func box(x0, y0, x1, y1 float64) [][2]float64 {
	return [][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
}

// writeAnnotation writes a labelme file of a w x h image with the given
// lung and opacity boxes.
func writeAnnotation(t *testing.T, path string, w, h int, lungs, opacity [][][2]float64) {
	t.Helper()
	l := datasets.NewLabelme(strings.TrimSuffix(filepath.Base(path), ".json")+".png", w, h)
	for i, b := range lungs {
		l.AddPolygons([]string{datasets.LabelRightLung, datasets.LabelLeftLung}[i%2], [][][2]float64{b})
	}
	l.AddPolygons(datasets.LabelOpacityAny, opacity)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := datasets.WriteLabelme(path, l); err != nil {
		t.Fatal(err)
	}
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tenByTen writes an annotation of a 10x10 image whose lungs are the whole
// image (100 px) and whose opacity is its first pct/10 columns: an opacity
// % of pct.
func tenByTen(t *testing.T, path string, pct int) {
	var op [][][2]float64
	if pct > 0 {
		op = [][][2]float64{box(0, 0, float64(pct/10), 10)}
	}
	writeAnnotation(t, path, 10, 10, [][][2]float64{box(0, 0, 5, 10), box(5, 0, 10, 10)}, op)
}

// severityData writes a data folder whose opacity % and outcomes are:
//
//	patient  study       opacity %  ICU  death
//	1        01-01-2020  10         0    1
//	1        01-02-2020  50         0    1
//	2        01-01-2020  20         0    0
//	3        01-01-2020  60         1    0
//	3        01-03-2020  30         1    0
//	4        01-01-2020  80         1    1
//	5        01-01-2020  40         (no clinical row)
//	6        01-01-2020  (no lungs: left out)
//
// and a cohen/ of four scored images (opacity % 10, 20, 30, 40; geographic
// extent 1, 3, 2, 4; opacity degree 4, 3, 2, 1) and one unscored; with a
// CSV of another score, 100 minus the opacity %.
func severityData(t *testing.T) string {
	dir := t.TempDir()
	ann := filepath.Join(dir, datasets.CohortCovidAR, "annotations")
	other := "file,other\n"
	for _, im := range []struct {
		file string
		pct  int
	}{
		{"COVID-19-AR-1_01-01-2020-XR", 10}, {"COVID-19-AR-1_01-02-2020-XR", 50}, {"COVID-19-AR-2_01-01-2020-XR", 20},
		{"COVID-19-AR-3_01-01-2020-XR", 60}, {"COVID-19-AR-3_01-03-2020-XR", 30}, {"COVID-19-AR-4_01-01-2020-XR", 80},
		{"COVID-19-AR-5_01-01-2020-XR", 40},
	} {
		tenByTen(t, filepath.Join(ann, im.file+".json"), im.pct)
		other += im.file + ".json," + strconv.Itoa(100-im.pct) + "\n"
	}
	writeAnnotation(t, filepath.Join(ann, "COVID-19-AR-6_01-01-2020-XR.json"), 10, 10, nil, [][][2]float64{box(0, 0, 2, 2)})
	writeText(t, filepath.Join(dir, datasets.CohortCovidAR, "patient_info.csv"),
		"PATIENT_ID,ICU Admit,MORTALITY\nCOVID-19-AR-1,0,1\nCOVID-19-AR-2,0,0\nCOVID-19-AR-3,1,0\nCOVID-19-AR-4,1,1\n")
	for i, pct := range []int{10, 20, 30, 40, 50} {
		tenByTen(t, filepath.Join(dir, datasets.CohortCohen, "annotations", "c"+strconv.Itoa(i+1)+".json"), pct)
	}
	writeText(t, filepath.Join(dir, datasets.CohortCohen, "covid-severity-scores.csv"),
		"filename,geographic_mean,opacity_mean\nc1.png,1,4\nc2.png,3,3\nc3.png,2,2\nc4.png,4,1\n")
	writeText(t, filepath.Join(dir, "other.csv"), other)
	return dir
}

func TestReadSeverity(t *testing.T) {
	dir := severityData(t)
	// AUCs by the Mann-Whitney definition: the share of (positive,
	// negative) pairs in which the positive scores higher (ties 1/2).
	// Per image, ICU: positives 60, 30, 80 against 10, 50, 20: 3+2+3 of 9;
	// mortality: positives 10, 50, 80 against 20, 60, 30: 0+2+3 of 9.
	// Per patient (1, 2, 3, 4), max 50, 20, 60, 80; first 10, 20, 60, 80;
	// mean 30, 20, 45, 80; ICU positives 3, 4, mortality positives 1, 4.
	for _, tc := range []struct {
		agg                  research.Aggregate
		level                string
		patientICU, patientM float64
	}{
		{"", "patient (max)", 1, 0.75},
		{research.AggregateMax, "patient (max)", 1, 0.75},
		{research.AggregateFirst, "patient (first)", 1, 0.5},
		{research.AggregateMean, "patient (mean)", 1, 0.75},
	} {
		t.Run(string(tc.agg), func(t *testing.T) {
			sv, err := ReadSeverity(dir, SeverityOptions{Aggregate: tc.agg, Bootstrap: research.BootstrapOptions{Resamples: 50, Seed: 1}})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"image ICU", sv.ROC.Image.ICU.AUC, 8.0 / 9},
				{"image mortality", sv.ROC.Image.Mortality.AUC, 5.0 / 9},
				{"patient ICU", sv.ROC.Patient.ICU.AUC, tc.patientICU},
				{"patient mortality", sv.ROC.Patient.Mortality.AUC, tc.patientM},
			} {
				if math.Abs(c.got-c.want) > 1e-12 {
					t.Errorf("%s: AUC %v, want %v", c.name, c.got, c.want)
				}
			}
			if n := sv.Counts(); n.Images != 7 || n.Patients != 5 || n.WithOutcome != 6 || strings.Join(n.NoRow, " ") != "COVID-19-AR-5" {
				t.Errorf("counts %+v, want 7 images of 5 patients, 6 with an outcome, no row: COVID-19-AR-5", n)
			}
			if len(sv.Problems) != 1 || !strings.HasPrefix(sv.Problems[0], "covid-ar/COVID-19-AR-6_01-01-2020-XR.json: ") {
				t.Errorf("problems %q, want the annotation without lungs", sv.Problems)
			}
			if sv.Cohen != nil || sv.Scores != nil || sv.Source != "manual" || sv.Synthetic {
				t.Errorf("cohen %v scores %v source %q synthetic %v", sv.Cohen, sv.Scores, sv.Source, sv.Synthetic)
			}
			// The table: table-figure3's columns but the score, in its order.
			tab := sv.ROCTable()
			if strings.Join(tab.Header, "|") != strings.Join(rocTable().header[1:], "|") || len(tab.Rows) != 4 {
				t.Fatalf("table %v", tab)
			}
			// Youden per image, ICU: J = 2/3 at cuts 60 (sens 2/3, spec 1)
			// and 30 (sens 1, spec 2/3); the highest cut is kept.
			want := []string{"image", OutcomeICU, "3", "3", "0.889"}
			if got := tab.Rows[0][:5]; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("row 0 %q, want %q", got, want)
			}
			if got := tab.Rows[0][7:]; strings.Join(got, "|") != "60.0|0.67|1.00" {
				t.Errorf("Youden of row 0 %q, want 60.0, 0.67, 1.00", got)
			}
			if got := tab.Rows[1][:4]; strings.Join(got, "|") != tc.level+"|"+OutcomeICU+"|2|2" {
				t.Errorf("row 1 %q, want %s, %s, 2, 2", got, tc.level, OutcomeICU)
			}
		})
	}
}

func TestReadSeverityCohenAndScores(t *testing.T) {
	dir := severityData(t)
	sv, err := ReadSeverity(dir, SeverityOptions{Bootstrap: research.BootstrapOptions{Resamples: 50, Seed: 1}, Cohen: true,
		ScoresCSV: filepath.Join(dir, "other.csv"), ScoreColumn: "other"})
	if err != nil {
		t.Fatal(err)
	}
	// Spearman: ranks 1 2 3 4 against 1 3 2 4: 1 - 6·2/(4·15) = 0.8;
	// against 4 3 2 1: -1.
	c := sv.Cohen
	if c == nil || c.N != 4 || math.Abs(c.SpearmanGeographic.Rho-0.8) > 1e-12 || math.Abs(c.SpearmanOpacity.Rho+1) > 1e-12 || strings.Join(c.Unscored, " ") != "c5" {
		t.Fatalf("cohen %+v, want n 4, rho 0.8 and -1, c5 unscored", c)
	}
	// The other score is 100 minus the opacity %: per image its AUCs are 1
	// minus the opacity %'s. Per patient (max) it is 90, 80, 70, 20 for
	// patients 1 to 4: ICU positives 70, 20 against 90, 80 (0 of 4),
	// mortality positives 90, 20 against 80, 70 (2 of 4).
	s := sv.Scores
	if s == nil || s.Images != 7 || s.Name != "other (other.csv)" {
		t.Fatalf("scores %+v", s)
	}
	for _, p := range []struct {
		name           string
		c              research.PairedComparison
		opacity, other float64
		n              int
	}{
		{"image ICU", s.ImageICU, 8.0 / 9, 1.0 / 9, 6}, {"image mortality", s.ImageMortality, 5.0 / 9, 4.0 / 9, 6},
		{"patient ICU", s.PatientICU, 1, 0, 4}, {"patient mortality", s.PatientMortality, 0.75, 0.5, 4},
	} {
		if math.Abs(p.c.Opacity.AUC-p.opacity) > 1e-12 || math.Abs(p.c.Other.AUC-p.other) > 1e-12 || p.c.Opacity.NPos+p.c.Opacity.NNeg != p.n {
			t.Errorf("%s: AUC %v and %v of %d, want %v and %v of %d", p.name, p.c.Opacity.AUC, p.c.Other.AUC, p.c.Opacity.NPos+p.c.Opacity.NNeg, p.opacity, p.other, p.n)
		}
	}
	tab := sv.ScoresTable()
	if len(tab.Rows) != 4 || tab.Header[5] != "AUC other" || strings.Join(tab.Rows[2][:3], "|") != "patient (max)|"+OutcomeICU+"|4" {
		t.Errorf("scores table %v", tab)
	}
	paths, err := sv.SaveFigures(t.TempDir(), "severity-")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := written(t, paths), "severity-roc.png severity-roc.svg severity-cohen-scatter.png severity-cohen-scatter.svg severity-scores-roc.png severity-scores-roc.svg"; got != want {
		t.Errorf("files %s, want %s", got, want)
	}
}

// written checks that the files exist and returns their base names,
// space-separated.
func written(t *testing.T, paths []string) string {
	t.Helper()
	var names []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
		names = append(names, filepath.Base(p))
	}
	return strings.Join(names, " ")
}

func TestReadSeverityErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		opt   SeverityOptions
		want  string
	}{
		{"no clinical table", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "covid-ar", "patient_info.csv")) }, SeverityOptions{}, "clinical table"},
		{"one class", func(t *testing.T, dir string) {
			writeText(t, filepath.Join(dir, "covid-ar", "patient_info.csv"), "PATIENT_ID,ICU Admit,MORTALITY\nCOVID-19-AR-1,0,1\nCOVID-19-AR-2,0,0\n")
		}, SeverityOptions{}, "ICU admission, per image"},
		{"unknown aggregate", nil, SeverityOptions{Aggregate: "median"}, "median"},
		{"no Cohen scores", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "cohen", "covid-severity-scores.csv")) }, SeverityOptions{Cohen: true}, "Cohen's severity scores"},
		{"no scores file", nil, SeverityOptions{ScoresCSV: "/nonexistent/s.csv", ScoreColumn: "s"}, "scores"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := severityData(t)
			if tc.spoil != nil {
				tc.spoil(t, dir)
			}
			tc.opt.Bootstrap = research.BootstrapOptions{Resamples: 20, Seed: 1}
			if _, err := ReadSeverity(dir, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestCountSeverity(t *testing.T) {
	one := 1
	for _, tc := range []struct {
		name   string
		images []research.SeverityImage
		want   SeverityCounts
	}{
		{"none", nil, SeverityCounts{}},
		{"two images of one patient", []research.SeverityImage{{Patient: "a", ICU: &one}, {Patient: "a", ICU: &one}}, SeverityCounts{Images: 2, Patients: 1, WithOutcome: 2}},
		{"patients without a row", []research.SeverityImage{{Patient: "c"}, {Patient: "a", ICU: &one}, {Patient: "b"}, {Patient: "c"}},
			SeverityCounts{Images: 4, Patients: 3, WithOutcome: 1, NoRow: []string{"b", "c"}}},
	} {
		got := countSeverity(tc.images)
		if got.Images != tc.want.Images || got.Patients != tc.want.Patients || got.WithOutcome != tc.want.WithOutcome || strings.Join(got.NoRow, " ") != strings.Join(tc.want.NoRow, " ") {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestROCRow(t *testing.T) {
	m := research.ROCSummary{AUC: 0.75, NPos: 3, NNeg: 5, CI95DeLong: [2]float64{0.5, 1}, CI95Bootstrap: [2]float64{math.NaN(), 1},
		Youden: research.Youden{Threshold: 33.333, Sensitivity: 2.0 / 3, Specificity: 0.8}}
	for _, tc := range []struct {
		name string
		agg  research.Aggregate
		rr   research.SeverityAnalysis
		want string
	}{
		{"per image", research.AggregateMax, research.SeverityAnalysis{Level: research.LevelImage, Outcome: OutcomeICU, Summary: m},
			"image|ICU admission|3|5|0.750|0.500–1.000|—|33.3|0.67|0.80"},
		{"per patient, first study", research.AggregateFirst, research.SeverityAnalysis{Level: research.LevelPatient, Outcome: OutcomeMortality, Summary: m},
			"patient (first)|Mortality|3|5|0.750|0.500–1.000|—|33.3|0.67|0.80"},
		{"not computable", research.AggregateMean, research.SeverityAnalysis{Level: research.LevelPatient, Outcome: OutcomeICU, Err: errString("one class")},
			"patient (mean)|ICU admission|||not computable: one class|||||"},
	} {
		got := rocRow(tc.agg, tc.rr)
		if len(got) != len(rocHeader) || strings.Join(got, "|") != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, strings.Join(got, "|"), tc.want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestIntervalOutOfFold checks the pipeline's interval check against values
// worked out by hand: ten patients, eight predicted exactly with a spread
// of 1, two off by 10 and 20 points with spreads of 10 and 20. Scaled by
// the spread, each image's factor (the 9th smallest of the other nine
// normalised errors, ceil(10 × 0.9) = 9) is 1: every image is covered,
// widths 2 (eight), 20 and 40, median 2. At a constant width the factor is
// 20 except for the image off by 20, whose factor is 10: nine of ten
// covered, every width 40.
func TestIntervalOutOfFold(t *testing.T) {
	var oof []experiment.OOFImage
	for i := range 10 {
		e, sd := 0.0, 1.0
		switch i {
		case 8:
			e, sd = 10, 10
		case 9:
			e, sd = 20, 20
		}
		oof = append(oof, experiment.OOFImage{Image: fmt.Sprint(i), Patient: fmt.Sprint("p", i), Values: map[string]float64{
			analysis.ValueOpacityPctAuto: 30, analysis.ValueOpacityPctManual: 30 + e, analysis.ValueOpacityPctSD: sd}})
	}
	r := newResult("interval")
	intervalOutOfFold(r, oof)
	for key, want := range map[string]float64{
		"validation_interval_coverage": 1, "validation_interval_median_width": 2,
		"validation_interval_constant_coverage": 0.9, "validation_interval_constant_median_width": 40,
	} {
		if got, ok := r.Numbers[key]; !ok || math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v (%v), want %v", key, got, ok, want)
		}
	}
}
