package unet

import (
	"fmt"

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

// Losses of Config.Loss, the loss a model trains on (per target channel).
const (
	// LossDiceFocal is DiceFocalLoss: soft Dice over the whole batch plus
	// the focal loss (the paper's; the empty name means the same).
	LossDiceFocal = "dice-focal"
	// LossImageDiceFocal is ImageDiceFocalLoss: soft Dice per image,
	// averaged over the images whose mask is not empty, plus the focal
	// loss.
	LossImageDiceFocal = "image-dice-focal"
	// LossImageDiceAllFocal is ImageDiceAllFocalLoss: soft Dice per image,
	// smoothed by 1 and averaged over every image (an empty mask's Dice
	// counts any predicted opacity), plus the focal loss.
	LossImageDiceAllFocal = "image-dice-all-focal"
)

// CheckLoss reports whether name is a loss of Config.Loss ("" is
// LossDiceFocal).
func CheckLoss(name string) error {
	switch name {
	case "", LossDiceFocal, LossImageDiceFocal, LossImageDiceAllFocal:
		return nil
	}
	return fmt.Errorf("loss %q: want %s, %s or %s", name, LossDiceFocal, LossImageDiceFocal, LossImageDiceAllFocal)
}

// ImageDiceFocalLoss is DiceFocalLoss with the Dice term computed per
// image: for logits and target [B, ...] (target 0 or 1),
//
//	dice_b = 1 - 2 sum_b(p t) / max(sum_b(p) + sum_b(t), eps)
//	dice   = mean of dice_b over the images b with sum_b(t) > 0 (0 if none)
//	loss   = dice + mean(focal)
//
// Each image with opacity weighs the same in the Dice term whatever its
// extent, as in the per-image Dice a model is scored by; the images with
// an empty mask are left to the focal term (their Dice would be 1 for any
// false positive). segmentation_models_pytorch's DiceLoss does the same
// per sample when its reduction is over each image.
func ImageDiceFocalLoss(logits, target *Node) *Node {
	return imageDiceFocal(imageDice, logits, target)
}

// imageDiceFocal is a per-image Dice term (imageDice, smoothImageDice) of
// every image plus the mean focal loss, from logits.
func imageDiceFocal(term func(p, t, w *Node) *Node, logits, target *Node) *Node {
	target = ConvertDType(target, logits.DType())
	return Add(term(Sigmoid(logits), target, nil), ReduceAllMean(focalTerms(logits, target)))
}

// imageDice returns ImageDiceFocalLoss's Dice term of probabilities p
// against target t [B, ...], the images weighted by w [B] (1 or 0; nil:
// every image 1).
func imageDice(p, t, w *Node) *Node {
	inter, tsum, card := imageSums(p, t)
	dice := OneMinus(Div(MulScalar(inter, 2), MaxScalar(card, diceEpsilon))) // [B]
	has := ConvertDType(GreaterThan(tsum, ZerosLike(tsum)), p.DType())
	if w != nil {
		has = Mul(has, w)
	}
	return Div(ReduceAllSum(Mul(dice, has)), MaxScalar(ReduceAllSum(has), 1))
}

// imageSums returns, per image of p and t [B, ...], sum(p t), sum(t) and
// sum(p) + sum(t) ([B] each).
func imageSums(p, t *Node) (inter, tsum, card *Node) {
	axes := make([]int, p.Rank()-1)
	for i := range axes {
		axes[i] = i + 1
	}
	inter = ReduceSum(Mul(p, t), axes...)
	tsum = ReduceSum(t, axes...)
	return inter, tsum, Add(ReduceSum(p, axes...), tsum)
}

// ImageDiceAllFocalLoss is ImageDiceFocalLoss with every image in the Dice
// term and each image's Dice smoothed by 1 (diceSmooth):
//
//	dice_b = 1 - (2 sum_b(p t) + 1) / (sum_b(p) + sum_b(t) + 1)
//	loss   = mean of dice_b over the images + mean(focal)
//
// On an empty mask dice_b = sum_b(p) / (sum_b(p) + 1): near 0 only when the
// image's probabilities add up to much less than one pixel, so an image
// without opacity weighs in the Dice term as much as one with, and any
// opacity predicted on it costs (ImageDiceFocalLoss leaves such images to
// the focal term, which a few false pixels barely move). The smoothing
// changes the Dice of a mask of n pixels by O(1/n).
func ImageDiceAllFocalLoss(logits, target *Node) *Node {
	return imageDiceFocal(smoothImageDice, logits, target)
}

// diceSmooth is ImageDiceAllFocalLoss's smoothing, in pixels.
const diceSmooth = 1

// smoothImageDice returns ImageDiceAllFocalLoss's Dice term of
// probabilities p against target t [B, ...], the images weighted by w [B]
// (1 or 0; nil: every image 1).
func smoothImageDice(p, t, w *Node) *Node {
	inter, _, card := imageSums(p, t)
	dice := OneMinus(Div(AddScalar(MulScalar(inter, 2), diceSmooth), AddScalar(card, diceSmooth))) // [B]
	if w == nil {
		w = OnesLike(dice) // the same sums as a weighted batch's, to the bit
	}
	return Div(ReduceAllSum(Mul(dice, w)), MaxScalar(ReduceAllSum(w), 1))
}

// lossFunc returns the loss of a name of Config.Loss (an unknown name is
// LossDiceFocal; Config.Validate refuses it first).
func lossFunc(name string) func(logits, target *Node) *Node {
	switch name {
	case LossImageDiceFocal:
		return ImageDiceFocalLoss
	case LossImageDiceAllFocal:
		return ImageDiceAllFocalLoss
	}
	return DiceFocalLoss
}

// imageDiceTerm returns the per-image Dice term (probabilities, target,
// image weights) of a loss of Config.Loss, nil for the paper's Dice over
// the batch.
func imageDiceTerm(name string) func(p, t, w *Node) *Node {
	switch name {
	case LossImageDiceFocal:
		return imageDice
	case LossImageDiceAllFocal:
		return smoothImageDice
	}
	return nil
}

// targetChannels applies loss to each target channel of logits and masks
// ([B, H, W, T] each): T scalars; with one target, to the whole tensors.
func targetChannels(logits, masks *Node, loss func(x, t *Node) *Node) []*Node {
	t := logits.Shape().Dimensions[3]
	if t == 1 {
		return []*Node{loss(logits, masks)}
	}
	out := make([]*Node, t)
	for i := range out {
		ch := func(x *Node) *Node { return Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(i, i+1)) }
		out[i] = loss(ch(logits), ch(masks))
	}
	return out
}

// TargetLosses returns the loss named loss (Config.Loss: DiceFocalLoss,
// ImageDiceFocalLoss or ImageDiceAllFocalLoss) of every target channel of
// logits and masks ([B, H, W, T] each): T scalars. With one target it is
// the loss of the whole tensors.
func TargetLosses(loss string, logits, masks *Node) []*Node {
	return targetChannels(logits, masks, lossFunc(loss))
}

// TrainingLoss is the loss a model is trained on: the sum over the targets
// of their losses named loss (see TargetLosses).
func TrainingLoss(loss string, logits, masks *Node) *Node {
	losses := TargetLosses(loss, logits, masks)
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
func WeightedTargetLosses(loss string, logits, masks, weights, invCount *Node) []*Node {
	d := logits.Shape().Dimensions
	w := Reshape(weights, d[0], 1, 1, 1)
	imageTerm := imageDiceTerm(loss)
	return targetChannels(logits, masks, func(x, t *Node) *Node {
		t = ConvertDType(t, x.DType())
		focal := Mul(ReduceAllSum(Mul(focalTerms(x, t), w)), invCount)
		if imageTerm != nil {
			return Add(imageTerm(Sigmoid(x), t, weights), focal)
		}
		p := Mul(Sigmoid(x), w)
		tw := Mul(t, w)
		inter := ReduceAllSum(Mul(p, t))
		card := Add(ReduceAllSum(p), ReduceAllSum(tw))
		dice := OneMinus(Div(MulScalar(inter, 2), MaxScalar(card, diceEpsilon)))
		return Add(dice, focal)
	})
}
