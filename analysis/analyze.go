// Package analysis measures the opacity of any chest X-ray without a
// hand-drawn lung contour. A lung model (targets [lungs]) finds the lungs on
// the whole image; the image is cropped to the predicted lungs' bounding box
// exactly as the paper crops to the manual one; an opacity model (the
// paper's, targets [opacity]) segments the opacity in the crop; the opacity
// percentage is 100 |opacity ∩ lungs| / |lungs| on the image's own grid; and
// maps fitted to Cohen et al.'s radiologist scores turn it into severity
// estimates (geographic extent 0-8, opacity 0-6).
//
// Models holds the two models and the maps (a models folder, made by
// TrainModels: opacity models); Models.Analyze runs the pipeline on one
// image; AnalyzeFiles on files (JPEG, PNG, DICOM), writing per image the
// masks, an overlay and a labelme file a person can correct, and one report
// for the batch. PipelineCV validates the whole pipeline by patient-grouped
// cross-validation against radiologists' masks and scores.
package analysis

import (
	"fmt"
	"image"
	"math"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla/unet"
)

// Quality flags of a Result.
const (
	FlagNoLungs        = "no lungs found"
	FlagOneLung        = "one lung"
	FlagLungArea       = "lung area implausible"
	FlagMoreComponents = "lung mask in more than two parts before post-processing"
)

// Plausible share of a frontal chest radiograph covered by the lung fields,
// outside of which FlagLungArea is raised. The lung fields of adult frontal
// radiographs cover roughly a fifth to a half of the image; the bounds leave
// room for small children, tight collimation and wide margins.
const (
	MinLungShare = 0.08
	MaxLungShare = 0.70
)

// PostProcess is what is done to a predicted lung mask before it is used:
// keep the largest connected components (the two lungs) and fill the holes
// inside them.
type PostProcess struct {
	KeepComponents int  `json:"keep_components"` // 0: keep all
	FillHoles      bool `json:"fill_holes"`
}

// DefaultPostProcess keeps the two largest components and fills holes.
func DefaultPostProcess() PostProcess { return PostProcess{KeepComponents: 2, FillHoles: true} }

// Apply returns the post-processed mask.
func (p PostProcess) Apply(m *datasets.Mask) *datasets.Mask {
	out, _ := p.apply(m)
	return out
}

// apply is Apply, also returning the number of 8-connected components of m
// (labelled once for both).
func (p PostProcess) apply(m *datasets.Mask) (*datasets.Mask, int) {
	labels, sizes := datasets.Components(m)
	if p.KeepComponents > 0 {
		m = datasets.KeepLargestLabeled(m, labels, sizes, p.KeepComponents)
	}
	if p.FillHoles {
		m = datasets.FillHoles(m)
	}
	return m, len(sizes) - 1
}

// Result is the automatic analysis of one image, on its own pixel grid.
type Result struct {
	Width, Height int
	// Lungs is the post-processed predicted lung mask; LungsRaw the
	// thresholded one before post-processing; Right and Left its two
	// sides (radiological convention: the patient's right lung on the
	// viewer's left; datasets.SplitLungs).
	Lungs, LungsRaw, Right, Left *datasets.Mask
	// Opacity is the predicted opacity mask (zero outside Crop).
	Opacity *datasets.Mask
	// Crop is the predicted lungs' bounding box with the paper's margin,
	// the opacity model's input.
	Crop image.Rectangle
	// OpacityPct is 100 |Opacity ∩ Lungs| / |Lungs|; NaN without lungs.
	OpacityPct float64
	// LungPixels is |Lungs|, LungShare |Lungs| / (Width * Height).
	LungPixels int
	LungShare  float64
	// Geographic and OpacityScore estimate Cohen et al.'s radiologist
	// scores (geographic extent 0-8, opacity 0-6) from OpacityPct; NaN
	// without severity maps or lungs.
	Geographic, OpacityScore float64
	// Flags are the quality flags raised (Flag constants).
	Flags []string
}

// Analyze runs the automatic pipeline on a grayscale X-ray.
func (m *Models) Analyze(img *image.Gray) (*Result, error) {
	r, s, err := newResult(img)
	if err != nil {
		return nil, err
	}
	// Lungs on the whole image, brought back to the image's grid.
	lp, err := m.predict(m.lungs, s, image.Rect(0, 0, r.Width, r.Height), datasets.TargetLungs)
	if err != nil {
		return nil, err
	}
	r.LungsRaw = threshold(lp, r.Width, r.Height)
	var parts int
	r.Lungs, parts = m.Record.PostProcess.apply(r.LungsRaw)
	if parts > 2 {
		r.Flags = append(r.Flags, FlagMoreComponents)
	}
	if err := m.opacityIn(r, s); err != nil {
		return nil, err
	}
	return r, nil
}

// AnalyzeWithLungs is the paper's pipeline with the models' opacity model:
// the lungs are given (a manual mask of the image's size) instead of
// predicted, the input is cropped to them, and the percentage is over
// them. LungsRaw and Lungs are the given mask.
func (m *Models) AnalyzeWithLungs(img *image.Gray, lungs *datasets.Mask) (*Result, error) {
	r, s, err := newResult(img)
	if err != nil {
		return nil, err
	}
	if lungs == nil || lungs.Width != r.Width || lungs.Height != r.Height {
		return nil, fmt.Errorf("the lung mask is not the image's size (%dx%d)", r.Width, r.Height)
	}
	r.LungsRaw, r.Lungs = lungs, lungs
	if err := m.opacityIn(r, s); err != nil {
		return nil, err
	}
	return r, nil
}

// newResult starts the result of an image (bounds from (0, 0)) and the
// sample the models read.
func newResult(img *image.Gray) (*Result, *datasets.Sample, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return nil, nil, fmt.Errorf("empty image")
	}
	if b.Min != (image.Point{}) {
		img = datasets.ResizeGray(img, w, h) // bounds from (0, 0)
	}
	r := &Result{Width: w, Height: h, OpacityPct: math.NaN(), Geographic: math.NaN(), OpacityScore: math.NaN()}
	return r, &datasets.Sample{File: "image", Image: img, Width: w, Height: h}, nil
}

// opacityIn completes r from its lungs: the two sides, the lung area and
// its flags, the opacity model on the crop to the lungs, the percentage
// and the severity estimates.
func (m *Models) opacityIn(r *Result, s *datasets.Sample) error {
	w, h := r.Width, r.Height
	r.Right, r.Left = datasets.SplitLungs(r.Lungs)
	r.LungPixels = r.Lungs.Count()
	r.LungShare = float64(r.LungPixels) / float64(w*h)
	r.Opacity = datasets.NewMask(w, h)
	if r.LungPixels == 0 {
		r.Flags = append(r.Flags, FlagNoLungs)
		return nil
	}
	if r.Right.Empty() || r.Left.Empty() {
		r.Flags = append(r.Flags, FlagOneLung)
	}
	if r.LungShare < MinLungShare || r.LungShare > MaxLungShare {
		r.Flags = append(r.Flags, FlagLungArea)
	}

	// Opacity in the crop to the lungs, as the paper crops to the manual
	// ones.
	var err error
	if r.Crop, err = datasets.CropBox(r.Lungs, datasets.DefaultMargin); err != nil {
		return err
	}
	s.Lung = r.Lungs
	op, err := m.predict(m.opacity, s, r.Crop, datasets.TargetOpacity)
	if err != nil {
		return err
	}
	crop := threshold(op, r.Crop.Dx(), r.Crop.Dy())
	for y := 0; y < crop.Height; y++ {
		copy(r.Opacity.Pix[(r.Crop.Min.Y+y)*w+r.Crop.Min.X:], crop.Pix[y*crop.Width:(y+1)*crop.Width])
	}
	if r.OpacityPct, err = research.OpacityPercent(r.Lungs, r.Opacity); err != nil {
		return err
	}
	if sv := m.Record.Severity; sv != nil {
		r.Geographic = sv.Geographic.Predict(r.OpacityPct)
		r.OpacityScore = sv.Opacity.Predict(r.OpacityPct)
	}
	return nil
}

// predict frames the box of the sample for model l, predicts target and
// returns its probabilities resized to the box's size.
func (m *Models) predict(l *unet.Loaded, s *datasets.Sample, box image.Rectangle, target string) ([]float32, error) {
	size := l.Config.Size
	in, err := datasets.PrepareBox(s, size, box)
	if err != nil {
		return nil, err
	}
	probs, err := l.Model.Predict([]*datasets.Prepared{in}, 1)
	if err != nil {
		return nil, err
	}
	k := -1
	for i, t := range l.Model.Config.TargetList() {
		if t == target {
			k = i
		}
	}
	if k < 0 {
		return nil, fmt.Errorf("%s: the model does not predict %s", l.Checkpoint, target)
	}
	return datasets.ResizeProb(probs[0][k], size, size, box.Dx(), box.Dy()), nil
}

// threshold makes a mask of the probabilities above research's threshold.
func threshold(prob []float32, w, h int) *datasets.Mask {
	return &datasets.Mask{Width: w, Height: h, Pix: research.Threshold(prob, research.DefaultThreshold)}
}
