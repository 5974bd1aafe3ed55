package unet

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
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/research"
)

// Files of a training folder (TrainConfig.Dir).
const (
	MetricsFile    = "metrics.csv" // one row per epoch, split and target (research.FormatMetricsCSV)
	CheckpointsDir = "checkpoints" // epoch-NNNN.ckpt, newest kept
	NaNStateFile   = "nan-state.ckpt"
)

// Split names of the metrics rows.
const (
	SplitTrain = "train"
	SplitTest  = "test"
)

// TrainConfig configures Train. Start from DefaultTrainConfig.
type TrainConfig struct {
	Model        Config  `json:"model"`
	Size         int     `json:"size"`          // image side, a multiple of 32
	Epochs       int     `json:"epochs"`        // total epochs (a resumed run continues up to it)
	Batch        int     `json:"batch"`         // images per step
	Seed         int64   `json:"seed"`          // weights, shuffling, augmentation and dropout
	LearningRate float64 `json:"learning_rate"` // Adam
	// LRSchedule is how the learning rate changes over the run:
	// ScheduleConstant (or empty, the paper's) or ScheduleCosine (from
	// LearningRate down to 0 at the last step of epoch Epochs).
	LRSchedule string                   `json:"lr_schedule,omitempty"`
	Augment    transform.AugmentOptions `json:"augment"`
	// EvalEvery evaluates the model on the training and testing images
	// after every EvalEvery-th epoch and after the last (0 or 1: every
	// epoch).
	EvalEvery int `json:"eval_every,omitempty"`
	// Backend is the GoMLX backend spec (see NewBackend); empty means
	// GOMLX_BACKEND, or the Go backend.
	Backend string `json:"backend,omitempty"`

	// Dir is the training folder (metrics.csv, checkpoints); empty trains
	// without writing files or resuming.
	Dir string `json:"-"`
	// Keep is the number of epoch checkpoints kept (default 2).
	Keep int `json:"-"`
	// CheckpointInterval is the least time between two epoch checkpoints;
	// the last epoch always gets one (0: a minute; negative: every epoch).
	// A checkpoint holds the optimiser's state too (three times the
	// weights), so writing one per epoch can cost more than a short epoch.
	CheckpointInterval time.Duration `json:"-"`
	// Progress receives a progress bar when it is a terminal, one line per
	// epoch otherwise; nil prints nothing.
	Progress io.Writer `json:"-"`
	// OnStep, when set, is called after every training step.
	OnStep func(StepInfo) `json:"-"`
	// OnEpoch, when set, is called after every epoch with the model and
	// what the epoch measured (the evaluation callback: a caller may
	// evaluate more images with the model, draw curves, log). An error
	// stops the training with it.
	OnEpoch func(EpochInfo) error `json:"-"`
}

// DefaultTrainConfig returns the paper's training (section 2.5): the default
// model, 320x320 inputs, 50 epochs, batch 8, Adam at 1e-4, the default
// augmentation, seed 1.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Model:        DefaultConfig(),
		Size:         transform.PaperSize,
		Epochs:       50,
		Batch:        8,
		Seed:         1,
		LearningRate: DefaultLearningRate,
		Augment:      transform.DefaultAugment(),
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
	if c.EvalEvery < 0 {
		return fmt.Errorf("eval_every must be >= 0, got %d", c.EvalEvery)
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		return fmt.Errorf("learning rate must be positive and finite, got %g", c.LearningRate)
	}
	if err := CheckSchedule(c.LRSchedule); err != nil {
		return err
	}
	return c.Augment.Validate()
}

// SameRun reports whether a checkpoint made with c can be resumed with
// other: everything that decides the weights but the number of epochs must
// match. (With a cosine schedule the number of epochs sets the decay; a run
// resumed for more epochs follows the longer schedule from where it
// stands.) The backend and how often the model is evaluated do not count.
func (c TrainConfig) SameRun(other TrainConfig) bool {
	a, b := c, other
	a.Epochs, b.Epochs = 0, 0
	a.Backend, b.Backend = "", ""
	a.EvalEvery, b.EvalEvery = 0, 0
	for _, x := range []*TrainConfig{&a, &b} {
		if x.LRSchedule == ScheduleConstant {
			x.LRSchedule = ""
		}
		if x.Model.Encoder == "" {
			x.Model.Encoder = EncoderResNet18
		}
		x.Model.Targets = x.Model.TargetList()
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// evaluated reports whether the model is evaluated after epoch.
func (c TrainConfig) evaluated(epoch int) bool {
	return c.EvalEvery <= 1 || epoch%c.EvalEvery == 0 || epoch == c.Epochs
}

// StepInfo is what OnStep receives after a training step.
type StepInfo struct {
	Epoch, Epochs int
	Step, Steps   int     // 1-based step of the epoch, steps per epoch
	Loss          float64 // this step's batch loss
	MeanLoss      float64 // the epoch's mean batch loss so far
	Seconds       float64 // time of the step on the device
}

// EpochInfo is what OnEpoch receives after an epoch.
type EpochInfo struct {
	Epoch, Epochs int
	Model         *Model
	// TrainLoss is the mean of the epoch's batch losses (training mode,
	// augmented images, summed over the targets).
	TrainLoss float64
	// Records are the epoch's metrics rows (one per split and target);
	// empty when the model was not evaluated after this epoch.
	Records []research.EpochRecord
	// All are the metrics rows of every epoch so far, resumed ones included.
	All []research.EpochRecord
	// Times are the epoch's phase times; Total the run's so far.
	Times, Total PhaseTimes
}

// PhaseTimes are the seconds a run (or an epoch) spent in each phase of
// training on the host and the device.
type PhaseTimes struct {
	// Batching is the work of augmenting the training images and
	// assembling the steps' input tensors, done ahead of the steps by other
	// goroutines; BatchWait is the time the steps waited for it.
	Batching  float64 `json:"batching_s"`
	BatchWait float64 `json:"batch_wait_s"`
	// Step is the training steps (forward, backward, update), without the
	// first one's compilation.
	Step float64 `json:"step_s"`
	// EvalDevice is the model's forward passes in the evaluation;
	// EvalHost the assembly of their tensors and the metrics on the host.
	EvalDevice float64 `json:"eval_device_s"`
	EvalHost   float64 `json:"eval_host_s"`
	// Checkpoint is writing checkpoints and metrics.csv.
	Checkpoint float64 `json:"checkpoint_s"`
	// Compile is the compilation of the training step: the first step's
	// time beyond the mean of the epoch's other steps (an estimate), and of
	// the evaluation graph: its first batch's time beyond the mean of the
	// others.
	Compile float64 `json:"compile_s"`
	// Other is what the run spent outside these phases (setup, callbacks);
	// Batching, which overlaps the steps, is not part of the sum.
	Other float64 `json:"other_s"`
	// Wall is the run's (or the epoch's) wall time.
	Wall float64 `json:"wall_s"`
}

// Add returns t + u, phase by phase.
func (t PhaseTimes) Add(u PhaseTimes) PhaseTimes {
	return PhaseTimes{Batching: t.Batching + u.Batching, BatchWait: t.BatchWait + u.BatchWait, Step: t.Step + u.Step, EvalDevice: t.EvalDevice + u.EvalDevice,
		EvalHost: t.EvalHost + u.EvalHost, Checkpoint: t.Checkpoint + u.Checkpoint, Compile: t.Compile + u.Compile,
		Other: t.Other + u.Other, Wall: t.Wall + u.Wall}
}

// String renders the times compactly for a progress line, e.g.
// "batch 0.4s (waited 0.0s) step 12.1s eval 1.2+0.1s ckpt 0.3s compile
// 2.0s".
func (t PhaseTimes) String() string {
	return fmt.Sprintf("batch %.1fs (waited %.1fs) step %.1fs eval %.1f+%.1fs ckpt %.1fs compile %.1fs",
		t.Batching, t.BatchWait, t.Step, t.EvalDevice, t.EvalHost, t.Checkpoint, t.Compile)
}

// TrainResult is what Train returns.
type TrainResult struct {
	Model   *Model
	Records []research.EpochRecord // every evaluated epoch's rows, resumed ones included
	// ResumedFrom is the number of epochs read from a checkpoint (0 for a
	// fresh run).
	ResumedFrom int
	// Times are the phase times of this call; Epochs those of each epoch it
	// trained.
	Times  PhaseTimes
	Epochs []PhaseTimes
	// Seconds is the wall time of this call (Times.Wall).
	Seconds float64
}

// Train trains a model on train and evaluates it on train and test after
// every epoch (every cfg.EvalEvery). train and test hold prepared images of
// cfg.Size with the masks of the model's targets (test may be empty).
//
// Each epoch shuffles the training images and draws their augmentation from
// a generator seeded with (cfg.Seed, epoch), so a run resumed from a
// checkpoint takes the same steps as an uninterrupted one, and the same seed
// gives the same losses on the Go backend. The draws are made in order on
// the training goroutine; the augmentations are applied and the batches
// assembled by other goroutines, ahead of the step that needs them. Steps
// take cfg.Batch images (all of them when there are fewer); the last
// incomplete batch of an epoch is left out, so every step has the same
// shape. The evaluation batches have the same shape too (the last one is
// padded, the padding left out of the metrics) and are assembled once.
//
// With cfg.Dir set, Train rewrites metrics.csv (atomically) after every
// evaluation and saves a checkpoint after an epoch (every
// cfg.CheckpointInterval, and after the last), written in the background
// while the next epoch trains, and resumes from the newest
// readable checkpoint of an earlier run with the same configuration (it
// refuses one with another; damaged newer ones are named on cfg.Progress).
// When a step's loss is NaN or infinite it saves the model as
// nan-state.ckpt and returns an error naming the epoch, the step and the
// images of the batch. Cancelling ctx stops at the next step with ctx's
// error (the last epoch checkpoint stays).
func Train(ctx context.Context, cfg TrainConfig, train, test []*transform.Prepared) (res *TrainResult, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(train) == 0 {
		return nil, errors.New("no training images")
	}
	targets := cfg.Model.TargetList()
	for _, set := range [][]*transform.Prepared{train, test} {
		for _, p := range set {
			if err := checkPrepared(p, cfg.Size, targets); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Keep < 1 {
		cfg.Keep = 2
	}
	start := time.Now()
	batch := min(cfg.Batch, len(train))
	if !cfg.Model.Recompute {
		cfg.Model.Recompute = RecomputeByDefault(batch, cfg.Size, cfg.Size)
	}
	backend, err := NewBackend(cfg.Backend)
	if err != nil {
		return nil, err
	}
	if isGo(backend) {
		// A checkpoint's snapshot (weights and Adam's two moments) is held
		// while it is written in the background.
		SetTrainingMemoryLimit(batch, cfg.Size, cfg.Size, cfg.Model.Recompute, int64(3*4*cfg.Model.Parameters()))
	}
	m, err := NewModel(backend, cfg.Model, cfg.Seed, cfg.LearningRate)
	if err != nil {
		return nil, err
	}
	res = &TrainResult{Model: m}
	ckptDir := ""
	writer := &checkpointWriter{keep: cfg.Keep}
	defer func() {
		if werr := writer.Wait(); werr != nil && err == nil {
			err = werr
		}
	}()
	if cfg.Dir != "" {
		ckptDir = filepath.Join(cfg.Dir, CheckpointsDir)
		writer.dir = ckptDir
		if err := os.MkdirAll(ckptDir, 0o755); err != nil {
			return nil, err
		}
		c, damaged, err := LatestCheckpoint(ckptDir)
		if err != nil {
			return nil, err
		}
		for _, d := range damaged {
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "warning: %v; resuming from an older checkpoint\n", d)
			}
		}
		if c != nil {
			if !c.Meta.Config.SameRun(cfg) {
				return nil, fmt.Errorf("%s: the checkpoints were made with another configuration (%s); use another folder",
					cfg.Dir, c.Path)
			}
			if err := m.Restore(c); err != nil {
				return nil, err
			}
			res.ResumedFrom = c.Meta.Epoch
			res.Records = c.Meta.Metrics
		}
	}
	if err := m.InitVariables(cfg.Size, cfg.Size); err != nil {
		return nil, err
	}

	steps := len(train) / batch
	bar := newProgress(cfg.Progress, cfg.Epochs, steps)
	evalSets := []*evalSet{{name: SplitTrain, set: train}, {name: SplitTest, set: test}}
	var total PhaseTimes
	total.Other = time.Since(start).Seconds()
	interval := cfg.CheckpointInterval
	if interval == 0 {
		interval = time.Minute
	}
	lastCheckpoint := time.Now()
	for epoch := res.ResumedFrom + 1; epoch <= cfg.Epochs; epoch++ {
		var et PhaseTimes
		epochStart := time.Now()
		// The epoch's random draws, in the order of an unpipelined loop: the
		// shuffle, then each step's images' augmentations.
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(epoch)))
		order := rng.Perm(len(train))
		jobs := make([]batchJob, steps)
		for s := range jobs {
			jobs[s].idx = order[s*batch : (s+1)*batch]
			for _, k := range jobs[s].idx {
				b := train[k].Image.Bounds()
				jobs[s].plans = append(jobs[s].plans, transform.DrawAugment(rng, cfg.Augment, b.Dx(), b.Dy()))
			}
		}
		epochCtx, cancel := context.WithCancel(ctx)
		ready := assembleBatches(epochCtx, jobs, train, targets, cfg.Size, cfg.Model.InChannels)
		var sumLoss float64
		stepSecs := make([]float64, 0, steps)
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				cancel()
				return res, err
			}
			t0 := time.Now()
			b, ok := <-ready
			et.BatchWait += time.Since(t0).Seconds()
			if !ok || b.err != nil {
				cancel()
				if b.err == nil {
					b.err = ctx.Err()
				}
				return res, b.err
			}
			et.Batching += b.seconds
			if cfg.LRSchedule == ScheduleCosine {
				step := int64((epoch-1)*steps + s)
				if err := m.SetLearningRate(ScheduledRate(cfg.LRSchedule, cfg.LearningRate, step, int64(cfg.Epochs*steps))); err != nil {
					cancel()
					return res, err
				}
			}
			t1 := time.Now()
			loss, err := m.TrainStep(b.images, b.masks)
			if err != nil {
				cancel()
				return res, fmt.Errorf("epoch %d step %d: %w", epoch, s+1, err)
			}
			sec := time.Since(t1).Seconds()
			stepSecs = append(stepSecs, sec)
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				cancel()
				return res, m.nanError(cfg, epoch, s+1, loss, train, jobs[s].idx, res.Records)
			}
			sumLoss += loss
			bar.step(epoch, s+1, sumLoss/float64(s+1))
			if cfg.OnStep != nil {
				cfg.OnStep(StepInfo{Epoch: epoch, Epochs: cfg.Epochs, Step: s + 1, Steps: steps, Loss: loss, MeanLoss: sumLoss / float64(s+1), Seconds: sec})
			}
		}
		cancel()
		et.Step, et.Compile = splitFirst(stepSecs, epoch == res.ResumedFrom+1)
		var rows []research.EpochRecord
		if cfg.evaluated(epoch) {
			for _, es := range evalSets {
				if len(es.set) == 0 {
					continue
				}
				r, t, err := es.evaluate(m, batch, cfg.Size, targets)
				if err != nil {
					return res, fmt.Errorf("epoch %d: evaluating %s: %w", epoch, es.name, err)
				}
				for i := range r {
					r[i].Epoch, r[i].Split = epoch, es.name
				}
				rows = append(rows, r...)
				et.EvalDevice += t.EvalDevice
				et.EvalHost += t.EvalHost
				et.Compile += t.Compile
			}
			res.Records = append(res.Records, rows...)
		}
		t0 := time.Now()
		if cfg.Dir != "" {
			if len(rows) > 0 {
				if err := atomicfile.WriteFile(filepath.Join(cfg.Dir, MetricsFile), research.FormatMetricsCSV(res.Records), 0o644); err != nil {
					return res, err
				}
			}
			if epoch == cfg.Epochs || time.Since(lastCheckpoint) >= interval {
				lastCheckpoint = time.Now()
				snap, err := Snapshot(m.store)
				if err != nil {
					return res, err
				}
				meta := CheckpointMeta{Epoch: epoch, GlobalStep: m.GlobalStep(), Config: cfg, Metrics: slices.Clone(res.Records)}
				if err := writer.Save(filepath.Join(ckptDir, fmt.Sprintf(checkpointPattern, epoch)), snap, meta); err != nil {
					return res, err
				}
			}
		}
		et.Checkpoint = time.Since(t0).Seconds()
		et.Wall = time.Since(epochStart).Seconds()
		et.Other = et.Wall - (et.BatchWait + et.Step + et.EvalDevice + et.EvalHost + et.Checkpoint + et.Compile)
		total = total.Add(et)
		res.Epochs = append(res.Epochs, et)
		bar.epochDone(epoch, sumLoss/float64(steps), rows, et)
		if cfg.OnEpoch != nil {
			info := EpochInfo{Epoch: epoch, Epochs: cfg.Epochs, Model: m, TrainLoss: sumLoss / float64(steps), Records: rows, All: res.Records, Times: et, Total: total}
			if err := cfg.OnEpoch(info); err != nil {
				return res, err
			}
		}
	}
	t0 := time.Now()
	if err := writer.Wait(); err != nil {
		return res, err
	}
	total.Checkpoint += time.Since(t0).Seconds()
	total.Wall = time.Since(start).Seconds()
	total.Other = total.Wall - (total.BatchWait + total.Step + total.EvalDevice + total.EvalHost + total.Checkpoint + total.Compile)
	res.Times, res.Seconds = total, total.Wall
	return res, nil
}

// batchJob is one training step's images (indices into the training set)
// and their drawn augmentations.
type batchJob struct {
	idx   []int
	plans []transform.AugmentPlan
}

// readyBatch is an assembled training batch, or the error that stopped it.
type readyBatch struct {
	images, masks *tensors.Tensor
	seconds       float64 // time spent augmenting and assembling it
	err           error
}

// batchesAhead is how many assembled batches may wait for their step.
const batchesAhead = 2

// assembleBatches applies the jobs' augmentations, each batch's images in
// parallel, and assembles the input tensors, in job order, sending each
// batch on the returned channel up to batchesAhead before it is needed. The
// channel is closed after the last batch, an error, or ctx's end.
func assembleBatches(ctx context.Context, jobs []batchJob, train []*transform.Prepared, targets []string, size, channels int) <-chan readyBatch {
	out := make(chan readyBatch, batchesAhead)
	go func() {
		defer close(out)
		for _, job := range jobs {
			t0 := time.Now()
			imgs := make([]*image.Gray, len(job.idx))
			masks := make([][]*mask.Mask, len(job.idx))
			datasets.Parallel(len(job.idx), func(i int) {
				p := train[job.idx[i]]
				imgs[i], masks[i] = job.plans[i].Apply(p.Image, targetMasks(p, targets)...)
			})
			b := readyBatch{}
			b.images, b.err = imagesTensor(imgs, size, channels)
			if b.err == nil {
				b.masks, b.err = masksTensor(masks, size)
			}
			b.seconds = time.Since(t0).Seconds()
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	return out
}

// splitFirst is splitCompile with only the first value (when first is set)
// run for the first time.
func splitFirst(secs []float64, first bool) (rest, compile float64) {
	fresh := make([]bool, len(secs))
	if len(secs) > 0 {
		fresh[0] = first
	}
	return splitCompile(secs, fresh)
}

// splitCompile returns the sum of secs with, split off as compilation time,
// the excess of each value run for the first time (fresh) over the mean of
// the others (all of it when none is typical).
func splitCompile(secs []float64, fresh []bool) (rest, compile float64) {
	var typical float64
	n := 0
	for i, s := range secs {
		rest += s
		if !fresh[i] {
			typical += s
			n++
		}
	}
	if n > 0 {
		typical /= float64(n)
	}
	for i, s := range secs {
		if fresh[i] {
			compile += max(0, s-typical)
		}
	}
	return rest - compile, compile
}

// checkPrepared reports a prepared image that does not fit the run.
func checkPrepared(p *transform.Prepared, size int, targets []string) error {
	if p == nil || p.Image == nil {
		return errors.New("a prepared image is missing")
	}
	b := p.Image.Bounds()
	if b.Dx() != size || b.Dy() != size {
		return fmt.Errorf("%s: image is %dx%d, the run uses %dx%d", p.Stem, b.Dx(), b.Dy(), size, size)
	}
	for _, t := range targets {
		m := p.Mask(t)
		if m == nil {
			return fmt.Errorf("%s: no %s mask to train on", p.Stem, t)
		}
		if m.Width != size || m.Height != size {
			return fmt.Errorf("%s: %s mask is %dx%d, the run uses %dx%d", p.Stem, t, m.Width, m.Height, size, size)
		}
	}
	return nil
}

// nanError saves the model's state and describes a non-finite loss.
func (m *Model) nanError(cfg TrainConfig, epoch, step int, loss float64, train []*transform.Prepared, idx []int, rows []research.EpochRecord) error {
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

// Predict returns the probabilities of every target for prepared images:
// out[i][t] holds Size*Size values (row-major) of target t (in the order of
// Config.TargetList) of image i. It runs in batches of batch.
func (m *Model) Predict(set []*transform.Prepared, batch int) ([][][]float32, error) {
	out := make([][][]float32, 0, len(set))
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

// evalSet is a split evaluated after the epochs, with its input batches
// assembled on first use and kept (the images do not change; on an
// accelerator they then stay on the device).
type evalSet struct {
	name    string
	set     []*transform.Prepared
	batches []evalBatch
}

// evalBatch is one evaluation batch: its first valid images are part, the
// others pad it to the batch size.
type evalBatch struct {
	images, masks *tensors.Tensor
	part          []*transform.Prepared
}

// evaluate computes the metrics rows (one per target) of the model on the
// set and the times it took. Every batch has batch images (the last one
// padded with empty images that the losses and metrics leave out), so one
// compiled graph serves every split and epoch; the per-image counts of the
// metrics are taken as each batch's probabilities arrive.
func (es *evalSet) evaluate(m *Model, batch, size int, targets []string) ([]research.EpochRecord, PhaseTimes, error) {
	var t PhaseTimes
	t0 := time.Now()
	if es.batches == nil {
		for start := 0; start < len(es.set); start += batch {
			part := es.set[start:min(start+batch, len(es.set))]
			imgs := make([]*image.Gray, batch)
			masks := make([][]*mask.Mask, batch)
			for i := range imgs {
				if i < len(part) {
					imgs[i], masks[i] = part[i].Image, targetMasks(part[i], targets)
				} else {
					imgs[i], masks[i] = image.NewGray(image.Rect(0, 0, size, size)), make([]*mask.Mask, len(targets))
				}
			}
			it, err := imagesTensor(imgs, size, m.Config.InChannels)
			if err != nil {
				return nil, t, err
			}
			mt, err := masksTensor(masks, size)
			if err != nil {
				return nil, t, err
			}
			es.batches = append(es.batches, evalBatch{images: it, masks: mt, part: part})
		}
	}
	t.EvalHost += time.Since(t0).Seconds()
	sumLoss := make([]float64, len(targets))
	counts := make([][]research.ImageCounts, len(targets))
	var device []float64
	var fresh []bool // the batch's shape ran for the first time (compiled)
	opt := research.DefaultMetricOptions()
	for _, b := range es.batches {
		t1 := time.Now()
		probs, losses, err := m.Evaluate(b.images, b.masks, len(b.part))
		if err != nil {
			return nil, t, err
		}
		t2 := time.Now()
		device = append(device, t2.Sub(t1).Seconds())
		fresh = append(fresh, !m.evalShapes[batch])
		m.evalShapes[batch] = true
		for k := range targets {
			sumLoss[k] += losses[k] * float64(len(b.part))
		}
		err = eachProbability(probs, func(i, k int, prob []float32) error {
			if i >= len(b.part) {
				return nil // padding
			}
			p := b.part[i]
			c, err := research.CountImage(research.Prediction{Name: p.Stem, Patient: p.Patient, Truth: p.Pix(targets[k]), Prob: prob}, opt.Threshold)
			counts[k] = append(counts[k], c)
			return err
		})
		probs.FinalizeAll()
		if err != nil {
			return nil, t, err
		}
		t.EvalHost += time.Since(t2).Seconds()
	}
	t0 = time.Now()
	rows := make([]research.EpochRecord, len(targets))
	for k, name := range targets {
		scores, err := research.Summarize(counts[k], opt)
		if err != nil {
			return nil, t, err
		}
		rows[k] = research.EpochRecord{Target: name, Loss: sumLoss[k] / float64(len(es.set)), IoUSoftPooled: scores.SoftPooledIoU,
			IoUPerImage: scores.PerImageIoU, F1: scores.SoftPooledF1}
	}
	t.EvalHost += time.Since(t0).Seconds()
	t.EvalDevice, t.Compile = splitCompile(device, fresh)
	return rows, t, nil
}
