package experiment

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/transform"
)

func TestSettingsFromEnv(t *testing.T) {
	repo := "/repo"
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, s Settings)
	}{
		{name: "defaults", check: func(t *testing.T, s Settings) {
			if s.Preset != "smoke" || s.InputSize != 64 || s.Epochs != 40 || s.Batch != 8 || s.LearningRate != 1e-3 ||
				s.LRSchedule != "cosine" || s.Augment != "flip" || s.Phantom.Patients != 40 || s.Encoder != "resnet18" || s.Tiny {
				t.Errorf("settings = %+v, want smoke: 40 patients, 64 px, 40 epochs, batch 8, Adam 1e-3 cosine, flips, resnet18", s)
			}
			if strings.Join(s.Targets, ",") != "opacity" || s.Framing() != transform.FrameLungCrop || s.TestFraction != 0.3 {
				t.Errorf("targets %v, framing %s, test fraction %g", s.Targets, s.Framing(), s.TestFraction)
			}
			if md := s.Markdown(); !strings.Contains(md, "Adam learning rate 0.001 (cosine schedule), augmentation flip") || !strings.Contains(md, "SYNTHETIC") ||
				!strings.Contains(md, "U-Net, resnet18 encoder, 14321809 parameters") {
				t.Errorf("Markdown lacks the schedule, the augmentation, SYNTHETIC or the parameters:\n%s", md)
			}
			if !s.Default() || !s.Synthetic() {
				t.Errorf("Default = %v, Synthetic = %v, want both true without %s", s.Default(), s.Synthetic(), "OPACITY_DATA")
			}
			if want := "/repo/.cache/phantom/smoke-p40-px256-c20-seed1"; s.DataDir() != want {
				t.Errorf("DataDir = %s, want %s", s.DataDir(), want)
			}
			if s.Figures != "/repo/figures" || s.Runs != "/repo/.cache/runs" || s.Seed != 1 {
				t.Errorf("Figures %s, Runs %s, Seed %d", s.Figures, s.Runs, s.Seed)
			}
			if s.CohenScoresPath() != filepath.Join(s.DataDir(), datasets.CohenModelScoresFile) {
				t.Errorf("CohenScoresPath = %s", s.CohenScoresPath())
			}
		}},
		{name: "real data and overrides", env: map[string]string{"OPACITY_DATA": "/data/real", "OPACITY_SIZE": "full", "OPACITY_SEED": "7", "OPACITY_EPOCHS": "3", "OPACITY_INPUT_SIZE": "96", "OPACITY_BATCH": "2",
			"OPACITY_FIGURES": "/out/fig", "OPACITY_RUNS": "/out/runs", "OPACITY_LR_SCHEDULE": "constant", "OPACITY_AUGMENT": "none",
			"OPACITY_TARGETS": "lungs,opacity", "OPACITY_ENCODER": "resnet34", "OPACITY_DROPOUT": "0.1", "OPACITY_EVAL_EVERY": "5", "OPACITY_COHORT": "cxr-seg",
			"OPACITY_LOSS": "image-dice-focal"}, check: func(t *testing.T, s Settings) {
			if s.Default() || s.DataDir() != "/data/real" {
				t.Errorf("Data = %s (default %v), want /data/real", s.DataDir(), s.Default())
			}
			if s.Preset != "full" || s.Epochs != 3 || s.InputSize != 96 || s.Batch != 2 || s.Seed != 7 || s.EvalEvery != 5 {
				t.Errorf("settings %+v", s)
			}
			if s.Figures != "/out/fig" || s.Runs != "/out/runs" || s.Backend != "" {
				t.Errorf("Figures %s Runs %s Backend %q (no GOMLX_BACKEND given)", s.Figures, s.Runs, s.Backend)
			}
			if s.LRSchedule != "constant" || s.Augment != "none" || s.Encoder != "resnet34" || s.Dropout != 0.1 || s.Cohort != "cxr-seg" {
				t.Errorf("schedule %q, augmentation %q, encoder %q, dropout %g, cohort %q", s.LRSchedule, s.Augment, s.Encoder, s.Dropout, s.Cohort)
			}
			if strings.Join(s.Targets, ",") != "lungs,opacity" || s.Framing() != transform.FrameWhole {
				t.Errorf("targets %v, framing %s; want lungs,opacity on whole images", s.Targets, s.Framing())
			}
			if md := s.Markdown(); strings.Contains(md, "SYNTHETIC") || !strings.Contains(md, "U-Net, resnet34 encoder, decoder dropout 0.1, loss image-dice-focal, ") {
				t.Errorf("Markdown of real data says SYNTHETIC, or does not name the encoder, dropout and loss in order:\n%s", md)
			}
		}},
		{name: "relative paths from the repository root", env: map[string]string{"OPACITY_DATA": "../shared/data", "OPACITY_FIGURES": "out/fig"}, check: func(t *testing.T, s Settings) {
			if s.DataDir() != "/shared/data" || s.Figures != "/repo/out/fig" {
				t.Errorf("Data %s, Figures %s; want /shared/data, /repo/out/fig", s.DataDir(), s.Figures)
			}
		}},
		{name: "tiny", env: map[string]string{"OPACITY_SIZE": "tiny"}, check: func(t *testing.T, s Settings) {
			if !s.Tiny || s.InputSize != 32 || s.Phantom.Patients != 24 {
				t.Errorf("tiny preset = %+v", s)
			}
		}},
		{name: "unknown size", env: map[string]string{"OPACITY_SIZE": "huge"}, wantErr: "OPACITY_SIZE"},
		{name: "input not a multiple of 32", env: map[string]string{"OPACITY_INPUT_SIZE": "100"}, wantErr: "OPACITY_INPUT_SIZE 100: the U-Net halves the input 5 times"},
		{name: "lung input not a multiple of 32", env: map[string]string{"OPACITY_LUNGS_SIZE": "200"}, wantErr: "OPACITY_LUNGS_SIZE 200: want a positive multiple of 32"},
		{name: "bad epochs", env: map[string]string{"OPACITY_EPOCHS": "0"}, wantErr: "OPACITY_EPOCHS"},
		{name: "bad seed", env: map[string]string{"OPACITY_SEED": "x"}, wantErr: "OPACITY_SEED"},
		{name: "bad schedule", env: map[string]string{"OPACITY_LR_SCHEDULE": "step"}, wantErr: `OPACITY_LR_SCHEDULE: learning-rate schedule "step"`},
		{name: "bad augmentation", env: map[string]string{"OPACITY_AUGMENT": "strong"}, wantErr: `OPACITY_AUGMENT: augmentation "strong"`},
		{name: "bad targets", env: map[string]string{"OPACITY_TARGETS": "heart"}, wantErr: `OPACITY_TARGETS: target "heart"`},
		{name: "bad encoder", env: map[string]string{"OPACITY_ENCODER": "resnet50"}, wantErr: `encoder "resnet50"`},
		{name: "bad dropout", env: map[string]string{"OPACITY_DROPOUT": "1.5"}, wantErr: "dropout must be in [0, 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := settingsFrom(repo, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

// TestRunKey checks the one same-run rule: the settings that decide the
// weights and numbers change the key and the folder; the backend and the
// output folders do not.
func TestRunKey(t *testing.T) {
	base, err := Preset(PresetSmoke)
	if err != nil {
		t.Fatal(err)
	}
	base = base.WithRepo("/repo")
	key := func(edit func(*Settings)) RunKey {
		s := base
		s.Targets = append([]string(nil), base.Targets...)
		edit(&s)
		k, err := s.Key("covid-ar")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key(func(*Settings) {})
	if d := k0.Dir("/runs"); !strings.HasPrefix(d, "/runs/smoke-p40-px256-c20-seed1-covid-ar-opacity-resnet18-64px-e40-seed1-") {
		t.Errorf("Dir = %s", d)
	}
	same := []func(*Settings){
		func(s *Settings) { s.Backend = "xla:cuda" },
		func(s *Settings) { s.Figures, s.Runs, s.Bootstrap = "/x", "/y", 10 },
		func(s *Settings) { s.Cache = "/elsewhere" }, // the synthetic cohort is named by its options
	}
	for i, e := range same {
		if k := key(e); !k.Same(k0) || k.Dir("/runs") != k0.Dir("/runs") {
			t.Errorf("same-run edit %d gave another run: %s", i, k.Dir("/runs"))
		}
	}
	other := map[string]func(*Settings){
		"epochs":   func(s *Settings) { s.Epochs = 41 },
		"seed":     func(s *Settings) { s.Seed = 2 },
		"targets":  func(s *Settings) { s.Targets = []string{"lungs"} },
		"encoder":  func(s *Settings) { s.Encoder = "resnet34" },
		"dropout":  func(s *Settings) { s.Dropout = 0.1 },
		"loss":     func(s *Settings) { s.Loss = "image-dice-focal" },
		"data":     func(s *Settings) { s.Data = "/data/real" },
		"fraction": func(s *Settings) { s.TestFraction = 0.2 },
		"augment":  func(s *Settings) { s.Augment = "none" },
		"lr":       func(s *Settings) { s.LearningRate = 1e-4 },
		"ensemble": func(s *Settings) { s.Ensemble = true },
	}
	for name, e := range other {
		if k := key(e); k.Same(k0) || k.Dir("/runs") == k0.Dir("/runs") {
			t.Errorf("%s: another setting gave the same run", name)
		}
	}
	// The ensemble joined the key later: without it the key's JSON, so its
	// hash and folder, are what they were.
	if b, err := json.Marshal(k0); err != nil || strings.Contains(string(b), "ensemble") {
		t.Errorf("a key without the ensemble marshals as %s (%v)", b, err)
	}
	// So did the loss: the paper's, spelled out or not, keeps the older key.
	if k := key(func(s *Settings) { s.Loss = "dice-focal" }); !k.Same(k0) || k.Dir("/runs") != k0.Dir("/runs") {
		t.Errorf("the paper's loss spelled out gave another run: %s", k.Dir("/runs"))
	}
	if b, err := json.Marshal(k0); err != nil || strings.Contains(string(b), "loss") {
		t.Errorf("a key with the paper's loss marshals as %s (%v)", b, err)
	}
	// A pair's lung settings name the pair (its CV folder); the lung input
	// size joined them later, so a pair without it keeps its older key.
	lungs := key(func(s *Settings) { s.LungsModel, s.LungsEpochs = "paper", 20 })
	sized := key(func(s *Settings) { s.LungsModel, s.LungsEpochs, s.LungsSize = "paper", 20, 256 })
	if lungs.Lungs != "model paper, epochs 20, eval every 0" {
		t.Errorf("lung settings without a size keyed as %q", lungs.Lungs)
	}
	if sized.Same(lungs) || sized.Lungs != "model paper, epochs 20, eval every 0, size 256" {
		t.Errorf("a lung input size keyed as %q, the same pair as without it: %v", sized.Lungs, sized.Same(lungs))
	}
}

func TestOpenRunErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenRun(dir); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := OpenRun(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing folder: %v", err)
	}
	old := t.TempDir()
	if err := atomicfile.WriteFile(filepath.Join(old, "split.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRun(old); err == nil || !strings.Contains(err.Error(), "older version") || !strings.Contains(err.Error(), "split.json") {
		t.Errorf("old folder: %v", err)
	}
	bad := t.TempDir()
	if err := atomicfile.WriteFile(filepath.Join(bad, RunFile), []byte("{\"format\": 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRun(bad); err == nil || !strings.Contains(err.Error(), "damaged run record") {
		t.Errorf("damaged record: %v", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(bad, RunFile), []byte(`{"format": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRun(bad); err == nil || !strings.Contains(err.Error(), "format 1") {
		t.Errorf("old format: %v", err)
	}
}
