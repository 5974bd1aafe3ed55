package unet

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/covidxray/opacity/datasets"
)

// TestModelGradientFiniteDifferences compares the gradient of the training
// loss of the whole tiny model (fast ops, hand-written backward passes)
// with central finite differences of the loss along a random direction in
// one variable of each kind of layer (the directional derivative g.u).
func TestModelGradientFiniteDifferences(t *testing.T) {
	backend := goBackend(t)
	cfg := TinyConfig()
	store := model.NewStore()
	store.SetParam(ParamSeed, int64(5))
	set := syntheticSet(4, 64, 9)
	set[0].Mask(datasets.TargetOpacity).Pix[100] = 1 // some truth on every image
	images, masks := setTensors(t, set, 64)
	checks := []struct{ path string }{
		{"/unet/encoder/conv1/weight"},          // 7x7/2 stem (im2col)
		{"/unet/encoder/bn1/beta"},              // batch norm + ReLU, before the max pool
		{"/unet/encoder/layer1/0/conv2/weight"}, // 3x3 conv, then BN with residual
		{"/unet/encoder/layer2/0/conv1/weight"}, // 3x3/2 conv
		{"/unet/encoder/layer2/0/downsample/0/weight"},
		{"/unet/encoder/layer4/1/bn2/gamma"},
		{"/unet/decoder/block1/conv1/weight"}, // upsample, concat, im2col conv (8x8)
		{"/unet/decoder/block3/conv1/weight"}, // fused output-side decoder conv (32x32)
		{"/unet/decoder/block4/bn2/gamma"},
		{"/unet/head/weight"},
		{"/unet/head/bias"},
	}
	lossFn := func(scope *model.Scope, images, masks *Node) *Node {
		logits := cfg.Logits(scope.In("unet"), cfg.Layers(backend, true, store), normalizeImages(images))
		return TrainingLoss(LossDiceFocal, logits, masks)
	}
	lossExec, err := model.NewExec(backend, store, func(scope *model.Scope, images, masks *Node) *Node {
		return lossFn(scope, images, masks)
	})
	if err != nil {
		t.Fatal(err)
	}
	gradExec, err := model.NewExec(backend, store, func(scope *model.Scope, images, masks *Node) []*Node {
		loss := lossFn(scope, images, masks)
		g := loss.Graph()
		nodes := make([]*Node, len(checks))
		for i, c := range checks {
			v := store.GetVariable(c.path)
			if v == nil {
				panic("no variable " + c.path)
			}
			nodes[i] = v.NodeValue(g)
		}
		return Gradient(loss, nodes...)
	})
	if err != nil {
		t.Fatal(err)
	}
	evalLoss := func() float64 {
		out, err := lossExec.Exec(images, masks)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := scalarFloat(out[0])
		return v
	}
	evalLoss() // creates and initialises the variables
	grads, err := gradExec.Exec(images, masks)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for i, c := range checks {
		v := store.GetVariable(c.path)
		g := tensors.MustCopyFlatData[float32](grads[i])
		orig := tensors.MustCopyFlatData[float32](v.MustValue())
		// A random unit direction u; want = g.u.
		u := make([]float64, len(orig))
		var norm, want float64
		for j := range u {
			u[j] = rng.NormFloat64()
			norm += u[j] * u[j]
		}
		norm = math.Sqrt(norm)
		for j := range u {
			u[j] /= norm
			want += float64(g[j]) * u[j]
		}
		const eps = 2e-3
		at := func(t float64) float64 {
			w := make([]float32, len(orig))
			for j := range w {
				w[j] = orig[j] + float32(t*u[j])
			}
			v.MustSetValue(tensors.FromFlatDataAndDimensions(w, v.Shape().Dimensions...))
			return evalLoss()
		}
		num := (at(eps) - at(-eps)) / (2 * eps)
		v.MustSetValue(tensors.FromFlatDataAndDimensions(orig, v.Shape().Dimensions...))
		// Tolerance: float32 losses near 1 resolve finite differences to about
		// 3e-5 at this eps, and ReLUs and max pools switch within +-eps.
		if math.Abs(want-num) > 0.15*math.Abs(num)+6e-4 {
			t.Errorf("%s: directional derivative %.6g, finite differences %.6g", c.path, want, num)
		} else {
			t.Logf("%s: directional derivative %.6g, finite differences %.6g", c.path, want, num)
		}
	}
}
