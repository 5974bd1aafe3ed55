package xla

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
)

// Files of a training run folder (TrainConfig.Dir).
const (
	MetricsFile    = "metrics.csv" // one row per epoch and split
	ConfigFile     = "config.json" // the TrainConfig
	CheckpointsDir = "checkpoints" // epoch-NNNN.ckpt, newest kept
	NaNStateFile   = "nan-state.ckpt"
)

// MetricsHeader is the header line of metrics.csv.
const MetricsHeader = "epoch,split,loss,iou_soft_pooled,iou_per_image,f1"

// Split names of the metrics rows.
const (
	SplitTrain = "train"
	SplitTest  = "test"
)

// TrainConfig configures Train. Start from DefaultTrainConfig.
type TrainConfig struct {
	Model        ModelConfig `json:"model"`
	Size         int         `json:"size"`          // image side, a multiple of 32
	Epochs       int         `json:"epochs"`        // total epochs (a resumed run continues up to it)
	Batch        int         `json:"batch"`         // images per step
	Seed         int64       `json:"seed"`          // weights, shuffling and augmentation
	LearningRate float64     `json:"learning_rate"` // Adam
	// LRSchedule is how the learning rate changes over the run:
	// ScheduleConstant (or empty, the paper's) or ScheduleCosine (from
	// LearningRate down to 0 at the last step of epoch Epochs).
	LRSchedule string                  `json:"lr_schedule,omitempty"`
	Augment    datasets.AugmentOptions `json:"augment"`
	// Backend is the GoMLX backend spec (see NewBackend); empty means
	// GOMLX_BACKEND, or the Go backend.
	Backend string `json:"backend,omitempty"`

	// Dir is the run folder (metrics.csv, config.json, checkpoints); empty
	// trains without writing files or resuming.
	Dir string `json:"-"`
	// Keep is the number of epoch checkpoints kept (default 2).
	Keep int `json:"-"`
	// Progress receives a progress bar when it is a terminal, one line per
	// epoch otherwise; nil prints nothing.
	Progress io.Writer `json:"-"`
}

// DefaultTrainConfig returns the paper's training (section 2.5): the default
// model, 320x320 inputs, 50 epochs, batch 8, Adam at 1e-4, the default
// augmentation, seed 1.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Model:        DefaultModelConfig(),
		Size:         datasets.PaperSize,
		Epochs:       50,
		Batch:        8,
		Seed:         1,
		LearningRate: DefaultLearningRate,
		Augment:      datasets.DefaultAugment(),
	}
}

// Validate reports the first problem with the configuration.
func (c TrainConfig) Validate() error {
	if err := c.Model.Validate(); err != nil {
		return err
	}
	if err := CheckInputSize(c.Size, c.Size); err != nil {
		return err
	}
	if c.Epochs < 1 {
		return fmt.Errorf("epochs must be >= 1, got %d", c.Epochs)
	}
	if c.Batch < 1 {
		return fmt.Errorf("batch must be >= 1, got %d", c.Batch)
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		return fmt.Errorf("learning rate must be positive and finite, got %g", c.LearningRate)
	}
	if err := CheckSchedule(c.LRSchedule); err != nil {
		return err
	}
	return c.Augment.Validate()
}

// sameRun reports whether a checkpoint made with c can be resumed with
// other: everything but the number of epochs must match. (With a cosine
// schedule the number of epochs sets the decay; a run resumed for more
// epochs follows the longer schedule from where it stands.)
func (c TrainConfig) sameRun(other TrainConfig) bool {
	a, b := c, other
	a.Epochs, b.Epochs = 0, 0
	a.Backend, b.Backend = "", ""
	for _, x := range []*TrainConfig{&a, &b} {
		if x.LRSchedule == ScheduleConstant {
			x.LRSchedule = ""
		}
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// EpochMetrics are the scores of the model at the end of an epoch on one
// split, one row of metrics.csv. The model is evaluated in inference mode
// (batch norms with running averages) on the un-augmented images:
//
//   - Loss: Dice + focal, the mean of the batches' losses weighted by batch
//     size (as Keras' evaluate);
//   - IoUSoftPooled: the paper's IoU, soft probabilities pooled over the
//     split (research.Scores.SoftPooledIoU, convention a);
//   - IoUPerImage: the mean of per-image hard IoUs at threshold 0.5, an image
//     with empty truth and empty prediction scoring 1 (convention c);
//   - F1: the paper's F1, soft and pooled like IoUSoftPooled.
type EpochMetrics struct {
	Epoch         int     `json:"epoch"`
	Split         string  `json:"split"`
	Loss          float64 `json:"loss"`
	IoUSoftPooled float64 `json:"iou_soft_pooled"`
	IoUPerImage   float64 `json:"iou_per_image"`
	F1            float64 `json:"f1"`
}

// TrainResult is what Train returns.
type TrainResult struct {
	Model   *Model
	Metrics []EpochMetrics // every epoch's rows, resumed ones included
	// ResumedFrom is the number of epochs read from a checkpoint (0 for a
	// fresh run).
	ResumedFrom int
	Seconds     float64 // training time of this call
}

// Train trains a model on train and evaluates it on train and test after
// every epoch. train and test hold prepared images of cfg.Size (test may be
// empty).
//
// Each epoch shuffles the training images and draws their augmentation from
// a generator seeded with (cfg.Seed, epoch), so a run resumed from a
// checkpoint takes the same steps as an uninterrupted one, and the same seed
// gives the same losses on the Go backend. Steps take cfg.Batch images (all
// of them when there are fewer); the last incomplete batch of an epoch is
// left out, so every step has the same shape.
//
// With cfg.Dir set, Train writes config.json, rewrites metrics.csv
// (atomically) after every epoch and saves a checkpoint, and resumes from
// the newest checkpoint of an earlier run with the same configuration (it
// refuses one with another). When a step's loss is NaN or infinite it saves
// the model as nan-state.ckpt and returns an error naming the epoch, the
// step and the images of the batch. Cancelling ctx stops at the next step
// with ctx's error (the last epoch checkpoint stays).
func Train(ctx context.Context, cfg TrainConfig, train, test []*datasets.Prepared) (*TrainResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(train) == 0 {
		return nil, errors.New("no training images")
	}
	for _, set := range [][]*datasets.Prepared{train, test} {
		for _, p := range set {
			if err := checkPrepared(p, cfg.Size); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Keep < 1 {
		cfg.Keep = 2
	}
	batch := min(cfg.Batch, len(train))
	if !cfg.Model.Recompute {
		cfg.Model.Recompute = RecomputeByDefault(batch, cfg.Size, cfg.Size)
	}
	backend, err := NewBackend(cfg.Backend)
	if err != nil {
		return nil, err
	}
	if isGoBackend(backend) {
		SetTrainingMemoryLimit(batch, cfg.Size, cfg.Size, cfg.Model.Recompute)
	}
	m, err := NewModel(backend, cfg.Model, cfg.Seed, cfg.LearningRate)
	if err != nil {
		return nil, err
	}
	res := &TrainResult{Model: m}
	ckptDir := ""
	if cfg.Dir != "" {
		ckptDir = filepath.Join(cfg.Dir, CheckpointsDir)
		if err := os.MkdirAll(ckptDir, 0o755); err != nil {
			return nil, err
		}
		c, err := LatestCheckpoint(ckptDir)
		if err != nil {
			return nil, err
		}
		if c != nil {
			if !c.Meta.Config.sameRun(cfg) {
				return nil, fmt.Errorf("%s: the checkpoints were made with another configuration (%s); use another folder",
					cfg.Dir, c.Path)
			}
			if err := m.Restore(c); err != nil {
				return nil, err
			}
			res.ResumedFrom = c.Meta.Epoch
			res.Metrics = c.Meta.Metrics
		}
		if err := datasets.WriteJSONAtomic(filepath.Join(cfg.Dir, ConfigFile), cfg, 0o644); err != nil {
			return nil, err
		}
	}
	if err := m.InitVariables(cfg.Size, cfg.Size); err != nil {
		return nil, err
	}

	steps := len(train) / batch
	bar := newProgress(cfg.Progress, cfg.Epochs, steps)
	start := time.Now()
	for epoch := res.ResumedFrom + 1; epoch <= cfg.Epochs; epoch++ {
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(epoch)))
		order := rng.Perm(len(train))
		var sumLoss float64
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			idx := order[s*batch : (s+1)*batch]
			imgs := make([]*image.Gray, len(idx))
			masks := make([]*datasets.Mask, len(idx))
			for i, k := range idx {
				img, ms := datasets.Augment(rng, cfg.Augment, train[k].Image, train[k].Opacity)
				imgs[i], masks[i] = img, ms[0]
			}
			it, err := imagesTensor(imgs, cfg.Size, cfg.Model.InChannels)
			if err != nil {
				return res, err
			}
			mt, err := masksTensor(masks, cfg.Size)
			if err != nil {
				return res, err
			}
			if cfg.LRSchedule == ScheduleCosine {
				step := int64((epoch-1)*steps + s)
				if err := m.SetLearningRate(ScheduledRate(cfg.LRSchedule, cfg.LearningRate, step, int64(cfg.Epochs*steps))); err != nil {
					return res, err
				}
			}
			loss, err := m.TrainStep(it, mt)
			if err != nil {
				return res, fmt.Errorf("epoch %d step %d: %w", epoch, s+1, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return res, m.nanError(cfg, epoch, s+1, loss, train, idx, res.Metrics)
			}
			sumLoss += loss
			bar.step(epoch, s+1, sumLoss/float64(s+1))
		}
		rows := []EpochMetrics{}
		for _, sp := range []struct {
			name string
			set  []*datasets.Prepared
		}{{SplitTrain, train}, {SplitTest, test}} {
			if len(sp.set) == 0 {
				continue
			}
			row, err := evaluateSplit(m, sp.set, batch, cfg.Size)
			if err != nil {
				return res, fmt.Errorf("epoch %d: evaluating %s: %w", epoch, sp.name, err)
			}
			row.Epoch, row.Split = epoch, sp.name
			rows = append(rows, row)
		}
		res.Metrics = append(res.Metrics, rows...)
		bar.epochDone(epoch, sumLoss/float64(steps), rows)
		if cfg.Dir != "" {
			if err := writeMetricsCSV(filepath.Join(cfg.Dir, MetricsFile), res.Metrics); err != nil {
				return res, err
			}
			meta := CheckpointMeta{Epoch: epoch, Config: cfg, Metrics: res.Metrics}
			if err := m.SaveCheckpoint(filepath.Join(ckptDir, fmt.Sprintf(checkpointPattern, epoch)), meta); err != nil {
				return res, err
			}
			if err := pruneCheckpoints(ckptDir, cfg.Keep); err != nil {
				return res, err
			}
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// checkPrepared reports a prepared image that does not fit the run.
func checkPrepared(p *datasets.Prepared, size int) error {
	if p == nil || p.Image == nil {
		return errors.New("a prepared image is missing")
	}
	b := p.Image.Bounds()
	if b.Dx() != size || b.Dy() != size {
		return fmt.Errorf("%s: image is %dx%d, the run uses %dx%d", p.Stem, b.Dx(), b.Dy(), size, size)
	}
	if p.Opacity != nil && (p.Opacity.Width != size || p.Opacity.Height != size) {
		return fmt.Errorf("%s: opacity mask is %dx%d, the run uses %dx%d", p.Stem, p.Opacity.Width, p.Opacity.Height, size, size)
	}
	return nil
}

// nanError saves the model's state and describes a non-finite loss.
func (m *Model) nanError(cfg TrainConfig, epoch, step int, loss float64, train []*datasets.Prepared, idx []int, rows []EpochMetrics) error {
	stems := make([]string, len(idx))
	for i, k := range idx {
		stems[i] = train[k].Stem
	}
	msg := fmt.Sprintf("epoch %d step %d: the training loss is %v (batch: %s)", epoch, step, loss, strings.Join(stems, ", "))
	if cfg.Dir == "" {
		return errors.New(msg + "; lower the learning rate or check these images")
	}
	path := filepath.Join(cfg.Dir, NaNStateFile)
	meta := CheckpointMeta{Epoch: epoch - 1, Config: cfg, Metrics: rows, Note: msg}
	if err := m.SaveCheckpoint(path, meta); err != nil {
		return fmt.Errorf("%s; saving the state to %s failed: %w", msg, path, err)
	}
	return fmt.Errorf("%s; the model state after the step is in %s, the last good one in %s; lower the learning rate or check these images",
		msg, path, filepath.Join(cfg.Dir, CheckpointsDir))
}

// Predict returns the opacity probabilities of prepared images, one slice
// of Size*Size values (row-major) per image, in batches of batch.
func (m *Model) Predict(set []*datasets.Prepared, batch int) ([][]float32, error) {
	out := make([][]float32, 0, len(set))
	if batch < 1 {
		batch = 1
	}
	for start := 0; start < len(set); start += batch {
		part := set[start:min(start+batch, len(set))]
		size := part[0].Image.Bounds().Dx()
		imgs := make([]*image.Gray, len(part))
		for i, p := range part {
			imgs[i] = p.Image
		}
		it, err := imagesTensor(imgs, size, m.Config.InChannels)
		if err != nil {
			return nil, err
		}
		probs, err := m.Probabilities(it)
		it.FinalizeAll()
		if err != nil {
			return nil, err
		}
		per, err := splitProbabilities(probs)
		probs.FinalizeAll()
		if err != nil {
			return nil, err
		}
		out = append(out, per...)
	}
	return out, nil
}

// evaluateSplit computes one metrics row of the model on a split.
func evaluateSplit(m *Model, set []*datasets.Prepared, batch, size int) (EpochMetrics, error) {
	var sumLoss float64
	preds := make([]research.Prediction, 0, len(set))
	for start := 0; start < len(set); start += batch {
		part := set[start:min(start+batch, len(set))]
		imgs := make([]*image.Gray, len(part))
		masks := make([]*datasets.Mask, len(part))
		for i, p := range part {
			imgs[i], masks[i] = p.Image, p.Opacity
		}
		it, err := imagesTensor(imgs, size, m.Config.InChannels)
		if err != nil {
			return EpochMetrics{}, err
		}
		mt, err := masksTensor(masks, size)
		if err != nil {
			return EpochMetrics{}, err
		}
		probs, loss, err := m.Evaluate(it, mt)
		it.FinalizeAll()
		mt.FinalizeAll()
		if err != nil {
			return EpochMetrics{}, err
		}
		sumLoss += loss * float64(len(part))
		per, err := splitProbabilities(probs)
		probs.FinalizeAll()
		if err != nil {
			return EpochMetrics{}, err
		}
		for i, p := range part {
			preds = append(preds, research.Prediction{Name: p.Stem, Patient: p.Patient, Truth: p.OpacityPix(), Prob: per[i]})
		}
	}
	scores, err := research.Evaluate(preds, research.DefaultMetricOptions())
	if err != nil {
		return EpochMetrics{}, err
	}
	return EpochMetrics{Loss: sumLoss / float64(len(set)), IoUSoftPooled: scores.SoftPooledIoU,
		IoUPerImage: scores.PerImageIoU, F1: scores.SoftPooledF1}, nil
}

// writeMetricsCSV rewrites the metrics file atomically.
func writeMetricsCSV(path string, rows []EpochMetrics) error {
	var b bytes.Buffer
	b.WriteString(MetricsHeader + "\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%d,%s,%.6g,%.6g,%.6g,%.6g\n", r.Epoch, r.Split, r.Loss, r.IoUSoftPooled, r.IoUPerImage, r.F1)
	}
	return datasets.WriteFileAtomic(path, b.Bytes(), 0o644)
}
