package analysis

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/num"
	"github.com/covidxray/opacity/research"
)

// Names of the per-image values of the pipeline's cross-validation
// (experiment.OOFImage.Values).
const (
	ValueLungsDice        = "lungs_dice"                     // automatic vs manual lungs, post-processed
	ValueLungsIoU         = "lungs_iou"                      // same, IoU
	ValueLungsDiceRaw     = "lungs_dice_raw"                 // before post-processing
	ValueLungsIoURaw      = "lungs_iou_raw"                  // before post-processing
	ValueOpacityPctAuto   = "opacity_pct_auto"               // the pipeline's opacity %
	ValueOpacityPctManual = experiment.ValueOpacityPctManual // the manual masks' opacity % (image grid)
	// ValueOpacityPctManualLungs is the paper's pipeline with the fold's
	// opacity model: the crop to the manual lungs, the % over them.
	ValueOpacityPctManualLungs = "opacity_pct_manual_lungs"
	ValueLungShare             = "lung_share"       // automatic lungs / image
	ValueCohenGeographic       = "cohen_geographic" // Cohen et al.'s radiologist score, when scored
	ValueCohenOpacity          = "cohen_opacity"
	ValueBothLungs             = "both_lungs"     // 1 when the manual annotation has a right and a left lung
	ValueOpacityPctSD          = "opacity_pct_sd" // the ensemble members' spread
	ValueOpacityPctLo          = "opacity_pct_lo" // the calibrated interval (NaN without calibration)
	ValueOpacityPctHi          = "opacity_pct_hi"
	// ValueCOVID is 1 for a covid-qu-ex COVID-19 image, 0 for its other
	// classes (absent elsewhere); ValueOpacityLabelled 0 for its Non-COVID
	// images, whose opacities the masks do not draw.
	ValueCOVID           = "class_covid"
	ValueOpacityLabelled = "opacity_labelled"
)

// ValueZoneShare names the per-image value of the automatic opacity share
// of Brixia zone z (0 to 5, in Result.ZoneShares' order; NaN for an empty
// zone).
func ValueZoneShare(z int) string { return fmt.Sprintf("zone_share_%d", z) }

// EvaluateImages analyses with m the images of the data folder whose
// cohort/stem is in want, each from its full-resolution image, and records
// each against its manual masks as the cross-validation does (lungs' Dice
// and IoU where the annotation has both lungs, the opacity's counts, the
// automatic and manual percentages, the ensemble's spread and interval,
// Cohen et al.'s scores from scores, the covid-qu-ex class); with control,
// also the paper's pipeline with m's opacity model on the manual lungs
// (ValueOpacityPctManualLungs). Images are in file order; Fold is -1.
func (m *Models) EvaluateImages(data string, want map[string]bool, scores map[string]datasets.SeverityScore, control bool) ([]experiment.OOFImage, error) {
	var out []experiment.OOFImage
	err := datasets.ScanSamples(data, want, func(sm *datasets.Sample) error {
		r, err := m.Analyze(sm.Image)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", sm.Cohort, sm.File, err)
		}
		img, err := oofImage(sm, r, scores, -1)
		if err != nil {
			return err
		}
		img.Image = sm.Cohort + "/" + sm.Stem
		img.Values[ValueOpacityPctSD], img.Values[ValueOpacityPctLo], img.Values[ValueOpacityPctHi] = r.Spread.SD, r.PctLo, r.PctHi
		img.Values[ValueOpacityPctManualLungs] = math.NaN()
		if control && sm.Lung != nil && !sm.Lung.Empty() {
			p, err := m.AnalyzeWithLungs(sm.Image, sm.Lung)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", sm.Cohort, sm.File, err)
			}
			img.Values[ValueOpacityPctManualLungs] = p.OpacityPct
		}
		out = append(out, img)
		return nil
	})
	return out, err
}

// PipelineCV is the cross-validation of the automatic pipeline of settings
// s (Folds >= 2): fold i trains a lung model and an opacity model on the
// other folds (the runs of ModelSettings with Fold i, the same patients on
// each side for both) and analyses each of its held-out images from the
// full-resolution image, as AnalyzeFiles would, recording against the
// manual masks: the lungs' Dice and IoU (after post-processing and before),
// the opacity's counts on the image grid, the automatic and manual opacity
// percentages, the percentage of the paper's pipeline with the same
// opacity model (cropped to the manual lungs: the control that tells the
// lung model's share of the error from the opacity model's), and Cohen et
// al.'s scores of the scored images.
func PipelineCV(s experiment.Settings) (*experiment.CV, error) {
	s.Targets = []string{datasets.TargetLungs, datasets.TargetOpacity} // names the CV folder
	cv, err := experiment.NewCV(s)
	if err != nil {
		return nil, err
	}
	cv.Job = pipelineFold
	return cv, nil
}

// pipelineFold is PipelineCV's fold job.
func pipelineFold(ctx context.Context, cv *experiment.CV, i int, mon experiment.Monitor) (*experiment.FoldResult, error) {
	runs, studies, err := trainPair(ctx, cv.FoldSettings(i), mon)
	if err != nil {
		return nil, err
	}
	st := studies[1]
	res := &experiment.FoldResult{Runs: []string{runs[0].Dir, runs[1].Dir}}
	m, err := NewModels(runs[0], runs[1], cv.Settings.Backend)
	if err != nil {
		return res, err
	}
	if cv.Settings.Ensemble {
		m.Record.Members = DefaultMembers() // no interval: it is checked out of fold over the folds (paper.Validation)
	}
	want := map[string]bool{}
	for _, it := range st.Subset(experiment.SubsetTest) {
		want[it.Key()] = true
	}
	err = datasets.ScanSamples(st.Settings.DataDir(), want, func(sm *datasets.Sample) error {
		r, err := m.Analyze(sm.Image)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", sm.Cohort, sm.File, err)
		}
		img, err := oofImage(sm, r, st.CohenScores, i)
		if err != nil {
			return err
		}
		if cv.Settings.Ensemble {
			img.Values[ValueOpacityPctSD] = r.Spread.SD
		}
		img.Values[ValueOpacityPctManualLungs] = math.NaN()
		if sm.Lung != nil && !sm.Lung.Empty() {
			p, err := m.AnalyzeWithLungs(sm.Image, sm.Lung)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", sm.Cohort, sm.File, err)
			}
			img.Values[ValueOpacityPctManualLungs] = p.OpacityPct
		}
		res.Images = append(res.Images, img)
		return nil
	})
	if err != nil {
		return res, err
	}
	sort.Slice(res.Images, func(a, b int) bool { return res.Images[a].Image < res.Images[b].Image })
	return res, ctx.Err()
}

// oofImage records the pipeline's result on a held-out sample against its
// manual masks.
func oofImage(sm *datasets.Sample, r *Result, scores map[string]datasets.SeverityScore, fold int) (experiment.OOFImage, error) {
	img := experiment.OOFImage{Image: sm.Stem, Patient: sm.Patient, Fold: fold, Counts: map[string]research.ImageCounts{},
		Values: map[string]float64{ValueOpacityPctAuto: r.OpacityPct, ValueLungShare: r.LungShare}}
	for z, share := range r.ZoneShares {
		img.Values[ValueZoneShare(z)] = share
	}
	both := sm.BothLungs()
	img.Values[ValueBothLungs] = map[bool]float64{true: 1, false: 0}[both]
	if manual, err := research.OpacityPercent(sm.Lung, sm.Opacity); err == nil {
		img.Values[ValueOpacityPctManual] = manual
	} else {
		img.Values[ValueOpacityPctManual] = math.NaN()
	}
	if both {
		// The lungs, against a complete manual lung mask only.
		c, err := research.CountImage(research.Prediction{Name: sm.Stem, Truth: sm.Lung.Pix, Prob: maskProb(r.Lungs)}, research.DefaultThreshold)
		if err != nil {
			return img, err
		}
		img.Counts[datasets.TargetLungs] = c
		img.Values[ValueLungsDice], img.Values[ValueLungsIoU] = c.F1(), c.IoU()
		raw, err := research.CountImage(research.Prediction{Name: sm.Stem, Truth: sm.Lung.Pix, Prob: maskProb(r.LungsRaw)}, research.DefaultThreshold)
		if err != nil {
			return img, err
		}
		img.Values[ValueLungsDiceRaw], img.Values[ValueLungsIoURaw] = raw.F1(), raw.IoU()
	}
	op := sm.Opacity
	if op == nil {
		op = mask.New(sm.Width, sm.Height)
	}
	c, err := research.CountImage(research.Prediction{Name: sm.Stem, Truth: op.Pix, Prob: maskProb(r.Opacity)}, research.DefaultThreshold)
	if err != nil {
		return img, err
	}
	img.Counts[datasets.TargetOpacity] = c
	if sm.Class != "" {
		img.Values[ValueCOVID] = map[bool]float64{true: 1, false: 0}[sm.Class == datasets.QUExCOVID]
		img.Values[ValueOpacityLabelled] = map[bool]float64{true: 1, false: 0}[sm.Class != datasets.QUExNonCOVID]
	}
	if sc, ok := scores[sm.Stem]; ok {
		img.Values[ValueCohenGeographic], img.Values[ValueCohenOpacity] = sc.GeographicMean, sc.OpacityMean
	}
	return img, nil
}

// maskProb returns a mask as probabilities 0 and 1, for the metrics'
// counts (a hard prediction's soft and hard scores are then the same).
func maskProb(m *mask.Mask) []float32 {
	p := make([]float32, len(m.Pix))
	for i, v := range m.Pix {
		if v != 0 {
			p[i] = 1
		}
	}
	return p
}

// SeverityValidation is the agreement with Cohen et al.'s radiologist
// scores of a percentage mapped out of fold onto their scales.
type SeverityValidation struct {
	Source string // "automatic" or "manual" (the radiologists' masks: the ceiling)
	Method string // research.ScoreMap method
	// Geographic and Opacity compare the mapped percentage (the estimated
	// score) with the radiologists' scores: MAE, Pearson, Spearman.
	Geographic, Opacity research.ScoreAgreement
	// GeographicPct and OpacityPct are Spearman's rho of the percentage
	// itself with the scores (before any map).
	GeographicPct, OpacityPct research.Correlation
	// The scored images' radiologist scores and the estimates, in the same
	// order (for plots).
	GeographicScores, OpacityScores, GeographicEst, OpacityEst []float64
}

// ValidateSeverity maps the percentages of source (ValueOpacityPctAuto or
// ValueOpacityPctManual) of the scored out-of-fold images onto Cohen et
// al.'s two scales with each score-map method, every image by a map fitted
// without its patient (leave one patient out), and compares the result
// with the radiologists' scores: mean absolute error with a
// patient-bootstrap interval, Pearson and Spearman. Images without a score
// or a percentage are left out.
func ValidateSeverity(oof []experiment.OOFImage, source string, opt research.BootstrapOptions) ([]SeverityValidation, int, error) {
	var pct, geo, opa []float64
	var groups []string
	for _, im := range oof {
		p, g, o := im.Values[source], im.Values[ValueCohenGeographic], im.Values[ValueCohenOpacity]
		_, scored := im.Values[ValueCohenGeographic]
		if !scored || !num.Finite(p, g, o) {
			continue
		}
		pct, geo, opa, groups = append(pct, p), append(geo, g), append(opa, o), append(groups, im.Patient)
	}
	if len(pct) < minSeverityImages {
		return nil, len(pct), fmt.Errorf("%d scored images with a percentage: too few to map (want %d)", len(pct), minSeverityImages)
	}
	name := map[string]string{ValueOpacityPctAuto: "automatic", ValueOpacityPctManual: "manual"}[source]
	var out []SeverityValidation
	for _, method := range severityMethods {
		v := SeverityValidation{Source: name, Method: method, GeographicScores: geo, OpacityScores: opa}
		ok := true
		for _, scale := range []struct {
			y   []float64
			hi  float64
			dst *research.ScoreAgreement
			est *[]float64
			rho *research.Correlation
		}{{geo, GeographicMax, &v.Geographic, &v.GeographicEst, &v.GeographicPct}, {opa, OpacityMax, &v.Opacity, &v.OpacityEst, &v.OpacityPct}} {
			est, agr, err := mapOutOfFold(method, pct, scale.y, groups, scale.hi, opt)
			if err != nil {
				ok = false
				break
			}
			*scale.dst, *scale.est = agr, est
			if sp, err := research.Spearman(pct, scale.y); err == nil {
				*scale.rho = sp
			}
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, len(pct), nil
}
