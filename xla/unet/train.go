package unet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/covidxray/opacity/atomicfile"
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
	// Start, when set, is where a fresh run's weights come from instead
	// of a random initialisation (fine-tuning): a checkpoint file or a
	// training folder (see readStartCheckpoint). StartSHA256 (StartDigest) is
	// what identifies it in the run's configuration: the path does not
	// count, the weights do.
	Start       string `json:"-"`
	StartSHA256 string `json:"start_sha256,omitempty"`

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
	if c.Epochs < 1 && !(c.Epochs == 0 && c.started()) {
		return fmt.Errorf("epochs must be >= 1 (0 only with starting weights, kept as they are), got %d", c.Epochs)
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

// started reports whether the run starts from other weights (Start, or
// StartSHA256 in a configuration read back from a checkpoint).
func (c TrainConfig) started() bool { return c.Start != "" || c.StartSHA256 != "" }

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

// accounted is the sum of the phases that Other leaves out: every one but
// Batching (which overlaps the steps), Other and Wall.
func (t PhaseTimes) accounted() float64 {
	return t.BatchWait + t.Step + t.EvalDevice + t.EvalHost + t.Checkpoint + t.Compile
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
func Train(ctx context.Context, cfg TrainConfig, train, test []*transform.Prepared) (*TrainResult, error) {
	t, err := newTrainer(cfg, train, test)
	if err != nil {
		return nil, err
	}
	return t.run(ctx)
}

// trainer is one call of Train: the run's settings and model, and what the
// run has measured so far. run is the loop; resume, epoch (trainSteps,
// evaluate, writeMetrics, checkpoint, report) and finish are its steps.
type trainer struct {
	cfg          TrainConfig // with Keep and Model.Recompute settled
	train        []*transform.Prepared
	targets      []string
	batch, steps int // images per step, steps per epoch
	m            *Model
	res          *TrainResult
	evalSets     []*evalSet
	bar          *progress
	// writer writes the epoch checkpoints in the background; its dir is
	// empty without cfg.Dir.
	writer         *checkpointWriter
	interval       time.Duration // the least time between two epoch checkpoints
	lastCheckpoint time.Time
	start          time.Time // when the run began, its inputs checked
	total          PhaseTimes
	memLimit       *memoryLimit // nil off the Go backend or with GOMEMLIMIT set
}

// newTrainer checks the configuration and the images, settles the defaults
// that depend on the run (Keep, Model.Recompute), opens the backend and
// makes a fresh model.
func newTrainer(cfg TrainConfig, train, test []*transform.Prepared) (*trainer, error) {
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
	var memLimit *memoryLimit
	if isGo(backend) {
		// A checkpoint's snapshot (weights and Adam's two moments) is held
		// while it is written in the background.
		memLimit = newMemoryLimit(batch, cfg.Size, cfg.Size, cfg.Model.Recompute, int64(3*4*cfg.Model.Parameters()))
	}
	m, err := NewModel(backend, cfg.Model, cfg.Seed, cfg.LearningRate)
	if err != nil {
		return nil, fmt.Errorf("making the model: %w", err)
	}
	interval := cfg.CheckpointInterval
	if interval == 0 {
		interval = time.Minute
	}
	steps := len(train) / batch
	t := &trainer{
		cfg:      cfg,
		train:    train,
		targets:  targets,
		batch:    batch,
		steps:    steps,
		m:        m,
		res:      &TrainResult{Model: m},
		evalSets: []*evalSet{{name: SplitTrain, set: train, memLimit: memLimit}, {name: SplitTest, set: test, memLimit: memLimit}},
		bar:      newProgress(cfg.Progress, cfg.Epochs, steps),
		writer:   &checkpointWriter{keep: cfg.Keep},
		interval: interval,
		start:    start,
		memLimit: memLimit,
	}
	if cfg.Dir != "" {
		t.writer.dir = filepath.Join(cfg.Dir, CheckpointsDir)
	}
	return t, nil
}

// run resumes, trains the epochs left and finishes. Every way out passes
// through its one cleanup: the checkpoint still being written in the
// background is waited for, and its error returned when nothing else went
// wrong. A failed resume returns no result; a later failure returns the
// result so far with the error.
func (t *trainer) run(ctx context.Context) (res *TrainResult, err error) {
	defer func() {
		if werr := t.writer.Wait(); werr != nil && err == nil {
			err = werr
		}
	}()
	if err := t.resume(); err != nil {
		return nil, err
	}
	t.total.Other = time.Since(t.start).Seconds()
	t.lastCheckpoint = time.Now()
	if t.cfg.Epochs == 0 {
		if err := t.keepStart(); err != nil {
			return t.res, err
		}
	}
	for epoch := t.res.ResumedFrom + 1; epoch <= t.cfg.Epochs; epoch++ {
		if err := t.epoch(ctx, epoch); err != nil {
			return t.res, err
		}
	}
	if err := t.finish(); err != nil {
		return t.res, err
	}
	return t.res, nil
}

// resume makes the training folder's checkpoints folder and loads the
// newest readable checkpoint there into the model, refusing one of another
// configuration (damaged newer ones are named on cfg.Progress); a fresh
// run loads its starting weights (cfg.Start) instead, when it has them;
// then it creates the variables no checkpoint gave (all of them in a fresh
// run without a start). Without cfg.Dir nothing is resumed.
func (t *trainer) resume() error {
	fresh := true
	if dir := t.writer.dir; dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		c, damaged, err := LatestCheckpoint(dir)
		if err != nil {
			return err
		}
		for _, d := range damaged {
			if t.cfg.Progress != nil {
				fmt.Fprintf(t.cfg.Progress, "warning: %v; resuming from an older checkpoint\n", d)
			}
		}
		if c != nil {
			if !c.Meta.Config.SameRun(t.cfg) {
				return fmt.Errorf("%s: the checkpoints were made with another configuration (%s); use another folder",
					t.cfg.Dir, c.Path)
			}
			if err := t.m.Restore(c); err != nil {
				return fmt.Errorf("resuming: %w", err)
			}
			t.res.ResumedFrom = c.Meta.Epoch
			t.res.Records = c.Meta.Metrics
			fresh = false
		}
	}
	if fresh && t.cfg.Start != "" {
		if err := t.loadStart(); err != nil {
			return err
		}
	}
	if err := t.m.InitVariables(t.cfg.Size, t.cfg.Size); err != nil {
		return fmt.Errorf("creating the model's variables: %w", err)
	}
	return nil
}

// keepStart is a run of 0 epochs: the starting weights as they are,
// evaluated like an epoch's (epoch 0 in metrics.csv, replacing any records
// a resumed run read back) and written as the run's checkpoint epoch-0000,
// so that the run can be used and validated like any other.
func (t *trainer) keepStart() error {
	t.res.Records = nil
	return t.endEpoch(0, math.NaN(), true, time.Now(), &PhaseTimes{})
}

// loadStart loads the model variables of the run's starting weights (see
// readStart) into the fresh model.
func (t *trainer) loadStart() error {
	c, err := readStart(t.cfg)
	if err != nil {
		return err
	}
	if t.cfg.Progress != nil {
		fmt.Fprintf(t.cfg.Progress, "starting from the weights of %s\n", c.Path)
	}
	return t.m.Restore(c)
}

// epoch trains one epoch, evaluates the model after it when cfg.EvalEvery
// says so, writes metrics.csv and the checkpoint that are due, and reports
// the epoch.
func (t *trainer) epoch(ctx context.Context, epoch int) error {
	var et PhaseTimes
	start := time.Now()
	trainLoss, err := t.trainSteps(ctx, epoch, &et)
	if err != nil {
		return err
	}
	return t.endEpoch(epoch, trainLoss, t.cfg.evaluated(epoch), start, &et)
}

// endEpoch ends an epoch that began at start and whose mean step loss is
// trainLoss: the evaluation when evaluate is set (its rows added to the
// records and metrics.csv), the checkpoint, the phase times and the report.
func (t *trainer) endEpoch(epoch int, trainLoss float64, evaluate bool, start time.Time, et *PhaseTimes) error {
	var rows []research.EpochRecord
	if evaluate {
		var err error
		if rows, err = t.evaluate(epoch, et); err != nil {
			return err
		}
		t.res.Records = append(t.res.Records, rows...)
	}
	t0 := time.Now()
	if len(rows) > 0 {
		if err := t.writeMetrics(epoch); err != nil {
			return err
		}
	}
	if err := t.checkpoint(epoch); err != nil {
		return err
	}
	et.Checkpoint = time.Since(t0).Seconds()
	et.Wall = time.Since(start).Seconds()
	et.Other = et.Wall - et.accounted()
	return t.report(epoch, trainLoss, rows, *et)
}

// drawEpoch makes the epoch's random draws from a generator seeded with
// (cfg.Seed, epoch), in the order of an unpipelined loop: the shuffle, then
// each step's images' augmentations.
func (t *trainer) drawEpoch(epoch int) []batchJob {
	rng := rand.New(rand.NewPCG(uint64(t.cfg.Seed), uint64(epoch)))
	order := rng.Perm(len(t.train))
	jobs := make([]batchJob, t.steps)
	for s := range jobs {
		jobs[s].idx = order[s*t.batch : (s+1)*t.batch]
		for _, k := range jobs[s].idx {
			b := t.train[k].Image.Bounds()
			jobs[s].plans = append(jobs[s].plans, transform.DrawAugment(rng, t.cfg.Augment, b.Dx(), b.Dy()))
		}
	}
	return jobs
}

// trainSteps takes the epoch's training steps and returns their mean loss,
// adding their times to et. The batches are assembled ahead by other
// goroutines (assembleBatches), which the deferred stop ends on every way
// out.
func (t *trainer) trainSteps(ctx context.Context, epoch int, et *PhaseTimes) (float64, error) {
	jobs := t.drawEpoch(epoch)
	prefetch, stop := context.WithCancel(ctx)
	defer stop()
	ready := assembleBatches(prefetch, jobs, t.train, t.targets, t.cfg.Size, t.cfg.Model.InChannels)
	var sumLoss float64
	stepSecs := make([]float64, 0, t.steps)
	for s := 0; s < t.steps; s++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t0 := time.Now()
		b, ok := <-ready
		et.BatchWait += time.Since(t0).Seconds()
		if !ok || b.err != nil {
			if b.err == nil {
				b.err = ctx.Err()
			}
			return 0, b.err
		}
		et.Batching += b.seconds
		if err := t.scheduleRate(epoch, s); err != nil {
			return 0, err
		}
		t1 := time.Now()
		loss, err := t.m.TrainStep(b.images, b.masks)
		if err != nil {
			return 0, fmt.Errorf("epoch %d step %d: %w", epoch, s+1, err)
		}
		sec := time.Since(t1).Seconds()
		stepSecs = append(stepSecs, sec)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return 0, t.nanError(epoch, s+1, loss, jobs[s].idx)
		}
		sumLoss += loss
		t.memLimit.follow()
		t.bar.step(epoch, s+1, sumLoss/float64(s+1))
		if t.cfg.OnStep != nil {
			t.cfg.OnStep(StepInfo{Epoch: epoch, Epochs: t.cfg.Epochs, Step: s + 1, Steps: t.steps, Loss: loss, MeanLoss: sumLoss / float64(s+1), Seconds: sec})
		}
	}
	et.Step, et.Compile = splitFirst(stepSecs, epoch == t.res.ResumedFrom+1)
	return sumLoss / float64(t.steps), nil
}

// scheduleRate sets the learning rate of step s (0-based) of epoch on the
// cosine schedule; a constant rate stays the one NewModel set.
func (t *trainer) scheduleRate(epoch, s int) error {
	if t.cfg.LRSchedule != ScheduleCosine {
		return nil
	}
	step := int64((epoch-1)*t.steps + s)
	if err := t.m.SetLearningRate(ScheduledRate(t.cfg.LRSchedule, t.cfg.LearningRate, step, int64(t.cfg.Epochs*t.steps))); err != nil {
		return fmt.Errorf("epoch %d step %d: %w", epoch, s+1, err)
	}
	return nil
}

// nanError saves the model's state (with cfg.Dir) and describes the
// non-finite loss of step (1-based) of epoch, whose batch held the training
// images idx.
func (t *trainer) nanError(epoch, step int, loss float64, idx []int) error {
	stems := make([]string, len(idx))
	for i, k := range idx {
		stems[i] = t.train[k].Stem
	}
	msg := fmt.Sprintf("epoch %d step %d: the training loss is %v (batch: %s)", epoch, step, loss, strings.Join(stems, ", "))
	if t.cfg.Dir == "" {
		return errors.New(msg + "; lower the learning rate or check these images")
	}
	path := filepath.Join(t.cfg.Dir, NaNStateFile)
	meta := CheckpointMeta{Epoch: epoch - 1, Config: t.cfg, Metrics: t.res.Records, Note: msg}
	if err := t.m.SaveCheckpoint(path, meta); err != nil {
		return fmt.Errorf("%s; saving the state to %s failed: %w", msg, path, err)
	}
	return fmt.Errorf("%s; the model state after the step is in %s, the last good one in %s; lower the learning rate or check these images",
		msg, path, t.writer.dir)
}

// evaluate returns the metrics rows of the model after epoch on the training
// and the testing images (one per split and target; an empty split has
// none), adding the times to et.
func (t *trainer) evaluate(epoch int, et *PhaseTimes) ([]research.EpochRecord, error) {
	var rows []research.EpochRecord
	for _, es := range t.evalSets {
		if len(es.set) == 0 {
			continue
		}
		r, times, err := es.evaluate(t.m, t.batch, t.cfg.Size, t.targets)
		if err != nil {
			return nil, fmt.Errorf("epoch %d: evaluating %s: %w", epoch, es.name, err)
		}
		for i := range r {
			r[i].Epoch, r[i].Split = epoch, es.name
		}
		rows = append(rows, r...)
		et.EvalDevice += times.EvalDevice
		et.EvalHost += times.EvalHost
		et.Compile += times.Compile
	}
	return rows, nil
}

// writeMetrics rewrites metrics.csv of the training folder, atomically,
// with every row so far (nothing without cfg.Dir).
func (t *trainer) writeMetrics(epoch int) error {
	if t.cfg.Dir == "" {
		return nil
	}
	if err := atomicfile.WriteFile(filepath.Join(t.cfg.Dir, MetricsFile), research.FormatMetricsCSV(t.res.Records), 0o644); err != nil {
		return fmt.Errorf("epoch %d: writing %s: %w", epoch, MetricsFile, err)
	}
	return nil
}

// checkpoint starts writing the epoch's checkpoint in the background when
// one is due (cfg.CheckpointInterval after the last one, and after the last
// epoch; nothing without cfg.Dir). It returns the error of the previous
// write, if any.
func (t *trainer) checkpoint(epoch int) error {
	if t.writer.dir == "" || (epoch < t.cfg.Epochs && time.Since(t.lastCheckpoint) < t.interval) {
		return nil
	}
	t.lastCheckpoint = time.Now()
	snap, err := Snapshot(t.m.store)
	if err != nil {
		return fmt.Errorf("epoch %d: checkpoint: %w", epoch, err)
	}
	meta := CheckpointMeta{Epoch: epoch, GlobalStep: t.m.GlobalStep(), Config: t.cfg, Metrics: slices.Clone(t.res.Records)}
	return t.writer.Save(filepath.Join(t.writer.dir, fmt.Sprintf(checkpointPattern, epoch)), snap, meta)
}

// report adds the epoch's times to the run's, prints its progress line and
// calls cfg.OnEpoch, whose error stops the run.
func (t *trainer) report(epoch int, trainLoss float64, rows []research.EpochRecord, et PhaseTimes) error {
	t.total = t.total.Add(et)
	t.res.Epochs = append(t.res.Epochs, et)
	t.bar.epochDone(epoch, trainLoss, rows, et)
	if t.cfg.OnEpoch == nil {
		return nil
	}
	return t.cfg.OnEpoch(EpochInfo{Epoch: epoch, Epochs: t.cfg.Epochs, Model: t.m, TrainLoss: trainLoss, Records: rows,
		All: t.res.Records, Times: et, Total: t.total})
}

// finish waits for the last checkpoint to be written and completes the
// run's times.
func (t *trainer) finish() error {
	t0 := time.Now()
	if err := t.writer.Wait(); err != nil {
		return err
	}
	t.total.Checkpoint += time.Since(t0).Seconds()
	t.total.Wall = time.Since(t.start).Seconds()
	t.total.Other = t.total.Wall - t.total.accounted()
	t.res.Times, t.res.Seconds = t.total, t.total.Wall
	return nil
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
