package gofast

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"

	"github.com/covidxray/opacity/xla/nn"
)

// buildError builds and runs a graph of one image batch through build and
// returns the error (or recovered panic) it ends with, "" when none.
func buildError(t *testing.T, build func(scope *model.Scope, store *model.Store, images *Node) *Node) (msg string) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	store := model.NewStore()
	exec, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, images *Node) *Node {
		return build(scope, store, images)
	})
	if err != nil {
		return err.Error()
	}
	if _, err := exec.Exec(randTensor(1, 0, 1, 2, 8, 8, 1)); err != nil {
		return err.Error()
	}
	return ""
}

// TestContractImagesConvolution checks contract 1 of package nn: a
// trainable operation between Input and the convolution of the images
// (which computes no input gradient) is refused when the graph is built,
// naming the variable; a non-trainable one, or the same operation after
// the first convolution, is not.
func TestContractImagesConvolution(t *testing.T) {
	kernel := func(scope *model.Scope, g *Graph, cin int) *Node {
		return scope.VariableWithShape(fmt.Sprintf("w%d", cin), shapes.Make(dtypes.Float32, 3, 3, cin, 2)).NodeValue(g)
	}
	scale := func(scope *model.Scope, g *Graph, trainable bool) *Node {
		return scope.VariableWithValue("scale", float32(2)).SetTrainable(trainable).NodeValue(g)
	}
	images := nn.ConvSpec{Kernel: 3, Stride: 1, Pad: 1, Images: true}
	for _, tc := range []struct {
		name  string
		build func(scope *model.Scope, store *model.Store, x *Node) *Node
		want  string
	}{
		{"trainable scale before the first convolution", func(scope *model.Scope, store *model.Store, x *Node) *Node {
			L := New(Options{Training: true, Store: store})
			a := L.Input(x).Map(func(l *Node) *Node { return Mul(l, scale(scope, x.Graph(), true)) })
			return L.Output(L.Conv(a, kernel(scope, x.Graph(), 1), images))
		}, "/scale"},
		{"non-trainable scale before the first convolution", func(scope *model.Scope, store *model.Store, x *Node) *Node {
			L := New(Options{Training: true, Store: store})
			a := L.Input(x).Map(func(l *Node) *Node { return Mul(l, scale(scope, x.Graph(), false)) })
			return L.Output(L.Conv(a, kernel(scope, x.Graph(), 1), images))
		}, ""},
		{"trainable scale after the first convolution", func(scope *model.Scope, store *model.Store, x *Node) *Node {
			L := New(Options{Training: true, Store: store})
			a := L.Conv(L.Input(x), kernel(scope, x.Graph(), 1), images)
			a = a.Map(func(l *Node) *Node { return Mul(l, scale(scope, x.Graph(), true)) })
			return L.Output(L.Conv(a, kernel(scope, x.Graph(), 2), nn.ConvSpec{Kernel: 3, Stride: 1, Pad: 1}))
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := buildError(t, tc.build)
			switch {
			case tc.want == "" && msg != "":
				t.Errorf("refused: %s", msg)
			case tc.want != "" && (!strings.Contains(msg, "contract 1") || !strings.Contains(msg, tc.want)):
				t.Errorf("error %q, want contract 1 naming %s", msg, tc.want)
			}
		})
	}
}

// TestContractMatMul checks contract 2: a matrix multiplication written
// outside Layers.MatMul is refused at Output; one through MatMul is not.
func TestContractMatMul(t *testing.T) {
	for _, through := range []bool{true, false} {
		msg := buildError(t, func(scope *model.Scope, store *model.Store, x *Node) *Node {
			L := New(Options{Training: true, Store: store})
			w := scope.VariableWithShape("w", shapes.Make(dtypes.Float32, 1, 1)).NodeValue(x.Graph())
			a := L.Input(x).Map(func(l *Node) *Node {
				flat := Reshape(l, -1, 1)
				if through {
					return Reshape(L.MatMul(flat, w), l.Shape().Dimensions...)
				}
				return Reshape(MatMul(flat, w), l.Shape().Dimensions...)
			})
			return L.Output(a)
		})
		if through && msg != "" {
			t.Errorf("through MatMul: refused: %s", msg)
		}
		if !through && !strings.Contains(msg, "contract 2") {
			t.Errorf("outside MatMul: error %q, want contract 2", msg)
		}
	}
}
