package research

import (
	"fmt"
	"math"
)

// Prediction is one image's predicted probability mask with its ground
// truth, the input of every segmentation metric of this package.
type Prediction struct {
	Name    string    // image id, e.g. the annotation's file stem
	Patient string    // patient id
	Subset  string    // "train", "test", "validation" (see SegmentationTable) or any label
	Truth   []uint8   // ground-truth mask, 0/1 per pixel, row-major (mask.Mask.Pix)
	Prob    []float32 // predicted probability per pixel, in [0, 1], same layout; a binary mask as 0/1 works too
}

// Defaults of the metrics, as the paper's library computes them.
const (
	DefaultSmooth    = 1e-5 // segmentation_models' SMOOTH
	DefaultThreshold = 0.5  // probability > threshold is a predicted opacity pixel
	DefaultMinArea   = 1    // predicted pixels an image needs to count as "opacity detected"
)

// MetricOptions configures the segmentation metrics. Start from
// DefaultMetricOptions; the zero value is rejected (threshold 0 would call
// every pixel with any probability an opacity).
type MetricOptions struct {
	// Threshold turns probabilities into a hard mask: prob > Threshold. In (0, 1).
	Threshold float64
	// Smooth is added to numerator and denominator of the soft pooled
	// scores (convention a). >= 0.
	Smooth float64
	// MinArea is the number of predicted pixels an image needs to be called
	// "opacity present" by the image-level detection. >= 1.
	MinArea int
}

// DefaultMetricOptions returns threshold 0.5, smooth 1e-5, minimum area 1.
func DefaultMetricOptions() MetricOptions {
	return MetricOptions{Threshold: DefaultThreshold, Smooth: DefaultSmooth, MinArea: DefaultMinArea}
}

func (o MetricOptions) check() error {
	if !(o.Threshold > 0 && o.Threshold < 1) {
		return fmt.Errorf("metric threshold %v is not in (0, 1)", o.Threshold)
	}
	if !(o.Smooth >= 0) || math.IsInf(o.Smooth, 0) {
		return fmt.Errorf("metric smooth %v: want a finite value >= 0", o.Smooth)
	}
	if o.MinArea < 1 {
		return fmt.Errorf("detection minimum area %d: want >= 1 pixel", o.MinArea)
	}
	return nil
}

// ImageCounts holds the per-image sums from which every convention is
// computed: hard counts after thresholding and soft sums of probabilities.
type ImageCounts struct {
	Name, Patient, Subset string

	Pixels    int     // pixels in the image
	Truth     int     // |y|: ground-truth pixels
	Pred      int     // |p > threshold|: predicted pixels
	TP        int     // pixels both in the truth and predicted
	SoftInter float64 // Σ y·p over pixels
	SoftPred  float64 // Σ p over pixels
}

// FP returns the false-positive pixels: predicted, not in the truth.
func (c ImageCounts) FP() int { return c.Pred - c.TP }

// FN returns the false-negative pixels: in the truth, not predicted.
func (c ImageCounts) FN() int { return c.Truth - c.TP }

// IoU returns the hard IoU TP/(TP+FP+FN) of the image, NaN when both the
// truth and the prediction are empty (0/0).
func (c ImageCounts) IoU() float64 {
	u := c.Truth + c.Pred - c.TP
	if u == 0 {
		return math.NaN()
	}
	return float64(c.TP) / float64(u)
}

// F1 returns the hard F1 (Dice) 2TP/(|y|+|p|) of the image, NaN when both
// are empty.
func (c ImageCounts) F1() float64 {
	d := c.Truth + c.Pred
	if d == 0 {
		return math.NaN()
	}
	return 2 * float64(c.TP) / float64(d)
}

// SoftIoU returns the image's own soft IoU (ΣI+s)/(Σy+Σp-ΣI+s), what
// segmentation_models computes per image with per_image=True.
func (c ImageCounts) SoftIoU(smooth float64) float64 {
	return (c.SoftInter + smooth) / (float64(c.Truth) + c.SoftPred - c.SoftInter + smooth)
}

// SoftF1 returns the image's own soft F1 (2ΣI+s)/(Σy+Σp+s).
func (c ImageCounts) SoftF1(smooth float64) float64 {
	return (2*c.SoftInter + smooth) / (float64(c.Truth) + c.SoftPred + smooth)
}

// CountImage computes the counts of one prediction. The probability of a
// pixel must lie in [0, 1]; a truth pixel is set when it is not 0.
func CountImage(p Prediction, threshold float64) (ImageCounts, error) {
	if len(p.Truth) != len(p.Prob) {
		return ImageCounts{}, fmt.Errorf("image %q: truth has %d pixels, prediction %d", p.Name, len(p.Truth), len(p.Prob))
	}
	c := ImageCounts{Name: p.Name, Patient: p.Patient, Subset: p.Subset, Pixels: len(p.Truth)}
	t := float32(threshold)
	var softInter, softPred float64
	// Sums in float32 per row of 1024 pixels, then float64: exact enough and fast.
	for start := 0; start < len(p.Prob); start += 1024 {
		end := min(start+1024, len(p.Prob))
		var si, sp float32
		for i := start; i < end; i++ {
			v := p.Prob[i]
			if !(v >= 0 && v <= 1) {
				return ImageCounts{}, fmt.Errorf("image %q: probability %v at pixel %d is not in [0, 1]", p.Name, v, i)
			}
			sp += v
			hard := v > t
			if hard {
				c.Pred++
			}
			if p.Truth[i] != 0 {
				c.Truth++
				si += v
				if hard {
					c.TP++
				}
			}
		}
		softInter += float64(si)
		softPred += float64(sp)
	}
	c.SoftInter, c.SoftPred = softInter, softPred
	return c, nil
}

// CountImages computes the counts of every prediction.
func CountImages(preds []Prediction, threshold float64) ([]ImageCounts, error) {
	out := make([]ImageCounts, len(preds))
	for i, p := range preds {
		c, err := CountImage(p, threshold)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// Detection is the image-level detection of "any opacity": an image is
// truly positive when its truth mask is not empty, and called positive when
// at least MinArea pixels are predicted.
type Detection struct {
	MinArea     int
	TP, FP      int     // images called positive, with and without opacity in the truth
	TN, FN      int     // images called negative, without and with opacity in the truth
	Sensitivity float64 // TP/(TP+FN); NaN without positive images
	Specificity float64 // TN/(TN+FP); NaN without negative images
}

// Scores are the IoU and F1 of a set of images under every convention,
// side by side. NaN marks a score that is undefined on the set (for example
// convention d on images that all have empty truth).
type Scores struct {
	Images int

	// (a) The paper's: pooled over all images, soft probabilities, smoothed:
	// IoU = (ΣI+s)/(Σy+Σp-ΣI+s), F1 = (2ΣI+s)/(Σy+Σp+s), I = y·p.
	// This is segmentation_models' iou_score / f1_score with their defaults
	// (per_image=False, threshold=None, smooth=1e-5) when all the images
	// form one batch.
	SoftPooledIoU, SoftPooledF1 float64
	// (b) Pooled hard ("micro"): ΣTP/(ΣTP+ΣFP+ΣFN), 2ΣTP/(2ΣTP+ΣFP+ΣFN).
	HardPooledIoU, HardPooledF1 float64
	// (c) Per-image mean, hard; an image with empty truth and empty
	// prediction scores 1, one with empty truth and any false positive 0.
	PerImageIoU, PerImageF1 float64
	// (d) Per-image mean over the images whose truth is not empty (MONAI's
	// ignore_empty=True); NonEmptyN images.
	NonEmptyIoU, NonEmptyF1 float64
	NonEmptyN               int
	// (e) Per-image mean with empty truth and empty prediction excluded as
	// undefined (nnU-Net's NaN-aware mean); an empty truth with a false
	// positive scores 0 and is included. NaNAwareN images.
	NaNAwareIoU, NaNAwareF1 float64
	NaNAwareN               int

	Detection Detection
}

// Summarize computes every convention over counts.
func Summarize(counts []ImageCounts, opt MetricOptions) (Scores, error) {
	if err := opt.check(); err != nil {
		return Scores{}, err
	}
	s := Scores{Images: len(counts)}
	var sy, sp, si float64
	var tp, fp, fn int
	var cIoU, cF1, dIoU, dF1, eIoU, eF1 float64
	d := Detection{MinArea: opt.MinArea}
	for _, c := range counts {
		sy += float64(c.Truth)
		sp += c.SoftPred
		si += c.SoftInter
		tp += c.TP
		fp += c.FP()
		fn += c.FN()
		iou, f1 := c.IoU(), c.F1()
		if math.IsNaN(iou) { // empty truth, empty prediction
			cIoU++
			cF1++
		} else {
			cIoU += iou
			cF1 += f1
			eIoU += iou
			eF1 += f1
			s.NaNAwareN++
		}
		if c.Truth > 0 {
			dIoU += iou
			dF1 += f1
			s.NonEmptyN++
		}
		called := c.Pred >= opt.MinArea
		switch {
		case c.Truth > 0 && called:
			d.TP++
		case c.Truth > 0:
			d.FN++
		case called:
			d.FP++
		default:
			d.TN++
		}
	}
	sm := opt.Smooth
	s.SoftPooledIoU = (si + sm) / (sy + sp - si + sm)
	s.SoftPooledF1 = (2*si + sm) / (sy + sp + sm)
	s.HardPooledIoU = ratio(float64(tp), float64(tp+fp+fn))
	s.HardPooledF1 = ratio(float64(2*tp), float64(2*tp+fp+fn))
	s.PerImageIoU = ratio(cIoU, float64(len(counts)))
	s.PerImageF1 = ratio(cF1, float64(len(counts)))
	s.NonEmptyIoU = ratio(dIoU, float64(s.NonEmptyN))
	s.NonEmptyF1 = ratio(dF1, float64(s.NonEmptyN))
	s.NaNAwareIoU = ratio(eIoU, float64(s.NaNAwareN))
	s.NaNAwareF1 = ratio(eF1, float64(s.NaNAwareN))
	d.Sensitivity = ratio(float64(d.TP), float64(d.TP+d.FN))
	d.Specificity = ratio(float64(d.TN), float64(d.TN+d.FP))
	s.Detection = d
	return s, nil
}

// ratio returns a/b, NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// Evaluate counts every prediction and summarises them under every
// convention.
func Evaluate(preds []Prediction, opt MetricOptions) (Scores, error) {
	if err := opt.check(); err != nil {
		return Scores{}, err
	}
	counts, err := CountImages(preds, opt.Threshold)
	if err != nil {
		return Scores{}, err
	}
	return Summarize(counts, opt)
}

// SoftPooledIoU returns the paper's IoU (convention a): soft probabilities
// pooled over all predictions as one batch, (ΣI+s)/(Σy+Σp-ΣI+s). It returns
// an error for mismatched sizes or probabilities outside [0, 1].
func SoftPooledIoU(preds []Prediction, smooth float64) (float64, error) {
	iou, _, err := softPooled(preds, smooth)
	return iou, err
}

// SoftPooledF1 returns the paper's F1 (convention a): (2ΣI+s)/(Σy+Σp+s)
// over all predictions as one batch.
func SoftPooledF1(preds []Prediction, smooth float64) (float64, error) {
	_, f1, err := softPooled(preds, smooth)
	return f1, err
}

func softPooled(preds []Prediction, smooth float64) (iou, f1 float64, err error) {
	var sy, sp, si float64
	for _, p := range preds {
		c, err := CountImage(p, DefaultThreshold)
		if err != nil {
			return math.NaN(), math.NaN(), err
		}
		sy += float64(c.Truth)
		sp += c.SoftPred
		si += c.SoftInter
	}
	return (si + smooth) / (sy + sp - si + smooth), (2*si + smooth) / (sy + sp + smooth), nil
}

// KerasEpochMean returns what Keras reports for the paper's metric over an
// epoch or an evaluation: the soft pooled IoU and F1 (convention a) of each
// consecutive batch of batchSize images (the last batch may be smaller),
// averaged over batches with equal weight. With one batch holding every
// image it equals convention a.
func KerasEpochMean(counts []ImageCounts, batchSize int, smooth float64) (iou, f1 float64, err error) {
	if batchSize < 1 {
		return math.NaN(), math.NaN(), fmt.Errorf("batch size %d: want >= 1", batchSize)
	}
	if len(counts) == 0 {
		return math.NaN(), math.NaN(), fmt.Errorf("no images")
	}
	nb := 0
	for start := 0; start < len(counts); start += batchSize {
		var sy, sp, si float64
		for _, c := range counts[start:min(start+batchSize, len(counts))] {
			sy += float64(c.Truth)
			sp += c.SoftPred
			si += c.SoftInter
		}
		iou += (si + smooth) / (sy + sp - si + smooth)
		f1 += (2*si + smooth) / (sy + sp + smooth)
		nb++
	}
	return iou / float64(nb), f1 / float64(nb), nil
}
