package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/xla"
)

// TestTrainEvalPredict runs the three commands on a small phantom with the
// tiny model: one epoch of training, the JSON table, and a prediction.
func TestTrainEvalPredict(t *testing.T) {
	tmp := t.TempDir()
	data, runDir, predDir := filepath.Join(tmp, "ph"), filepath.Join(tmp, "run"), filepath.Join(tmp, "pred")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"phantom", "--out", data, "--patients", "6", "--seed", "3", "--size", "64", "--cohen", "2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("phantom: exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	args := []string{"train", "--data", data, "--out", runDir, "--size", "32", "--epochs", "1", "--batch", "4", "--seed", "2", "--model", "tiny", "--backend", "go"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{xla.MetricsFile, xla.ConfigFile, SplitFile, filepath.Join(xla.CheckpointsDir, "epoch-0001.ckpt")} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("train did not write %s: %v", f, err)
		}
	}
	if out := stdout.String(); !strings.Contains(out, "SYNTHETIC") || !strings.Contains(out, "validation (cohen, 2 images)") {
		t.Errorf("train output lacks the synthetic note or the validation line:\n%s", out)
	}
	var rec splitRecord
	b, _ := os.ReadFile(filepath.Join(runDir, SplitFile))
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range rec.TrainPatients {
		seen[p] = true
	}
	for _, p := range rec.TestPatients {
		if seen[p] {
			t.Errorf("patient %s is on both sides of the split", p)
		}
	}
	if len(rec.TrainImages) == 0 || len(rec.TestImages) == 0 {
		t.Errorf("split %+v has an empty side", rec)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"eval", "--run", runDir, "--data", data, "--json", "--backend", "go"}, &stdout, &stderr); code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr.String())
	}
	var ev struct {
		Synthetic bool `json:"synthetic"`
		Epoch     int  `json:"epoch"`
		Table     struct {
			Rows []struct {
				Subset string `json:"subset"`
				Images int    `json:"images"`
			} `json:"rows"`
		} `json:"table"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
		t.Fatalf("eval --json output: %v\n%s", err, stdout.String())
	}
	images := map[string]int{}
	for _, r := range ev.Table.Rows {
		images[r.Subset] = r.Images
	}
	if !ev.Synthetic || ev.Epoch != 1 || images["train"] != len(rec.TrainImages) || images["test"] != len(rec.TestImages) || images["validation"] != 2 {
		t.Errorf("eval: synthetic %v, epoch %d, images per subset %v; want true, 1, train %d test %d validation 2",
			ev.Synthetic, ev.Epoch, images, len(rec.TrainImages), len(rec.TestImages))
	}

	stdout.Reset()
	stderr.Reset()
	file := filepath.Join(data, "covid-ar", "annotations", rec.TestImages[0]+".json")
	if code := run([]string{"predict", "--run", runDir, "--out", predDir, "--backend", "go", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{rec.TestImages[0] + "_mask.png", rec.TestImages[0] + "_overlay.png", "opacity.csv"} {
		if _, err := os.Stat(filepath.Join(predDir, f)); err != nil {
			t.Errorf("predict did not write %s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), rec.TestImages[0]) {
		t.Errorf("predict output lacks the file:\n%s", stdout.String())
	}
}

func TestTrainFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"train", "--data", "x"},
		{"train", "--data", "x", "--out", "y", "--size", "100"},
		{"train", "--data", "x", "--out", "y", "--model", "huge"},
		{"eval", "--run", "x"},
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
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error mentioning %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestTrainScheduleAndAugmentFlags checks that --lr-schedule and --augment
// reach the run's configuration.
func TestTrainScheduleAndAugmentFlags(t *testing.T) {
	tmp := t.TempDir()
	data, runDir := filepath.Join(tmp, "ph"), filepath.Join(tmp, "run")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"phantom", "--out", data, "--patients", "4", "--seed", "3", "--size", "64", "--cohen", "0"}, &stdout, &stderr); code != 0 {
		t.Fatalf("phantom: exit %d: %s", code, stderr.String())
	}
	args := []string{"train", "--data", data, "--out", runDir, "--size", "32", "--epochs", "1", "--batch", "4", "--model", "tiny",
		"--backend", "go", "--lr", "1e-3", "--lr-schedule", "cosine", "--augment", "flip"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(runDir, xla.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg xla.TrainConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.LRSchedule != xla.ScheduleCosine || cfg.LearningRate != 1e-3 {
		t.Errorf("config.json has schedule %q at %g, want cosine at 1e-3", cfg.LRSchedule, cfg.LearningRate)
	}
	if want := (datasets.AugmentOptions{HFlip: 0.5}); cfg.Augment != want {
		t.Errorf("config.json has augmentation %+v, want flips only %+v", cfg.Augment, want)
	}
}
