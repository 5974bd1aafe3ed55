package paper

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/xla"
)

// Environment variables read by FromEnv.
const (
	EnvData      = "OPACITY_DATA"        // data folder; empty: a synthetic cohort generated into the cache
	EnvSize      = "OPACITY_SIZE"        // preset: tiny, smoke (default) or full
	EnvFigures   = "OPACITY_FIGURES"     // where figures and tables go; default <repo>/figures
	EnvRuns      = "OPACITY_RUNS"        // where training runs go; default <cache>/runs
	EnvCache     = "OPACITY_CACHE"       // cache folder (synthetic cohorts, runs); default <repo>/.cache
	EnvSeed      = "OPACITY_SEED"        // seed of everything (phantom, split, training, bootstrap); default 1
	EnvEpochs    = "OPACITY_EPOCHS"      // overrides the preset's epochs
	EnvInputSize = "OPACITY_INPUT_SIZE"  // overrides the preset's model input side (a multiple of 32)
	EnvBatch     = "OPACITY_BATCH"       // overrides the preset's batch size
	EnvLR        = "OPACITY_LR"          // overrides the preset's Adam learning rate
	EnvSchedule  = "OPACITY_LR_SCHEDULE" // overrides the preset's learning-rate schedule: constant or cosine
	EnvAugment   = "OPACITY_AUGMENT"     // overrides the preset's augmentation: default, flip or none
	EnvBackend   = "GOMLX_BACKEND"       // GoMLX backend: go (CPU), xla:cuda, ...
)

// Preset is a size of the whole reproduction: the synthetic cohort, the
// model input, the training and the resampling.
type Preset struct {
	Name string

	// The synthetic cohort generated when OPACITY_DATA is not set.
	PhantomPatients int // COVID-19-AR-like patients (1-4 X-rays each)
	PhantomSize     int // side of the synthetic X-rays in pixels
	PhantomCohen    int // images of the Cohen-like validation set

	// The model and its training.
	InputSize int    // side of the lung-cropped model input (the paper: 320)
	Epochs    int    // training epochs (the paper: 50)
	Batch     int    // images per training step
	Model     string // "resnet18" (the paper's U-Net) or "tiny" (same layout, few channels)
	// LearningRate is Adam's learning rate (the paper does not give it;
	// segmentation_models' examples use Keras' default 1e-3).
	LearningRate float64
	// LRSchedule is the learning-rate schedule (xla.ScheduleConstant, the
	// paper's, or xla.ScheduleCosine).
	LRSchedule string
	// Augment names the training augmentation (datasets.NamedAugment:
	// default, the paper's kinds; flip; none).
	Augment string

	// Bootstrap is the number of resamples of each bootstrap interval.
	Bootstrap int
}

// Presets are the sizes OPACITY_SIZE selects.
var Presets = map[string]Preset{
	// tiny: the smallest run that still goes through every code path (make test).
	"tiny": {Name: "tiny", PhantomPatients: 24, PhantomSize: 64, PhantomCohen: 6,
		InputSize: 32, Epochs: 2, Batch: 4, Model: ModelTiny, LearningRate: 1e-3,
		LRSchedule: xla.ScheduleConstant, Augment: datasets.AugmentDefault, Bootstrap: 200},
	// smoke: minutes on a 2-core CPU (make reproduce's default): 40 epochs
	// of batches of 8 at Adam 1e-3 decayed along a cosine, horizontal flips
	// only. 15 epochs of 8 at a constant 1e-4 with the paper's augmentation
	// (90 steps) leave the model barely started (IoU (a) 0.17 on the
	// synthetic training images); this recipe reaches a per-image IoU (d)
	// of about 0.7 on the synthetic testing images in about 3.5 minutes
	// (xla's doc, REPRODUCE.md).
	"smoke": {Name: "smoke", PhantomPatients: 40, PhantomSize: 256, PhantomCohen: 20,
		InputSize: 64, Epochs: 40, Batch: 8, Model: ModelResNet18, LearningRate: 1e-3,
		LRSchedule: xla.ScheduleCosine, Augment: datasets.AugmentFlip, Bootstrap: 2000},
	// full: the paper's input size and epochs, Adam 1e-4 as segmentation_models'
	// examples (a GPU: GOMLX_BACKEND=xla:cuda).
	"full": {Name: "full", PhantomPatients: 105, PhantomSize: 512, PhantomCohen: 25,
		InputSize: datasets.PaperSize, Epochs: 50, Batch: 8, Model: ModelResNet18, LearningRate: 1e-4,
		LRSchedule: xla.ScheduleConstant, Augment: datasets.AugmentDefault, Bootstrap: 2000},
}

// Models of Preset.Model.
const (
	ModelResNet18 = "resnet18" // the paper's U-Net with a ResNet-18 encoder
	ModelTiny     = "tiny"     // the same layout with few channels (tests)
)

// DefaultPreset is the preset used when OPACITY_SIZE is not set.
const DefaultPreset = "smoke"

// Settings are everything that decides what the reproduction computes and
// where it writes. Read them with FromEnv; the same settings give the same
// bytes.
type Settings struct {
	Repo    string // the repository root (the folder of go.mod)
	Data    string // the data folder (absolute)
	Default bool   // Data is the synthetic cohort generated into the cache (OPACITY_DATA not set)
	Preset  Preset
	Figures string // where figures and tables are written
	Runs    string // where training runs are written
	Cache   string // cache folder
	Seed    int64
	Backend string // GOMLX_BACKEND as set ("" means GoMLX's default)
	// CohenModelScores is the CSV of Cohen et al.'s model outputs that
	// Figure 4 reads: $OPACITY_COHEN_SCORES, or CohenModelScoresFile in the
	// data folder.
	CohenModelScores string
}

// FromEnv reads the settings from the environment (see the Env constants),
// with defaults relative to the repository that holds the current directory.
// Relative paths in the variables are relative to the repository root.
// It does not generate the synthetic cohort: call EnsureData.
func FromEnv() (Settings, error) {
	repo, err := FindRepo()
	if err != nil {
		return Settings{}, err
	}
	return settingsFrom(repo, os.Getenv)
}

// settingsFrom builds the settings of repo from the variables getenv gives.
func settingsFrom(repo string, getenv func(string) string) (Settings, error) {
	s := Settings{Repo: repo, Backend: getenv(EnvBackend), Seed: 1}
	var err error
	name := strings.TrimSpace(getenv(EnvSize))
	if name == "" {
		name = DefaultPreset
	}
	p, ok := Presets[name]
	if !ok {
		return Settings{}, fmt.Errorf("%s=%q: want tiny, smoke or full", EnvSize, name)
	}
	for _, o := range []struct {
		env string
		dst *int
		min int
	}{{EnvEpochs, &p.Epochs, 1}, {EnvInputSize, &p.InputSize, 32}, {EnvBatch, &p.Batch, 1}} {
		v := strings.TrimSpace(getenv(o.env))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < o.min {
			return Settings{}, fmt.Errorf("%s=%q: want an integer >= %d", o.env, v, o.min)
		}
		*o.dst = n
	}
	if v := strings.TrimSpace(getenv(EnvLR)); v != "" {
		lr, err := strconv.ParseFloat(v, 64)
		if err != nil || !(lr > 0) || lr > 1 {
			return Settings{}, fmt.Errorf("%s=%q: want a learning rate in (0, 1]", EnvLR, v)
		}
		p.LearningRate = lr
	}
	if v := strings.TrimSpace(getenv(EnvSchedule)); v != "" {
		if err := xla.CheckSchedule(v); err != nil {
			return Settings{}, fmt.Errorf("%s: %w", EnvSchedule, err)
		}
		p.LRSchedule = v
	}
	if v := strings.TrimSpace(getenv(EnvAugment)); v != "" {
		if _, err := datasets.NamedAugment(v); err != nil {
			return Settings{}, fmt.Errorf("%s: %w", EnvAugment, err)
		}
		p.Augment = v
	}
	if p.InputSize%32 != 0 {
		return Settings{}, fmt.Errorf("%s=%d: the U-Net halves the input 5 times, want a multiple of 32", EnvInputSize, p.InputSize)
	}
	s.Preset = p
	if v := strings.TrimSpace(getenv(EnvSeed)); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Settings{}, fmt.Errorf("%s=%q: want an integer", EnvSeed, v)
		}
		s.Seed = n
	}
	// Relative paths are relative to the repository root, wherever the
	// program runs (a notebook runs in notebooks/).
	abs := func(p string) (string, error) {
		if filepath.IsAbs(p) {
			return filepath.Clean(p), nil
		}
		return filepath.Join(repo, p), nil
	}
	s.Cache = filepath.Join(repo, ".cache")
	if v := getenv(EnvCache); v != "" {
		if s.Cache, err = abs(v); err != nil {
			return Settings{}, err
		}
	}
	if v := getenv(EnvData); v != "" {
		if s.Data, err = abs(v); err != nil {
			return Settings{}, err
		}
	} else {
		s.Default = true
		s.Data = filepath.Join(s.Cache, "phantom", fmt.Sprintf("%s-p%d-px%d-c%d-seed%d", p.Name, p.PhantomPatients, p.PhantomSize, p.PhantomCohen, s.Seed))
	}
	s.CohenModelScores = filepath.Join(s.Data, CohenModelScoresFile)
	if v := getenv(EnvCohenScores); v != "" {
		if s.CohenModelScores, err = abs(v); err != nil {
			return Settings{}, err
		}
	}
	s.Figures = filepath.Join(repo, "figures")
	if v := getenv(EnvFigures); v != "" {
		if s.Figures, err = abs(v); err != nil {
			return Settings{}, err
		}
	}
	s.Runs = filepath.Join(s.Cache, "runs")
	if v := getenv(EnvRuns); v != "" {
		if s.Runs, err = abs(v); err != nil {
			return Settings{}, err
		}
	}
	return s, nil
}

// Synthetic reports whether the data folder holds a synthetic cohort (its
// SYNTHETIC marker), or will once EnsureData has generated it.
func (s Settings) Synthetic() bool {
	return s.Default || datasets.IsSynthetic(s.Data)
}

// DataKey names the data folder in run folders: "phantom" for the default
// synthetic cohort, otherwise the folder's base name and a short hash of its
// absolute path.
func (s Settings) DataKey() string {
	if s.Default {
		return "phantom"
	}
	h := sha256.Sum256([]byte(s.Data))
	return filepath.Base(s.Data) + "-" + hex.EncodeToString(h[:4])
}

// phantomStamp is written beside a generated synthetic cohort once it is
// complete; its content is the options that made it.
const phantomStamp = "paper-phantom-complete"

// phantomOptions returns the options of the default synthetic cohort.
func (s Settings) phantomOptions() datasets.PhantomOptions {
	return datasets.PhantomOptions{Patients: s.Preset.PhantomPatients, Seed: s.Seed, Size: s.Preset.PhantomSize, CohenImages: s.Preset.PhantomCohen}
}

// EnsureData makes sure the data folder exists: for the default synthetic
// cohort it generates it (datasets.WritePhantom) unless a complete one with
// the same options is there. It returns whether it generated it.
func (s Settings) EnsureData() (generated bool, err error) {
	if !s.Default {
		st, err := os.Stat(s.Data)
		if err != nil {
			return false, fmt.Errorf("%s=%s: %w", EnvData, s.Data, err)
		}
		if !st.IsDir() {
			return false, fmt.Errorf("%s=%s: not a folder", EnvData, s.Data)
		}
		return false, nil
	}
	opt := s.phantomOptions()
	want := fmt.Sprintf("%+v\n", opt)
	stamp := filepath.Join(s.Data, phantomStamp)
	if b, err := os.ReadFile(stamp); err == nil && string(b) == want {
		return false, nil
	}
	if err := os.MkdirAll(s.Data, 0o755); err != nil {
		return false, err
	}
	os.Remove(stamp)
	if _, err := datasets.WritePhantom(s.Data, opt); err != nil {
		return false, fmt.Errorf("synthetic cohort: %w", err)
	}
	if err := datasets.WriteFileAtomic(stamp, []byte(want), 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// Markdown describes the settings for the top of a notebook, saying loudly
// when the data are synthetic.
func (s Settings) Markdown() string {
	var b strings.Builder
	if s.Synthetic() {
		b.WriteString("**⚠ SYNTHETIC DATA.** Every number and figure below comes from a synthetic (phantom) cohort made by `datasets.WritePhantom`, " +
			"not from patients. It shows that the pipeline runs and what it computes; it says nothing about the paper's claims. " +
			"Set `OPACITY_DATA` to a real data folder (`make data`) to reproduce the paper.\n\n")
	} else {
		b.WriteString("**Real data** from `" + s.Data + "`.\n\n")
	}
	p := s.Preset
	backend := s.Backend
	if backend == "" {
		backend = "(GoMLX default)"
	}
	fmt.Fprintf(&b, "| setting | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| `%s` | `%s`%s |\n", EnvData, s.Data, map[bool]string{true: " (default: generated synthetic cohort)", false: ""}[s.Default])
	fmt.Fprintf(&b, "| `%s` | `%s`: model input %d×%d, %d epochs, batch %d, model %s, Adam learning rate %g (%s schedule), augmentation %s, %d bootstrap resamples |\n", EnvSize, p.Name, p.InputSize, p.InputSize, p.Epochs, p.Batch, p.Model, p.LearningRate, p.schedule(), p.augment(), p.Bootstrap)
	if s.Default {
		fmt.Fprintf(&b, "| synthetic cohort | %d patients, %d px images, %d Cohen-like images |\n", p.PhantomPatients, p.PhantomSize, p.PhantomCohen)
	}
	fmt.Fprintf(&b, "| `%s` | %d |\n", EnvSeed, s.Seed)
	fmt.Fprintf(&b, "| `%s` | `%s` |\n", EnvFigures, s.Figures)
	fmt.Fprintf(&b, "| `%s` | `%s` |\n", EnvRuns, s.Runs)
	fmt.Fprintf(&b, "| `%s` | `%s` |\n", EnvBackend, backend)
	return b.String()
}

// FindRepo returns the repository root: the nearest folder at or above the
// current directory whose go.mod declares this module.
func FindRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/covidxray/opacity\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New(dir + ": not inside the github.com/covidxray/opacity repository (no go.mod of it above)")
		}
	}
}
