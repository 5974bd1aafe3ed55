package experiment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/phantom"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/xla/unet"
)

// Settings are everything that decides what an experiment computes and
// where it writes: the data, the split, the model, its training, and the
// folders. Start from a preset (Preset, or FromEnv for the environment),
// change fields, and load the study (LoadStudy); the same settings give the same run
// folder and the same numbers on the same backend, from a notebook or from
// the command line.
type Settings struct {
	// Preset names the preset the settings started from (tiny, smoke,
	// full); it documents them and names the default synthetic cohort.
	Preset string

	// Data is the data folder; empty means the synthetic cohort of the
	// Phantom options, generated into Cache on first use.
	Data string
	// Phantom sizes the synthetic cohort used when Data is empty.
	Phantom phantom.Options
	// Cohort is the cohort the model is trained and tested on: empty picks
	// covid-ar when its annotations carry images (the paper's), otherwise
	// cxr-seg (real X-rays with radiologists' masks); covid-qu-ex takes
	// that cohort alone (models that never saw a cxr-seg or cohen image);
	// CohortAll takes covid-ar, cxr-seg and covid-qu-ex,
	// every image with pixels.
	Cohort string
	// Targets are the masks the model predicts (datasets.TargetOpacity, the
	// paper's, and/or datasets.TargetLungs). With lungs among them the
	// model sees whole images; otherwise the paper's lung crop
	// (transform.FramingFor).
	Targets []string
	// TestFraction is the share of the images held out for testing, by
	// patient (the paper's 7:3 is 0.3); 0 trains on every image (a model to
	// use rather than to test, such as opacity models').
	TestFraction float64
	// Folds, when 2 or more, replaces the TestFraction split by fold Fold
	// (0-based) of a patient-grouped, stratified Folds-fold
	// cross-validation (research.KFoldByPatient, seeded by Seed): the model
	// trains on the other folds and tests on Fold (see CV).
	Folds, Fold int
	// Seed seeds everything: the synthetic cohort, the split, the weights,
	// the shuffling, the augmentation, dropout and the bootstrap.
	Seed int64

	// Encoder is the U-Net's encoder: resnet18 (the paper's) or resnet34.
	Encoder string
	// Tiny narrows the model to 8 channels in the stem and decoder channels
	// 32, 16, 16, 8, 8 (unet.TinyConfig): same layout, for tests and quick
	// experiments.
	Tiny bool
	// Channels is the number of input channels (1: grayscale; 3: the gray
	// level repeated, ImageNet-style).
	Channels int
	// HeadKernel is the segmentation head's kernel: 1 (the PyTorch
	// reference) or 3 (segmentation_models').
	HeadKernel int
	// Dropout is the dropout probability on the output of each decoder
	// block (0: none, the paper's).
	Dropout float64
	// Loss is the training loss (unet.Config.Loss): dice-focal, soft Dice
	// over the batch plus focal (the paper's; empty means the same), or
	// image-dice-focal, soft Dice per image with opacity plus focal, or
	// image-dice-all-focal, soft Dice per image smoothed by one pixel over
	// every image (an empty mask's counts any predicted opacity). In a
	// pair (opacity models, cv --pipeline) it is the opacity model's: the
	// lung model keeps dice-focal.
	Loss string

	// InputSize is the side of the model input (a multiple of 32; the
	// paper's 320).
	InputSize int
	// Epochs, Batch: training epochs and images per step.
	Epochs, Batch int
	// LearningRate is Adam's; LRSchedule constant (the paper's) or cosine.
	LearningRate float64
	LRSchedule   string
	// Augment names the training augmentation (transform.NamedAugment:
	// default, the paper's kinds; flip; none).
	Augment string
	// EvalEvery evaluates the model every N epochs (and after the last);
	// 1 evaluates after every epoch, as Figure 2 needs.
	EvalEvery int
	// Start, when set, is where a fresh run's weights come from instead of
	// a random initialisation (fine-tuning, unet.TrainConfig.Start): a
	// checkpoint file, a training folder (a run folder), or a models
	// folder, whose lung model then starts the lung model of a pair and
	// whose opacity model the opacity model (analysis.ModelSettings). The
	// weights' digest, not the path, names the run.
	Start string
	// LungsModel, LungsEpochs, LungsEvalEvery and LungsSize make the lung
	// model of a pair (opacity models, opacity cv --pipeline;
	// analysis.ModelSettings) differ from the settings' model: its width
	// ("paper" or "tiny"; empty: Tiny's), its epochs, its evaluation
	// interval and its input side (0: Epochs', EvalEvery's, InputSize's).
	// The opacity model keeps InputSize: each model of a pair reads its
	// own input size from its run.
	LungsModel                             string
	LungsEpochs, LungsEvalEvery, LungsSize int
	// Ensemble makes the pipeline's cross-validation (opacity cv
	// --pipeline, notebook 08) analyse each held-out image with the
	// test-time ensemble that opacity analyze uses (analysis.DefaultMembers)
	// instead of one pass; the fold models are the same runs. It names the
	// CV folder, not the runs.
	Ensemble bool
	// IntervalCV, when set, is a pipeline CV folder analysed with the
	// ensemble (opacity cv --pipeline --ensemble true) whose out-of-fold
	// images calibrate the interval of opacity models
	// (analysis.IntervalFromCV) instead of the images the models did not
	// train on.
	IntervalCV string
	// Backend is the GoMLX backend spec (go, xla:cuda, ...); empty means
	// GOMLX_BACKEND, or the Go backend (unet.BackendSpec, the one place that
	// reads the variable).
	Backend string

	// Bootstrap is the number of resamples of each bootstrap interval.
	Bootstrap int

	// Repo is the repository root, the base of relative paths and of the
	// default folders ("" when the program runs outside the repository:
	// the current directory is used).
	Repo string
	// Cache holds generated synthetic cohorts; Runs the run folders;
	// Figures the figures and tables of the paper's notebooks.
	Cache, Runs, Figures string
	// CohenModelScores is the CSV of Cohen et al.'s model outputs that
	// Figure 4 reads (empty: datasets.CohenModelScoresFile in the data
	// folder).
	CohenModelScores string
}

// EnvModels names a models folder (opacity models) that notebook 08
// validates on the real data (paper.ModelsValidation); not a setting of the
// experiment, so FromEnv does not read it. The settings' variables are
// declared with the settings (SettingsList).
const EnvModels = "OPACITY_MODELS"

// CohortAll is the Settings.Cohort that trains on every cohort with images
// and masks: covid-ar, cxr-seg (without the images cohen/ holds too) and
// covid-qu-ex.
const CohortAll = "all"

// Preset names.
const (
	PresetTiny    = "tiny"
	PresetSmoke   = "smoke"
	PresetFull    = "full"
	DefaultPreset = PresetSmoke
)

// Preset returns the settings of a named size of the whole reproduction,
// with the default folders (relative to the repository, see WithRepo):
//
//   - tiny: the smallest run that goes through every code path (make
//     test): 24 synthetic patients, 32 px, the tiny model, 2 epochs.
//   - smoke: minutes on a 2-core CPU (make reproduce's default): 64 px,
//     40 epochs of 8, Adam 1e-3 decayed along a cosine, horizontal flips.
//   - full: the paper's 320x320, 50 epochs of 8, constant Adam 1e-4, the
//     paper's augmentation (a GPU).
func Preset(name string) (Settings, error) {
	s := Settings{Preset: name, Targets: []string{datasets.TargetOpacity}, TestFraction: 0.3, Seed: 1,
		Encoder: unet.EncoderResNet18, Channels: 1, HeadKernel: 1, EvalEvery: 1, Bootstrap: 2000}
	switch name {
	case PresetTiny:
		s.Phantom = phantom.Options{Patients: 24, Size: 64, CohenImages: 6}
		s.InputSize, s.Epochs, s.Batch, s.Tiny, s.LearningRate = 32, 2, 4, true, 1e-3
		s.LRSchedule, s.Augment, s.Bootstrap = unet.ScheduleConstant, transform.AugmentDefault, 200
	case PresetSmoke:
		s.Phantom = phantom.Options{Patients: 40, Size: 256, CohenImages: 20}
		s.InputSize, s.Epochs, s.Batch, s.LearningRate = 64, 40, 8, 1e-3
		s.LRSchedule, s.Augment = unet.ScheduleCosine, transform.AugmentFlip
	case PresetFull:
		s.Phantom = phantom.Options{Patients: 105, Size: 512, CohenImages: 25}
		s.InputSize, s.Epochs, s.Batch, s.LearningRate = transform.PaperSize, 50, 8, 1e-4
		s.LRSchedule, s.Augment = unet.ScheduleConstant, transform.AugmentDefault
	default:
		return Settings{}, fmt.Errorf("preset %q: want %s, %s or %s", name, PresetTiny, PresetSmoke, PresetFull)
	}
	return s, nil
}

// withFolders returns p with the repository and folders of s: a preset
// applied over settings keeps where they read and write.
func (p Settings) withFolders(s Settings) Settings {
	p.Repo, p.Cache, p.Runs, p.Figures = s.Repo, s.Cache, s.Runs, s.Figures
	return p
}

// WithRepo sets the repository root and the default folders under it:
// the cache .cache, the runs .cache/runs, the figures figures.
func (s Settings) WithRepo(repo string) Settings {
	s.Repo = repo
	s.Cache = filepath.Join(repo, ".cache")
	s.Runs = filepath.Join(s.Cache, "runs")
	s.Figures = filepath.Join(repo, "figures")
	return s
}

// FromEnv returns the settings of the environment (see the Env constants):
// the preset of OPACITY_SIZE with the overrides of the other variables, and
// the folders relative to the repository that holds the current directory
// (the current directory outside one). Relative paths in the variables are
// relative to that root.
func FromEnv() (Settings, error) {
	repo, _ := FindRepo()
	return settingsFrom(repo, os.Getenv)
}

// Defaults returns the default preset's settings with the folders of the
// repository that holds the current directory (of the current directory
// outside one, with Repo empty): the settings FromEnv and the command
// line's flags change.
func Defaults() (Settings, error) {
	repo, _ := FindRepo()
	s, _, err := defaultsAt(repo)
	return s, err
}

// defaultsAt returns the default preset's settings with the folders under
// repo, or under the current directory when repo is empty, and that folder.
func defaultsAt(repo string) (Settings, string, error) {
	base := repo
	if base == "" {
		var err error
		if base, err = os.Getwd(); err != nil {
			return Settings{}, "", err
		}
	}
	s, err := Preset(DefaultPreset)
	if err != nil {
		return Settings{}, "", err
	}
	s = s.WithRepo(base)
	s.Repo = repo
	return s, base, nil
}

// settingsFrom builds the settings of repo from the variables getenv gives
// (each Setting's Env; values other than paths are trimmed).
func settingsFrom(repo string, getenv func(string) string) (Settings, error) {
	s, base, err := defaultsAt(repo)
	if err != nil {
		return Settings{}, err
	}
	lookup := func(d Setting) (string, bool) {
		v := getenv(d.Env)
		if !d.Path {
			v = strings.TrimSpace(v)
		}
		return v, v != ""
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(base, p)
	}
	return ApplySettings(s, lookup, abs, func(d Setting) string { return d.Env })
}

// Validate reports the first setting out of its domain, naming the field.
func (s Settings) Validate() error {
	switch {
	case s.InputSize < 32 || s.InputSize%32 != 0:
		return fieldError("InputSize", "%d: the U-Net halves the input 5 times, want a positive multiple of 32", s.InputSize)
	case s.Epochs < 1 && !(s.Epochs == 0 && s.Start != ""):
		return fieldError("Epochs", "%d: want at least 1 (0 only with Start: the starting weights kept as they are)", s.Epochs)
	case s.Batch < 1:
		return fieldError("Batch", "%d: want at least 1", s.Batch)
	case s.EvalEvery < 1:
		return fieldError("EvalEvery", "%d: want at least 1", s.EvalEvery)
	case !(s.LearningRate > 0 && s.LearningRate <= 1):
		return fieldError("LearningRate", "%g: want a value in (0, 1]", s.LearningRate)
	case !(s.TestFraction >= 0 && s.TestFraction < 1):
		return fieldError("TestFraction", "%g: want a value in [0, 1)", s.TestFraction)
	case s.Folds == 1 || s.Folds < 0:
		return fieldError("Folds", "%d: want 0 (a train/test split) or at least 2", s.Folds)
	case s.Folds >= 2 && (s.Fold < 0 || s.Fold >= s.Folds):
		return fieldError("Fold", "%d: want 0 to %d", s.Fold, s.Folds-1)
	case s.Bootstrap < 1:
		return fieldError("Bootstrap", "%d: want at least 1 resample", s.Bootstrap)
	case s.Cohort != "" && s.Cohort != datasets.CohortCovidAR && s.Cohort != datasets.CohortCXRSeg && s.Cohort != datasets.CohortCovidQUEx && s.Cohort != CohortAll:
		return fieldError("Cohort", "%q: want %s, %s, %s, %s or empty (automatic)", s.Cohort, datasets.CohortCovidAR, datasets.CohortCXRSeg, datasets.CohortCovidQUEx, CohortAll)
	case s.LungsModel != "" && s.LungsModel != "paper" && s.LungsModel != "tiny":
		return fieldError("LungsModel", "%q: want paper, tiny or empty (the model's width)", s.LungsModel)
	case s.LungsEpochs < 0:
		return fieldError("LungsEpochs", "%d: want at least 1, or 0 (Epochs)", s.LungsEpochs)
	case s.LungsEvalEvery < 0:
		return fieldError("LungsEvalEvery", "%d: want at least 1, or 0 (EvalEvery)", s.LungsEvalEvery)
	case s.LungsSize < 0 || s.LungsSize%32 != 0:
		return fieldError("LungsSize", "%d: want a positive multiple of 32, or 0 (InputSize)", s.LungsSize)
	case s.Data == "" && s.Phantom.Patients < 1:
		return errors.New("no Data folder and no synthetic cohort (Phantom.Patients is 0)")
	}
	if err := unet.CheckSchedule(s.LRSchedule); err != nil {
		return fieldCause("LRSchedule", err)
	}
	if _, err := transform.NamedAugment(s.Augment); err != nil {
		return fieldCause("Augment", err)
	}
	if err := datasets.CheckTargets(s.Targets); err != nil {
		return fieldCause("Targets", err)
	}
	if err := s.ModelConfig().Validate(); err != nil {
		return err
	}
	return nil
}

// ModelConfig returns the U-Net of the settings.
func (s Settings) ModelConfig() unet.Config {
	c := unet.DefaultConfig()
	if s.Tiny {
		c = unet.TinyConfig()
	}
	c.Encoder, c.InChannels, c.HeadKernel, c.Dropout, c.Loss = s.Encoder, s.Channels, s.HeadKernel, s.Dropout, s.Loss
	c.Targets = append([]string(nil), s.Targets...)
	if c.Loss == unet.LossDiceFocal {
		c.Loss = "" // one name, one run key
	}
	return c
}

// TrainConfig returns the training of the settings (package unet), without
// its folder and callbacks.
func (s Settings) TrainConfig() (unet.TrainConfig, error) {
	aug, err := transform.NamedAugment(s.Augment)
	if err != nil {
		return unet.TrainConfig{}, err
	}
	cfg := unet.DefaultTrainConfig()
	cfg.Model = s.ModelConfig()
	cfg.Size, cfg.Epochs, cfg.Batch, cfg.Seed, cfg.LearningRate = s.InputSize, s.Epochs, s.Batch, s.Seed, s.LearningRate
	cfg.LRSchedule, cfg.Augment, cfg.EvalEvery, cfg.Backend = s.LRSchedule, aug, s.EvalEvery, s.Backend
	if cfg.LRSchedule == unet.ScheduleConstant {
		cfg.LRSchedule = ""
	}
	if s.Start != "" {
		sum, err := unet.StartDigest(s.Start)
		if err != nil {
			return unet.TrainConfig{}, fieldCause("Start", err)
		}
		cfg.Start, cfg.StartSHA256 = s.Start, sum
	}
	return cfg, nil
}

// Framing returns how the model's input is framed (transform.FramingFor).
func (s Settings) Framing() transform.Framing { return transform.FramingFor(s.Targets) }

// Default reports whether the data folder is the generated synthetic
// cohort (Data empty).
func (s Settings) Default() bool { return s.Data == "" }

// DataDir returns the data folder: Data, or the folder of the default
// synthetic cohort in the cache, named after its options.
func (s Settings) DataDir() string {
	if s.Data != "" {
		return s.Data
	}
	p := s.Phantom
	return filepath.Join(s.Cache, "phantom", fmt.Sprintf("%s-p%d-px%d-c%d-seed%d", s.Preset, p.Patients, p.Size, p.CohenImages, s.Seed))
}

// Synthetic reports whether the data folder holds a synthetic cohort (its
// SYNTHETIC marker), or will once EnsureData has generated it.
func (s Settings) Synthetic() bool {
	return s.Default() || datasets.IsSynthetic(s.DataDir())
}

// DataKey names the data folder in run folders: "phantom-<options>" for
// the default synthetic cohort, otherwise the folder's base name and a
// short hash of its absolute path.
func (s Settings) DataKey() string {
	if s.Default() {
		return filepath.Base(s.DataDir())
	}
	abs, err := filepath.Abs(s.Data)
	if err != nil {
		abs = s.Data
	}
	h := sha256.Sum256([]byte(abs))
	return filepath.Base(abs) + "-" + hex.EncodeToString(h[:4])
}

// CohenScoresPath returns the CSV Figure 4 reads: CohenModelScores, or
// datasets.CohenModelScoresFile in the data folder.
func (s Settings) CohenScoresPath() string {
	if s.CohenModelScores != "" {
		return s.CohenModelScores
	}
	return filepath.Join(s.DataDir(), datasets.CohenModelScoresFile)
}

// RunKey is what identifies a run: the data, the cohort and split, and the
// training configuration. Two runs with equal keys (Same) have the same
// weights and numbers on the same backend.
type RunKey struct {
	Data         string            `json:"data"` // DataKey
	Cohort       string            `json:"cohort"`
	Targets      []string          `json:"targets"`
	Framing      transform.Framing `json:"framing"`
	TestFraction float64           `json:"test_fraction,omitempty"` // 0 with folds
	Folds        int               `json:"folds,omitempty"`
	Fold         int               `json:"fold,omitempty"`
	Train        unet.TrainConfig  `json:"train"`
	// Lungs is the lung model's difference from Train in a pair's key
	// (Settings.LungsModel, ...; empty when there is none): it names the
	// CV folder of a pipeline; each model's own run has its settings.
	Lungs string `json:"lungs,omitempty"`
	// Ensemble is Settings.Ensemble: it names the CV folder of a pipeline
	// analysed with the test-time ensemble (absent when false, so older
	// keys are unchanged).
	Ensemble bool `json:"ensemble,omitempty"`
}

// Key returns the run key of the settings for a study trained on cohort.
func (s Settings) Key(cohort string) (RunKey, error) {
	cfg, err := s.TrainConfig()
	if err != nil {
		return RunKey{}, err
	}
	cfg.Backend = "" // the backend does not identify a run
	k := RunKey{Data: s.DataKey(), Cohort: cohort, Targets: append([]string(nil), s.Targets...), Framing: s.Framing(),
		TestFraction: s.TestFraction, Train: cfg}
	if s.Folds >= 2 {
		k.TestFraction, k.Folds, k.Fold = 0, s.Folds, s.Fold
	}
	if s.LungsModel != "" || s.LungsEpochs != 0 || s.LungsEvalEvery != 0 || s.LungsSize != 0 {
		k.Lungs = fmt.Sprintf("model %s, epochs %d, eval every %d", s.LungsModel, s.LungsEpochs, s.LungsEvalEvery)
		if s.LungsSize != 0 {
			k.Lungs += fmt.Sprintf(", size %d", s.LungsSize) // absent before the setting: older keys unchanged
		}
	}
	k.Ensemble = s.Ensemble
	return k, nil
}

// Same is the one rule that decides whether two runs are the same: the
// same data, cohort, targets, framing, test fraction or fold, the same
// number of epochs and evaluation interval, and training configurations
// that unet.TrainConfig.SameRun accepts (everything that decides the
// weights).
func (k RunKey) Same(o RunKey) bool {
	return k.Data == o.Data && k.Cohort == o.Cohort && k.Lungs == o.Lungs && k.Ensemble == o.Ensemble && strings.Join(k.Targets, ",") == strings.Join(o.Targets, ",") &&
		k.Framing == o.Framing && k.TestFraction == o.TestFraction && k.Folds == o.Folds && k.Fold == o.Fold && k.Train.Epochs == o.Train.Epochs &&
		max(k.Train.EvalEvery, 1) == max(o.Train.EvalEvery, 1) && k.Train.SameRun(o.Train)
}

// hash is a short hash of the key's canonical JSON.
func (k RunKey) hash() string {
	b, _ := json.Marshal(k)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:4])
}

// Dir returns the run folder of the key under runs: readable settings and
// a hash of the key, so the same settings give the same folder.
func (k RunKey) Dir(runs string) string {
	m := k.Train.Model
	enc := m.Encoder
	if m.Width != unet.DefaultConfig().Width {
		enc += fmt.Sprintf("-w%d", m.Width)
	}
	fold := ""
	switch {
	case k.Folds >= 2 && k.Fold < 0:
		fold = fmt.Sprintf("-cv%d", k.Folds) // the CV folder of NewCV
	case k.Folds >= 2:
		fold = fmt.Sprintf("-cv%df%d", k.Folds, k.Fold)
	}
	name := fmt.Sprintf("%s-%s-%s-%s-%dpx-e%d-seed%d%s-%s", k.Data, k.Cohort, strings.Join(k.Targets, "+"), enc,
		k.Train.Size, k.Train.Epochs, k.Train.Seed, fold, k.hash())
	return filepath.Join(runs, name)
}

// Markdown describes the settings for the top of a notebook, saying loudly
// when the data are synthetic.
func (s Settings) Markdown() string {
	var b strings.Builder
	if s.Synthetic() {
		b.WriteString("**⚠ SYNTHETIC DATA.** Every number and figure below comes from a synthetic (phantom) cohort made by `phantom.Write`, " +
			"not from patients. It shows that the pipeline runs and what it computes; it says nothing about the paper's claims. " +
			"Set `OPACITY_DATA` (or `Settings.Data`) to a real data folder (`make data`) to reproduce the paper.\n\n")
	} else {
		b.WriteString("**Real data** from `" + s.DataDir() + "`.\n\n")
	}
	backend := unet.BackendSpec(s.Backend)
	model := s.Encoder + " encoder"
	if s.Tiny {
		model += " (tiny width)"
	}
	if s.Dropout > 0 {
		model += fmt.Sprintf(", decoder dropout %g", s.Dropout)
	}
	if l := s.ModelConfig().Loss; l != "" { // the paper's loss is ""
		model += ", loss " + l
	}
	cohort := s.Cohort
	if cohort == "" {
		cohort = "covid-ar when its annotations carry images, otherwise cxr-seg"
	}
	split := fmt.Sprintf("by patient, %g of the images held out for testing", s.TestFraction)
	switch {
	case s.Folds >= 2:
		split = fmt.Sprintf("%d-fold cross-validation by patient", s.Folds)
	case s.TestFraction == 0:
		split = "none: every image trains"
	}
	fmt.Fprintf(&b, "U-Net, %s, %d parameters, predicting %s (input: %s); trained on %s, split %s; "+
		"input %d×%d, %d epochs, batch %d, Adam learning rate %g (%s schedule), augmentation %s; evaluated every %d epoch(s); backend `%s`.",
		model, s.ModelConfig().Parameters(), strings.Join(s.Targets, ", "), s.Framing(), cohort, split,
		s.InputSize, s.InputSize, s.Epochs, s.Batch, s.LearningRate, scheduleName(s.LRSchedule), s.Augment, max(s.EvalEvery, 1), backend)
	if s.Default() {
		fmt.Fprintf(&b, " Synthetic cohort: %d patients, %d px images, %d Cohen-like images, in `%s`.", s.Phantom.Patients, s.Phantom.Size, s.Phantom.CohenImages, s.DataDir())
	}
	b.WriteString("\n\n")
	b.WriteString(s.SettingsTable())
	return b.String()
}

// SettingsTable is the Markdown table of every setting (SettingsList): its
// Settings field and its value in s as Go code writes them (what a
// notebook's settings function assigns), the environment variable and the
// flag that set it, and what it does.
func (s Settings) SettingsTable() string {
	var b strings.Builder
	b.WriteString("| setting | value | environment · flag | what it does |\n|---|---|---|---|\n")
	sv := reflect.ValueOf(s)
	for _, d := range SettingsList() {
		v := "`" + goLiteral(sv.FieldByName(d.Field)) + "`"
		if d.Get(s) == "" && d.Default != "" {
			v += " (" + d.Default + ")"
		}
		fmt.Fprintf(&b, "| `s.%s` | %s | `%s` · `--%s` | %s |\n", d.Field, v, d.Env, d.Flag, d.Help)
	}
	return b.String()
}

// goLiteral writes a field's value as Go code would: 64, 0.001, true,
// "cosine", []string{"opacity"}.
func goLiteral(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = goLiteral(v.Index(i))
		}
		return v.Type().String() + "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(v.Interface())
	}
}

// scheduleName spells out the empty schedule.
func scheduleName(s string) string {
	if s == "" {
		return unet.ScheduleConstant
	}
	return s
}

// phantomStamp is written beside a generated synthetic cohort once it is
// complete; its content is the options that made it and the generator's
// version.
const phantomStamp = "experiment-phantom-complete"

// phantomOptions returns the options of the default synthetic cohort.
func (s Settings) phantomOptions() phantom.Options {
	opt := s.Phantom
	opt.Seed = s.Seed
	return opt
}

// EnsureData makes sure the data folder exists: for the default synthetic
// cohort it generates it (phantom.Write) unless a complete one with
// the same options and generator version is there. It returns whether it
// generated it.
func (s Settings) EnsureData() (generated bool, err error) {
	dir := s.DataDir()
	if !s.Default() {
		st, err := os.Stat(dir)
		if err != nil {
			return false, fmt.Errorf("data folder: %w", err)
		}
		if !st.IsDir() {
			return false, fmt.Errorf("data folder %s: not a folder", dir)
		}
		return false, nil
	}
	opt := s.phantomOptions()
	want := fmt.Sprintf("%+v version %d\n", opt, phantom.Version)
	stamp := filepath.Join(dir, phantomStamp)
	if b, err := os.ReadFile(stamp); err == nil && string(b) == want {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	os.Remove(stamp)
	if _, err := phantom.Write(dir, opt); err != nil {
		return false, fmt.Errorf("synthetic cohort: %w", err)
	}
	if err := atomicfile.WriteFile(stamp, []byte(want), 0o644); err != nil {
		return false, err
	}
	return true, nil
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
