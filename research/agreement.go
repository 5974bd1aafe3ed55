package research

import (
	"fmt"
	"math"
	"sort"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/num"
)

// AgreementImage compares two annotations of one image (a: the paper's
// authors, b: the cxr-seg radiologists), both on the image's pixel grid.
type AgreementImage struct {
	Image string `json:"image"` // file stem
	// LungIoU is |La ∩ Lb| / |La ∪ Lb| of the two lung masks.
	LungIoU float64 `json:"lung_iou"`
	// OpacityIoU is the IoU of the opacity within each annotation's own
	// lungs: IoU(Oa ∩ La, Ob ∩ Lb). When neither holds any opacity inside
	// its lungs the two agree and it is 1 (see Agreement.BothClear).
	OpacityIoU float64 `json:"opacity_iou"`
	// OpacityPctA and OpacityPctB are 100 |O ∩ L| / |L| of each annotation.
	OpacityPctA float64 `json:"opacity_pct_a"`
	OpacityPctB float64 `json:"opacity_pct_b"`
}

// Agreement summarises two annotations of the same images (JSON as in the
// "opacity agreement" schema).
type Agreement struct {
	Pairs              int              `json:"pairs"`
	LungIoUMean        float64          `json:"lung_iou_mean"`
	OpacityIoUMean     float64          `json:"opacity_iou_mean"`
	OpacityPctSpearman float64          `json:"opacity_pct_spearman"` // NaN (null) with fewer than 2 pairs or a constant percentage
	Images             []AgreementImage `json:"images"`

	// Spearman is the correlation of OpacityPctA and OpacityPctB with its
	// 95% interval (zero value with fewer than 4 pairs).
	Spearman Correlation `json:"-"`
	// BlandAltman compares OpacityPctA with OpacityPctB (a - b).
	BlandAltman BlandAltmanStats `json:"-"`
	// BothClear lists the images where neither annotation has opacity
	// inside its lungs (their OpacityIoU is 1).
	BothClear []string `json:"-"`
	// Errors lists the pairs that could not be compared (left out).
	Errors []datasets.FileError `json:"-"`
}

// MarshalJSON writes the agreement with the keys of its schema; undefined
// values are null.
func (a Agreement) MarshalJSON() ([]byte, error) {
	images := a.Images
	if images == nil {
		images = []AgreementImage{}
	}
	return jsonMarshal(struct {
		Pairs              int              `json:"pairs"`
		LungIoUMean        *float64         `json:"lung_iou_mean"`
		OpacityIoUMean     *float64         `json:"opacity_iou_mean"`
		OpacityPctSpearman *float64         `json:"opacity_pct_spearman"`
		Images             []AgreementImage `json:"images"`
	}{a.Pairs, num.Nullable(a.LungIoUMean), num.Nullable(a.OpacityIoUMean), num.Nullable(a.OpacityPctSpearman), images})
}

// AnnotationAgreement compares two annotations of one image: a and b must
// have lung and opacity masks on the same pixel grid. bothClear reports
// that neither has opacity inside its lungs (OpacityIoU is then 1).
func AnnotationAgreement(a, b *datasets.Sample) (img AgreementImage, bothClear bool, err error) {
	img.Image = a.Stem
	for _, s := range []*datasets.Sample{a, b} {
		if s.Lung == nil || s.Opacity == nil {
			return img, false, fmt.Errorf("%s (%s): missing lung or opacity mask", s.File, s.Cohort)
		}
		if s.Lung.Width != s.Opacity.Width || s.Lung.Height != s.Opacity.Height {
			return img, false, fmt.Errorf("%s (%s): lung mask %dx%d, opacity mask %dx%d", s.File, s.Cohort, s.Lung.Width, s.Lung.Height, s.Opacity.Width, s.Opacity.Height)
		}
	}
	if a.Lung.Width != b.Lung.Width || a.Lung.Height != b.Lung.Height {
		return img, false, fmt.Errorf("%s: the annotations are on different pixel grids: %dx%d (%s) and %dx%d (%s)",
			a.Stem, a.Lung.Width, a.Lung.Height, a.Cohort, b.Lung.Width, b.Lung.Height, b.Cohort)
	}
	if img.OpacityPctA, err = OpacityPercent(a.Lung, a.Opacity); err != nil {
		return img, false, fmt.Errorf("%s (%s): %w", a.File, a.Cohort, err)
	}
	if img.OpacityPctB, err = OpacityPercent(b.Lung, b.Opacity); err != nil {
		return img, false, fmt.Errorf("%s (%s): %w", b.File, b.Cohort, err)
	}
	img.LungIoU, _ = MaskIoU(a.Lung.Pix, nil, b.Lung.Pix, nil, 1)
	var seen bool
	img.OpacityIoU, seen = MaskIoU(a.Opacity.Pix, a.Lung.Pix, b.Opacity.Pix, b.Lung.Pix, 1)
	bothClear = !seen
	return img, bothClear, nil
}

// CompareAnnotations compares the samples of a and b that share a file stem
// (Sample.Stem), in stem order: per image lung IoU, opacity IoU within the
// lungs and both opacity percentages; their means, Spearman's rho of the
// percentages and the Bland-Altman statistics. Pairs that cannot be
// compared are listed in Errors and left out.
func CompareAnnotations(a, b []*datasets.Sample) Agreement {
	byStem := map[string]*datasets.Sample{}
	for _, s := range b {
		byStem[s.Stem] = s
	}
	var common []*datasets.Sample
	for _, s := range a {
		if _, ok := byStem[s.Stem]; ok {
			common = append(common, s)
		}
	}
	sort.Slice(common, func(i, j int) bool { return common[i].Stem < common[j].Stem })
	ag := Agreement{Images: []AgreementImage{}}
	var pa, pb []float64
	for _, sa := range common {
		img, clear, err := AnnotationAgreement(sa, byStem[sa.Stem])
		if err != nil {
			ag.Errors = append(ag.Errors, datasets.FileError{File: sa.Stem, Error: err.Error()})
			continue
		}
		if clear {
			ag.BothClear = append(ag.BothClear, img.Image)
		}
		ag.Images = append(ag.Images, img)
		ag.LungIoUMean += img.LungIoU
		ag.OpacityIoUMean += img.OpacityIoU
		pa = append(pa, img.OpacityPctA)
		pb = append(pb, img.OpacityPctB)
	}
	ag.Pairs = len(ag.Images)
	ag.LungIoUMean = ratio(ag.LungIoUMean, float64(ag.Pairs))
	ag.OpacityIoUMean = ratio(ag.OpacityIoUMean, float64(ag.Pairs))
	ag.OpacityPctSpearman = math.NaN()
	if ag.Pairs >= 2 {
		if rho, err := pearson(midranks(pa), midranks(pb)); err == nil {
			ag.OpacityPctSpearman = rho
		}
		ag.BlandAltman, _ = BlandAltman(pa, pb)
	}
	if c, err := Spearman(pa, pb); err == nil {
		ag.Spearman = c
	}
	return ag
}
