package experiment

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/covidxray/opacity/datasets"
)

// A Setting declares one setting of Settings, once: the field it sets, the
// environment variable the notebooks read (FromEnv), the command-line flag
// of the commands that train (opacity train, cv, models, analyze), what it
// means, and whether it decides a run's weights and numbers (and so enters
// RunKey and the run folder's name). The environment reader, the flags,
// the notebooks' settings table (Settings.Markdown) and the error messages
// that name a variable or a flag are all derived from the list SettingsList
// returns; adding a setting is adding one entry there.
type Setting struct {
	// Field is the Settings field, as Go code spells it ("Epochs").
	Field string
	// Env is the environment variable FromEnv reads.
	Env string
	// Flag is the command-line flag, without dashes.
	Flag string
	// Help says what the setting does, for -help and the notebooks' table.
	Help string
	// InRunKey reports whether the setting decides the weights and numbers
	// of a run: it then enters RunKey, so a changed value names another
	// run folder; the folders, the backend and the bootstrap do not.
	InRunKey bool
	// Placement marks a setting that says where files go or which backend
	// computes, not what is computed (the folders, the backend): it is not
	// an override of the numbers (NumberOverrides).
	Placement bool
	// Path marks a file or folder: a relative value is resolved (against
	// the repository root from the environment, the current directory from
	// a flag).
	Path bool
	// Default describes the default where it is not a plain value of the
	// presets (a folder, an automatic choice); empty: the presets' values.
	Default string

	get func(Settings) string
	set func(*Settings, string) error
}

// Get returns the setting's value in s, as text (the form Set reads).
func (d Setting) Get(s Settings) string { return d.get(s) }

// Set parses value into the setting's field of s; paths are taken as they
// are (see Path).
func (d Setting) Set(s *Settings, value string) error { return d.set(s, value) }

// FieldPreset is the Setting that names the preset: it is applied first,
// and the others change its values.
const FieldPreset = "Preset"

// SettingsList returns the declarations of every setting, the preset first,
// in the order the notebooks' table lists them.
func SettingsList() []Setting {
	return []Setting{
		{Field: FieldPreset, Env: "OPACITY_SIZE", Flag: "preset", InRunKey: true, Default: DefaultPreset,
			Help: "preset the other settings change: tiny (every code path in seconds), smoke (minutes on a CPU) or full (the paper's training, a GPU)",
			get:  func(s Settings) string { return s.Preset },
			set: func(s *Settings, v string) error {
				p, err := Preset(v)
				if err != nil {
					return err
				}
				*s = p.withFolders(*s)
				return nil
			}},
		pathSetting("Data", "OPACITY_DATA", "data", "data folder (make data); a synthetic cohort without it", true,
			"the preset's synthetic cohort, generated into the cache", func(s *Settings) *string { return &s.Data }),
		stringSetting("Cohort", "OPACITY_COHORT", "cohort", "cohort trained and tested on: covid-ar, cxr-seg, covid-qu-ex or all (every cohort with images and masks)", true,
			"covid-ar when its annotations carry images, else cxr-seg", func(s *Settings) *string { return &s.Cohort }),
		{Field: "Targets", Env: "OPACITY_TARGETS", Flag: "targets", InRunKey: true,
			Help: "masks the model predicts, comma-separated: opacity (the paper's), lungs, or lungs,opacity (whole images instead of the lung crop)",
			get:  func(s Settings) string { return strings.Join(s.Targets, ",") },
			set: func(s *Settings, v string) (err error) {
				t, err := datasets.ParseTargets(v)
				if err != nil {
					return err
				}
				s.Targets = t
				return nil
			}},
		floatSetting("TestFraction", "OPACITY_TEST_FRACTION", "test-fraction", "share of the images held out for testing, by patient (0: every image trains)", true,
			func(s *Settings) *float64 { return &s.TestFraction }),
		{Field: "Seed", Env: "OPACITY_SEED", Flag: "seed", InRunKey: true,
			Help: "seed of the synthetic cohort, the split, the weights, the shuffling, the augmentation, dropout and the bootstrap",
			get:  func(s Settings) string { return strconv.FormatInt(s.Seed, 10) },
			set: func(s *Settings, v string) (err error) {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return fmt.Errorf("%q: want an integer", v)
				}
				s.Seed = n
				return nil
			}},
		stringSetting("Encoder", "OPACITY_ENCODER", "encoder", "encoder: resnet18 (the paper's) or resnet34", true, "", func(s *Settings) *string { return &s.Encoder }),
		{Field: "Tiny", Env: "OPACITY_MODEL", Flag: "model", InRunKey: true,
			Help: "the tiny model (8 channels wide, for tests and quick experiments) instead of the paper's width; the variable and the flag say tiny or paper",
			get: func(s Settings) string {
				if s.Tiny {
					return "tiny"
				}
				return "paper"
			},
			set: func(s *Settings, v string) error {
				switch v {
				case "paper":
					s.Tiny = false
				case "tiny":
					s.Tiny = true
				default:
					return fmt.Errorf("%q: want paper or tiny", v)
				}
				return nil
			}},
		intSetting("Channels", "OPACITY_CHANNELS", "channels", "input channels: 1 (grayscale) or 3 (the gray level repeated)", true, func(s *Settings) *int { return &s.Channels }),
		intSetting("HeadKernel", "OPACITY_HEAD_KERNEL", "head-kernel", "segmentation head's kernel: 1 (the PyTorch reference) or 3 (segmentation_models')", true,
			func(s *Settings) *int { return &s.HeadKernel }),
		floatSetting("Dropout", "OPACITY_DROPOUT", "dropout", "dropout probability on each decoder block's output", true, func(s *Settings) *float64 { return &s.Dropout }),
		stringSetting("Loss", "OPACITY_LOSS", "loss", "training loss: dice-focal (soft Dice over the batch + focal, the paper's) image-dice-focal (soft Dice per image with opacity + focal) or image-dice-all-focal (soft Dice per image, smoothed, over every image + focal); in a pair, the opacity model's", true,
			"dice-focal", func(s *Settings) *string { return &s.Loss }),
		intSetting("InputSize", "OPACITY_INPUT_SIZE", "size", "model input side in pixels, a multiple of 32 (the paper's 320)", true, func(s *Settings) *int { return &s.InputSize }),
		intSetting("Epochs", "OPACITY_EPOCHS", "epochs", "epochs of training", true, func(s *Settings) *int { return &s.Epochs }),
		intSetting("Batch", "OPACITY_BATCH", "batch", "images per training step", true, func(s *Settings) *int { return &s.Batch }),
		floatSetting("LearningRate", "OPACITY_LR", "lr", "Adam learning rate", true, func(s *Settings) *float64 { return &s.LearningRate }),
		stringSetting("LRSchedule", "OPACITY_LR_SCHEDULE", "lr-schedule", "learning-rate schedule: constant (the paper's) or cosine (decays to 0 over the epochs)", true, "",
			func(s *Settings) *string { return &s.LRSchedule }),
		stringSetting("Augment", "OPACITY_AUGMENT", "augment", "augmentation: default (the paper's kinds), flip (horizontal flips only) or none", true, "",
			func(s *Settings) *string { return &s.Augment }),
		intSetting("EvalEvery", "OPACITY_EVAL_EVERY", "eval-every", "evaluate the model every N epochs and after the last (Figure 2 needs 1)", true,
			func(s *Settings) *int { return &s.EvalEvery }),
		pathSetting("Start", "OPACITY_START", "start", "weights a fresh run starts from (fine-tuning): a checkpoint file, a run folder, or a models folder (its lung model starts the lung model, its opacity model the opacity model); the weights' SHA-256 names the run", true,
			"a random initialisation", func(s *Settings) *string { return &s.Start }),
		stringSetting("LungsModel", "OPACITY_LUNGS_MODEL", "lungs-model", "the lung model's width in a pair (opacity models, cv --pipeline): paper or tiny", true,
			"the model's width", func(s *Settings) *string { return &s.LungsModel }),
		withDefault(intSetting("LungsEpochs", "OPACITY_LUNGS_EPOCHS", "lungs-epochs", "the lung model's epochs in a pair (opacity models, cv --pipeline)", true,
			func(s *Settings) *int { return &s.LungsEpochs }), "0: the epochs"),
		withDefault(intSetting("LungsEvalEvery", "OPACITY_LUNGS_EVAL_EVERY", "lungs-eval-every", "the lung model's evaluation interval in epochs in a pair", true,
			func(s *Settings) *int { return &s.LungsEvalEvery }), "0: the evaluation interval"),
		withDefault(intSetting("LungsSize", "OPACITY_LUNGS_SIZE", "lungs-size", "the lung model's input side in pixels in a pair, a multiple of 32 (the opacity model keeps size)", true,
			func(s *Settings) *int { return &s.LungsSize }), "0: the input size"),
		{Field: "Ensemble", Env: "OPACITY_ENSEMBLE", Flag: "ensemble", InRunKey: true,
			Help: "cv --pipeline (notebook 08): analyse each held-out X-ray with the test-time ensemble of opacity analyze (six members) instead of one pass, and check its interval out of fold; the fold models are the same",
			get:  func(s Settings) string { return strconv.FormatBool(s.Ensemble) },
			set: func(s *Settings, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%q: want true or false", v)
				}
				s.Ensemble = b
				return nil
			}},
		pathSetting("IntervalCV", "OPACITY_INTERVAL_CV", "interval-cv", "opacity models: calibrate the interval on the out-of-fold images of this pipeline CV folder (cv --pipeline --ensemble true) instead of the images the models did not train on", false,
			"", func(s *Settings) *string { return &s.IntervalCV }),
		placement(stringSetting("Backend", "GOMLX_BACKEND", "backend", "GoMLX backend: go (pure Go, CPU), xla:cpu, xla:cuda, ...", false, "go",
			func(s *Settings) *string { return &s.Backend })),
		intSetting("Bootstrap", "OPACITY_BOOTSTRAP", "bootstrap", "resamples of each bootstrap interval", false, func(s *Settings) *int { return &s.Bootstrap }),
		{Field: "Cache", Env: "OPACITY_CACHE", Flag: "cache", Path: true, Placement: true, Default: "<repo>/.cache",
			Help: "cache folder: generated synthetic cohorts, and the run folders unless runs is set",
			get:  func(s Settings) string { return s.Cache },
			set: func(s *Settings, v string) error {
				s.Cache, s.Runs = v, filepath.Join(v, "runs")
				return nil
			}},
		placement(pathSetting("Runs", "OPACITY_RUNS", "runs", "folder of the run folders (shared by the notebooks and the command line)", false, "<cache>/runs",
			func(s *Settings) *string { return &s.Runs })),
		placement(pathSetting("Figures", "OPACITY_FIGURES", "figures", "where figures and tables are written", false, "<repo>/figures",
			func(s *Settings) *string { return &s.Figures })),
		pathSetting("CohenModelScores", "OPACITY_COHEN_SCORES", "cohen-scores", "CSV of Cohen et al.'s model scores that Figure 4 reads", false,
			datasets.CohenModelScoresFile+" in the data folder", func(s *Settings) *string { return &s.CohenModelScores }),
	}
}

// intSetting, floatSetting, stringSetting and pathSetting declare a setting
// of a field of that type.
func intSetting(field, env, flag, help string, key bool, p func(*Settings) *int) Setting {
	return Setting{Field: field, Env: env, Flag: flag, Help: help, InRunKey: key,
		get: func(s Settings) string { return strconv.Itoa(*p(&s)) },
		set: func(s *Settings, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q: want an integer", v)
			}
			*p(s) = n
			return nil
		}}
}

func floatSetting(field, env, flag, help string, key bool, p func(*Settings) *float64) Setting {
	return Setting{Field: field, Env: env, Flag: flag, Help: help, InRunKey: key,
		get: func(s Settings) string { return strconv.FormatFloat(*p(&s), 'g', -1, 64) },
		set: func(s *Settings, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%q: want a number", v)
			}
			*p(s) = f
			return nil
		}}
}

func stringSetting(field, env, flag, help string, key bool, def string, p func(*Settings) *string) Setting {
	return Setting{Field: field, Env: env, Flag: flag, Help: help, InRunKey: key, Default: def,
		get: func(s Settings) string { return *p(&s) },
		set: func(s *Settings, v string) error { *p(s) = v; return nil }}
}

func pathSetting(field, env, flag, help string, key bool, def string, p func(*Settings) *string) Setting {
	d := stringSetting(field, env, flag, help, key, def, p)
	d.Path = true
	return d
}

// withDefault sets d's Default description.
func withDefault(d Setting, def string) Setting {
	d.Default = def
	return d
}

// placement marks d as a Placement setting.
func placement(d Setting) Setting {
	d.Placement = true
	return d
}

// SettingByField returns the declaration of a Settings field.
func SettingByField(field string) (Setting, bool) {
	for _, d := range SettingsList() {
		if d.Field == field {
			return d, true
		}
	}
	return Setting{}, false
}

// PresetValues describes a setting's default: its Default, or its value in
// each preset ("40", or "tiny 2, smoke 40, full 50" where they differ).
func (d Setting) PresetValues() string {
	if d.Default != "" {
		return d.Default
	}
	var values, parts []string
	for _, name := range []string{PresetTiny, PresetSmoke, PresetFull} {
		p, _ := Preset(name)
		v := d.get(p)
		if v == "" {
			v = `""`
		}
		values, parts = append(values, v), append(parts, name+" "+v)
	}
	if values[1] == values[0] && values[2] == values[0] {
		return values[0]
	}
	return strings.Join(parts, ", ")
}

// ApplySettings returns the settings that base becomes with the values
// lookup gives: the preset first (a new preset replaces base's values but
// keeps its folders), then every other setting lookup has, in the list's
// order; abs resolves the paths. name says how a setting is called where
// the values come from (the environment variable, the flag) in errors,
// including those of Validate.
func ApplySettings(base Settings, lookup func(Setting) (string, bool), abs func(string) string, name func(Setting) string) (Settings, error) {
	s := base
	for _, d := range SettingsList() {
		v, ok := lookup(d)
		if !ok {
			continue
		}
		if d.Path {
			v = abs(v)
		}
		if err := d.set(&s, v); err != nil {
			return Settings{}, fmt.Errorf("%s: %w", name(d), err)
		}
	}
	if err := s.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			if d, ok := SettingByField(fe.Field); ok {
				return Settings{}, fe.named(name(d))
			}
		}
		return Settings{}, err
	}
	return s, nil
}

// A FieldError is a Settings value out of its domain, naming the field.
type FieldError struct {
	Field  string
	Detail string // what is wrong, after the field's name: " 100: want …" or ": …"
	Err    error  // the cause, if any
}

func (e *FieldError) Error() string { return e.Field + e.Detail }
func (e *FieldError) Unwrap() error { return e.Err }

// named is the error with the field's name replaced by how the user set it.
func (e *FieldError) named(name string) error {
	return &FieldError{Field: name, Detail: e.Detail, Err: e.Err}
}

// fieldError returns a FieldError of field whose detail is format's text.
func fieldError(field, format string, args ...any) error {
	return &FieldError{Field: field, Detail: " " + fmt.Sprintf(format, args...)}
}

// fieldCause returns a FieldError of field caused by err.
func fieldCause(field string, err error) error {
	return &FieldError{Field: field, Detail: ": " + err.Error(), Err: err}
}

// NumberOverrides returns, sorted, the NAME=value pairs of the variables
// getenv gives that change what the notebooks compute beyond their data
// folder and preset (OPACITY_DATA, OPACITY_SIZE, which a reproduction's
// verdict identifies on their own): every setting but the Placement ones
// whose value changes the settings the preset alone gives (so
// OPACITY_SEED=1, the presets' seed, is none). A value the settings
// reject counts as an override.
func NumberOverrides(getenv func(string) string) []string {
	list := SettingsList()
	preset, _ := SettingByField(FieldPreset)
	only := func(names ...string) func(string) string {
		return func(k string) string {
			for _, n := range names {
				if k == n {
					return getenv(k)
				}
			}
			return ""
		}
	}
	base, baseErr := settingsFrom("", only(preset.Env))
	var o []string
	for _, d := range list {
		if d.Field == FieldPreset || d.Field == "Data" || d.Placement {
			continue
		}
		v := getenv(d.Env)
		if strings.TrimSpace(v) == "" {
			continue
		}
		s, err := settingsFrom("", only(preset.Env, d.Env))
		if err != nil || baseErr != nil || !reflect.DeepEqual(s, base) {
			o = append(o, d.Env+"="+v)
		}
	}
	sort.Strings(o)
	return o
}
