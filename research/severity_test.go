package research

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
)

func ip(v int) *int { return &v }

// severityCase: patient A has two studies, listed latest first.
var severityCase = []SeverityImage{
	{File: "COVID-19-AR-A_01-05-2012-XR.json", Patient: "A", OpacityPct: 30, ICU: ip(1), Mortality: ip(0)},
	{File: "COVID-19-AR-A_01-02-2012-XR.json", Patient: "A", OpacityPct: 10, ICU: ip(1), Mortality: ip(0)},
	{File: "COVID-19-AR-B_01-01-2012-XR.json", Patient: "B", OpacityPct: 20, ICU: ip(0), Mortality: ip(0)},
	{File: "COVID-19-AR-C_01-01-2012-XR.json", Patient: "C", OpacityPct: 5, ICU: ip(0), Mortality: ip(0)},
	{File: "COVID-19-AR-C_01-03-2012-XR.json", Patient: "C", OpacityPct: 25, ICU: ip(0), Mortality: ip(0)},
	{File: "COVID-19-AR-D_01-01-2012-XR.json", Patient: "D", OpacityPct: 40, ICU: ip(1), Mortality: ip(1)},
	{File: "COVID-19-AR-E_02-01-2012-XR.json", Patient: "E", OpacityPct: 50}, // no clinical row
	{File: "COVID-19-AR-F_01-01-2012-XR.json", Patient: "F", OpacityPct: 15, ICU: ip(0), Mortality: ip(1)},
}

func TestAnalyzeSeverityByHand(t *testing.T) {
	opt := BootstrapOptions{Resamples: 200, Seed: 1}
	r, err := AnalyzeSeverity(severityCase, SeverityOptions{Aggregate: AggregateMax, Bootstrap: opt})
	if err != nil {
		t.Fatal(err)
	}
	// ICU per image (E left out): positives A 10, 30, D 40; negatives B 20,
	// C 5, 25, F 15. 10 beats 5 (1), 30 and 40 beat all 4 -> U = 9, AUC 9/12.
	if g := r.Image.ICU; g.NPos != 3 || g.NNeg != 4 || !near(g.AUC, 0.75, 1e-12) {
		t.Errorf("ICU per image: n %d/%d AUC %v, want 3/4, 0.75", g.NPos, g.NNeg, g.AUC)
	}
	// Mortality per image: positives D 40, F 15; negatives A 10, 30, B 20,
	// C 5, 25. 40 beats 5, 15 beats 10 and 5 -> 7/10.
	if g := r.Image.Mortality; g.NPos != 2 || g.NNeg != 5 || !near(g.AUC, 0.7, 1e-12) {
		t.Errorf("mortality per image: n %d/%d AUC %v, want 2/5, 0.7", g.NPos, g.NNeg, g.AUC)
	}
	// ICU per patient, max: A 30, D 40 vs B 20, C 25, F 15 -> 1.
	if g := r.Patient.ICU; g.NPos != 2 || g.NNeg != 3 || g.AUC != 1 || r.Patient.Aggregate != "max" {
		t.Errorf("ICU per patient (max): %+v", g)
	}
	// first = earliest study: A 10 (01-02), C 5 (01-01):
	// 10 vs 20, 5, 15 -> 1; 40 -> 3; AUC 4/6.
	r, err = AnalyzeSeverity(severityCase, SeverityOptions{Aggregate: AggregateFirst, Bootstrap: opt})
	if err != nil {
		t.Fatal(err)
	}
	if g := r.Patient.ICU; !near(g.AUC, 4.0/6, 1e-12) {
		t.Errorf("ICU per patient (first): AUC %v, want 4/6", g.AUC)
	}
	// mean: A 20, C 15: 20 vs 20 (1/2), 15, 15 -> 2.5; 40 -> 3; AUC 5.5/6.
	r, err = AnalyzeSeverity(severityCase, SeverityOptions{Aggregate: AggregateMean, Bootstrap: opt})
	if err != nil {
		t.Fatal(err)
	}
	if g := r.Patient.ICU; !near(g.AUC, 5.5/6, 1e-12) {
		t.Errorf("ICU per patient (mean): AUC %v, want 5.5/6", g.AUC)
	}
	// JSON keys as in the command's schema.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"image":{"icu":{"auc":`, `"ci95_delong":[`, `"ci95_bootstrap":[`, `"n_pos":`, `"n_neg":`, `"youden":{"threshold":`, `"sensitivity":`, `"specificity":`, `"patient":{"aggregate":"mean","icu":`, `"mortality":`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
	if _, err := AnalyzeSeverity(severityCase, SeverityOptions{Aggregate: "median", Bootstrap: opt}); err == nil {
		t.Error("aggregate median: no error")
	}
}

func TestAnalyzeSeverityKeepGoing(t *testing.T) {
	// Nobody died: mortality has one class, ICU is fine. A NaN percentage
	// is left out (its ICU label would otherwise make 4 positives).
	images := []SeverityImage{
		NewSeverityImage("COVID-19-AR-A_01-01-2012-XR.json", "A", 30, map[string]datasets.Outcome{"A": {ICU: 1}}),
		NewSeverityImage("COVID-19-AR-B_01-01-2012-XR.json", "B", 10, map[string]datasets.Outcome{"B": {ICU: 0}}),
		NewSeverityImage("COVID-19-AR-C_01-01-2012-XR.json", "C", 20, map[string]datasets.Outcome{"C": {ICU: 1}}),
		NewSeverityImage("COVID-19-AR-D_01-01-2012-XR.json", "D", 5, map[string]datasets.Outcome{"D": {ICU: 0}}),
		NewSeverityImage("COVID-19-AR-E_01-01-2012-XR.json", "E", math.NaN(), map[string]datasets.Outcome{"E": {ICU: 1}}),
		NewSeverityImage("COVID-19-AR-F_01-01-2012-XR.json", "F", 50, nil),
	}
	if images[5].ICU != nil || images[0].ICU == nil || *images[0].ICU != 1 || *images[0].Mortality != 0 {
		t.Fatalf("NewSeverityImage: %+v %+v", images[0], images[5])
	}
	opt := SeverityOptions{Bootstrap: BootstrapOptions{Resamples: 50, Seed: 1}}
	if _, err := AnalyzeSeverity(images, opt); err == nil || !strings.Contains(err.Error(), "Mortality, per image") {
		t.Fatalf("without KeepGoing: err %v, want the mortality failure", err)
	}
	opt.KeepGoing = true
	r, err := AnalyzeSeverity(images, opt)
	if err != nil {
		t.Fatal(err)
	}
	// ICU: positives 30, 20 beat negatives 10, 5: AUC 1, 2 + 2 cases.
	if r.Image.ICU.AUC != 1 || r.Image.ICU.NPos != 2 || r.Image.ICU.NNeg != 2 {
		t.Errorf("ICU per image %+v", r.Image.ICU)
	}
	as := r.Analyses()
	if len(as) != 4 || as[0].Err != nil || as[1].Err != nil || as[2].Err == nil || as[3].Err == nil ||
		as[2].Level != LevelImage || as[3].Level != LevelPatient || as[2].Outcome != OutcomeMortality || len(r.Failed) != 2 {
		t.Errorf("analyses %+v, failed %+v", as, r.Failed)
	}
}

func TestStudyDate(t *testing.T) {
	d, ok := StudyDate("COVID-19-AR-16406488_01-08-2012-XR.json")
	if !ok || d.Format("2006-01-02") != "2012-01-08" {
		t.Errorf("got %v %v, want 2012-01-08", d, ok)
	}
	if _, ok := StudyDate("lancet-case2b.json"); ok {
		t.Error("a date in a name without one")
	}
}

func TestAggregateByPatientMixedOutcome(t *testing.T) {
	if _, err := AggregateByPatient([]string{"a", "a"}, []float64{1, 2}, []bool{true, false}, AggregateMax); err == nil {
		t.Error("patient with two outcomes: no error")
	}
}

func TestCompareCohenScores(t *testing.T) {
	pct := map[string]float64{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "x": 9}
	scores := map[string]datasets.SeverityScore{
		"a": {GeographicMean: 2, OpacityMean: 1}, "b": {GeographicMean: 1, OpacityMean: 2},
		"c": {GeographicMean: 4, OpacityMean: 3}, "d": {GeographicMean: 3, OpacityMean: 4},
		"e": {GeographicMean: 5, OpacityMean: 5}, "y": {GeographicMean: 0, OpacityMean: 0},
	}
	c, err := CompareCohenScores(pct, scores)
	if err != nil {
		t.Fatal(err)
	}
	// Geographic ranks 2 1 4 3 5 against 1..5: rho 0.8 (see TestSpearmanByHand);
	// opacity in the same order: rho 1.
	if c.N != 5 || !near(c.SpearmanGeographic.Rho, 0.8, 1e-12) || c.SpearmanOpacity.Rho != 1 || len(c.Unscored) != 1 || c.Unscored[0] != "x" {
		t.Errorf("got %+v", c)
	}
}

func TestParseScoreCSV(t *testing.T) {
	in := "# model output\nFilename,score,other\nimages/a.jpg,0.5,x\nb.json,1.5,y\n"
	m, err := ParseScoreCSV(strings.NewReader(in), "Score")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["a"] != 0.5 || m["b"] != 1.5 {
		t.Errorf("got %v", m)
	}
	for _, bad := range []string{
		"",
		"name,score\na,1\n",
		"file,value\na,1\n",
		"file,score\na,abc\n",
		"file,score\na,NaN\n",
		"file,score\na,1\na.jpg,2\n",
		"file,score\n,1\n",
		"file,score\na\n",
	} {
		if _, err := ParseScoreCSV(strings.NewReader(bad), "score"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseScoreCSV(f *testing.F) {
	f.Add("file,score\na.jpg,0.5\nb.png,1e3\n")
	f.Add("# c\nimage,score\n\"x,y\",2\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseScoreCSV(strings.NewReader(s), "score")
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted %q = %v", k, v)
			}
		}
	})
}

func TestCompareScores(t *testing.T) {
	// The other score is the opacity % reversed on every image but E's.
	other := map[string]float64{}
	for _, im := range severityCase {
		if im.Patient != "E" {
			other[FileStem(im.File)] = -im.OpacityPct
		}
	}
	c, err := CompareScores(severityCase, "reversed", other, AggregateMax, BootstrapOptions{Resamples: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Per image ICU: opacity AUC 0.75, reversed 1 - 0.75 = 0.25.
	if c.Images != 7 || len(c.Missing) != 1 || !near(c.ImageICU.Opacity.AUC, 0.75, 1e-12) || !near(c.ImageICU.Other.AUC, 0.25, 1e-12) || !near(c.ImageICU.Paired.Diff, 0.5, 1e-12) {
		t.Errorf("got images %d missing %v, AUCs %v %v", c.Images, c.Missing, c.ImageICU.Opacity.AUC, c.ImageICU.Other.AUC)
	}
	if _, err := json.Marshal(c); err != nil {
		t.Error(err)
	}
}
