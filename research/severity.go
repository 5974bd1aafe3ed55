package research

import (
	"fmt"
	"regexp"
	"sort"
	"time"
)

// SeverityImage is one image of the severity analysis: its opacity
// percentage and its patient's outcomes (nil when the patient has no row in
// the clinical table; such images are left out of the ROC analysis).
type SeverityImage struct {
	File       string  `json:"file"` // annotation file name with its .json
	Patient    string  `json:"patient"`
	OpacityPct float64 `json:"opacity_pct"`
	ICU        *int    `json:"icu"`
	Mortality  *int    `json:"mortality"`
}

// OutcomeROC is the ROC analysis of one score against ICU admission and
// mortality.
type OutcomeROC struct {
	ICU       ROCSummary `json:"icu"`
	Mortality ROCSummary `json:"mortality"`
}

// PatientROC is the per-patient ROC analysis, with the aggregate that made
// one score per patient.
type PatientROC struct {
	Aggregate Aggregate  `json:"aggregate"`
	ICU       ROCSummary `json:"icu"`
	Mortality ROCSummary `json:"mortality"`
}

// SeverityROC is the ROC analysis of the opacity percentage, per image and
// per patient.
type SeverityROC struct {
	Image   OutcomeROC `json:"image"`
	Patient PatientROC `json:"patient"`
}

// studyDate matches the study date of a COVID-19-AR file name:
// COVID-19-AR-<patient>_<MM-DD-YYYY>-XR.
var studyDate = regexp.MustCompile(`_(\d{2}-\d{2}-\d{4})`)

// StudyDate returns the study date in a COVID-19-AR file name
// ("COVID-19-AR-16406488_01-08-2012-XR.json" -> 2012-01-08), and false when
// the name holds none.
func StudyDate(file string) (time.Time, bool) {
	m := studyDate.FindStringSubmatch(file)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("01-02-2006", m[1])
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// chronological returns the indices of images ordered by patient, then
// study date (StudyDate; names without a date after those with one), then
// file name: the order in which "first" means the earliest study.
func chronological(images []SeverityImage) []int {
	idx := make([]int, len(images))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := images[idx[a]], images[idx[b]]
		if x.Patient != y.Patient {
			return x.Patient < y.Patient
		}
		dx, okx := StudyDate(x.File)
		dy, oky := StudyDate(y.File)
		if okx != oky {
			return okx
		}
		if okx && !dx.Equal(dy) {
			return dx.Before(dy)
		}
		return x.File < y.File
	})
	return idx
}

// outcomeCases returns the images with a known outcome (in chronological
// order), their scores, labels and patients.
func outcomeCases(images []SeverityImage, outcome func(SeverityImage) *int) (scores []float64, labels []bool, patients []string, err error) {
	for _, i := range chronological(images) {
		im := images[i]
		o := outcome(im)
		if o == nil {
			continue
		}
		if *o != 0 && *o != 1 {
			return nil, nil, nil, fmt.Errorf("%s: outcome %d, want 0 or 1", im.File, *o)
		}
		scores = append(scores, im.OpacityPct)
		labels = append(labels, *o == 1)
		patients = append(patients, im.Patient)
	}
	return scores, labels, patients, nil
}

// AnalyzeSeverity runs the ROC analysis of the opacity percentage against
// ICU admission and mortality: per image (bootstrap resampling patients)
// and per patient (one score per patient by agg; "first" is the earliest
// study by the date in the file name). Images with a nil outcome are left
// out of that outcome's analysis.
func AnalyzeSeverity(images []SeverityImage, agg Aggregate, opt BootstrapOptions) (SeverityROC, error) {
	if _, err := ParseAggregate(string(agg)); err != nil {
		return SeverityROC{}, err
	}
	r := SeverityROC{Patient: PatientROC{Aggregate: agg}}
	for _, o := range []struct {
		name    string
		outcome func(SeverityImage) *int
		image   *ROCSummary
		patient *ROCSummary
	}{
		{"ICU admission", func(s SeverityImage) *int { return s.ICU }, &r.Image.ICU, &r.Patient.ICU},
		{"mortality", func(s SeverityImage) *int { return s.Mortality }, &r.Image.Mortality, &r.Patient.Mortality},
	} {
		scores, labels, patients, err := outcomeCases(images, o.outcome)
		if err != nil {
			return SeverityROC{}, err
		}
		if *o.image, err = AnalyzeROC(scores, labels, patients, opt); err != nil {
			return SeverityROC{}, fmt.Errorf("%s, per image: %w", o.name, err)
		}
		ps, err := AggregateByPatient(patients, scores, labels, agg)
		if err != nil {
			return SeverityROC{}, fmt.Errorf("%s: %w", o.name, err)
		}
		if *o.patient, err = AnalyzeROC(ps.Scores, ps.Labels, nil, opt); err != nil {
			return SeverityROC{}, fmt.Errorf("%s, per patient (%s): %w", o.name, agg, err)
		}
	}
	return r, nil
}
