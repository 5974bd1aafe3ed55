// Package analysis measures the opacity of any chest X-ray without a
// hand-drawn lung contour. A lung model (targets [lungs]) finds the lungs on
// the whole image; the image is cropped to the predicted lungs' bounding box
// exactly as the paper crops to the manual one; an opacity model (the
// paper's, targets [opacity]) segments the opacity in the crop; the opacity
// percentage is 100 |opacity ∩ lungs| / |lungs| on the image's own grid; and
// maps fitted to Cohen et al.'s radiologist scores turn it into severity
// estimates (geographic extent 0-8, opacity 0-6). Each image is measured by
// an ensemble of test-time augmentations (Member): the masks are the
// members' mean probabilities, the members' spread scales an interval of the
// percentage calibrated on images the models did not train on (Interval),
// and each lung's thirds are the Brixia zones, scored 0-3 by thresholds
// fitted to radiologists' scores (Brixia).
//
// Models holds the two models, the maps and the calibrations (a models
// folder, made by TrainModels: opacity models, with a manifest.json that
// OpenModels checks); Models.Analyze runs the pipeline on one image;
// AnalyzeFiles on files (JPEG, PNG, DICOM), writing per image the masks, an
// overlay and a labelme file a person can correct, and one report for the
// batch. PipelineCV validates the whole pipeline by patient-grouped
// cross-validation against radiologists' masks and scores; EvaluateImages
// measures a models folder on images it never saw.
package analysis

import (
	"fmt"
	"image"
	"math"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/research"
)

// Quality flags of a Result.
const (
	FlagNoLungs        = "no lungs found"
	FlagOneLung        = "one lung"
	FlagLungArea       = "lung area implausible"
	FlagMoreComponents = "lung mask in more than two parts before post-processing"
	FlagUncertain      = "uncertain: the opacity % interval is wider than 25 points"
)

// MaxIntervalWidth is the widest interval of the opacity percentage
// (percentage points) that does not raise FlagUncertain.
const MaxIntervalWidth = 25

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
func (p PostProcess) Apply(m *mask.Mask) *mask.Mask {
	out, _ := p.apply(m)
	return out
}

// apply is Apply, also returning the number of 8-connected components of m
// (labelled once for both).
func (p PostProcess) apply(m *mask.Mask) (*mask.Mask, int) {
	labels, sizes := mask.Components(m)
	if p.KeepComponents > 0 {
		m = mask.KeepLargestLabeled(m, labels, sizes, p.KeepComponents)
	}
	if p.FillHoles {
		m = mask.FillHoles(m)
	}
	return m, len(sizes) - 1
}

// Result is the automatic analysis of one image, on its own pixel grid.
type Result struct {
	Width, Height int
	// Lungs is the post-processed predicted lung mask; LungsRaw the
	// thresholded one before post-processing; Right and Left its two
	// sides (radiological convention: the patient's right lung on the
	// viewer's left; mask.SplitLungs).
	Lungs, LungsRaw, Right, Left *mask.Mask
	// Opacity is the predicted opacity mask (zero outside Crop).
	Opacity *mask.Mask
	// Crop is the predicted lungs' bounding box with the paper's margin,
	// the opacity model's input.
	Crop image.Rectangle
	// OpacityPct is 100 |Opacity ∩ Lungs| / |Lungs|; NaN without lungs.
	// With several ensemble members the masks are the members' mean
	// probabilities thresholded.
	OpacityPct float64
	// LungPixels is |Lungs|, LungShare |Lungs| / (Width * Height).
	LungPixels int
	LungShare  float64
	// Geographic and OpacityScore estimate Cohen et al.'s radiologist
	// scores (geographic extent 0-8, opacity 0-6) from OpacityPct; NaN
	// without severity maps or lungs.
	Geographic, OpacityScore float64
	// Spread is that of the ensemble members' percentages (one member: SD
	// 0, Min = Max).
	Spread Spread
	// PctLo, PctHi bound the calibrated interval of OpacityPct (the
	// record's Interval); NaN without calibration or lungs.
	PctLo, PctHi float64
	// GeographicLo/Hi and OpacityScoreLo/Hi are the severity estimates at
	// the interval's bounds (the maps are monotone); NaN when undefined.
	GeographicLo, GeographicHi, OpacityScoreLo, OpacityScoreHi float64
	// Zones are the six Brixia zones of the lungs (A-C the right lung's
	// upper, middle and lower thirds, D-F the left's; mask.BrixiaZones),
	// ZoneShares the opacity share of each (NaN for an empty zone).
	Zones      [6]*mask.Mask
	ZoneShares [6]float64
	// ZoneScores and BrixiaGlobal are the Brixia scores (0-3 per zone,
	// 0-18) from the record's thresholds; BrixiaGlobal is -1 without them
	// or without lungs.
	ZoneScores   [6]int
	BrixiaGlobal int
	// Flags are the quality flags raised (Flag constants).
	Flags []string
}

// Analyze runs the automatic pipeline on a grayscale X-ray: the lung model
// and then the opacity model, each under the record's ensemble members
// (Members; the image as it is when there are none).
func (m *Models) Analyze(img *image.Gray) (*Result, error) {
	r, s, err := newResult(img)
	if err != nil {
		return nil, err
	}
	if err := m.analyze(r, s, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// AnalyzeWithLungs is the paper's pipeline with the models' opacity model:
// the lungs are given (a manual mask of the image's size) instead of
// predicted, the input is cropped to them, and the percentage is over
// them. LungsRaw and Lungs are the given mask.
func (m *Models) AnalyzeWithLungs(img *image.Gray, lungs *mask.Mask) (*Result, error) {
	r, s, err := newResult(img)
	if err != nil {
		return nil, err
	}
	if lungs == nil || lungs.Width != r.Width || lungs.Height != r.Height {
		return nil, fmt.Errorf("the lung mask is not the image's size (%dx%d)", r.Width, r.Height)
	}
	if err := m.analyze(r, s, lungs); err != nil {
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
		img = transform.ResizeGray(img, w, h) // bounds from (0, 0)
	}
	nan := math.NaN()
	r := &Result{Width: w, Height: h, OpacityPct: nan, Geographic: nan, OpacityScore: nan, PctLo: nan, PctHi: nan,
		GeographicLo: nan, GeographicHi: nan, OpacityScoreLo: nan, OpacityScoreHi: nan, BrixiaGlobal: -1,
		ZoneShares: [6]float64{nan, nan, nan, nan, nan, nan}}
	return r, &datasets.Sample{File: "image", Image: img, Width: w, Height: h}, nil
}

// threshold makes a mask of the probabilities above research's threshold.
func threshold(prob []float32, w, h int) *mask.Mask {
	return &mask.Mask{Width: w, Height: h, Pix: research.Threshold(prob, research.DefaultThreshold)}
}
