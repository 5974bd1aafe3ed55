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
//
// F(4x4, 3x3) is the same with 6x6 input tiles every 4 pixels and 4x4
// output tiles: 36 products per 4x4 outputs, 2.25*Cin*Cout multiply-adds
// per output pixel where F(2x2, 3x3) does 4 and im2col 9, and transformed
// tiles 2.25 times the input where F(2x2, 3x3) keeps 4 times. Its
// transforms (interpolation points 0, ±1, ±2, ∞) have entries up to 8 and
// fractions 1/6, 1/24: its rounding error is larger, still within 1e-5 of
// the largest value (TestWinogradConvMatchesNative). Its turned kernel's transform is not
// a permutation of the forward one's, so its input gradient transforms the
// turned kernel itself (a product of 36x9 by the kernel: small).
type winoAlgo struct {
	m         int         // output tile side; input tiles are m+2
	bt, g, at [][]float32 // B^T (m+2 x m+2), G (m+2 x 3), A^T (m x m+2)
	flip      []int       // positions of the turned kernel's transform (winoFlip); nil: transform it
}

var (
	winoBT = [][]float32{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	winoG  = [][]float32{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	winoAT = [][]float32{{1, 1, 1, 0}, {0, 1, -1, -1}}

	// winoF2 is F(2x2, 3x3); winoF4 is F(4x4, 3x3) (Lavin and Gray's).
	winoF2 = winoAlgo{m: 2, bt: winoBT, g: winoG, at: winoAT, flip: winoFlip[:]}
	winoF4 = winoAlgo{m: 4,
		bt: [][]float32{
			{4, 0, -5, 0, 1, 0},
			{0, -4, -4, 1, 1, 0},
			{0, 4, -4, -1, 1, 0},
			{0, -2, -1, 2, 1, 0},
			{0, 2, -1, -2, 1, 0},
			{0, 4, 0, -5, 0, 1}},
		g: [][]float32{
			{1. / 4, 0, 0},
			{-1. / 6, -1. / 6, -1. / 6},
			{-1. / 6, 1. / 6, -1. / 6},
			{1. / 24, 1. / 12, 1. / 6},
			{1. / 24, -1. / 12, 1. / 6},
			{0, 0, 1}},
		at: [][]float32{
			{1, 1, 1, 1, 1, 0},
			{0, 1, -1, 2, -2, 0},
			{0, 1, 1, 4, 4, 0},
			{0, 1, -1, 8, -8, 1}},
	}
)

// alpha is the input tile's side, m+2.
func (a winoAlgo) alpha() int { return a.m + 2 }

// positions is the number of values of a transformed tile, alpha².
func (a winoAlgo) positions() int { return a.alpha() * a.alpha() }

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
// columns at the positions alg.flip maps them to: the input transform that
// puts the tile's position flip(r) at r, and the output transform that
// reads it back from there. With them, a product with the forward kernel's
// transform u at each position r is a product with the turned kernel's at
// position flip(r).
func flippedTransforms(g *Graph, alg winoAlgo) (kb, ka *Node) {
	b, br, bc := kronData(alg.bt, false)
	fb := make([]float32, len(b))
	for r, src := range alg.flip {
		copy(fb[r*bc:(r+1)*bc], b[src*bc:(src+1)*bc])
	}
	a, ar, ac := kronData(alg.at, false)
	fa := make([]float32, len(a))
	for i := 0; i < ar; i++ {
		for r, src := range alg.flip {
			fa[i*ac+r] = a[i*ac+src]
		}
	}
	return Const(g, tensors.FromFlatDataAndDimensions(fb, br, bc)), Const(g, tensors.FromFlatDataAndDimensions(fa, ar, ac))
}

// winogradFits reports whether Winograd algorithm alg applies to an input
// x [B, H, W, Cin] and kernel w [k, k, Cin, Cout] with spec c: a 3x3,
// stride-1, padding-1 convolution on an image whose height and width are
// multiples of the output tile's side.
func winogradFits(x, w []int, c convSpec, alg winoAlgo) bool {
	return c.k == 3 && c.stride == 1 && c.pad == 1 && w[0] == 3 && w[1] == 3 &&
		x[1]%alg.m == 0 && x[2]%alg.m == 0
}

// Below these sizes the direct convolution is used (BenchmarkWinogradConv
// for training, BenchmarkWinogradForward for inference): with few tiles the
// kernel's transform (and in training the weight gradient's), which grow
// with Cin*Cout, outweigh the products saved; with few output channels the
// transformed input tiles cost more to make than the products they save. A
// forward pass alone gains less from F(2x2, 3x3) than a training step,
// whose backward pass has two more products of the same size, so inference
// needs more tiles for it. F(4x4, 3x3) beats F(2x2, 3x3) from about 64
// of its own (4x4) tiles, in training as in a forward pass: its products
// are smaller (2.25 against 4 multiply-adds per output pixel and channel
// pair) and so are its transformed tiles, but with few tiles its 36
// products are too small to run at the matrix kernel's speed, and its
// kernel transform (36 values per kernel tap pair against 16) outweighs
// them (BenchmarkWinogradConv: 64 tiles of 128 channels gain, 25 and 16
// tiles of 256 lose).
const (
	winogradMinTiles          = 64   // F(2x2, 3x3) in training: 2x2 output tiles
	winogradMinTilesForward   = 1600 // F(2x2, 3x3) without backward pass
	winogradF4MinTiles        = 64   // F(4x4, 3x3) in training: 4x4 output tiles
	winogradF4MinTilesForward = 64   // F(4x4, 3x3) without backward pass
	winogradMinCout           = 16
)

// winogradChoice returns the Winograd algorithm that computes a
// convolution of one lane's input x [B, H, W, Cin] by w [k, k, Cin, Cout],
// or nil for the direct convolution: with at least winogradMinCout output
// channels, F(4x4, 3x3) when it fits and has winogradF4MinTiles 4x4 output
// tiles (winogradF4MinTilesForward in a graph without backward pass), else
// F(2x2, 3x3) when it fits and has winogradMinTiles 2x2 output tiles
// (winogradMinTilesForward).
func winogradChoice(x, w []int, c convSpec, forwardOnly bool) *winoAlgo {
	if w[3] < winogradMinCout {
		return nil
	}
	min4, min2 := winogradF4MinTiles, winogradMinTiles
	if forwardOnly {
		min4, min2 = winogradF4MinTilesForward, winogradMinTilesForward
	}
	switch {
	case winogradFits(x, w, c, winoF4) && x[0]*x[1]*x[2]/16 >= min4:
		return &winoF4
	case winogradFits(x, w, c, winoF2) && x[0]*x[1]*x[2]/4 >= min2:
		return &winoF2
	}
	return nil
}

// winogradTiles returns the input tiles of alg of x [B, H, W, C] (H, W
// multiples of alg.m), zero-padded by 1, taken every alg.m pixels, as an
// [alpha², B*H/m*W/m*C] matrix: row a*alpha+b holds pixel (m*ty+a-1,
// m*tx+b-1) of x for each tile (ty, tx) and channel.
func winogradTiles(x *Node, alg winoAlgo) *Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	m, alpha := alg.m, alg.alpha()
	th, tw := h/m, w/m
	xp := padSpatial(x, 1)
	taps := make([]*Node, 0, alg.positions())
	for a := 0; a < alpha; a++ {
		for bb := 0; bb < alpha; bb++ {
			t := Slice(xp, AxisRange(), AxisRange(a, a+m*(th-1)+1).Stride(m), AxisRange(bb, bb+m*(tw-1)+1).Stride(m), AxisRange())
			taps = append(taps, Reshape(t, 1, b*th*tw*c))
		}
	}
	return Concatenate(taps, 0)
}

// winogradKernel returns the transformed kernel G g G^T of w [3, 3, Cin,
// Cout] as [alpha², Cin, Cout].
func (o ops) winogradKernel(w *Node, alg winoAlgo) *Node {
	wd := w.Shape().Dimensions
	u := o.matMul(kronConst(w.Graph(), alg.g, false), Reshape(w, 9, wd[2]*wd[3]))
	return Reshape(u, alg.positions(), wd[2], wd[3])
}

// winogradInput returns the transformed input tiles kb d of x [B, H, W,
// Cin] as [alpha², tiles, Cin], kb being kron(B^T) (B^T d B per tile) or
// its rows permuted (see flippedTransforms).
func (o ops) winogradInput(x, kb *Node, alg winoAlgo) *Node {
	d := x.Shape().Dimensions
	v := o.matMul(kb, winogradTiles(x, alg))
	return Reshape(v, alg.positions(), d[0]*(d[1]/alg.m)*(d[2]/alg.m), d[3])
}

// winogradOutput multiplies the transformed tiles v [alpha², tiles, Cin] by
// the transformed kernel u, [alpha², Cin, Cout] (transposed false) or
// [alpha², Cout, Cin] (transposed true), and maps the products back to the
// image [B, H, W, Cout] with ka, kron(A^T) (A^T m A per tile) or its
// columns permuted.
func (o ops) winogradOutput(v, u, ka *Node, transposed bool, b, h, w int, alg winoAlgo) *Node {
	contract, cout := 1, u.Shape().Dimensions[2]
	if transposed {
		contract, cout = 2, u.Shape().Dimensions[1]
	}
	n, m := v.Shape().Dimensions[1], alg.m
	prod := o.batchDot(v, []int{2}, []int{0}, u, []int{contract}, []int{0}) // [alpha², tiles, Cout]
	y := o.matMul(ka, Reshape(prod, alg.positions(), n*cout))
	y = Reshape(y, m, m, b, h/m, w/m, cout)
	return Reshape(TransposeAllAxes(y, 2, 3, 0, 4, 1, 5), b, h, w, cout)
}

// outputTilesT returns the m x m tiles of dY [B, H, W, C] channel-major,
// as [m², C*tiles]: row p*m+q holds pixel (m*ty+p, m*tx+q) of each tile
// (ty, tx), for each channel. dY is transposed to [C, B*H*W] first (see
// transposeMat), so that the weight gradient's products need no transposed
// copy of the (larger) transformed tiles.
func (o ops) outputTilesT(dY *Node, alg winoAlgo) *Node {
	d := dY.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	m := alg.m
	t := Reshape(o.transposeMat(Reshape(dY, b*h*w, c)), c, b, h, w)
	parts := make([]*Node, 0, m*m)
	for p := 0; p < m; p++ {
		for q := 0; q < m; q++ {
			s := Slice(t, AxisRange(), AxisRange(), AxisRange(p, h).Stride(m), AxisRange(q, w).Stride(m))
			parts = append(parts, Reshape(s, 1, c*b*(h/m)*(w/m)))
		}
	}
	return Concatenate(parts, 0)
}

// winogradConv is the convolution of every lane x [B_l, H, W, Cin] of xs
// with the kernel w [3, 3, Cin, Cout], stride 1, padding 1, by Winograd
// algorithm alg (see winogradFits), with the backward pass described
// above; the forward pass's transformed tiles are kept for it, or with
// recompute (less memory) transformed again from the input once dY is
// ready.
func (o ops) winogradConv(xs []*Node, w *Node, c convSpec, alg winoAlgo) []*Node {
	nl := len(xs)
	wd := w.Shape().Dimensions
	if !winogradFits(xs[0].Shape().Dimensions, wd, c, alg) || xs[0].Shape().Dimensions[3] != wd[2] {
		panic(fmt.Sprintf("gofast: winogradConv F(%dx%d, 3x3) needs a 3x3 stride-1 padding-1 kernel matching the input and an image of a multiple of %d, got kernel %v, input %v, %+v",
			alg.m, alg.m, alg.m, wd, xs[0].Shape().Dimensions, c))
	}
	geo := geometries(xs)
	vs := make([]*Node, nl)
	var u, kb, ka *Node // the forward pass's, reused by the backward pass
	forward := func(s []*Node) []*Node {
		g := s[nl].Graph()
		kb, ka = kronConst(g, alg.bt, false), kronConst(g, alg.at, false)
		u = o.winogradKernel(s[nl], alg)
		ys := make([]*Node, nl)
		for l, geom := range geo {
			ol := o.inLane(l)
			v := ol.winogradInput(s[l], kb, alg)
			if !o.recompute {
				vs[l] = v // kept for the weight gradient
			}
			ys[l] = ol.winogradOutput(v, u, ka, false, geom.b, geom.h, geom.w, alg)
		}
		return ys
	}
	backward := func(in, _, dYs []*Node) []*Node {
		w := in[nl]
		g := w.Graph()
		p := alg.positions()
		grads := make([]*Node, nl+1)
		// dX = dY convolved with w turned by 180 degrees, Cin and Cout
		// swapped: the forward kernel's transform u at flipped positions,
		// or the turned kernel's own, contracted on Cout.
		var kbX, kaX, uX *Node
		switch {
		case c.noInputGrad:
		case alg.flip != nil:
			kbX, kaX = flippedTransforms(g, alg)
			uX = u
		default:
			kbX, kaX, uX = kb, ka, o.winogradKernel(Reverse(w, 0, 1), alg)
		}
		kaT := kronConst(g, alg.at, true)
		var dUT *Node // [alpha², Cout, Cin]
		for l, geom := range geo {
			ol := o.inLane(l)
			v := vs[l]
			if o.recompute {
				// Rebuilt once dY is ready, as im2colConv's patches are.
				v = ol.winogradInput(SchedulingBarrier(in[l], dYs[l]), kb, alg)
			}
			// dM^T = A dY_tile A^T, channel-major: [alpha², Cout, tiles].
			dMT := ol.matMul(kaT, ol.outputTilesT(dYs[l], alg))
			dMT = Reshape(dMT, p, wd[3], v.Shape().Dimensions[1])
			dUT = addOrSet(dUT, ol.batchDot(dMT, []int{2}, []int{0}, v, []int{1}, []int{0})) // [alpha², Cout, Cin]
			if !c.noInputGrad {
				grads[l] = ol.winogradOutput(ol.winogradInput(dYs[l], kbX, alg), uX, kaX, true, geom.b, geom.h, geom.w, alg)
			}
		}
		dWT := o.matMul(kronConst(g, alg.g, true), Reshape(dUT, p, wd[3]*wd[2]))
		grads[nl] = Transpose(Reshape(dWT, 3, 3, wd[3], wd[2]), 2, 3)
		return grads
	}
	return o.customVJPMulti(append(append([]*Node{}, xs...), w), forward, backward)
}
