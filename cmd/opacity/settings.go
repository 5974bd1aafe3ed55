package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/experiment"
)

// settingsFlags are the flags of the commands that train (train, cv,
// models): each maps to one field of experiment.Settings. A flag left
// unset keeps the preset's value, so the same flags give the same settings
// (and run folder) as a notebook with the same preset and fields.
type settingsFlags struct {
	fs                                  *flag.FlagSet
	preset, data, runs, cohort, targets *string
	encoder, model, lrSchedule, augment *string
	backend                             *string
	size, epochs, batch, channels       *int
	headKernel, evalEvery, bootstrap    *int
	seed                                *int64
	lr, dropout, testFraction           *float64
}

// defaultPreset is the preset the commands start from: the paper's
// training.
const defaultPreset = experiment.PresetFull

// addSettingsFlags registers the settings flags on fs.
func addSettingsFlags(fs *flag.FlagSet) *settingsFlags {
	f := &settingsFlags{fs: fs}
	f.preset = fs.String("preset", defaultPreset, "preset the other flags change: tiny, smoke (minutes on a CPU) or full (the paper's training)")
	f.data = fs.String("data", "", "data folder (default: the preset's synthetic cohort, generated into the cache)")
	f.runs = fs.String("runs", "", "folder of the run folders (default: .cache/runs of the repository, as the notebooks)")
	f.cohort = fs.String("cohort", "", "cohort to train and test on: covid-ar, cxr-seg, covid-qu-ex or all (every cohort with images and masks) (default: covid-ar when its annotations carry images, else cxr-seg)")
	f.targets = fs.String("targets", "", "masks the model predicts, comma-separated: opacity (the paper's), lungs, or lungs,opacity (default: the preset's, opacity)")
	f.encoder = fs.String("encoder", "", "encoder: resnet18 (the paper's) or resnet34 (default: the preset's)")
	f.model = fs.String("model", "", "paper (ResNet U-Net) or tiny (8 channels wide, for quick experiments) (default: the preset's)")
	f.lrSchedule = fs.String("lr-schedule", "", "learning-rate schedule: constant (the paper's) or cosine (decays to 0 over the epochs) (default: the preset's)")
	f.augment = fs.String("augment", "", "augmentation: default (the paper's kinds), flip (horizontal flips only) or none (default: the preset's)")
	f.backend = fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else go): go, xla:cpu, xla:cuda, ...")
	f.size = fs.Int("size", 0, "input side in pixels, a multiple of 32 (default: the preset's)")
	f.epochs = fs.Int("epochs", 0, "epochs (default: the preset's)")
	f.batch = fs.Int("batch", 0, "batch size (default: the preset's)")
	f.channels = fs.Int("channels", 0, "input channels: 1 (grayscale) or 3 (default: the preset's, 1)")
	f.headKernel = fs.Int("head-kernel", 0, "head kernel: 1 (the PyTorch reference) or 3 (segmentation_models) (default: the preset's, 1)")
	f.evalEvery = fs.Int("eval-every", 0, "evaluate the model every N epochs and after the last (default: the preset's, 1)")
	f.bootstrap = fs.Int("bootstrap", 0, "bootstrap resamples of the intervals (default: the preset's)")
	f.seed = fs.Int64("seed", 0, "seed of the split, the weights, the shuffling, the augmentation and dropout (default: the preset's, 1)")
	f.lr = fs.Float64("lr", 0, "Adam learning rate (default: the preset's)")
	f.dropout = fs.Float64("dropout", 0, "dropout probability on each decoder block's output (default: the preset's, 0)")
	f.testFraction = fs.Float64("test-fraction", 0, "share of the images held out for testing, by patient (default: the preset's, 0.3)")
	return f
}

// settings returns the preset of --preset with the flags that were set
// applied, and the folders of the repository the current directory is in
// (or of the current directory).
func (f *settingsFlags) settings() (experiment.Settings, error) {
	s, err := experiment.Preset(*f.preset)
	if err != nil {
		return s, fmt.Errorf("--preset: %w", err)
	}
	root, err := experiment.FindRepo()
	if err != nil {
		if root, err = os.Getwd(); err != nil {
			return s, err
		}
	} else {
		s.Repo = root
	}
	repo := s.Repo
	s = s.WithRepo(root)
	s.Repo = repo
	var ferr error
	f.fs.Visit(func(fl *flag.Flag) {
		if ferr != nil {
			return
		}
		switch fl.Name {
		case "data":
			s.Data = absPath(*f.data)
		case "runs":
			s.Runs = absPath(*f.runs)
		case "cohort":
			s.Cohort = *f.cohort
		case "targets":
			if s.Targets, ferr = datasets.ParseTargets(*f.targets); ferr != nil {
				ferr = fmt.Errorf("--targets: %w", ferr)
			}
		case "encoder":
			s.Encoder = *f.encoder
		case "model":
			switch *f.model {
			case "paper":
				s.Tiny = false
			case "tiny":
				s.Tiny = true
			default:
				ferr = fmt.Errorf("--model %q: want paper or tiny", *f.model)
			}
		case "lr-schedule":
			s.LRSchedule = *f.lrSchedule
		case "augment":
			s.Augment = *f.augment
		case "backend":
			s.Backend = *f.backend
		case "size":
			s.InputSize = *f.size
		case "epochs":
			s.Epochs = *f.epochs
		case "batch":
			s.Batch = *f.batch
		case "channels":
			s.Channels = *f.channels
		case "head-kernel":
			s.HeadKernel = *f.headKernel
		case "eval-every":
			s.EvalEvery = *f.evalEvery
		case "bootstrap":
			s.Bootstrap = *f.bootstrap
		case "seed":
			s.Seed = *f.seed
		case "lr":
			s.LearningRate = *f.lr
		case "dropout":
			s.Dropout = *f.dropout
		case "test-fraction":
			s.TestFraction = *f.testFraction
		}
	})
	if ferr != nil {
		return s, ferr
	}
	if err := s.Validate(); err != nil {
		return s, flagError(err)
	}
	return s, nil
}

// flagError names, in a settings error, the flag that sets the field.
func flagError(err error) error {
	msg := err.Error()
	for field, flag := range map[string]string{"InputSize": "--size", "Epochs": "--epochs", "Batch": "--batch", "EvalEvery": "--eval-every",
		"LearningRate": "--lr", "TestFraction": "--test-fraction", "Bootstrap": "--bootstrap", "Cohort": "--cohort",
		"LRSchedule": "--lr-schedule", "Augment": "--augment", "Targets": "--targets"} {
		if strings.HasPrefix(msg, field+" ") || strings.HasPrefix(msg, field+":") {
			return fmt.Errorf("%s%s", flag, strings.TrimPrefix(msg, field))
		}
	}
	return err
}
