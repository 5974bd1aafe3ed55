package research

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"time"

	"github.com/covidxray/opacity/datasets"
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
	// Failed lists the analyses that could not be computed (AnalyzeSeverity
	// with KeepGoing); their summaries are zero.
	Failed []SeverityFailure `json:"failed,omitempty"`
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

// NewSeverityImage returns the severity image of an annotation: its file,
// patient and opacity percentage, with the patient's outcomes from the
// clinical table (nil outcomes when the patient has no row: such images are
// listed but left out of the ROC analysis). It is the one place where an
// image meets its clinical row.
func NewSeverityImage(file, patient string, opacityPct float64, clinical map[string]datasets.Outcome) SeverityImage {
	im := SeverityImage{File: file, Patient: patient, OpacityPct: opacityPct}
	if o, ok := clinical[patient]; ok {
		icu, mort := o.ICU, o.Mortality
		im.ICU, im.Mortality = &icu, &mort
	}
	return im
}

// outcomeCases returns the images with a known outcome and a finite opacity
// percentage (in chronological order), their scores, labels and patients.
func outcomeCases(images []SeverityImage, outcome func(SeverityImage) *int) (scores []float64, labels []bool, patients []string, err error) {
	for _, i := range chronological(images) {
		im := images[i]
		o := outcome(im)
		if o == nil || math.IsNaN(im.OpacityPct) || math.IsInf(im.OpacityPct, 0) {
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

// Outcome names of the severity analysis (SeverityAnalysis.Outcome).
const (
	OutcomeICU       = "ICU admission"
	OutcomeMortality = "Mortality"
)

// Levels of the severity analysis (SeverityAnalysis.Level).
const (
	LevelImage   = "image"
	LevelPatient = "patient"
)

// SeverityOptions configures AnalyzeSeverity.
type SeverityOptions struct {
	// Aggregate makes one score per patient from the patient's images
	// (AggregateMax, the patient's worst X-ray, when empty).
	Aggregate Aggregate
	// Bootstrap configures the per-image bootstrap that resamples patients.
	Bootstrap BootstrapOptions
	// KeepGoing records an analysis that cannot be done (for example an
	// outcome with one class among the images) in SeverityROC.Failed and
	// goes on with the others, instead of returning its error.
	KeepGoing bool
}

// SeverityFailure is an analysis of AnalyzeSeverity that could not be done.
type SeverityFailure struct {
	Level   string `json:"level"`
	Outcome string `json:"outcome"`
	Error   string `json:"error"`
}

// AnalyzeSeverity runs the ROC analysis of the opacity percentage against
// ICU admission and mortality: per image (bootstrap resampling patients)
// and per patient (one score per patient by opt.Aggregate; "first" is the
// earliest study by the date in the file name). Images with a nil outcome,
// or a percentage that is not a finite number, are left out of that
// outcome's analysis. An outcome other than 0 or 1 is an error. Without
// opt.KeepGoing the first analysis that fails stops it with that error.
func AnalyzeSeverity(images []SeverityImage, opt SeverityOptions) (SeverityROC, error) {
	agg := opt.Aggregate
	if agg == "" {
		agg = AggregateMax
	}
	if _, err := ParseAggregate(string(agg)); err != nil {
		return SeverityROC{}, err
	}
	r := SeverityROC{Patient: PatientROC{Aggregate: agg}}
	fail := func(level, outcome string, err error) error {
		if !opt.KeepGoing {
			return err
		}
		r.Failed = append(r.Failed, SeverityFailure{Level: level, Outcome: outcome, Error: err.Error()})
		return nil
	}
	for _, o := range []struct {
		name    string
		outcome func(SeverityImage) *int
		image   *ROCSummary
		patient *ROCSummary
	}{
		{OutcomeICU, func(s SeverityImage) *int { return s.ICU }, &r.Image.ICU, &r.Patient.ICU},
		{OutcomeMortality, func(s SeverityImage) *int { return s.Mortality }, &r.Image.Mortality, &r.Patient.Mortality},
	} {
		scores, labels, patients, err := outcomeCases(images, o.outcome)
		if err != nil {
			return SeverityROC{}, err
		}
		if *o.image, err = AnalyzeROC(scores, labels, patients, opt.Bootstrap); err != nil {
			if err := fail(LevelImage, o.name, fmt.Errorf("%s, per image: %w", o.name, err)); err != nil {
				return SeverityROC{}, err
			}
		}
		ps, err := AggregateByPatient(patients, scores, labels, agg)
		if err == nil {
			*o.patient, err = AnalyzeROC(ps.Scores, ps.Labels, nil, opt.Bootstrap)
		}
		if err != nil {
			if err := fail(LevelPatient, o.name, fmt.Errorf("%s, per patient (%s): %w", o.name, agg, err)); err != nil {
				return SeverityROC{}, err
			}
		}
	}
	return r, nil
}

// SeverityAnalysis is one of the four ROC analyses of a SeverityROC.
type SeverityAnalysis struct {
	Level   string // LevelImage or LevelPatient
	Outcome string // OutcomeICU or OutcomeMortality
	Summary ROCSummary
	Err     error // why it could not be computed (AnalyzeSeverity with KeepGoing); nil otherwise
}

// Analyses returns the four analyses in the order ICU per image, ICU per
// patient, mortality per image, mortality per patient.
func (r SeverityROC) Analyses() []SeverityAnalysis {
	failed := func(level, outcome string) error {
		for _, f := range r.Failed {
			if f.Level == level && f.Outcome == outcome {
				return errors.New(f.Error)
			}
		}
		return nil
	}
	return []SeverityAnalysis{
		{LevelImage, OutcomeICU, r.Image.ICU, failed(LevelImage, OutcomeICU)},
		{LevelPatient, OutcomeICU, r.Patient.ICU, failed(LevelPatient, OutcomeICU)},
		{LevelImage, OutcomeMortality, r.Image.Mortality, failed(LevelImage, OutcomeMortality)},
		{LevelPatient, OutcomeMortality, r.Patient.Mortality, failed(LevelPatient, OutcomeMortality)},
	}
}
