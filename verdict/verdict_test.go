package verdict

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWithin(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name               string
		expected, got, tol float64
		want               bool
	}{
		{"exact equal", 71, 71, Exact, true},
		{"exact off by one", 71, 72, Exact, false},
		{"exact off by rounding", 0.30000000000000004, 0.3, Exact, false},
		{"within tolerance", 0.4801, 0.4999, 0.05, true},
		{"on the tolerance", 0.5, 0.55, 0.0500000001, true},
		{"outside tolerance", 0.4801, 0.5302, 0.05, false},
		{"below, outside", 0.4801, 0.43, 0.05, false},
		{"both undefined", nan, nan, Exact, true},
		{"undefined became defined", nan, 0.5, 0.05, false},
		{"defined became undefined", 0.5, nan, 0.05, false},
		{"computed, last bits", 0.8496, 0.8496 + 1e-15, Computed, true},
		{"computed, changed", 0.8496, 0.8497, Computed, false},
	} {
		if got := Within(c.expected, c.got, c.tol); got != c.want {
			t.Errorf("%s: Within(%v, %v, %v) = %v, want %v", c.name, c.expected, c.got, c.tol, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	exp := []Expected{
		{Item: "a.count", Value: 3, Tolerance: Exact, Reason: "count"},
		{Item: "a.iou", Value: 0.5, Tolerance: 0.05, Reason: "trained"},
		{Item: "a.gone", Value: 1, Tolerance: Exact, Reason: "count"},
		{Item: "a.undef", Value: math.NaN(), Tolerance: 0.05, Reason: "trained"},
	}
	for _, c := range []struct {
		name string
		got  map[string]float64
		want map[string]Status
		ok   bool
	}{
		{"all as expected", map[string]float64{"a.count": 3, "a.iou": 0.52, "a.gone": 1, "a.undef": math.NaN()},
			map[string]Status{"a.count": Pass, "a.iou": Pass, "a.gone": Pass, "a.undef": Pass}, true},
		{"a count changed", map[string]float64{"a.count": 4, "a.iou": 0.5, "a.gone": 1, "a.undef": math.NaN()},
			map[string]Status{"a.count": Diff, "a.iou": Pass, "a.gone": Pass, "a.undef": Pass}, false},
		{"an IoU moved too far", map[string]float64{"a.count": 3, "a.iou": 0.56, "a.gone": 1, "a.undef": math.NaN()},
			map[string]Status{"a.count": Pass, "a.iou": Diff, "a.gone": Pass, "a.undef": Pass}, false},
		{"missing and new", map[string]float64{"a.count": 3, "a.iou": 0.5, "a.undef": math.NaN(), "b.extra": 7},
			map[string]Status{"a.count": Pass, "a.iou": Pass, "a.gone": Missing, "a.undef": Pass, "b.extra": New}, false},
		{"undefined became a number", map[string]float64{"a.count": 3, "a.iou": 0.5, "a.gone": 1, "a.undef": 0.2},
			map[string]Status{"a.count": Pass, "a.iou": Pass, "a.gone": Pass, "a.undef": Diff}, false},
	} {
		v := Check(exp, c.got)
		if v.OK() != c.ok {
			t.Errorf("%s: OK() = %v, want %v\n%s", c.name, v.OK(), c.ok, v.Table())
		}
		if len(v.Rows) != len(c.want) {
			t.Errorf("%s: %d rows, want %d", c.name, len(v.Rows), len(c.want))
		}
		for _, r := range v.Rows {
			if r.Status != c.want[r.Item] {
				t.Errorf("%s: %s is %s, want %s", c.name, r.Item, r.Status, c.want[r.Item])
			}
		}
		if tab := v.Table(); !strings.Contains(tab, "item") || !strings.Contains(tab, "verdict: ") {
			t.Errorf("%s: table without header or verdict line:\n%s", c.name, tab)
		}
	}
}

// TestFixturePass reads the fixture run and its expected file: every item
// passes.
func TestFixturePass(t *testing.T) {
	run, err := ReadRun("testdata/numbers.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Config.String() != "data=synthetic size=tiny overrides=none" {
		t.Errorf("config %s", run.Config)
	}
	f, err := ReadFile("testdata/expected.csv")
	if err != nil {
		t.Fatal(err)
	}
	if why := f.Config.Match(run.Config); why != "" {
		t.Fatalf("fixture does not match: %s", why)
	}
	v := Check(f.Items, run.Values)
	if !v.OK() || len(v.Rows) != 11 {
		t.Fatalf("want 11 items, all PASS:\n%s", v.Table())
	}
	if !strings.Contains(v.Summary(), "PASS") {
		t.Errorf("summary %q", v.Summary())
	}
}

// TestAlteredExpectedValueIsDiff alters one expected value of the fixture,
// as a silent change of a number would look, and sees the DIFF.
func TestAlteredExpectedValueIsDiff(t *testing.T) {
	b, err := os.ReadFile("testdata/expected.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, item string }{
		{"cohorts.train_images,29,", "cohorts.train_images,30,", "cohorts.train_images"},
		{"figure3.auc_manual_image_icu,0.8496,", "figure3.auc_manual_image_icu,0.8497,", "figure3.auc_manual_image_icu"},
		{"tables.iou_a_test,0.12345678901234566,", "tables.iou_a_test,0.2,", "tables.iou_a_test"},
		{"tables.iou_c_validation,null,", "tables.iou_c_validation,0.3,", "tables.iou_c_validation"},
	} {
		altered := strings.Replace(string(b), c.from, c.to, 1)
		if altered == string(b) {
			t.Fatalf("fixture has no %q", c.from)
		}
		f, err := Read(strings.NewReader(altered))
		if err != nil {
			t.Fatal(err)
		}
		run, err := ReadRun("testdata/numbers.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		v := Check(f.Items, run.Values)
		if v.OK() || v.Count(Diff) != 1 {
			t.Errorf("%s altered: want exactly one DIFF:\n%s", c.item, v.Table())
			continue
		}
		for _, r := range v.Rows {
			if (r.Status == Diff) != (r.Item == c.item) {
				t.Errorf("%s altered: %s is %s", c.item, r.Item, r.Status)
			}
		}
		if tab := v.Table(); !strings.Contains(tab, "DIFF") || !strings.Contains(v.Summary(), c.item+" DIFF") {
			t.Errorf("%s altered: the table does not show the DIFF:\n%s", c.item, tab)
		}
	}
}

func TestReadRejects(t *testing.T) {
	head := "# settings: data=synthetic size=tiny overrides=none\nitem,value,tolerance,reason\n"
	for name, text := range map[string]string{
		"no settings":        "item,value,tolerance,reason\na,1,exact,count\n",
		"bad header":         "# settings: data=synthetic size=tiny overrides=none\nitem,value,tol,why\n",
		"no reason":          head + "a,1,exact,\n",
		"bad tolerance":      head + "a,1,about,count\n",
		"negative tolerance": head + "a,1,-1,count\n",
		"NaN value":          head + "a,NaN,exact,count\n",
		"repeated item":      head + "a,1,exact,count\na,2,exact,count\n",
		"bad settings":       "# settings: data=synthetic\nitem,value,tolerance,reason\n",
	} {
		if _, err := Read(strings.NewReader(text)); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

func TestConfigMatch(t *testing.T) {
	base := Config{Data: "synthetic", Size: "smoke"}
	for _, c := range []struct {
		name string
		run  Config
		ok   bool
	}{
		{"same", Config{Data: "synthetic", Size: "smoke"}, true},
		{"other size", Config{Data: "synthetic", Size: "full"}, false},
		{"real data", Config{Data: "real:0123456789ab", Size: "smoke"}, false},
		{"an override", Config{Data: "synthetic", Size: "smoke", Overrides: []string{"OPACITY_EPOCHS=20"}}, false},
	} {
		why := base.Match(c.run)
		if (why == "") != c.ok {
			t.Errorf("%s: Match = %q", c.name, why)
		}
	}
	got := []string{"OPACITY_ENCODER=resnet34", "OPACITY_EPOCHS=20"}
	c, err := ParseConfig(Config{Data: "real:abc", Size: "tiny", Overrides: got}.String())
	if err != nil || c.Match(Config{Data: "real:abc", Size: "tiny", Overrides: got}) != "" {
		t.Errorf("round trip: %v %v", c, err)
	}
}

func TestUpdateRoundTrip(t *testing.T) {
	run, err := ReadRun("testdata/numbers.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := ReadFile("testdata/expected.csv")
	if err != nil {
		t.Fatal(err)
	}
	// An old file's tolerance and reason stay; a new item takes a rule.
	old.Items = old.Items[1:] // forget cohorts.covid_ar_images
	f, err := Update(old, run, DefaultRules, []string{"a test"})
	if err != nil {
		t.Fatal(err)
	}
	byItem := map[string]Expected{}
	for _, e := range f.Items {
		byItem[e.Item] = e
	}
	if e := byItem["cohorts.covid_ar_images"]; e.Tolerance != Exact || e.Reason != whyCount {
		t.Errorf("new item took %+v, want the count rule", e)
	}
	if e := byItem["tables.iou_a_test"]; e.Tolerance != 0.05 || e.Reason != "from the trained model, a few hundredths" {
		t.Errorf("old item's tolerance not kept: %+v", e)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&buf)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if v := Check(back.Items, run.Values); !v.OK() {
		t.Errorf("the written file does not pass its own run:\n%s", v.Table())
	}
	if _, err := Update(nil, run, []Rule{{"cohorts.*", Exact, "count"}}, nil); err == nil {
		t.Error("Update without a rule for every item: no error")
	}
}

func TestDefaultRules(t *testing.T) {
	for item, want := range map[string]float64{
		"file:figure1.png":                                          Exact,
		"cohorts.train_images":                                      Exact,
		"tables.n_truth_empty":                                      Exact,
		"agreement.agreement_pairs":                                 Exact,
		"external.external_images":                                  Exact,
		"figure3.auc_manual_image_icu":                              Computed,
		"cohen_scores.spearman_cohen_manual_opacity":                Computed,
		"tables.iou_a_test":                                         TrainedUnit,
		"figure3.spearman_manual_predicted_pct":                     TrainedUnit,
		"figure3.auc_manual_same_image_icu":                         Computed,
		"validation.validation_severity_mae_opacity_manual":         Computed,
		"validation.validation_severity_spearman_geographic_manual": Computed,
		"figure3.auc_predicted_patient_mortality":                   TrainedUnit,
		"validation.validation_severity_mae_opacity_automatic":      TrainedScore,
		"external.external_pct_bias":                                TrainedPoints,
	} {
		r, ok := match(DefaultRules, item)
		if !ok || r.Tolerance != want {
			t.Errorf("%s: rule %+v, want tolerance %v", item, r, want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "x.json"), []byte("{}"), 0o644)
	f1, err := Fingerprint(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a", "y.json"), []byte("{}"), 0o644)
	f2, _ := Fingerprint(dir)
	if len(f1) != 12 || f1 == f2 {
		t.Errorf("fingerprints %q, %q: want 12 hex digits that change with the files", f1, f2)
	}
}
