package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/analysis"
)

// TestModelsAnalyze trains tiny models with opacity models and analyses a
// good image, an unreadable one and a missing one with opacity analyze.
func TestModelsAnalyze(t *testing.T) {
	tmp := t.TempDir()
	data := tinyPhantom(t, "6", "2")
	models := filepath.Join(tmp, "models")
	out, _ := runOK(t, "models", "--data", data, "--runs", filepath.Join(tmp, "runs"), "--out", models, "--preset", "tiny", "--epochs", "1", "--backend", "go")
	for _, w := range []string{"models folder " + models, "lungs:", "opacity:", "no severity maps"} {
		if !strings.Contains(out, w) {
			t.Errorf("models output lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Stat(filepath.Join(models, analysis.ModelsFile)); err != nil {
		t.Fatal(err)
	}
	// The default: every image of every cohort trains, none tests.
	m, err := analysis.OpenModels(models, "go")
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Record.Lungs.Settings; s.Cohort != "all" || s.TestFraction != 0 {
		t.Errorf("lung model settings: cohort %q test fraction %v; want all, 0", s.Cohort, s.TestFraction)
	}

	images, _ := filepath.Glob(filepath.Join(data, "cohen", "images", "*"))
	if len(images) == 0 {
		t.Fatal("no cohen/ image in the phantom")
	}
	bad := filepath.Join(tmp, "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	res := filepath.Join(tmp, "res")
	var o, e bytes.Buffer
	code := run([]string{"analyze", "--models", models, "--out", res, "--backend", "go", images[0], bad}, &o, &e)
	if code != 1 || !strings.Contains(e.String(), "bad.png") || !strings.Contains(o.String(), "1 analysed, 1 failed") {
		t.Errorf("analyze with a bad file: exit %d, stdout %q, stderr %q; want 1, the bad file named, the good one analysed", code, o.String(), e.String())
	}
	f, err := os.Open(filepath.Join(res, analysis.ReportCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][1] != "ok" || rows[2][1] != "error" {
		t.Errorf("report.csv: %v, %v", rows, err)
	}
	stem := strings.TrimSuffix(filepath.Base(images[0]), filepath.Ext(images[0]))
	for _, suffix := range []string{".png", "_lungs.png", "_opacity.png", "_overlay.png", ".json"} {
		if _, err := os.Stat(filepath.Join(res, stem+suffix)); err != nil {
			t.Error(err)
		}
	}
	// A missing argument, a missing models folder: errors naming them.
	if code := run([]string{"analyze", "--models", models, "--out", res, filepath.Join(tmp, "nope.png")}, &o, &e); code != 1 || !strings.Contains(e.String(), "nope.png") {
		t.Errorf("missing file: exit %d, %s", code, e.String())
	}
	e.Reset()
	if code := run([]string{"analyze", "--models", filepath.Join(tmp, "none"), images[0]}, &o, &e); code != 1 || !strings.Contains(e.String(), "not a models folder") {
		t.Errorf("missing models: exit %d, %s", code, e.String())
	}
	// A damaged folder is refused, naming the file.
	os.WriteFile(filepath.Join(models, analysis.LungsDir, "extra.txt"), []byte("x"), 0o644)
	e.Reset()
	if code := run([]string{"analyze", "--models", models, "--out", res, images[0]}, &o, &e); code != 1 || !strings.Contains(e.String(), "extra: "+analysis.LungsDir+"/extra.txt") {
		t.Errorf("damaged models: exit %d, %s", code, e.String())
	}
	os.Remove(filepath.Join(models, analysis.LungsDir, "extra.txt"))
	// models validate needs the real data: on the phantom it says why.
	out, _ = runOK(t, "models", "validate", "--models", models, "--data", data, "--figures", filepath.Join(tmp, "fig"))
	if !strings.Contains(out, "synthetic") {
		t.Errorf("models validate on a phantom: %q; want it skipped as synthetic", out)
	}
}
