package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/xla/unet"
)

// runOK runs the command line and fails the test on a non-zero exit.
func runOK(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	if code := run(args, &o, &e); code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, e.String())
	}
	return o.String(), e.String()
}

// tinyPhantom writes a small phantom cohort and returns its folder.
func tinyPhantom(t *testing.T, patients, cohen string) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "ph")
	runOK(t, "data", "phantom", "--data", data, "--patients", patients, "--seed", "3", "--image-size", "64", "--cohen-images", cohen)
	return data
}

// trainArgs are the flags of a one-epoch tiny training on data.
func trainArgs(data string, more ...string) []string {
	return append([]string{"train", "--data", data, "--preset", "tiny", "--size", "32", "--epochs", "1", "--batch", "4", "--seed", "2", "--backend", "go"}, more...)
}

// TestTrainEvalPredict runs the three commands on a small phantom with the
// tiny model: one epoch of training, the JSON table, and a prediction.
func TestTrainEvalPredict(t *testing.T) {
	tmp := t.TempDir()
	data := tinyPhantom(t, "6", "2")
	runDir, predDir := filepath.Join(tmp, "run"), filepath.Join(tmp, "pred")
	out, errOut := runOK(t, trainArgs(data, "--out", runDir)...)
	for _, f := range []string{experiment.RunFile, unet.MetricsFile, experiment.LogFile, experiment.PredictionsFile, filepath.Join(unet.CheckpointsDir, "epoch-0001.ckpt")} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("train did not write %s: %v", f, err)
		}
	}
	if !strings.Contains(out, "SYNTHETIC") || !strings.Contains(out, "validation (cohen, 2 images)") {
		t.Errorf("train output lacks the synthetic note or the validation line:\n%s", out)
	}
	// 231,553: the tiny model's parameters, as Config.Parameters counts
	// them (checked against the built model in package unet).
	params := unet.TinyConfig().Parameters()
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.Contains(first, "the resnet18 U-Net, 231553 trainable parameters") {
		t.Errorf("the first line of train does not state the parameter count:\n%s", out)
	}
	if !strings.Contains(errOut, "Training the resnet18 U-Net (231553 trainable parameters;") {
		t.Errorf("the training log does not state the parameter count:\n%s", errOut)
	}
	// A binary without the SIMD matrix multiplication says so, on the
	// output and in the run's log; one with it does not.
	log, err := os.ReadFile(filepath.Join(runDir, experiment.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errOut, experiment.SIMDNote) != !unet.SIMD || strings.Contains(string(log), experiment.SIMDNote) != !unet.SIMD {
		t.Errorf("SIMD build %v: the note on the output %v, in %s %v", unet.SIMD, strings.Contains(errOut, experiment.SIMDNote),
			experiment.LogFile, strings.Contains(string(log), experiment.SIMDNote))
	}
	r, err := experiment.OpenRun(runDir)
	if err != nil {
		t.Fatal(err)
	}
	rec := r.Record
	if !r.Complete() || rec.Parameters != params || rec.Commit == "" || rec.Timing.Total.Wall <= 0 || len(rec.Timing.Epochs) != 1 ||
		strings.Join(rec.Metrics.Columns, ",") != "epoch,split,target,loss,iou_soft_pooled,iou_per_image,f1" {
		t.Errorf("run record: %+v", rec)
	}
	seen := map[string]bool{}
	for _, p := range rec.Split.TrainPatients {
		seen[p] = true
	}
	for _, p := range rec.Split.TestPatients {
		if seen[p] {
			t.Errorf("patient %s is on both sides of the split", p)
		}
	}
	if len(rec.Split.TrainImages) == 0 || len(rec.Split.TestImages) == 0 {
		t.Errorf("split %+v has an empty side", rec.Split)
	}

	// eval needs nothing but the run folder.
	out, _ = runOK(t, "eval", "--run", runDir, "--json", "--backend", "go")
	var ev struct {
		Synthetic  bool `json:"synthetic"`
		Epochs     int  `json:"epochs"`
		Parameters int  `json:"trainable_parameters"`
		Targets    map[string]struct {
			Rows []struct {
				Subset string `json:"subset"`
				Images int    `json:"images"`
			} `json:"rows"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("eval --json output: %v\n%s", err, out)
	}
	images := map[string]int{}
	for _, r := range ev.Targets[datasets.TargetOpacity].Rows {
		images[r.Subset] = r.Images
	}
	if !ev.Synthetic || ev.Epochs != 1 || ev.Parameters != params || images["train"] != len(rec.Split.TrainImages) || images["test"] != len(rec.Split.TestImages) || images["validation"] != 2 {
		t.Errorf("eval: synthetic %v, epochs %d, parameters %d, images per subset %v; want true, 1, %d, train %d test %d validation 2",
			ev.Synthetic, ev.Epochs, ev.Parameters, images, params, len(rec.Split.TrainImages), len(rec.Split.TestImages))
	}

	file := filepath.Join(data, "covid-ar", "annotations", rec.Split.TestImages[0]+".json")
	out, _ = runOK(t, "predict", "--run", runDir, "--out", predDir, "--backend", "go", file)
	for _, f := range []string{rec.Split.TestImages[0] + "_opacity.png", rec.Split.TestImages[0] + "_opacity_overlay.png", "predictions.csv"} {
		if _, err := os.Stat(filepath.Join(predDir, f)); err != nil {
			t.Errorf("predict did not write %s: %v", f, err)
		}
	}
	if !strings.Contains(out, rec.Split.TestImages[0]) {
		t.Errorf("predict output lacks the file:\n%s", out)
	}
}

// TestTrainSameRunFromEitherSide checks that the command line and a
// notebook (the experiment package with the same settings) name the same
// run folder, reuse each other's runs, and train the same numbers.
func TestTrainSameRunFromEitherSide(t *testing.T) {
	data := tinyPhantom(t, "6", "2")
	runs := t.TempDir()
	runOK(t, trainArgs(data, "--runs", runs)...)

	// The notebook side: a preset with fields changed in a cell.
	s, err := experiment.Preset(experiment.PresetTiny)
	if err != nil {
		t.Fatal(err)
	}
	s = s.WithRepo(t.TempDir())
	s.Data, s.Runs, s.InputSize, s.Epochs, s.Batch, s.Seed, s.Backend = data, runs, 32, 1, 4, 2, "go"
	st, err := experiment.LoadStudy(s)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r, err := st.Train(context.Background(), "", experiment.Monitor{Out: &log})
	if err != nil {
		t.Fatal(err)
	}
	if r.Trained || !strings.Contains(log.String(), "Found the complete run") {
		t.Errorf("the notebook side trained again instead of reusing the command line's run:\n%s", log.String())
	}
	entries, _ := os.ReadDir(runs)
	if len(entries) != 1 || filepath.Join(runs, entries[0].Name()) != r.Dir {
		t.Errorf("run folders %v, the notebook's %s: want one, the same", entries, r.Dir)
	}

	// The notebook side trains into a fresh runs folder: the same numbers.
	s.Runs = t.TempDir()
	st, err = experiment.LoadStudy(s)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := st.Train(context.Background(), "", experiment.Monitor{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(r2.Dir) != filepath.Base(r.Dir) {
		t.Errorf("run folder names differ: %s and %s", r2.Dir, r.Dir)
	}
	a, _ := os.ReadFile(filepath.Join(r.Dir, unet.MetricsFile))
	b, _ := os.ReadFile(filepath.Join(r2.Dir, unet.MetricsFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("metrics differ between the command line's run and the notebook's:\n%s\n%s", a, b)
	}

	// A run trained on another split (the data, or the split's rule,
	// changed since) is not reused: its held-out images are not the
	// study's.
	path := filepath.Join(r2.Dir, experiment.RunFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	split := rec["split"].(map[string]any)
	train, test := split["train_images"].([]any), split["test_images"].([]any)
	split["train_images"], split["test_images"] = train[1:], append(test, train[0])
	if raw, err = json.Marshal(rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Train(context.Background(), "", experiment.Monitor{}); err == nil || !strings.Contains(err.Error(), "another split than the run's") || !strings.Contains(err.Error(), r2.Dir) {
		t.Errorf("a run of another split: %v, want an error naming the folder and the split", err)
	}
}

// TestTrainLungsAndOpacity trains a model of both targets on the phantom
// (whole images) and evaluates each.
func TestTrainLungsAndOpacity(t *testing.T) {
	data := tinyPhantom(t, "6", "2")
	runDir := filepath.Join(t.TempDir(), "run")
	_, errOut := runOK(t, trainArgs(data, "--out", runDir, "--targets", "lungs,opacity")...)
	if !strings.Contains(errOut, "targets lungs, opacity, input whole") {
		t.Errorf("training log does not say the targets and the framing:\n%s", errOut)
	}
	out, _ := runOK(t, "eval", "--run", runDir, "--backend", "go")
	if !strings.Contains(out, "target lungs") || !strings.Contains(out, "target opacity") {
		t.Errorf("eval does not give both targets:\n%s", out)
	}
	metrics, _ := os.ReadFile(filepath.Join(runDir, unet.MetricsFile))
	if !strings.Contains(string(metrics), "1,train,lungs,") || !strings.Contains(string(metrics), "1,test,opacity,") {
		t.Errorf("metrics.csv lacks per-target rows:\n%s", metrics)
	}
}

// TestOldRunFolder checks that a run folder of the previous layout gets an
// error naming what is missing.
func TestOldRunFolder(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"config.json", "split.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"eval", "--run", dir}, {"predict", "--run", dir, "--out", t.TempDir(), "x.json"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "older version") || !strings.Contains(stderr.String(), experiment.RunFile) {
			t.Errorf("%v: exit %d, stderr %q; want an error naming the missing run record", args, code, stderr.String())
		}
	}
}

func TestTrainFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"train", "--data", "/nonexistent/x"},
		{"train", "--data", "x", "--out", "y", "--size", "100"},
		{"train", "--data", "x", "--out", "y", "--model", "huge"},
		{"train", "--data", "x", "--out", "y", "--encoder", "resnet50"},
		{"train", "--data", "x", "--out", "y", "--dropout", "1"},
		{"train", "--data", "x", "--out", "y", "--targets", "heart"},
		{"eval"},
		{"predict", "--run", "x", "--out", "y"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 {
			t.Errorf("%v: exit 0, want an error", args)
		}
	}
}

func TestTrainFlagErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--data", "x", "--out", "y", "--augment", "strong"}, `--augment: augmentation "strong": want default, flip or none`},
		{[]string{"train", "--data", "x", "--out", "y", "--augment", "flip", "--no-augment"}, "contradict"},
		{[]string{"train", "--data", "x", "--out", "y", "--lr-schedule", "linear"}, `schedule "linear"`},
		{[]string{"train", "--data", "x", "--out", "y", "--size", "100"}, "--size 100"},
		{[]string{"train", "--data", "x", "--out", "y", "--targets", "heart"}, `target "heart"`},
		{[]string{"train", "--data", "x", "--out", "y", "--encoder", "resnet50"}, `encoder "resnet50"`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error mentioning %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestTrainScheduleAndAugmentFlags checks that --lr-schedule, --augment,
// --encoder and --dropout reach the run's configuration.
func TestTrainScheduleAndAugmentFlags(t *testing.T) {
	data := tinyPhantom(t, "4", "0")
	runDir := filepath.Join(t.TempDir(), "run")
	runOK(t, trainArgs(data, "--out", runDir, "--lr", "1e-3", "--lr-schedule", "cosine", "--augment", "flip", "--encoder", "resnet34", "--dropout", "0.2")...)
	r, err := experiment.OpenRun(runDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.Record.Key.Train
	if cfg.LRSchedule != unet.ScheduleCosine || cfg.LearningRate != 1e-3 {
		t.Errorf("run record has schedule %q at %g, want cosine at 1e-3", cfg.LRSchedule, cfg.LearningRate)
	}
	if want := (transform.AugmentOptions{HFlip: 0.5}); cfg.Augment != want {
		t.Errorf("run record has augmentation %+v, want flips only %+v", cfg.Augment, want)
	}
	want := unet.TinyConfig()
	want.Encoder, want.Dropout = unet.EncoderResNet34, 0.2
	if cfg.Model.Encoder != unet.EncoderResNet34 || cfg.Model.Dropout != 0.2 || r.Record.Parameters != want.Parameters() {
		t.Errorf("run record has model %+v with %d parameters, want resnet34, dropout 0.2, %d parameters", cfg.Model, r.Record.Parameters, want.Parameters())
	}
}
