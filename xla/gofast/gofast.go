// Package gofast implements the layer interface of package xla/nn for
// GoMLX's pure-Go backend.
//
// The Go backend (compute v0.1.2) has no fast convolution, no gradient for
// max pooling, batch-norm training or Pad, and its element-wise operations
// are single threaded and memory bound. These layers use formulations that
// suit it:
//
//   - stride-1 3x3 convolutions with enough output tiles (more of them
//     without a backward pass) by Winograd F(4x4, 3x3) (36 matrix products
//     on transformed 6x6 tiles, 4 times fewer multiply-adds than im2col) or
//     F(2x2, 3x3) (16 on 4x4 tiles, 2.25 times fewer), forward and both
//     gradients (see winograd.go and winogradChoice), except those from 16
//     to 16 channels where the backend reads an im2col matrix where it
//     lies (third_party/gomlx-compute patch 17): by im2col, the matrix
//     never written, forward and both gradients (see direct16Applies);
//   - other convolutions as im2col (k*k strided slices concatenated on the
//     channel axis, which gives the MatMul operand layout directly) and one
//     matrix multiplication; layers with fewer output than input channels
//     (the decoder's skip convolutions) on the output side instead (one
//     MatMul into k*k*Cout columns, then k*k shifted slices summed); the
//     decoder's convolution of the upsampled input as four sub-pixel 2x2
//     convolutions of the low-resolution input;
//   - hand-written gradients for convolutions, batch norm (the full one,
//     through the batch statistics), max pooling and upsampling (see
//     customVJP), so the backward pass takes a few passes over the data;
//   - per-channel sums and transposes of narrow matrices as matrix
//     multiplications; per-channel [1, C] rows applied to [N, C] by the
//     binary ops' own broadcasting (which the vendored backend runs row by
//     row, see third_party/gomlx-compute/PATCHES.md), not materialised;
//   - the batch split into lanes (consecutive parts) whose element-wise work
//     runs in parallel, batch norm on the statistics of the whole batch,
//     each lane's matrix multiplications serialised.
//
// The hand-written gradients are attached through identity nodes whose
// custom gradient GoMLX calls in the reverse pass; Layers.Output adds to
// the training logits a zero that depends on every such node, so the
// reverse pass reaches them. The contracts of package nn are checked when
// the graph is built: see Layers.
package gofast

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"

	"github.com/covidxray/opacity/xla/nn"
)

// Options configures the layers of one graph build.
type Options struct {
	// Training builds a training step (batch statistics, gradients).
	Training bool
	// Recompute rebuilds the im2col patches of each convolution in the
	// backward pass instead of keeping them from the forward pass: about 9x
	// less memory for activations, one more im2col per layer.
	Recompute bool
	// Lanes is the number of parts the batch is split into: every layer
	// runs on each part separately except batch normalisation, which uses
	// the statistics of the whole batch, so the model computes the same
	// function (up to float rounding) while the parts' element-wise work
	// runs in parallel. 0 picks one lane per core, at most 2; 1 turns the
	// splitting off.
	Lanes int
	// Store, when set, names the trainable variables for the contract
	// checks' messages (variables that are not trained, such as a random
	// generator's state, may feed the first convolution).
	Store *model.Store
}

// Layers is the nn.Layers implementation for the Go backend. It belongs to
// one graph build.
type Layers struct {
	opt   Options
	ops   ops
	lanes int
	// inputs are the lane nodes Input returned.
	inputs map[*Node]bool
	// imagesConv is set once the convolution marked Images was built.
	imagesConv bool
}

// New returns the Go-backend layers of one graph build.
func New(opt Options) *Layers {
	if opt.Lanes < 0 {
		panic(fmt.Sprintf("gofast: %d lanes: want 0 (automatic) or more", opt.Lanes))
	}
	o := newOps(opt.Recompute)
	o.forwardOnly = !opt.Training
	return &Layers{opt: opt, ops: o, inputs: map[*Node]bool{}}
}

// IsGoBackend reports whether b is GoMLX's pure-Go backend, the one these
// layers are for.
func IsGoBackend(b compute.Backend) bool {
	return strings.HasPrefix(b.String(), "go")
}

// Training implements nn.Layers.
func (l *Layers) Training() bool { return l.opt.Training }

// Input implements nn.Layers: it splits the batch into lanes of consecutive
// images, as equal in size as possible (see Options.Lanes).
func (l *Layers) Input(images *Node) nn.Act {
	b := images.Shape().Dimensions[0]
	l.lanes = laneCount(images.Graph().Backend(), l.opt.Lanes, b)
	var a nn.Act
	if l.lanes <= 1 {
		a = nn.Act{Lanes: []*Node{images}}
	} else {
		for i := 0; i < l.lanes; i++ {
			a.Lanes = append(a.Lanes, Slice(images, AxisRange(i*b/l.lanes, (i+1)*b/l.lanes)))
		}
	}
	for _, x := range a.Lanes {
		l.inputs[x] = true
	}
	return a
}

// Output implements nn.Layers. It checks contract 2 (every matrix
// multiplication of the graph so far was made by MatMul or these layers)
// and, in training, adds zero times the gradient hooks to the logits so the
// reverse pass reaches them (see customVJP).
func (l *Layers) Output(logits nn.Act) *Node {
	g := logits.Lanes[0].Graph()
	for _, n := range g.Nodes() {
		if n.Type() == NodeTypeDotGeneral && !l.ops.state.dots[n] {
			panic(fmt.Sprintf("gofast: a matrix multiplication outside Layers.MatMul (%s): on the Go backend independent "+
				"multiplications can deadlock its worker pool; write it with Layers.MatMul (contract 2 of package nn)", n.Shape()))
		}
	}
	out := logits.Lanes[0]
	if len(logits.Lanes) > 1 {
		out = Concatenate(logits.Lanes, 0)
	}
	if l.opt.Training {
		if link := l.ops.gradientLink(); link != nil {
			out = Add(out, link)
		}
	}
	return out
}

// Conv implements nn.Layers. A convolution marked Images computes no input
// gradient; it checks contract 1: nothing that depends on a trainable
// variable sits between Input and it.
func (l *Layers) Conv(x nn.Act, kernel *Node, c nn.ConvSpec) nn.Act {
	nn.CheckKernel(kernel, c, x.Channels())
	if c.Images {
		for _, lane := range x.Lanes {
			if name := l.variableBefore(lane, map[*Node]bool{}); name != "" {
				panic(fmt.Sprintf("gofast: the convolution of the images (ConvSpec.Images) depends on the trainable variable %s "+
					"through the layers before it: that convolution computes no input gradient, so %s would never learn. "+
					"Apply trainable operations after the first convolution (contract 1 of package nn)", name, name))
			}
		}
		l.imagesConv = true
	}
	return nn.Act{Lanes: l.ops.convLanes(x.Lanes, kernel, specOf(c))}
}

// variableBefore returns the path of a trainable variable that n depends on
// without passing through Input's lanes, or "".
func (l *Layers) variableBefore(n *Node, seen map[*Node]bool) string {
	if seen[n] || l.inputs[n] {
		return ""
	}
	seen[n] = true
	if n.Type() == NodeTypeParameter {
		name := n.GetParameterName()
		if !strings.HasPrefix(name, "/") {
			return "" // a graph input, not a variable
		}
		if l.opt.Store != nil {
			if v := l.opt.Store.GetVariable(name); v != nil && !v.Trainable {
				return ""
			}
		}
		return name
	}
	for _, in := range n.Inputs() {
		if name := l.variableBefore(in, seen); name != "" {
			return name
		}
	}
	return ""
}

// specOf converts an nn.ConvSpec.
func specOf(c nn.ConvSpec) convSpec {
	return convSpec{k: c.Kernel, stride: c.Stride, pad: c.Pad, noInputGrad: c.Images}
}

// BatchNorm implements nn.Layers: batchNormTrain over every lane in
// training, the running averages per lane otherwise.
func (l *Layers) BatchNorm(x nn.Act, bn nn.BatchNorm, residual nn.Act, relu bool) nn.Act {
	if !l.opt.Training {
		out := nn.Act{Lanes: make([]*Node, len(x.Lanes))}
		for i, y := range x.Lanes {
			var r *Node
			if !residual.None() {
				r = residual.Lanes[i]
			}
			out.Lanes[i] = nn.BatchNormInference(y, bn, r, relu)
		}
		return out
	}
	out, st := l.ops.batchNormTrain(x.Lanes, bn.Gamma, bn.Beta, residual.Lanes, relu)
	nn.UpdateRunning(bn, st.mean, st.variance, st.count)
	return nn.Act{Lanes: out}
}

// MaxPool implements nn.Layers.
func (l *Layers) MaxPool(x nn.Act) nn.Act {
	out := nn.Act{Lanes: make([]*Node, len(x.Lanes))}
	for i, y := range x.Lanes {
		out.Lanes[i] = l.ops.inLane(i).maxPool3x3s2(y)
	}
	return out
}

// UpConcatConv implements nn.Layers with sub-pixel convolutions (see
// upConv).
func (l *Layers) UpConcatConv(low, skip nn.Act, kernel *Node) nn.Act {
	cin := low.Channels()
	if !skip.None() {
		cin += skip.Channels()
	}
	nn.CheckKernel(kernel, nn.ConvSpec{Kernel: 3, Stride: 1, Pad: 1}, cin)
	return nn.Act{Lanes: l.ops.upConcatConvLanes(low.Lanes, skip.Lanes, kernel)}
}

// MatMul implements nn.Layers: in the chain of lane 0 (see ops.dot).
func (l *Layers) MatMul(a, b *Node) *Node { return l.ops.matMul(a, b) }

var _ nn.Layers = (*Layers)(nil)
