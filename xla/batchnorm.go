package xla

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// bnEpsilon is PyTorch's BatchNorm2d default epsilon.
const bnEpsilon = 1e-5

// bnStats are the batch statistics of one batch-norm layer in training:
// the per-channel mean and biased variance, each shaped [C], as PyTorch uses
// them to normalise (it stores the unbiased variance in its running average).
type bnStats struct {
	mean, variance *Node
	count          int // values per channel in the batch
}

// batchNormTrain normalises y [B, H, W, C] with the batch statistics over
// (B, H, W), scales by gamma and shifts by beta (each [C]), adds residual
// (same shape as y, or nil) and applies a ReLU when relu is set:
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
func (o ops) batchNormTrain(y, gamma, beta, residual *Node, relu bool) (*Node, bnStats) {
	dims := y.Shape().Dimensions
	c := dims[len(dims)-1]
	n := y.Shape().Size() / c
	nf := float64(n)
	var d, invstd, scale, mean, variance *Node
	inputs := []*Node{y, gamma, beta}
	if residual != nil {
		inputs = append(inputs, residual)
	}
	var out *Node
	forward := func(s []*Node) *Node {
		ym := Reshape(s[0], n, c)
		mean = DivScalar(o.colSum(ym), nf) // [1, C]
		d = Sub(ym, o.bcastRows(mean, n))
		variance = DivScalar(o.colSum(Mul(d, d)), nf)
		invstd = Inverse(Sqrt(AddScalar(variance, bnEpsilon)))
		scale = Mul(Reshape(s[1], 1, c), invstd)
		z := Add(Mul(d, o.bcastRows(scale, n)), o.bcastRows(Reshape(s[2], 1, c), n))
		if residual != nil {
			z = Add(z, Reshape(s[3], n, c))
		}
		if relu {
			z = Max(z, ScalarZero(z.Graph(), z.DType()))
		}
		out = Reshape(z, dims...)
		return out
	}
	backward := func(in []*Node, _, dOut *Node) []*Node {
		g := Reshape(dOut, n, c)
		if relu {
			// out >= 0, so Sign(out) is the ReLU's derivative: 1 where out > 0, else 0.
			g = Mul(g, Sign(Reshape(out, n, c)))
		}
		dBeta := o.colSum(g)       // [1, C]
		sgd := o.colSum(Mul(g, d)) // [1, C]
		dGamma := Mul(sgd, invstd) // [1, C]
		k1 := DivScalar(Mul(scale, dBeta), nf)
		k2 := DivScalar(Mul(Mul(scale, Mul(invstd, invstd)), sgd), nf)
		dY := Sub(Mul(g, o.bcastRows(scale, n)), Add(o.bcastRows(k1, n), Mul(d, o.bcastRows(k2, n))))
		grads := []*Node{Reshape(dY, dims...), Reshape(dGamma, c), Reshape(dBeta, c)}
		if residual != nil {
			grads = append(grads, Reshape(g, dims...))
		}
		return grads
	}
	res := o.customVJP(inputs, forward, backward)
	return res, bnStats{mean: Reshape(mean, c), variance: Reshape(variance, c), count: n}
}

// batchNormInfer normalises y [..., C] with stored running statistics.
func batchNormInfer(y, gamma, beta, mean, variance, residual *Node, relu bool) *Node {
	invstd := Inverse(Sqrt(AddScalar(variance, bnEpsilon)))
	scale := Mul(gamma, invstd)
	shift := Sub(beta, Mul(mean, scale))
	z := Add(Mul(y, scale), shift)
	if residual != nil {
		z = Add(z, residual)
	}
	if relu {
		z = Max(z, ScalarZero(z.Graph(), z.DType()))
	}
	return z
}
