package research

import (
	"errors"
	"fmt"

	"github.com/covidxray/opacity/datasets/mask"
)

// ErrEmptyLung is returned for an opacity percentage of an image whose lung
// mask is empty (the percentage is undefined).
var ErrEmptyLung = errors.New("lung mask is empty: opacity percentage undefined")

// OpacityPercent returns the opacity percentage of an image from its masks:
// 100 * |O ∩ L| / |L|, with L the lung mask and O the opacity mask on the
// same pixel grid. Opacity outside the lungs does not count.
func OpacityPercent(lung, opacity *mask.Mask) (float64, error) {
	if lung == nil || opacity == nil {
		return 0, fmt.Errorf("opacity percentage: missing mask")
	}
	if lung.Width != opacity.Width || lung.Height != opacity.Height {
		return 0, fmt.Errorf("opacity percentage: lung mask %dx%d, opacity mask %dx%d", lung.Width, lung.Height, opacity.Width, opacity.Height)
	}
	return OpacityPercentPix(lung.Pix, opacity.Pix)
}

// OpacityPercentPix is OpacityPercent on raw 0/1 pixel slices of equal length.
func OpacityPercentPix(lung, opacity []uint8) (float64, error) {
	if len(lung) != len(opacity) {
		return 0, fmt.Errorf("opacity percentage: lung mask has %d pixels, opacity mask %d", len(lung), len(opacity))
	}
	var nl, no int
	for i, l := range lung {
		if l != 0 {
			nl++
			if opacity[i] != 0 {
				no++
			}
		}
	}
	if nl == 0 {
		return 0, ErrEmptyLung
	}
	return 100 * float64(no) / float64(nl), nil
}

// PredictedOpacityPercent returns the opacity percentage from a predicted
// probability mask: the probabilities are thresholded first (prob >
// threshold is opacity, DefaultThreshold in the paper's setting), then
// 100 * |O ∩ L| / |L| as for manual masks. lung is the 0/1 lung mask on the
// same grid (for a model that sees lung-cropped, resized images: the lung
// mask cropped and resized the same way).
func PredictedOpacityPercent(lung []uint8, prob []float32, threshold float64) (float64, error) {
	if len(lung) != len(prob) {
		return 0, fmt.Errorf("predicted opacity percentage: lung mask has %d pixels, prediction %d", len(lung), len(prob))
	}
	if !(threshold >= 0 && threshold < 1) {
		return 0, fmt.Errorf("predicted opacity percentage: threshold %v is not in [0, 1)", threshold)
	}
	t := float32(threshold)
	var nl, no int
	for i, l := range lung {
		if l != 0 {
			nl++
			if prob[i] > t {
				no++
			}
		}
	}
	if nl == 0 {
		return 0, ErrEmptyLung
	}
	return 100 * float64(no) / float64(nl), nil
}

// Threshold turns probabilities into a 0/1 mask: 1 where prob > threshold
// (the package's convention, DefaultThreshold in the paper's setting).
func Threshold(prob []float32, threshold float64) []uint8 {
	t := float32(threshold)
	out := make([]uint8, len(prob))
	for i, p := range prob {
		if p > t {
			out[i] = 1
		}
	}
	return out
}
