package transform

import "github.com/covidxray/opacity/datasets"

// Framing is how a sample is framed into the square model input.
type Framing string

const (
	// FrameLungCrop is the paper's: the bounding box of the manual lung
	// mask, grown by DefaultMargin, resized to the input size. It needs the
	// lungs to be known, so it frames the opacity model's input.
	FrameLungCrop Framing = "lung-crop"
	// FrameWhole is the whole image resized to the input size. A model
	// that predicts the lungs sees whole images, since at inference the
	// lungs are what is unknown.
	FrameWhole Framing = "whole"
)

// FramingFor returns how the input of a model for targets is framed: the
// whole image when the lungs are a target, the paper's lung crop otherwise.
func FramingFor(targets []string) Framing {
	if datasets.HasTarget(targets, datasets.TargetLungs) {
		return FrameWhole
	}
	return FrameLungCrop
}
