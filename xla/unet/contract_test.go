package unet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
)

// TestEveryTrainableVariableLearns is the end-to-end form of the layer
// contracts: for each variant a student can make from the configuration
// (encoder, dropout, targets), the gradient of the training loss reaches
// every trainable variable of the model on the Go backend's layers. A
// trainable operation placed where its gradient is lost (say, before the
// first convolution, which computes no input gradient) makes its
// variable's gradient zero, and this test fails naming it.
func TestEveryTrainableVariableLearns(t *testing.T) {
	set := syntheticSet(4, 64, 13)
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"resnet18", func(*Config) {}},
		{"resnet34_dropout", func(c *Config) { c.Encoder, c.Dropout = EncoderResNet34, 0.2 }},
		{"lungs_opacity", func(c *Config) { c.Targets = []string{datasets.TargetLungs, datasets.TargetOpacity} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := TinyConfig()
			tc.edit(&cfg)
			images, masks := targetTensors(t, set, 64, cfg.TargetList())
			store := model.NewStore()
			store.SetParam(ParamSeed, int64(4))
			store.SetRNGStateFromSeed(4)
			backend := goBackend(t)
			build := func(scope *model.Scope, x *Node, training bool) *Node {
				return cfg.Logits(scope.In("unet"), cfg.Layers(backend, training, store), normalizeImages(x))
			}
			infer, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node { return build(scope, x, false) })
			if err != nil {
				t.Fatal(err)
			}
			if _, err := infer.Exec(images); err != nil { // creates the variables
				t.Fatal(err)
			}
			var names []string
			exec, err := model.NewExec(backend, store, func(scope *model.Scope, x, m *Node) []*Node {
				loss := TrainingLoss(LossDiceFocal, build(scope, x, true), m)
				var vars []*Node
				names = names[:0]
				for v := range store.IterVariables() {
					if v.Trainable && isModelVariable(v) {
						names = append(names, v.Path())
						vars = append(vars, v.NodeValue(loss.Graph()))
					}
				}
				return Gradient(loss, vars...)
			})
			if err != nil {
				t.Fatal(err)
			}
			grads, err := exec.Exec(images, masks)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) < 40 {
				t.Fatalf("only %d trainable variables", len(names))
			}
			for i, g := range grads {
				nonzero := false
				for _, v := range tensors.MustCopyFlatData[float32](g) {
					nonzero = nonzero || v != 0
				}
				if !nonzero {
					t.Errorf("%s: zero gradient: its value never changes in training", names[i])
				}
			}
		})
	}
}

// targetTensors is setTensors with the masks of the given targets.
func targetTensors(t *testing.T, set []*transform.Prepared, size int, targets []string) (images, masks *tensors.Tensor) {
	t.Helper()
	images, _ = setTensors(t, set, size)
	ms := make([][]*mask.Mask, len(set))
	for i, p := range set {
		ms[i] = targetMasks(p, targets)
	}
	masks, err := masksTensor(ms, size)
	if err != nil {
		t.Fatal(err)
	}
	return images, masks
}

// TestTrainTargetsAndDropout trains the variants of the configuration a
// student changes: two targets give a metrics row per split and target and
// a training loss that is the sum of the targets'; dropout with a seed
// repeats exactly and changes the training, not the inference.
func TestTrainTargetsAndDropout(t *testing.T) {
	train, test := syntheticSet(4, 64, 31), syntheticSet(2, 64, 32)
	cfg := tinyTrainConfig()
	cfg.Model.Targets = []string{datasets.TargetLungs, datasets.TargetOpacity}
	res, err := Train(context.Background(), cfg, train, test)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Records {
		got = append(got, r.Split+"/"+r.Target)
	}
	if want := "train/lungs train/opacity test/lungs test/opacity"; strings.Join(got, " ") != want {
		t.Errorf("rows %v, want %s", got, want)
	}
	if p := res.Model.Config.Parameters(); p != res.Model.NumTrainableParameters() {
		t.Errorf("Config.Parameters %d, built model %d", p, res.Model.NumTrainableParameters())
	}

	drop := tinyTrainConfig()
	drop.Model.Dropout = 0.3
	run := func(c TrainConfig) []float64 {
		var losses []float64
		c.OnStep = func(s StepInfo) { losses = append(losses, s.Loss) }
		if _, err := Train(context.Background(), c, train, test); err != nil {
			t.Fatal(err)
		}
		return losses
	}
	a, b, none := run(drop), run(drop), run(tinyTrainConfig())
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("dropout with the same seed: losses %v and %v", a, b)
	}
	// The first step's weights are the same; only dropout differs.
	if a[0] == none[0] {
		t.Errorf("dropout 0.3 gave the first-step loss of no dropout (%v)", a[0])
	}
}

// TestDamagedCheckpointIsNamed checks that a run whose newest checkpoint
// is damaged falls back to the older one and says which file was damaged,
// both when resuming training and when loading the model.
func TestDamagedCheckpointIsNamed(t *testing.T) {
	train := syntheticSet(4, 64, 41)
	cfg := tinyTrainConfig()
	cfg.Dir = t.TempDir()
	cfg.Epochs = 2
	cfg.CheckpointInterval = -1 // every epoch
	if _, err := Train(context.Background(), cfg, train, nil); err != nil {
		t.Fatal(err)
	}
	newest := filepath.Join(cfg.Dir, CheckpointsDir, "epoch-0002.ckpt")
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newest, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := LoadModel(cfg.Dir, "go")
	if err != nil {
		t.Fatal(err)
	}
	if l.Epoch != 1 || len(l.Damaged) != 1 || !strings.Contains(l.Damaged[0].Error(), newest) {
		t.Errorf("loaded epoch %d, damaged %v; want epoch 1 and %s named", l.Epoch, l.Damaged, newest)
	}
	var log strings.Builder
	cfg.Progress = &log
	res, err := Train(context.Background(), cfg, train, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != 1 || !strings.Contains(log.String(), newest) {
		t.Errorf("resumed from %d, log %q; want 1 and %s named", res.ResumedFrom, log.String(), newest)
	}
}

// TestEvalEvery checks that the model is evaluated only after every N-th
// epoch and after the last, and that the phase times add up.
func TestEvalEvery(t *testing.T) {
	train := syntheticSet(4, 64, 51)
	cfg := tinyTrainConfig()
	cfg.Epochs, cfg.EvalEvery = 3, 2
	res, err := Train(context.Background(), cfg, train, nil)
	if err != nil {
		t.Fatal(err)
	}
	var epochs []int
	for _, r := range res.Records {
		epochs = append(epochs, r.Epoch)
	}
	if fmt.Sprint(epochs) != "[2 3]" {
		t.Errorf("evaluated epochs %v, want [2 3]", epochs)
	}
	tt := res.Times
	sum := tt.BatchWait + tt.Step + tt.EvalDevice + tt.EvalHost + tt.Checkpoint + tt.Compile + tt.Other
	if len(res.Epochs) != 3 || tt.Step <= 0 || tt.Compile <= 0 || tt.Wall <= 0 || sum < 0.999*tt.Wall || sum > 1.001*tt.Wall {
		t.Errorf("times %+v (sum %g), %d epochs", tt, sum, len(res.Epochs))
	}
}
