package paper

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
)

// Subsets of the study's images (research's subset names).
const (
	SubsetTrain      = research.SubsetTrain
	SubsetTest       = research.SubsetTest
	SubsetValidation = research.SubsetValidation
)

// TestFraction is the share of images on the test side of the patient split
// (the paper's 7:3).
const TestFraction = 0.3

// Item is one X-ray as the model sees it: lung-cropped and resized, with its
// manual masks and, once the model has run, its predicted probabilities.
type Item struct {
	Cohort  string // datasets.CohortCovidAR, CohortCohen or CohortCXRSeg
	File    string // annotation file (covid-ar, cohen) or image file (cxr-seg)
	Stem    string
	Patient string
	Subset  string // SubsetTrain, SubsetTest or SubsetValidation

	// Input is the model input (InputSize x InputSize) with the manual lung
	// and opacity masks cropped and resized the same way.
	Input *datasets.Prepared
	// ManualPct is the opacity percentage of the manual masks on the
	// image's own pixel grid (the definition), NaN when the lungs are empty.
	ManualPct float64
	// Prob holds the predicted opacity probability of every pixel of Input
	// (row-major); nil until the model has run (Study.EnsureModel).
	Prob []float32
}

// Opaque reports whether the manual opacity mask of the model input is not
// empty.
func (it *Item) Opaque() bool { return !it.Input.Opacity.Empty() }

// Study is the data of the reproduction, read once per notebook: the
// cohorts' counts, the manual opacity percentages with the clinical
// outcomes, and the images the model is trained, tested and validated on.
type Study struct {
	Settings  Settings
	Synthetic bool

	// TrainCohort is the cohort the model is trained and tested on: covid-ar
	// (the paper's) when its annotations carry images; otherwise cxr-seg
	// (real X-rays with radiologists' masks) when it has images; "" when
	// neither has: no model then.
	TrainCohort string
	// Items are the images with pixels of TrainCohort (subsets train and
	// test, in file order), then those of cohen/ (subset validation).
	Items []*Item
	// Split is the patient-grouped train/test split of the TrainCohort
	// items (indices into SplitItems, which are Items[:len(SplitItems)]).
	Split      research.Split
	SplitItems []research.SplitItem
	// HeldOut lists the cxr-seg images kept out of training and testing
	// because the paper's authors annotated them too (cohen/): they are
	// validation images, and the agreement of the two annotations.
	HeldOut []string

	// Severity holds the manual opacity percentage of every covid-ar
	// annotation with lungs, with its patient's outcomes (nil without a
	// clinical row). It needs no image.
	Severity []research.SeverityImage
	// Clinical is the covid-ar clinical table; nil when it is missing
	// (ClinicalErr says why).
	Clinical    map[string]datasets.Outcome
	ClinicalErr error
	// CohenScores are Cohen et al.'s radiologist severity scores by file
	// stem; nil when the table is missing (CohenScoresErr says why).
	CohenScores    map[string]datasets.SeverityScore
	CohenScoresErr error
	// ManualPct holds the manual opacity percentage of every image of every
	// cohort, by cohort and file stem (cohen and cxr-seg: for the
	// correlation with Cohen's scores).
	ManualPct map[string]map[string]float64

	// Counts summarise each cohort as read.
	Counts map[string]*CohortCount
	// Problems lists files left out and why (cohort/file: reason).
	Problems []string

	run *Run
}

// CohortCount summarises one cohort as the study read it.
type CohortCount struct {
	Files      int // annotation files (covid-ar, cohen) or images (cxr-seg) found
	Read       int // read without error
	WithImage  int // with pixels
	Patients   int // distinct patients among the files read
	Clear      int // files read whose opacity mask is empty
	Errors     int
	Warnings   int
	WithLungs  int // with a non-empty lung mask
	ICU, Death int // patients (covid-ar, with a clinical row) admitted to ICU / who died
	NoClinical int // patients (covid-ar) without a clinical row
}

// Load reads the study from the settings' data folder, generating the
// default synthetic cohort first when needed. Files that cannot be read are
// left out and listed in Problems; the error is for a missing data folder or
// an unusable setting.
func Load(s Settings) (*Study, error) {
	if _, err := s.EnsureData(); err != nil {
		return nil, err
	}
	st := &Study{Settings: s, Synthetic: s.Synthetic(), Counts: map[string]*CohortCount{}, ManualPct: map[string]map[string]float64{}}
	st.Clinical, st.ClinicalErr = datasets.ReadClinical(filepath.Join(s.Data, datasets.CohortCovidAR, "patient_info.csv"))
	st.CohenScores, st.CohenScoresErr = datasets.ReadSeverityScores(filepath.Join(s.Data, datasets.CohortCohen, "covid-severity-scores.csv"))

	covid, err := st.scan(datasets.CohortCovidAR, true, nil)
	if err != nil {
		return nil, err
	}
	cohen, err := st.scan(datasets.CohortCohen, true, nil)
	if err != nil {
		return nil, err
	}
	cohenStems := map[string]bool{}
	for _, it := range cohen {
		cohenStems[it.Stem] = true
	}
	for stem := range st.ManualPct[datasets.CohortCohen] {
		cohenStems[stem] = true
	}
	var train []*Item
	switch {
	case len(covid) > 0:
		st.TrainCohort, train = datasets.CohortCovidAR, covid
		// cxr-seg is still counted, for the cohort table and the Cohen scores.
		if _, err := st.scan(datasets.CohortCXRSeg, false, nil); err != nil {
			return nil, err
		}
	default:
		cxr, err := st.scan(datasets.CohortCXRSeg, true, func(stem string) bool {
			if cohenStems[stem] {
				st.HeldOut = append(st.HeldOut, stem)
				return false
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		if len(cxr) > 0 {
			st.TrainCohort, train = datasets.CohortCXRSeg, cxr
		}
	}
	sort.Strings(st.HeldOut)
	if len(train) > 0 {
		for _, it := range train {
			st.SplitItems = append(st.SplitItems, research.SplitItem{Name: it.Stem, Patient: it.Patient, Opaque: it.Opaque()})
		}
		if len(distinctPatients(train)) < 2 {
			return nil, fmt.Errorf("%s: the images of %s belong to fewer than 2 patients: no train/test split", s.Data, st.TrainCohort)
		}
		st.Split, err = research.SplitByPatient(st.SplitItems, research.SplitOptions{TestFraction: TestFraction, Seed: uint64(s.Seed), Stratify: true})
		if err != nil {
			return nil, fmt.Errorf("%s: split of %s: %w", s.Data, st.TrainCohort, err)
		}
		for _, i := range st.Split.Train {
			train[i].Subset = SubsetTrain
		}
		for _, i := range st.Split.Test {
			train[i].Subset = SubsetTest
		}
		st.Items = append(st.Items, train...)
		for _, it := range cohen {
			it.Subset = SubsetValidation
		}
		st.Items = append(st.Items, cohen...)
	}
	return st, nil
}

func distinctPatients(items []*Item) map[string]bool {
	m := map[string]bool{}
	for _, it := range items {
		m[it.Patient] = true
	}
	return m
}

// scan reads one cohort: counts, manual opacity percentages, the severity
// images of covid-ar, and, when images is true, the model inputs of the
// samples with pixels that keep accepts (nil: all).
func (st *Study) scan(cohort string, images bool, keep func(stem string) bool) ([]*Item, error) {
	s := st.Settings
	cnt := &CohortCount{}
	st.Counts[cohort] = cnt
	pct := map[string]float64{}
	st.ManualPct[cohort] = pct
	patients := map[string]bool{}
	var items []*Item
	c, err := datasets.ScanCohort(s.Data, cohort, datasets.LoadOptions{Images: images}, func(sm *datasets.Sample) error {
		cnt.Read++
		patients[sm.Patient] = true
		if sm.Opacity == nil || sm.Opacity.Empty() {
			cnt.Clear++
		}
		if sm.HasImage() {
			cnt.WithImage++
		}
		p, err := research.OpacityPercent(sm.Lung, sm.Opacity)
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("%s/%s: %v (left out)", cohort, sm.File, err))
			return nil
		}
		cnt.WithLungs++
		pct[sm.Stem] = p
		if cohort == datasets.CohortCovidAR {
			im := research.SeverityImage{File: sm.File, Patient: sm.Patient, OpacityPct: p}
			if o, ok := st.Clinical[sm.Patient]; ok {
				icu, mort := o.ICU, o.Mortality
				im.ICU, im.Mortality = &icu, &mort
			}
			st.Severity = append(st.Severity, im)
		}
		if !sm.HasImage() || (keep != nil && !keep(sm.Stem)) {
			return nil
		}
		in, err := datasets.Prepare(sm, s.Preset.InputSize, datasets.DefaultMargin)
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("%s/%s: %v (left out of the model's images)", cohort, sm.File, err))
			return nil
		}
		items = append(items, &Item{Cohort: cohort, File: sm.File, Stem: sm.Stem, Patient: sm.Patient, Input: in, ManualPct: p})
		return nil
	})
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("data folder %s: %w", s.Data, err)
		}
		return nil, err
	}
	cnt.Files = cnt.Read + len(c.Errors)
	cnt.Errors = len(c.Errors)
	cnt.Warnings = len(c.Warnings)
	cnt.Patients = len(patients)
	for _, e := range c.Errors {
		st.Problems = append(st.Problems, fmt.Sprintf("%s/%s: %s (left out)", cohort, e.File, e.Error))
	}
	if cohort == datasets.CohortCovidAR && st.Clinical != nil {
		for p := range patients {
			o, ok := st.Clinical[p]
			switch {
			case !ok:
				cnt.NoClinical++
			default:
				cnt.ICU += o.ICU
				cnt.Death += o.Mortality
			}
		}
	}
	return items, nil
}

// Subset returns the items of one subset, in order.
func (st *Study) Subset(name string) []*Item {
	var out []*Item
	for _, it := range st.Items {
		if it.Subset == name {
			out = append(out, it)
		}
	}
	return out
}

// finite reports whether v is a finite number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
