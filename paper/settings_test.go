package paper

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSettingsFrom(t *testing.T) {
	repo := "/repo"
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, s Settings)
	}{
		{name: "defaults", env: nil, check: func(t *testing.T, s Settings) {
			if p := s.Preset; p.Name != "smoke" || p.InputSize != 64 || p.Epochs != 40 || p.Batch != 8 || p.LearningRate != 1e-3 ||
				p.LRSchedule != "cosine" || p.Augment != "flip" || p.PhantomPatients != 40 {
				t.Errorf("preset = %+v, want smoke: 40 patients, 64 px, 40 epochs, batch 8, Adam 1e-3 cosine, flips", s.Preset)
			}
			if got := s.RunDir("covid-ar"); !strings.HasSuffix(got, "-covid-ar-smoke-64px-e40-b8-resnet18-lr0.001-cosine-aug-flip-seed1") {
				t.Errorf("RunDir = %s", got)
			}
			if md := s.Markdown(); !strings.Contains(md, "Adam learning rate 0.001 (cosine schedule), augmentation flip") {
				t.Errorf("Markdown does not give the schedule and augmentation:\n%s", md)
			}
			if !s.Default || !s.Synthetic() {
				t.Errorf("Default = %v, Synthetic = %v, want both true without %s", s.Default, s.Synthetic(), EnvData)
			}
			if want := "/repo/.cache/phantom/smoke-p40-px256-c20-seed1"; s.Data != want {
				t.Errorf("Data = %s, want %s", s.Data, want)
			}
			if s.Figures != "/repo/figures" || s.Runs != "/repo/.cache/runs" || s.Seed != 1 {
				t.Errorf("Figures %s, Runs %s, Seed %d", s.Figures, s.Runs, s.Seed)
			}
			if s.CohenModelScores != filepath.Join(s.Data, CohenModelScoresFile) {
				t.Errorf("CohenModelScores = %s", s.CohenModelScores)
			}
			if !strings.Contains(s.Markdown(), "SYNTHETIC") {
				t.Errorf("Markdown does not say SYNTHETIC:\n%s", s.Markdown())
			}
		}},
		{name: "real data and overrides", env: map[string]string{EnvData: "/data/real", EnvSize: "full", EnvSeed: "7", EnvEpochs: "3", EnvInputSize: "96", EnvBatch: "2",
			EnvFigures: "/out/fig", EnvRuns: "/out/runs", EnvBackend: "xla:cuda", EnvSchedule: "constant", EnvAugment: "none"}, check: func(t *testing.T, s Settings) {
			if s.Default || s.Data != "/data/real" {
				t.Errorf("Data = %s (default %v), want /data/real", s.Data, s.Default)
			}
			if s.Preset.Name != "full" || s.Preset.Epochs != 3 || s.Preset.InputSize != 96 || s.Preset.Batch != 2 || s.Seed != 7 {
				t.Errorf("preset %+v seed %d", s.Preset, s.Seed)
			}
			if s.Figures != "/out/fig" || s.Runs != "/out/runs" || s.Backend != "xla:cuda" {
				t.Errorf("Figures %s Runs %s Backend %s", s.Figures, s.Runs, s.Backend)
			}
			if p := s.Preset; p.LRSchedule != "constant" || p.Augment != "none" {
				t.Errorf("schedule %q, augmentation %q; want the overrides constant, none", p.LRSchedule, p.Augment)
			}
			if got := s.RunDir("cxr-seg"); !strings.HasPrefix(got, "/out/runs/real-") || !strings.Contains(got, "-cxr-seg-full-96px-e3-b2-resnet18-lr0.0001-constant-aug-none-seed7") {
				t.Errorf("RunDir = %s", got)
			}
			if strings.Contains(s.Markdown(), "SYNTHETIC") {
				t.Errorf("Markdown of real data says SYNTHETIC")
			}
		}},
		{name: "relative paths from the repository root", env: map[string]string{EnvData: "../shared/data", EnvFigures: "out/fig"}, check: func(t *testing.T, s Settings) {
			if s.Data != "/shared/data" || s.Figures != "/repo/out/fig" {
				t.Errorf("Data %s, Figures %s; want /shared/data, /repo/out/fig", s.Data, s.Figures)
			}
		}},
		{name: "tiny", env: map[string]string{EnvSize: "tiny"}, check: func(t *testing.T, s Settings) {
			if s.Preset.Model != ModelTiny || s.Preset.InputSize != 32 {
				t.Errorf("tiny preset = %+v", s.Preset)
			}
		}},
		{name: "unknown size", env: map[string]string{EnvSize: "huge"}, wantErr: "OPACITY_SIZE"},
		{name: "input not a multiple of 32", env: map[string]string{EnvInputSize: "100"}, wantErr: "multiple of 32"},
		{name: "bad epochs", env: map[string]string{EnvEpochs: "0"}, wantErr: "OPACITY_EPOCHS"},
		{name: "bad seed", env: map[string]string{EnvSeed: "x"}, wantErr: "OPACITY_SEED"},
		{name: "bad schedule", env: map[string]string{EnvSchedule: "step"}, wantErr: `OPACITY_LR_SCHEDULE: learning-rate schedule "step"`},
		{name: "bad augmentation", env: map[string]string{EnvAugment: "strong"}, wantErr: `OPACITY_AUGMENT: augmentation "strong"`},
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
