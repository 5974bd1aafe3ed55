package gofast

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
)

// Winograd F(2x2, 3x3) (Lavin and Gray, 2016, "Fast algorithms for
// convolutional neural networks"): a stride-1 'same' 3x3 convolution
// computed on 4x4 input tiles d taken every 2 pixels, each giving a 2x2
// output tile
//
//	Y_tile = A^T [ (G g G^T) ⊙ (B^T d B) ] A
//
// per pair of channels. Over all tiles and channels the elementwise
// product becomes 16 independent matrix products, [tiles, Cin] x [Cin,
// Cout], one per position of the 4x4 transformed tile: 16*Cin*Cout
// multiply-adds per 2x2 output pixels where im2col does 36*Cin*Cout, 2.25
// times fewer. The transforms are linear maps on the 16 (or 9, or 4)
// values of a tile, written here as matrix products with the Kronecker
// products of B^T, G and A^T (their entries are 0, ±1 and ±1/2, exact in
// float32); only the summation order differs from im2col, so results agree
// to float32 rounding, not bit for bit.
//
// The backward pass stays in the same algorithm: the input gradient of a
// stride-1 'same' 3x3 convolution is the same convolution of dY with the
// kernel turned by 180 degrees and its channel axes swapped (a Winograd
// forward pass, whose transformed kernel is the forward pass's at permuted
// tile positions, see winoFlip), and the weight gradient is G^T (sum over tiles of
// V^T dM) G, with V the forward pass's transformed input tiles (kept, 4
// values per input value, where im2col keeps 9) and dM = A dY_tile A^T.
var (
	winoBT = [][]float32{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	winoG  = [][]float32{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	winoAT = [][]float32{{1, 1, 1, 0}, {0, 1, -1, -1}}
)

// kron returns the Kronecker product m ⊗ m of an r x c matrix m as a
// row-major (r*r) x (c*c) matrix: entry [i*r+j, a*c+b] = m[i][a]*m[j][b],
// the matrix that maps a row-major c x c tile t to the row-major r x r tile
// m t m^T.
func kron(m [][]float32) []float32 {
	r, c := len(m), len(m[0])
	out := make([]float32, r*r*c*c)
	for i := 0; i < r; i++ {
		for j := 0; j < r; j++ {
			for a := 0; a < c; a++ {
				for b := 0; b < c; b++ {
					out[(i*r+j)*c*c+a*c+b] = m[i][a] * m[j][b]
				}
			}
		}
	}
	return out
}

// kronConst is kron(m) as a float32 constant of g, transposed when t is
// true.
func kronConst(g *Graph, m [][]float32, t bool) *Node {
	data, r, c := kronData(m, t)
	return Const(g, tensors.FromFlatDataAndDimensions(data, r, c))
}

// kronData is kron(m), transposed when t is true, with its dimensions.
func kronData(m [][]float32, t bool) (data []float32, r, c int) {
	r, c = len(m)*len(m), len(m[0])*len(m[0])
	data = kron(m)
	if t {
		tr := make([]float32, len(data))
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				tr[j*r+i] = data[i*c+j]
			}
		}
		data, r, c = tr, c, r
	}
	return data, r, c
}

// winoFlip maps a position r = i*4+j of a transformed 4x4 tile to
// π(i)*4+π(j), where π swaps 0 and 3. G J = Π G for the reversal J of three
// values and the swap Π of rows 0 and 3 of G, so the transformed kernel of
// g turned by 180 degrees, G J g J G^T, is Π (G g G^T) Π^T: the same 16
// matrices at these positions.
var winoFlip = func() (p [16]int) {
	pi := [4]int{3, 1, 2, 0}
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			p[i*4+j] = pi[i]*4 + pi[j]
		}
	}
	return p
}()

// flippedTransforms returns kron(B^T) with its rows and kron(A^T) with its
// columns at the positions winoFlip maps them to: the input transform that
// puts the tile's position winoFlip(r) at r, and the output transform that
// reads it back from there. With them, a product with the forward kernel's
// transform u at each position r is a product with the turned kernel's at
// position winoFlip(r).
func flippedTransforms(g *Graph) (kb, ka *Node) {
	b, _, bc := kronData(winoBT, false) // 16 x 16
	fb := make([]float32, len(b))
	for r, src := range winoFlip {
		copy(fb[r*bc:(r+1)*bc], b[src*bc:(src+1)*bc])
	}
	a, ar, ac := kronData(winoAT, false) // 4 x 16
	fa := make([]float32, len(a))
	for i := 0; i < ar; i++ {
		for r, src := range winoFlip {
			fa[i*ac+r] = a[i*ac+src]
		}
	}
	return Const(g, tensors.FromFlatDataAndDimensions(fb, 16, bc)), Const(g, tensors.FromFlatDataAndDimensions(fa, ar, ac))
}

// winogradFits reports whether the Winograd convolution applies to an input
// x [B, H, W, Cin] and kernel w [k, k, Cin, Cout] with spec c: a 3x3,
// stride-1, padding-1 convolution on an image of even height and width.
func winogradFits(x, w []int, c convSpec) bool {
	return c.k == 3 && c.stride == 1 && c.pad == 1 && w[0] == 3 && w[1] == 3 &&
		x[1]%2 == 0 && x[2]%2 == 0
}

// Below these sizes the direct convolution is used (BenchmarkWinogradConv
// for training, BenchmarkWinogradForward for inference): with few tiles the
// kernel's transform (and in training the weight gradient's), which grow
// with Cin*Cout, outweigh the products saved; with few output channels the
// transformed input tiles cost more to make than the products they save. A
// forward pass alone gains less than a training step, whose backward pass
// has two more products of the same size, so inference needs more tiles.
const (
	winogradMinTiles        = 64
	winogradMinTilesForward = 1600
	winogradMinCout         = 16
)

// winogradWins reports whether a convolution of one lane's input x [B, H,
// W, Cin] by w [k, k, Cin, Cout] is computed by winogradConv: it fits, and
// has at least winogradMinCout output channels and winogradMinTiles 2x2
// output tiles (winogradMinTilesForward in a graph without backward pass).
func winogradWins(x, w []int, c convSpec, forwardOnly bool) bool {
	minTiles := winogradMinTiles
	if forwardOnly {
		minTiles = winogradMinTilesForward
	}
	return winogradFits(x, w, c) && x[0]*x[1]*x[2]/4 >= minTiles && w[3] >= winogradMinCout
}

// winogradTiles returns the 4x4 input tiles of x [B, H, W, C] (H, W even),
// zero-padded by 1, taken every 2 pixels, as a [16, B*H/2*W/2*C] matrix:
// row a*4+b holds pixel (2ty+a-1, 2tx+b-1) of x for each tile (ty, tx) and
// channel.
func winogradTiles(x *Node) *Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	th, tw := h/2, w/2
	xp := padSpatial(x, 1)
	taps := make([]*Node, 0, 16)
	for a := 0; a < 4; a++ {
		for bb := 0; bb < 4; bb++ {
			t := Slice(xp, AxisRange(), AxisRange(a, a+2*(th-1)+1).Stride(2), AxisRange(bb, bb+2*(tw-1)+1).Stride(2), AxisRange())
			taps = append(taps, Reshape(t, 1, b*th*tw*c))
		}
	}
	return Concatenate(taps, 0)
}

// winogradKernel returns the transformed kernel G g G^T of w [3, 3, Cin,
// Cout] as [16, Cin, Cout].
func (o ops) winogradKernel(w *Node) *Node {
	wd := w.Shape().Dimensions
	u := o.matMul(kronConst(w.Graph(), winoG, false), Reshape(w, 9, wd[2]*wd[3]))
	return Reshape(u, 16, wd[2], wd[3])
}

// winogradInput returns the transformed input tiles kb d of x [B, H, W,
// Cin] as [16, tiles, Cin], kb being kron(B^T) (B^T d B per tile) or its
// rows permuted (see flippedTransforms).
func (o ops) winogradInput(x, kb *Node) *Node {
	d := x.Shape().Dimensions
	v := o.matMul(kb, winogradTiles(x))
	return Reshape(v, 16, d[0]*d[1]/2*d[2]/2, d[3])
}

// winogradOutput multiplies the transformed tiles v [16, tiles, Cin] by the
// transformed kernel u, [16, Cin, Cout] (transposed false) or [16, Cout,
// Cin] (transposed true), and maps the products back to the image [B, H, W,
// Cout] with ka, kron(A^T) (A^T m A per tile) or its columns permuted.
func (o ops) winogradOutput(v, u, ka *Node, transposed bool, b, h, w int) *Node {
	contract, cout := 1, u.Shape().Dimensions[2]
	if transposed {
		contract, cout = 2, u.Shape().Dimensions[1]
	}
	n := v.Shape().Dimensions[1]
	m := o.batchDot(v, []int{2}, []int{0}, u, []int{contract}, []int{0}) // [16, tiles, Cout]
	y := o.matMul(ka, Reshape(m, 16, n*cout))
	y = Reshape(y, 2, 2, b, h/2, w/2, cout)
	return Reshape(TransposeAllAxes(y, 2, 3, 0, 4, 1, 5), b, h, w, cout)
}

// outputTilesT returns the 2x2 tiles of dY [B, H, W, C] channel-major, as
// [4, C*tiles]: row p*2+q holds pixel (2ty+p, 2tx+q) of each tile (ty, tx),
// for each channel. dY is transposed to [C, B*H*W] first (see
// transposeMat), so that the weight gradient's products need no transposed
// copy of the (four times larger) transformed tiles.
func (o ops) outputTilesT(dY *Node) *Node {
	d := dY.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	t := Reshape(o.transposeMat(Reshape(dY, b*h*w, c)), c, b, h, w)
	parts := make([]*Node, 0, 4)
	for p := 0; p < 2; p++ {
		for q := 0; q < 2; q++ {
			s := Slice(t, AxisRange(), AxisRange(), AxisRange(p, h).Stride(2), AxisRange(q, w).Stride(2))
			parts = append(parts, Reshape(s, 1, c*b*h/2*w/2))
		}
	}
	return Concatenate(parts, 0)
}

// winogradConv is the convolution of every lane x [B_l, H, W, Cin] of xs
// with the kernel w [3, 3, Cin, Cout], stride 1, padding 1 (see
// winogradFits), by Winograd F(2x2, 3x3), with the backward pass described
// above; the forward pass's transformed tiles are kept for it (convLanes
// does not use it with recompute).
func (o ops) winogradConv(xs []*Node, w *Node, c convSpec) []*Node {
	nl := len(xs)
	wd := w.Shape().Dimensions
	if !winogradFits(xs[0].Shape().Dimensions, wd, c) || xs[0].Shape().Dimensions[3] != wd[2] {
		panic(fmt.Sprintf("gofast: winogradConv needs a 3x3 stride-1 padding-1 kernel matching the input and an even image, got kernel %v, input %v, %+v",
			wd, xs[0].Shape().Dimensions, c))
	}
	geo := geometries(xs)
	vs := make([]*Node, nl)
	var u *Node
	forward := func(s []*Node) []*Node {
		g := s[nl].Graph()
		kb, ka := kronConst(g, winoBT, false), kronConst(g, winoAT, false)
		u = o.winogradKernel(s[nl])
		ys := make([]*Node, nl)
		for l, geom := range geo {
			ol := o.inLane(l)
			vs[l] = ol.winogradInput(s[l], kb)
			ys[l] = ol.winogradOutput(vs[l], u, ka, false, geom.b, geom.h, geom.w)
		}
		return ys
	}
	backward := func(in, _, dYs []*Node) []*Node {
		w := in[nl]
		g := w.Graph()
		grads := make([]*Node, nl+1)
		// dX = dY convolved with w turned by 180 degrees, Cin and Cout
		// swapped: the forward kernel's transform u at flipped positions,
		// contracted on Cout.
		kbFlip, kaFlip := flippedTransforms(g)
		kaT := kronConst(g, winoAT, true)
		var dUT *Node // [16, Cout, Cin]
		for l, geom := range geo {
			ol := o.inLane(l)
			v := vs[l]
			// dM^T = A dY_tile A^T, channel-major: [16, Cout, tiles].
			dMT := ol.matMul(kaT, ol.outputTilesT(dYs[l]))
			dMT = Reshape(dMT, 16, wd[3], v.Shape().Dimensions[1])
			dUT = addOrSet(dUT, ol.batchDot(dMT, []int{2}, []int{0}, v, []int{1}, []int{0})) // [16, Cout, Cin]
			if !c.noInputGrad {
				grads[l] = ol.winogradOutput(ol.winogradInput(dYs[l], kbFlip), u, kaFlip, true, geom.b, geom.h, geom.w)
			}
		}
		dWT := o.matMul(kronConst(g, winoG, true), Reshape(dUT, 16, wd[3]*wd[2]))
		grads[nl] = Transpose(Reshape(dWT, 3, 3, wd[3], wd[2]), 2, 3)
		return grads
	}
	return o.customVJPMulti(append(append([]*Node{}, xs...), w), forward, backward)
}
