package unet

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// Loss constants of the paper's training (section 2.5): binary focal loss
// with alpha 0.25 and gamma 2, soft Dice with its denominator clamped at
// diceEpsilon (segmentation_models_pytorch's DiceLoss(mode="binary")).
const (
	FocalAlpha  = 0.25
	FocalGamma  = 2.0
	diceEpsilon = 1e-7
)

// DiceFocalLoss is the training loss: soft Dice over the whole batch plus
// the mean binary focal loss, both from logits, as dice_focal_loss of the
// PyTorch reference (unet_r18.py, in the folder scripts/bench.sh takes as
// PYTORCH_DIR; not part of this repository):
//
//	p      = sigmoid(logits)
//	dice   = 1 - 2 sum(p t) / max(sum(p) + sum(t), eps)
//	bce    = max(x, 0) - x t + log(1 + exp(-|x|))      (BCE with logits)
//	focal  = (1 - exp(-bce))^gamma bce (alpha t + (1 - alpha)(1 - t))
//	loss   = dice + mean(focal)
//
// logits and target have the same shape; target holds 0 or 1. The result is
// a scalar.
func DiceFocalLoss(logits, target *Node) *Node {
	target = ConvertDType(target, logits.DType())
	p := Sigmoid(logits)
	inter := ReduceAllSum(Mul(p, target))
	card := Add(ReduceAllSum(p), ReduceAllSum(target))
	dice := OneMinus(Div(MulScalar(inter, 2), MaxScalar(card, diceEpsilon)))
	return Add(dice, ReduceAllMean(focalTerms(logits, target)))
}

// focalTerms returns the per-pixel binary focal loss of logits x against
// target t (see DiceFocalLoss).
func focalTerms(x, t *Node) *Node {
	bce := Add(Sub(MaxScalar(x, 0), Mul(x, t)), Log1P(Exp(Neg(Abs(x)))))
	pt := Exp(Neg(bce))
	w := AddScalar(MulScalar(t, 2*FocalAlpha-1), 1-FocalAlpha) // alpha t + (1-alpha)(1-t)
	return Mul(Mul(Square(OneMinus(pt)), bce), w)
}

// TargetLosses returns DiceFocalLoss of every target channel of logits and
// masks ([B, H, W, T] each): T scalars. With one target it is
// DiceFocalLoss of the whole tensors.
func TargetLosses(logits, masks *Node) []*Node {
	t := logits.Shape().Dimensions[3]
	if t == 1 {
		return []*Node{DiceFocalLoss(logits, masks)}
	}
	out := make([]*Node, t)
	for i := range out {
		ch := func(x *Node) *Node { return Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(i, i+1)) }
		out[i] = DiceFocalLoss(ch(logits), ch(masks))
	}
	return out
}

// TrainingLoss is the loss a model is trained on: the sum over the targets
// of their Dice + focal losses (see TargetLosses).
func TrainingLoss(logits, masks *Node) *Node {
	losses := TargetLosses(logits, masks)
	sum := losses[0]
	for _, l := range losses[1:] {
		sum = Add(sum, l)
	}
	return sum
}

// WeightedTargetLosses is TargetLosses over the images of a batch with
// weight 1, leaving out those with weight 0 (the padding of a last, partial
// evaluation batch): weights [B] holds 1 or 0 per image, and invCount is
// the scalar 1/(valid images * H * W) that makes the focal term a mean over
// the valid images' pixels. With every weight 1 and invCount 1/(B*H*W) in
// float32, the losses are TargetLosses' to the last bit: multiplying by 1
// changes no value, and the mean is the same sum times the same factor.
func WeightedTargetLosses(logits, masks, weights, invCount *Node) []*Node {
	d := logits.Shape().Dimensions
	w := Reshape(weights, d[0], 1, 1, 1)
	loss := func(x, t *Node) *Node {
		t = ConvertDType(t, x.DType())
		p := Mul(Sigmoid(x), w)
		tw := Mul(t, w)
		inter := ReduceAllSum(Mul(p, t))
		card := Add(ReduceAllSum(p), ReduceAllSum(tw))
		dice := OneMinus(Div(MulScalar(inter, 2), MaxScalar(card, diceEpsilon)))
		return Add(dice, Mul(ReduceAllSum(Mul(focalTerms(x, t), w)), invCount))
	}
	if d[3] == 1 {
		return []*Node{loss(logits, masks)}
	}
	out := make([]*Node, d[3])
	for i := range out {
		ch := func(x *Node) *Node { return Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(i, i+1)) }
		out[i] = loss(ch(logits), ch(masks))
	}
	return out
}
