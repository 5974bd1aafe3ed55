package paper

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/xla"

	// The GoMLX backends: the pure-Go one, and XLA unless built with -tags=noxla.
	_ "github.com/gomlx/gomlx/backends/default"
)

// RunFile is the file a training run writes when it is complete: its
// settings, model, split and timing (JSON).
const RunFile = "run.json"

// runInfo is the content of RunFile.
type runInfo struct {
	Synthetic     bool                `json:"synthetic"`
	Data          string              `json:"data"`
	Cohort        string              `json:"cohort"`
	Preset        Preset              `json:"preset"`
	Seed          int64               `json:"seed"`
	Backend       string              `json:"backend"`
	Model         xla.ModelConfig     `json:"model"`
	Parameters    int                 `json:"trainable_parameters"`
	LearningRate  float64             `json:"learning_rate"`
	Augment       string              `json:"augment"`
	StepsPerEpoch int                 `json:"steps_per_epoch"`
	GlobalStep    int64               `json:"global_step"`
	TrainImages   int                 `json:"train_images"`
	TestImages    int                 `json:"test_images"`
	Split         map[string][]string `json:"split_patients"`
	Seconds       float64             `json:"training_seconds"`
	Finished      time.Time           `json:"finished"`
}

// modelConfig returns the model of the preset.
func (p Preset) modelConfig() xla.ModelConfig {
	if p.Model == ModelTiny {
		return xla.TinyModelConfig()
	}
	return xla.DefaultModelConfig()
}

// readRunInfo reads a complete run's RunFile; ok is false when the run is
// missing, incomplete or made with other settings.
func (st *Study) readRunInfo(dir string) (info runInfo, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil || json.Unmarshal(b, &info) != nil {
		return info, false
	}
	p := st.Settings.Preset
	return info, info.Preset.Epochs == p.Epochs && info.Preset.InputSize == p.InputSize && info.Preset.Batch == p.Batch &&
		info.Preset.Model == p.Model && info.Preset.LearningRate == p.LearningRate &&
		info.Preset.schedule() == p.schedule() && info.Preset.augment() == p.augment() && info.Seed == st.Settings.Seed && info.Cohort == st.TrainCohort
}

// schedule returns the preset's learning-rate schedule, the empty one
// spelled out.
func (p Preset) schedule() string {
	if p.LRSchedule == "" {
		return xla.ScheduleConstant
	}
	return p.LRSchedule
}

// augment returns the name of the preset's augmentation, the empty one
// spelled out.
func (p Preset) augment() string {
	if p.Augment == "" {
		return datasets.AugmentDefault
	}
	return p.Augment
}

// trainConfig returns the training of the settings (package xla).
func (s Settings) trainConfig(dir string, progress io.Writer) (xla.TrainConfig, error) {
	p := s.Preset
	cfg := xla.DefaultTrainConfig()
	cfg.Model = p.modelConfig()
	cfg.Size, cfg.Epochs, cfg.Batch, cfg.Seed, cfg.LearningRate = p.InputSize, p.Epochs, p.Batch, s.Seed, p.LearningRate
	cfg.LRSchedule = p.schedule()
	aug, err := datasets.NamedAugment(p.augment())
	if err != nil {
		return cfg, err
	}
	cfg.Augment = aug
	cfg.Backend = s.Backend
	cfg.Dir, cfg.Keep, cfg.Progress = dir, 1, progress
	return cfg, nil
}

// Train trains the U-Net (xla.Train) on the study's training images
// (TrainCohort, the train side of the split), evaluating it on the training
// and testing images after every epoch, into the settings' run folder
// (RunDir): config.json, metrics.csv (one row per epoch and split: loss,
// the paper's soft pooled IoU, the per-image IoU, F1), a checkpoint after
// every epoch and, once complete, run.json. It prints one line per epoch to
// progress. A complete run with the same settings is not trained again; an
// interrupted one resumes from its last checkpoint. Without training images
// it prints why and returns nil.
//
// The training is xla.Train's: each epoch shuffles the training images and
// draws their augmentation (the preset's, datasets.NamedAugment) from a
// generator seeded with (seed, epoch); batches are full (the last, smaller
// one is left out); Dice + focal loss; Adam at the preset's learning rate
// and schedule.
func (st *Study) Train(progress io.Writer) (*Run, error) {
	s := st.Settings
	if st.TrainCohort == "" {
		fmt.Fprintf(progress, "No training: no cohort with images in %s (%s). The analyses of manual masks still run.\n", s.Data, trainCohortNote(st))
		return nil, nil
	}
	dir := s.RunDir(st.TrainCohort)
	if _, ok := st.readRunInfo(dir); ok {
		fmt.Fprintf(progress, "Found the complete run %s: not training again (delete the folder to retrain).\n", dir)
		st.run = &Run{Dir: dir}
		return st.run, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	train, test := st.Subset(SubsetTrain), st.Subset(SubsetTest)
	if len(train) == 0 {
		return nil, fmt.Errorf("%s: no training image in the split", s.Data)
	}
	p := s.Preset
	cfg, err := s.trainConfig(dir, progress)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "Training on %s: %d training images (%d steps of %d per epoch), %d testing images, %d×%d input, %d epochs, model %s, Adam %g (%s schedule), augmentation %s, run folder %s\n",
		st.TrainCohort, len(train), len(train)/min(p.Batch, len(train)), min(p.Batch, len(train)), len(test), p.InputSize, p.InputSize, p.Epochs, p.Model, p.LearningRate, p.schedule(), p.augment(), dir)
	res, err := xla.Train(context.Background(), cfg, inputs(train), inputs(test))
	if err != nil {
		return nil, fmt.Errorf("training %s: %w", dir, err)
	}
	if res.ResumedFrom > 0 {
		fmt.Fprintf(progress, "(resumed after epoch %d)\n", res.ResumedFrom)
	}
	info := runInfo{Synthetic: st.Synthetic, Data: s.Data, Cohort: st.TrainCohort, Preset: p, Seed: s.Seed, Backend: res.Model.Backend().Name(),
		Model: cfg.Model, Parameters: res.Model.NumTrainableParameters(), LearningRate: p.LearningRate, Augment: p.augment(),
		StepsPerEpoch: len(train) / min(p.Batch, len(train)), GlobalStep: res.Model.GlobalStep(), TrainImages: len(train), TestImages: len(test),
		Split:   map[string][]string{SubsetTrain: st.Split.TrainPatients, SubsetTest: st.Split.TestPatients},
		Seconds: res.Seconds, Finished: time.Now().UTC()}
	if err := datasets.WriteJSONAtomic(filepath.Join(dir, RunFile), info, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "Trained in %.0f s (%d parameters, backend %s); run folder %s\n", res.Seconds, info.Parameters, info.Backend, dir)
	st.run = &Run{Dir: dir, Trained: true}
	return st.run, nil
}

// inputs returns the model inputs of items.
func inputs(items []*Item) []*datasets.Prepared {
	out := make([]*datasets.Prepared, len(items))
	for i, it := range items {
		out[i] = it.Input
	}
	return out
}
