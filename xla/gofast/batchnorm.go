package gofast

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive

	"github.com/covidxray/opacity/xla/nn"
)

// bnStats are the batch statistics of one batch-norm layer in training:
// the per-channel mean and biased variance, each shaped [C], as PyTorch uses
// them to normalise (it stores the unbiased variance in its running average).
type bnStats struct {
	mean, variance *Node
	count          int // values per channel in the batch
}

// batchNormTrain normalises ys, the lanes of one batch (each
// [B_i, H, W, C], see Layers.Input), with the statistics of the whole batch
// over (B, H, W), scales by gamma and shifts by beta (each [C]), adds
// residuals (one per lane, same shapes as ys, or nil) and applies a ReLU
// when relu is set:
//
//	out = act((y - mean) / sqrt(var + eps) * gamma + beta + residual)
//
// The gradient is written by hand (the full one, through the batch
// statistics), so that the backward pass costs a few passes over the data
// instead of the many broadcasts autodiff would build:
//
//	g      = dOut masked by out > 0 (ReLU)
//	dBeta  = sum(g),  dGamma = invstd * sum(g * d),  d = y - mean
//	dY     = gamma*invstd * (g - dBeta/n - d * invstd^2 * sum(g*d)/n)
//	dResidual = g
//
// Each sum over the batch is the sum of per-lane sums, each lane's in its
// own chain of matrix multiplications, so the lanes' element-wise passes
// are independent and can run at the same time; the results are those of
// one lane holding the whole batch, up to float rounding.
func (o ops) batchNormTrain(ys []*Node, gamma, beta *Node, residuals []*Node, relu bool) ([]*Node, bnStats) {
	nl := len(ys)
	dims := make([][]int, nl)
	rows := make([]int, nl)
	n := 0
	for l, y := range ys {
		dims[l] = y.Shape().Dimensions
		rows[l] = y.Shape().Size() / dims[l][len(dims[l])-1]
		n += rows[l]
	}
	c := dims[0][len(dims[0])-1]
	nf := float64(n)
	inputs := append(append([]*Node{}, ys...), gamma, beta)
	if residuals != nil {
		inputs = append(inputs, residuals...)
	}
	// colSums sums the rows of every lane's m [rows, C], giving [1, C].
	colSums := func(ms []*Node) *Node {
		var sum *Node
		for l, m := range ms {
			s := o.inLane(l).colSum(m)
			if sum == nil {
				sum = s
			} else {
				sum = Add(sum, s)
			}
		}
		return sum
	}
	// The per-channel [1, C] rows (mean, scale, beta, k1, k2) go to the
	// binary ops as they are: the backend broadcasts a row over the [rows, C]
	// operand row by row, the same operation on the same values as on a
	// materialised copy.
	d := make([]*Node, nl)
	var invstd, scale, mean, variance *Node
	var outs []*Node
	forward := func(s []*Node) []*Node {
		ym := make([]*Node, nl)
		for l := range ym {
			ym[l] = Reshape(s[l], rows[l], c)
		}
		mean = DivScalar(colSums(ym), nf) // [1, C]
		sq := make([]*Node, nl)
		for l := range ym {
			d[l] = Sub(ym[l], mean)
			sq[l] = Mul(d[l], d[l])
		}
		variance = DivScalar(colSums(sq), nf)
		invstd = Inverse(Sqrt(AddScalar(variance, nn.Epsilon)))
		scale = Mul(Reshape(s[nl], 1, c), invstd)
		betaRow := Reshape(s[nl+1], 1, c)
		outs = make([]*Node, nl)
		for l := range ym {
			z := Add(Mul(d[l], scale), betaRow)
			if residuals != nil {
				z = Add(z, Reshape(s[nl+2+l], rows[l], c))
			}
			if relu {
				z = Max(z, ScalarZero(z.Graph(), z.DType()))
			}
			outs[l] = Reshape(z, dims[l]...)
		}
		return outs
	}
	backward := func(_, _, dOuts []*Node) []*Node {
		g := make([]*Node, nl)
		gd := make([]*Node, nl)
		for l, dOut := range dOuts {
			g[l] = Reshape(dOut, rows[l], c)
			if relu {
				g[l] = Mul(g[l], reluMask(Reshape(outs[l], rows[l], c)))
			}
			gd[l] = Mul(g[l], d[l])
		}
		dBeta := colSums(g)        // [1, C]
		sgd := colSums(gd)         // [1, C]
		dGamma := Mul(sgd, invstd) // [1, C]
		k1 := DivScalar(Mul(scale, dBeta), nf)
		k2 := DivScalar(Mul(Mul(scale, Mul(invstd, invstd)), sgd), nf)
		grads := make([]*Node, len(inputs))
		for l := range g {
			dY := Sub(Mul(g[l], scale), Add(k1, Mul(d[l], k2)))
			grads[l] = Reshape(dY, dims[l]...)
			if residuals != nil {
				grads[nl+2+l] = Reshape(g[l], dims[l]...)
			}
		}
		grads[nl], grads[nl+1] = Reshape(dGamma, c), Reshape(dBeta, c)
		return grads
	}
	res := o.customVJPMulti(inputs, forward, backward)
	return res, bnStats{mean: Reshape(mean, c), variance: Reshape(variance, c), count: n}
}

// reluMaskScale makes every ReLU output of at least 1e-38 (the smallest
// normal float32 is 1.18e-38) at least 1 in reluMask.
const reluMaskScale = 1e38

// reluMask is the ReLU's derivative given its output out >= 0: 1 where
// out > 0, 0 where out = 0, computed as min(out * 1e38, 1) (products that
// overflow give +Inf, and min(+Inf, 1) = 1). Exact for every output but the
// subnormal ones (below 1e-38), which get a mask below 1. The Go backend's
// Sign, the direct form, branches on every value and costs about 5 ns per
// value on ReLU outputs (half of them zero, in no order); this costs about
// 1 ns.
func reluMask(out *Node) *Node {
	return Min(MulScalar(out, reluMaskScale), ScalarOne(out.Graph(), out.DType()))
}
