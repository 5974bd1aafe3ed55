package unet

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// lanesLossAndGrads returns the training loss of the tiny model with the
// given number of batch lanes on images and masks, its gradient with
// respect to every trainable variable, the updated batch-norm running
// averages, and the inference logits, all from the same initial weights.
func lanesLossAndGrads(t *testing.T, lanes int, images, masks *tensors.Tensor) (names []string, out []*tensors.Tensor) {
	t.Helper()
	cfg := TinyConfig()
	cfg.Ops = OpsFast
	cfg.Lanes = lanes
	store := model.NewStore()
	store.SetParam(ParamSeed, int64(3))
	// Create the variables first (inference build), so the training
	// build can list them.
	infer, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, x *Node) *Node {
		return cfg.Logits(scope.In("unet"), cfg.Layers(goBackend(t), false, store), normalizeImages(x))
	})
	if err != nil {
		t.Fatal(err)
	}
	logits, err := infer.Exec(images)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, x, m *Node) []*Node {
		logits := cfg.Logits(scope.In("unet"), cfg.Layers(goBackend(t), true, store), normalizeImages(x))
		loss := TrainingLoss(LossDiceFocal, logits, m)
		var vars, stats []*Node
		names = names[:0]
		for v := range store.IterVariables() {
			if !isModelVariable(v) {
				continue
			}
			if v.Trainable {
				names = append(names, "d"+v.Scope()+"/"+v.Name())
				vars = append(vars, v.NodeValue(loss.Graph()))
			} else {
				stats = append(stats, v.NodeValue(loss.Graph()))
			}
		}
		for v := range store.IterVariables() {
			if isModelVariable(v) && !v.Trainable {
				names = append(names, v.Scope()+"/"+v.Name())
			}
		}
		return append(append([]*Node{loss}, Gradient(loss, vars...)...), stats...)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec(images, masks)
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"loss"}, append(names, "inference logits")...), append(res, logits[0])
}

// TestLanesMatchOneLane checks that splitting the batch into lanes (with
// batch norm on the statistics of the whole batch) computes the same
// training loss, gradients of every weight, running batch statistics and
// inference logits as one lane, up to float rounding; 3 lanes of a batch of
// 4 also checks unequal lanes. The tolerance, 1e-3 of each tensor's largest
// magnitude, allows for float32 sums over thousands of pixels taken in a
// different order (the stem's weight gradient differs by about 3e-4 with
// the AVX-512 matrix multiplication); statistics of one lane instead of
// the batch change the loss alone by 5e-3.
func TestLanesMatchOneLane(t *testing.T) {
	set := syntheticSet(4, 64, 11)
	images, masks := setTensors(t, set, 64)
	names, want := lanesLossAndGrads(t, 1, images, masks)
	for _, lanes := range []int{2, 3} {
		t.Run(fmt.Sprintf("lanes=%d", lanes), func(t *testing.T) {
			gotNames, got := lanesLossAndGrads(t, lanes, images, masks)
			if len(got) != len(want) || fmt.Sprint(gotNames) != fmt.Sprint(names) {
				t.Fatalf("outputs %v, want %v", gotNames, names)
			}
			for i := range got {
				assertClose(t, names[i], got[i], want[i], 1e-3)
			}
		})
	}
}
