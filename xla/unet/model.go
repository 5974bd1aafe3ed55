package unet

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/covidxray/opacity/xla/gofast"
	"github.com/covidxray/opacity/xla/nn"
)

// DefaultLearningRate is the Adam learning rate of the paper's training.
const DefaultLearningRate = 1e-4

// adamEpsilon is PyTorch's Adam default (GoMLX's default is Keras' 1e-7).
const adamEpsilon = 1e-8

// Model is a U-Net with its variables, its Adam state and its compiled
// training and inference steps on one backend. It is not safe for concurrent
// use.
type Model struct {
	// Config is the architecture; it must not change after NewModel.
	Config Config

	backend      compute.Backend
	store        *model.Store
	learningRate float64 // Adam's rate until SetLearningRate changes it
	trainer      *train.Trainer
	infer        *model.Exec
	eval         *model.Exec
	// evalShapes are the batch sizes eval has run (compiled) for.
	evalShapes map[int]bool
}

// NewModel returns a model with freshly initialised weights drawn from
// seed, trained with Adam at learningRate. The seed also seeds the random
// generator of dropout.
func NewModel(backend compute.Backend, cfg Config, seed int64, learningRate float64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !(learningRate > 0) {
		return nil, fmt.Errorf("learning rate must be positive, got %g", learningRate)
	}
	store := model.NewStore()
	store.SetParam(ParamSeed, seed)
	store.SetParam(model.ParamInitialSeed, seed)
	if cfg.Dropout > 0 {
		store.SetRNGStateFromSeed(seed)
	}
	m := &Model{Config: cfg, backend: backend, store: store, learningRate: learningRate, evalShapes: map[int]bool{}}
	logits := func(scope *model.Scope, images *Node, training bool) *Node {
		return cfg.Logits(scope.In("unet"), cfg.Layers(backend, training, store), normalizeImages(images))
	}
	modelFn := func(scope *model.Scope, images *Node) []*Node {
		return []*Node{logits(scope, images, scope.Store().IsTraining(images.Graph()))}
	}
	lossFn := func(labels, predictions []*Node) *Node {
		return TrainingLoss(cfg.Loss, predictions[0], labels[0])
	}
	opt := optimizer.Adam().LearningRate(learningRate).Epsilon(adamEpsilon).Done()
	m.trainer = train.NewTrainer(backend, store, modelFn, lossFn, opt, nil, nil)
	infer, err := model.NewExec(backend, store, func(scope *model.Scope, images *Node) *Node {
		return Sigmoid(logits(scope, images, false))
	})
	if err != nil {
		return nil, err
	}
	m.infer = infer
	eval, err := model.NewExec(backend, store, func(scope *model.Scope, images, masks, weights, invCount *Node) []*Node {
		l := logits(scope, images, false)
		return append([]*Node{Sigmoid(l)}, WeightedTargetLosses(cfg.Loss, l, masks, weights, invCount)...)
	})
	if err != nil {
		return nil, err
	}
	m.eval = eval
	return m, nil
}

// Restore loads the weights, batch-norm statistics, optimiser state and
// global step of a checkpoint into a freshly made model (call it before the
// first step, evaluation or InitVariables). Variables created later (the
// optimiser's, with the first training step) are loaded when created.
func (m *Model) Restore(c *Checkpoint) error {
	return c.restore(m.store)
}

// SaveCheckpoint writes the model's variables and meta to path atomically
// (see SaveCheckpoint).
func (m *Model) SaveCheckpoint(path string, meta CheckpointMeta) error {
	meta.GlobalStep = m.GlobalStep()
	return SaveCheckpoint(path, m.store, meta)
}

// Layers returns the implementation of the layer interface the model is
// built with on backend b (see OpsMode), for a training or an inference
// graph; store names the trainable variables for the checks of gofast.
func (cfg Config) Layers(b compute.Backend, training bool, store *model.Store) nn.Layers {
	if cfg.Ops == OpsNative || (cfg.Ops == OpsAuto && !gofast.IsGoBackend(b)) {
		return nn.NewNative(training)
	}
	return gofast.New(gofast.Options{Training: training, Recompute: cfg.Recompute, Lanes: cfg.Lanes, Store: store})
}

// Evaluate returns the per-pixel probabilities [B, H, W, T] of images and
// the loss of each target (Dice + focal, in inference mode) against masks
// [B, H, W, T], over the first valid images of the batch (the others pad
// a last batch to the shape of the others, so that nothing recompiles; see
// WeightedTargetLosses). The tensors are not consumed.
func (m *Model) Evaluate(images, masks *tensors.Tensor, valid int) (*tensors.Tensor, []float64, error) {
	d := images.Shape().Dimensions
	weights := make([]float32, d[0])
	for i := range min(valid, d[0]) {
		weights[i] = 1
	}
	invCount := float32(1 / float64(valid*d[1]*d[2]))
	out, err := m.eval.Exec(images, masks, weights, invCount)
	if err != nil {
		return nil, nil, err
	}
	losses := make([]float64, len(out)-1)
	for i, t := range out[1:] {
		losses[i], err = scalarFloat(t)
		t.FinalizeAll()
		if err != nil {
			out[0].FinalizeAll()
			return nil, nil, err
		}
	}
	return out[0], losses, nil
}

// normalizeImages maps 8-bit intensities (as float32 0..255) to [-1, 1].
func normalizeImages(images *Node) *Node {
	if images.DType() != dtypes.Float32 {
		images = ConvertDType(images, dtypes.Float32)
	}
	return AddScalar(MulScalar(images, 2.0/255), -1)
}

// Backend returns the backend the model runs on.
func (m *Model) Backend() compute.Backend { return m.backend }

// Store returns the store holding the model's variables and the optimiser
// state.
func (m *Model) Store() *model.Store { return m.store }

// TrainStep runs one training step (forward, the Dice + focal loss summed
// over the targets, backward, Adam update) on images [B, H, W, C] (float32
// intensities 0..255) and masks [B, H, W, T] (float32 0 or 1), and returns
// the batch loss before the update. The tensors are consumed (finalised) by
// the step.
func (m *Model) TrainStep(images, masks *tensors.Tensor) (float64, error) {
	metrics, err := m.trainer.TrainStep(train.Batch{Inputs: []*tensors.Tensor{images}, Labels: []*tensors.Tensor{masks}})
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, t := range metrics {
			t.FinalizeAll()
		}
	}()
	if len(metrics) == 0 {
		return 0, errors.New("training step returned no loss")
	}
	return scalarFloat(metrics[0])
}

// Probabilities returns the per-pixel probabilities of every target
// [B, H, W, T] for images [B, H, W, C] (float32 intensities 0..255), with
// batch norms in inference mode.
func (m *Model) Probabilities(images *tensors.Tensor) (*tensors.Tensor, error) {
	out, err := m.infer.Exec(images)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// GlobalStep returns the number of training steps taken so far.
func (m *Model) GlobalStep() int64 { return optimizer.GetGlobalStep(m.store) }

// NumTrainableParameters returns the number of trained scalars (weights,
// batch-norm scales and shifts, the head's bias), after the variables exist
// (after the first step or InitVariables).
func (m *Model) NumTrainableParameters() int {
	n := 0
	for v := range m.store.IterVariables() {
		if v.Trainable && isModelVariable(v) {
			n += v.Shape().Size()
		}
	}
	return n
}

// modelScope is the scope of the U-Net's variables in a model's store.
const modelScope = "/unet"

// isModelVariable reports whether v belongs to the U-Net (not to the
// optimiser or the trainer).
func isModelVariable(v *model.Variable) bool {
	return strings.HasPrefix(v.Scope(), modelScope)
}

// InitVariables creates and initialises the model's variables for images of
// the given size, without training.
func (m *Model) InitVariables(height, width int) error {
	_, err := m.infer.Compile(imageShape(1, height, width, m.Config.InChannels))
	if err != nil {
		return err
	}
	return m.store.InitializeVariables(m.backend, nil)
}

// scalarFloat reads a scalar tensor of any float dtype.
func scalarFloat(t *tensors.Tensor) (float64, error) {
	switch v := t.Value().(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	default:
		return 0, fmt.Errorf("expected a float scalar, got %s", t.Shape())
	}
}

// shapeFromDims is the shape of dtype and dimensions.
func shapeFromDims(dtype dtypes.DType, dims []int) shapes.Shape {
	return shapes.Make(dtype, dims...)
}

// imageShape is the shape of a batch of images.
func imageShape(batch, height, width, channels int) shapes.Shape {
	return shapes.Make(dtypes.Float32, batch, height, width, channels)
}
