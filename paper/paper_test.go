package paper

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/phantom"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla/unet"
)

// tinyStudy generates the tiny synthetic cohort into a temporary cache and
// loads it, writing figures into a temporary folder.
func tinyStudy(t *testing.T) (*experiment.Study, *phantom.Summary) {
	t.Helper()
	return tinyStudyEnv(t, t.TempDir(), nil)
}

// tinyStudyEnv is tinyStudy with the cache and figures in tmp and the
// settings changed by edit (nil: none).
func tinyStudyEnv(t *testing.T, tmp string, edit func(*experiment.Settings)) (*experiment.Study, *phantom.Summary) {
	t.Helper()
	s, err := experiment.Preset(experiment.PresetTiny)
	if err != nil {
		t.Fatal(err)
	}
	s = s.WithRepo(repoRoot(t))
	s.Cache, s.Runs, s.Figures = filepath.Join(tmp, "cache"), filepath.Join(tmp, "cache", "runs"), filepath.Join(tmp, "figures")
	if edit != nil {
		edit(&s)
	}
	if _, err := s.EnsureData(); err != nil {
		t.Fatal(err)
	}
	if again, err := s.EnsureData(); err != nil || again {
		t.Fatalf("EnsureData a second time: generated %v, err %v; want the cached cohort reused", again, err)
	}
	// The same cohort written again, for its summary (same options, same bytes).
	opt := s.Phantom
	opt.Seed = s.Seed
	sum, err := phantom.Write(t.TempDir(), opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := experiment.LoadStudy(s)
	if err != nil {
		t.Fatal(err)
	}
	return st, sum
}

func repoRoot(t *testing.T) string {
	t.Helper()
	r, err := experiment.FindRepo()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkFiles checks that every file of r exists, PNGs decode, and tables
// say they are synthetic.
func checkFiles(t *testing.T, r *Result, want ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, f := range r.Files {
		have[filepath.Base(f)] = true
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		switch filepath.Ext(f) {
		case ".png":
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		case ".csv":
			if !bytes.HasPrefix(b, []byte("data,")) || !bytes.Contains(b, []byte("\nSYNTHETIC,")) {
				t.Errorf("%s does not mark its rows SYNTHETIC:\n%s", f, b)
			}
		case ".md":
			if !bytes.Contains(b, []byte("SYNTHETIC")) {
				t.Errorf("%s does not say SYNTHETIC", f)
			}
		}
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("%s not written (files: %v)", w, r.Files)
		}
	}
}

func TestCohortTablesAndFigure1(t *testing.T) {
	st, sum := tinyStudy(t)
	if st.TrainCohort != datasets.CohortCovidAR {
		t.Fatalf("TrainCohort = %q, want covid-ar (the phantom embeds its images)", st.TrainCohort)
	}
	r, err := CohortTables(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "table-cohorts.md", "table-cohorts.csv", "table-split.md", "table-split.csv")
	// Counts against the generator's own summary.
	if got, want := r.Numbers["covid_ar_images"], float64(len(sum.Images)); got != want {
		t.Errorf("covid-ar images = %v, want %v", got, want)
	}
	if got, want := r.Numbers["covid_ar_patients"], float64(len(sum.Patients)); got != want {
		t.Errorf("patients = %v, want %v", got, want)
	}
	if got, want := r.Numbers["covid_ar_clear"], float64(sum.ClearImages()); got != want {
		t.Errorf("clear = %v, want %v", got, want)
	}
	train, test := r.Numbers["train_images"], r.Numbers["test_images"]
	if train+test != float64(len(sum.Images)) || test < 0.2*float64(len(sum.Images)) || test > 0.4*float64(len(sum.Images)) {
		t.Errorf("split %v/%v of %d images, want about 7:3", train, test, len(sum.Images))
	}
	if got := r.Numbers["validation_images"]; got != float64(len(sum.Cohen)) {
		t.Errorf("validation = %v, want %d", got, len(sum.Cohen))
	}
	// No patient on both sides.
	side := map[string]string{}
	for _, it := range st.Items {
		if it.Subset == experiment.SubsetValidation {
			continue
		}
		if s, ok := side[it.Patient]; ok && s != it.Subset {
			t.Errorf("patient %s on both sides", it.Patient)
		}
		side[it.Patient] = it.Subset
	}

	r, err = Figure1(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "figure1.png", "figure1.svg")
	if len(r.Figures) != 1 || len(r.Skipped) != 0 {
		t.Errorf("Figure1: figures %v, skipped %v", r.Figures, r.Skipped)
	}
}

func TestFigure3ManualAgainstPhantomSummary(t *testing.T) {
	st, sum := tinyStudy(t)
	r, err := Figure3(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "figure3a.png", "figure3a.svg", "table-figure3.md", "table-figure3.csv")
	// Per patient: the generator's max opacity % per patient against its ICU
	// draw, AUC by its definition (Mann-Whitney).
	var scores []float64
	var icu []bool
	for _, p := range sum.Patients {
		scores = append(scores, p.MaxOpacityPercent)
		icu = append(icu, p.ICU)
	}
	want, err := research.AUC(scores, icu)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Numbers["auc_manual_patient_icu"]; math.Abs(got-want) > 1e-9 {
		t.Errorf("per-patient ICU AUC = %v, want %v from the phantom's summary", got, want)
	}
	// Without predictions, 3b is skipped with a reason.
	if len(r.Skipped) != 1 || !strings.Contains(r.Skipped[0], "predictions") {
		t.Errorf("Skipped = %q, want Figure 3b skipped for want of predictions", r.Skipped)
	}
}

// setPredictions gives every item a prediction made by f from its manual
// opacity mask.
func setPredictions(st *experiment.Study, f func(it *experiment.Item, i int, truth uint8) float32) {
	for _, it := range st.Items {
		truth := it.Input.Pix(datasets.TargetOpacity)
		p := make([]float32, len(truth))
		for i, v := range truth {
			p[i] = f(it, i, v)
		}
		it.Prob = map[string][]float32{datasets.TargetOpacity: p}
	}
}

func TestSegmentationTablesPerfectAndEmpty(t *testing.T) {
	st, _ := tinyStudy(t)
	setPredictions(st, func(_ *experiment.Item, _ int, v uint8) float32 { return float32(v) })
	r, err := SegmentationTables(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "table-3.1.csv", "table-4.1-iou.md", "table-4.1-f1.csv", "table-4.1-detection.csv", "table-4.1-adjusted.md")
	// A perfect binary prediction: (ΣI+s)/(Σy+Σp−ΣI+s) = (n+s)/(n+s) = 1 and
	// every per-image IoU is 1 (empty/empty counts 1 under (c)).
	for _, k := range []string{"iou_a_train", "iou_a_test", "iou_a_validation", "iou_c_all", "adjusted_paper_formula", "adjusted_empty_by_prediction"} {
		if got := r.Numbers[k]; math.Abs(got-1) > 1e-12 {
			t.Errorf("%s = %v with perfect predictions, want 1", k, got)
		}
	}

	// Predicting nothing: under (c) an image scores 1 iff its truth is
	// empty, so the mean is clear/all; (a) on non-empty truth is
	// s/(Σy+s), below 1e-5; the paper's formula gives (≈0·n + nEmpty)/N.
	setPredictions(st, func(*experiment.Item, int, uint8) float32 { return 0 })
	r, err = SegmentationTables(st)
	if err != nil {
		t.Fatal(err)
	}
	clear, all := 0, 0
	for _, it := range st.Items {
		if it.Subset == experiment.SubsetValidation {
			continue
		}
		all++
		if !it.InputOpaque() { // (c) is on the input grid
			clear++
		}
	}
	if got, want := r.Numbers["iou_c_all"], float64(clear)/float64(all); math.Abs(got-want) > 1e-12 {
		t.Errorf("iou_c_all = %v predicting nothing, want clear/all = %d/%d", got, clear, all)
	}
	if got := r.Numbers["iou_a_truth-not-empty"]; got > 1e-5 {
		t.Errorf("iou_a on non-empty truth = %v predicting nothing, want about 0", got)
	}
	if got, want := r.Numbers["adjusted_paper_formula"], float64(clear)/float64(all); math.Abs(got-want) > 1e-6 {
		t.Errorf("paper's adjusted formula = %v, want ≈ %d/%d", got, clear, all)
	}
}

func TestFigure3bAnd5WithPredictions(t *testing.T) {
	st, _ := tinyStudy(t)
	// Predict the manual mask, with the left half of every fifth image
	// dropped: some images disagree.
	setPredictions(st, func(it *experiment.Item, i int, v uint8) float32 {
		if len(it.Stem)%5 == 0 && i%it.Input.Size < it.Input.Size/2 {
			return 0
		}
		return float32(v)
	})
	r, err := Figure3(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "figure3a.png", "figure3b.png", "figure3b.svg")
	if len(r.Skipped) != 0 {
		t.Errorf("Skipped = %q with predictions", r.Skipped)
	}
	if _, ok := r.Numbers["auc_predicted_image_icu"]; !ok {
		t.Errorf("no predicted AUC in %v", r.Numbers)
	}
	r, err = Figure5(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "figure5.png", "figure5-best.png", "table-figure5.csv")
	if w, b := r.Numbers["figure5_worst_iou"], r.Numbers["figure5_best_iou"]; !(w <= b) || b != 1 {
		t.Errorf("worst IoU %v, best %v: want worst <= best = 1 (unchanged images predict perfectly)", w, b)
	}
}

func TestFigure2FromMetricsCSV(t *testing.T) {
	st, _ := tinyStudy(t)
	if r, err := Figure2(st); err != nil || len(r.Skipped) != 1 {
		t.Fatalf("Figure2 without a run: %v, %v; want skipped", r, err)
	}
	dir := t.TempDir()
	csv := "epoch,split,target,loss,iou_soft_pooled,iou_per_image,f1\n1,train,opacity,1.2,0.10,0.20,0.18\n1,test,opacity,1.1,0.12,0.25,0.21\n2,train,opacity,0.9,0.30,0.40,0.46\n2,test,opacity,1.0,0.28,0.35,0.44\n"
	if err := os.WriteFile(filepath.Join(dir, unet.MetricsFile), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := st.Settings.Key(st.TrainCohort)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Attach(&experiment.Run{Dir: dir, Record: experiment.RunRecord{Key: key}}); err != nil {
		t.Fatal(err)
	}
	r, err := Figure2(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "figure2.png", "figure2.svg", "table-figure2.csv")
	if r.Numbers["last_epoch_iou_a_train"] != 0.30 || r.Numbers["last_epoch_iou_a_test"] != 0.28 || r.Numbers["last_epoch_loss_test"] != 1.0 {
		t.Errorf("last epoch numbers %v, want those of epoch 2", r.Numbers)
	}
}

func TestFigure4AndCohenCorrelation(t *testing.T) {
	st, sum := tinyStudy(t)
	// The phantom's SYNTHETIC stand-in for Cohen et al.'s model scores
	// draws Figure 4, and says it is synthetic.
	r, err := Figure4(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "figure4.png", "figure4.svg", "table-figure4.csv")
	if len(r.Skipped) != 0 || !strings.Contains(r.Markdown, "SYNTHETIC") || r.Facts["cohen_model_scores"] != "SYNTHETIC stand-in" {
		t.Errorf("Figure4 on the phantom: skipped %q, facts %v, markdown %q", r.Skipped, r.Facts, r.Markdown)
	}
	// Without the file, it is not available.
	st.Settings.CohenModelScores = filepath.Join(t.TempDir(), "none.csv")
	r, err = Figure4(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Skipped) != 1 || !strings.Contains(r.Skipped[0], "not available") || len(r.Files) != 0 {
		t.Errorf("Figure4 without scores: skipped %q, files %v", r.Skipped, r.Files)
	}
	if sr, err := Summary(st.Settings); err != nil || !strings.Contains(sr.Markdown, "| Fig. 4 | AUC Cohen model score, per image: ICU / mortality | curves, no values | not computed: Cohen et al.'s model scores are not available") {
		t.Errorf("summary without Cohen model scores (err %v):\n%s", err, sr.Markdown)
	}
	// A Cohen "model" whose score is the manual opacity % itself has the
	// same AUC as the opacity %.
	var b strings.Builder
	b.WriteString("# test scores\nfilename," + CohenModelScoreColumn + "\n")
	for _, im := range st.Severity {
		b.WriteString(im.File + "," + strconv.FormatFloat(im.OpacityPct, 'g', -1, 64) + "\n")
	}
	st.Settings.CohenModelScores = filepath.Join(t.TempDir(), "scores.csv")
	if err := os.WriteFile(st.Settings.CohenModelScores, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = Figure4(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "figure4.png", "figure4.svg", "table-figure4.csv")
	r3, err := Figure3(st)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Numbers["auc_cohen_image_icu"], r3.Numbers["auc_manual_image_icu"]; math.Abs(got-want) > 1e-9 {
		t.Errorf("Cohen-score AUC %v, want the opacity %%'s %v (same score)", got, want)
	}

	r, err = CohenCorrelation(st)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "figure-cohen-scores-manual.png", "table-cohen-scores.csv")
	if got := r.Numbers["n_cohen_manual"]; got != float64(len(sum.Cohen)) {
		t.Errorf("n = %v, want the %d phantom Cohen images (all scored)", got, len(sum.Cohen))
	}
	// Agreement needs cxr-seg: skipped on the phantom.
	r, err = Agreement(st)
	if err != nil || len(r.Skipped) != 1 {
		t.Errorf("Agreement on the phantom: %v, %v; want skipped", r, err)
	}
}

func TestSummary(t *testing.T) {
	st, sum := tinyStudy(t)
	if r, err := Summary(st.Settings); err != nil || len(r.Skipped) != 1 {
		t.Fatalf("Summary before any result: %v, %v; want skipped", r, err)
	}
	if _, err := CohortTables(st); err != nil {
		t.Fatal(err)
	}
	if _, err := Figure4(st); err != nil { // the phantom's synthetic stand-in scores
		t.Fatal(err)
	}
	r, err := Summary(st.Settings)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("| §2.1 | covid-ar images / patients / clear lungs | 221 / 105 / 71 | %d / %d / %d | [table-cohorts.md](table-cohorts.md) |",
		len(sum.Images), len(sum.Patients), sum.ClearImages())
	for _, w := range []string{want, "| §3.1 | IoU (a) train | 0.5157 | not run | — |", "| §2.5 | model trained and tested on | covid-ar (COVID-19-AR) | covid-ar |", "(SYNTHETIC stand-in scores) | [figure4.png](figure4.png) |"} {
		if !strings.Contains(r.Markdown, w) {
			t.Errorf("summary lacks %q:\n%s", w, r.Markdown)
		}
	}
	if b, err := os.ReadFile(filepath.Join(st.Settings.Figures, SummaryFile)); err != nil || !bytes.Contains(b, []byte(want)) {
		t.Errorf("%s: %v, or it lacks the cohort row", SummaryFile, err)
	}
}

func TestValidationAndExternal(t *testing.T) {
	st, _ := tinyStudy(t)
	v := ValidationSettings(st.Settings)
	if v.Folds != 3 || v.Epochs != st.Settings.Epochs || v.InputSize != st.Settings.InputSize {
		t.Errorf("tiny synthetic validation settings: %d folds, %d epochs, %d px", v.Folds, v.Epochs, v.InputSize)
	}
	v.Folds = 2
	r, err := Validation(context.Background(), v, experiment.Monitor{})
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, r, "table-validation-lungs.md", "table-validation-opacity.csv", "table-validation-pct.md", "figure-validation-pct-scatter.png", "figure-validation-pct-bland-altman.png")
	if n := r.Numbers["validation_images"]; n != float64(len(st.Items)-len(st.Subset(experiment.SubsetValidation))) {
		t.Errorf("%v out-of-fold images", n)
	}
	if d := r.Numbers["validation_lungs_dice"]; !(d >= 0 && d <= 1) {
		t.Errorf("lungs Dice %v", d)
	}
	// The tiny cohort's covid-ar images carry no Cohen scores, and the
	// phantom has no Brixia table: those tables are skipped, saying why.
	if len(r.Skipped) != 2 || !strings.Contains(r.Skipped[0], "severity") || !strings.Contains(r.Skipped[1], "no Brixia scores") {
		t.Errorf("skipped %v", r.Skipped)
	}
	e, err := ExternalValidation(context.Background(), v, experiment.Monitor{})
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, e, "table-external.md", "table-external-pct.csv")
	if e.Numbers["external_images"] != 6 {
		t.Errorf("external: %v images, want the 6 cohen/ images", e.Numbers["external_images"])
	}
	rec := readRecords(v.Figures)
	if _, ok := rec["validation"]; !ok {
		t.Error("no validation record in numbers.json")
	}

	// With a Brixia table in (a copy of) the data folder scoring every
	// image, each out-of-fold image is scored with thresholds fitted
	// without its patient.
	b := v
	b.Data, b.Figures = filepath.Join(t.TempDir(), "data"), t.TempDir()
	if err := os.CopyFS(b.Data, os.DirFS(v.DataDir())); err != nil {
		t.Fatal(err)
	}
	csv := "filename,S-A,S-B,S-C,S-D,S-E,S-F,S-Global,J-A,J-B,J-C,J-D,J-E,J-F,J-Global\n"
	for i, it := range st.Items {
		z := []int{i % 4, (i + 1) % 4, (i + 2) % 4, 0, 1, 2}
		g := z[0] + z[1] + z[2] + 3
		csv += fmt.Sprintf("%s.png,%d,%d,%d,0,1,2,%d,%d,%d,%d,0,1,2,%d\n", it.Stem, z[0], z[1], z[2], g, z[0], z[1], z[2], g)
	}
	if err := os.MkdirAll(filepath.Join(b.Data, datasets.BrixiaDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Data, datasets.BrixiaDir, datasets.BrixiaFile), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, err := Validation(context.Background(), b, experiment.Monitor{})
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, rb, "table-validation-brixia.md")
	if n, want := rb.Numbers["validation_brixia_images"], rb.Numbers["validation_images"]; n != want || n == 0 {
		t.Errorf("%v Brixia-scored images, want every out-of-fold image (%v)", n, want)
	}
	if g := rb.Numbers["validation_brixia_global_mae_s"]; !(g >= 0 && g <= 18) || rb.Numbers["validation_brixia_radiologists_global_mae"] != 0 {
		t.Errorf("Brixia global MAE %v, radiologists' %v (identical scores: want 0)", g, rb.Numbers["validation_brixia_radiologists_global_mae"])
	}
	if _, ok := rec["external"]; !ok {
		t.Error("no external record in numbers.json")
	}
}

func TestValidationSettings(t *testing.T) {
	s, err := experiment.Preset(experiment.PresetSmoke)
	if err != nil {
		t.Fatal(err)
	}
	s = s.WithRepo(t.TempDir())
	syn := ValidationSettings(s)
	if syn.Folds != 3 || syn.Epochs != 15 || syn.InputSize != 64 || syn.EvalEvery != 5 {
		t.Errorf("synthetic: %d folds, %d epochs, %d px, eval every %d", syn.Folds, syn.Epochs, syn.InputSize, syn.EvalEvery)
	}
	s.Data = t.TempDir() // a data folder without the SYNTHETIC marker: real
	real := ValidationSettings(s)
	if real.Folds != 5 || real.Epochs != 40 || real.InputSize != 128 || real.EvalEvery != 5 {
		t.Errorf("real: %d folds, %d epochs, %d px, eval every %d", real.Folds, real.Epochs, real.InputSize, real.EvalEvery)
	}
	s.Folds = 4
	if got := ValidationSettings(s).Folds; got != 4 {
		t.Errorf("folds set to 4 became %d", got)
	}
}

func TestModelName(t *testing.T) {
	for _, c := range []struct {
		tiny bool
		loss string
		want string
	}{
		{false, "", "resnet18 U-Net"},
		{true, "", "resnet18 U-Net, tiny width"},
		{false, unet.LossDiceFocal, "resnet18 U-Net"}, // the paper's, spelled out
		{true, unet.LossImageDiceFocal, "resnet18 U-Net, tiny width, loss image-dice-focal"},
	} {
		s := experiment.Settings{Encoder: unet.EncoderResNet18, Tiny: c.tiny, Loss: c.loss, Channels: 1, HeadKernel: 1}
		if got := modelName(s); got != c.want {
			t.Errorf("tiny %v, loss %q: %q, want %q", c.tiny, c.loss, got, c.want)
		}
	}
}
