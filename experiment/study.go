package experiment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/research"
)

// Subsets of the study's images (research's subset names).
const (
	SubsetTrain      = research.SubsetTrain
	SubsetTest       = research.SubsetTest
	SubsetValidation = research.SubsetValidation
)

// Item is one X-ray as the model sees it: framed (lung-cropped or whole,
// see Settings.Framing) and resized, with its manual masks and, once the
// model has run, its predicted probabilities.
type Item struct {
	Cohort  string // datasets.CohortCovidAR, CohortCohen, CohortCXRSeg or CohortCovidQUEx
	File    string // annotation file (covid-ar, cohen) or image file (cxr-seg, covid-qu-ex)
	Stem    string
	Patient string // covid-qu-ex: the near-duplicate group
	Class   string // covid-qu-ex: the image's class (datasets.QUExCOVID, ...); "" elsewhere
	Subset  string // SubsetTrain, SubsetTest or SubsetValidation

	// Input is the model input (InputSize x InputSize) with the manual
	// target masks framed and resized the same way.
	Input *transform.Prepared
	// ManualPct is the opacity percentage of the manual masks on the
	// image's own pixel grid (the definition), NaN when the lungs are empty.
	ManualPct float64
	// Prob holds the predicted probability of every pixel of Input
	// (row-major) by target; nil until the model has run (EnsureModel).
	Prob map[string][]float32

	bothLungs bool // the annotation has a right and a left lung field
	opaque    bool // the annotation's opacity is not empty (on its own grid)
}

// Opaque reports whether the manual opacity annotation is not empty, on the
// image's own grid: not the model input's mask, where a small region can
// vanish at one input size or framing and not at another. The split is
// stratified by it, so it must be the same for every model of a pair
// (a lung model at another input size than its opacity model's included).
func (it *Item) Opaque() bool { return it.opaque }

// InputOpaque reports whether the manual opacity mask of the model input
// is not empty: what the metrics on the input grid see.
func (it *Item) InputOpaque() bool { return !it.Input.Mask(datasets.TargetOpacity).Empty() }

// Key names the item in prediction caches: cohort/stem.
func (it *Item) Key() string { return it.Cohort + "/" + it.Stem }

// Study is the data of an experiment, read once: the cohorts' counts, the
// manual opacity percentages with the clinical outcomes, and the images the
// model is trained, tested and validated on, with the patient split.
type Study struct {
	Settings  Settings
	Synthetic bool

	// TrainCohort is the cohort the model is trained and tested on
	// (Settings.Cohort, or the automatic choice: covid-ar when its
	// annotations carry images, otherwise cxr-seg when it has images); ""
	// when no cohort has images: no model then.
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
	// cohort, by cohort and file stem.
	ManualPct map[string]map[string]float64

	// Counts summarise each cohort as read.
	Counts map[string]*CohortCount
	// Problems lists files left out and why (cohort/file: reason).
	Problems []string
	// PrepareSeconds is the time LoadStudy spent reading, decoding, framing and
	// resizing the images.
	PrepareSeconds float64

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

// LoadStudy reads the study of the settings' data folder, generating the
// default synthetic cohort first when needed. Files that cannot be read are
// left out and listed in Problems; the error is for a missing data folder
// or an unusable setting.
//
// Images are framed as Settings.Framing says. The split is made over every
// image with pixels of the training cohort; then a model with the lungs
// among its targets keeps only the images whose annotation has both a right
// and a left lung field (the others are listed in Problems), since a
// missing side would teach it that the side is not lung.
func LoadStudy(s Settings) (*Study, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.EnsureData(); err != nil {
		return nil, err
	}
	start := time.Now()
	data := s.DataDir()
	st := &Study{Settings: s, Synthetic: s.Synthetic(), Counts: map[string]*CohortCount{}, ManualPct: map[string]map[string]float64{}}
	st.Clinical, st.ClinicalErr = datasets.ReadClinical(filepath.Join(data, datasets.CohortCovidAR, datasets.PatientInfoFile))
	st.CohenScores, st.CohenScoresErr = datasets.ReadSeverityScores(filepath.Join(data, datasets.CohortCohen, datasets.SeverityScoresFile))

	covid, err := st.scan(datasets.CohortCovidAR, true, nil)
	if err != nil {
		return nil, err
	}
	cohen, err := st.scan(datasets.CohortCohen, true, nil)
	if err != nil {
		return nil, err
	}
	cohenStems := map[string]bool{}
	for stem := range st.ManualPct[datasets.CohortCohen] {
		cohenStems[stem] = true
	}
	for _, it := range cohen {
		cohenStems[it.Stem] = true
	}
	cohort := s.Cohort
	if cohort == "" && len(covid) > 0 {
		cohort = datasets.CohortCovidAR
	}
	var train []*Item
	if cohort == datasets.CohortCovidAR || cohort == CohortAll {
		train = covid
	}
	if cohort == datasets.CohortCovidAR || cohort == datasets.CohortCovidQUEx {
		// cxr-seg is still counted, for the cohort table and the Cohen scores.
		if _, err := st.scan(datasets.CohortCXRSeg, false, nil); err != nil {
			return nil, err
		}
	} else {
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
		train = append(train, cxr...)
	}
	if cohort == datasets.CohortCovidQUEx || cohort == CohortAll {
		qu, err := st.scan(datasets.CohortCovidQUEx, true, nil)
		if err != nil {
			return nil, err
		}
		train = append(train, qu...)
	}
	switch {
	case len(train) == 0:
	case cohort == CohortAll:
		st.TrainCohort = CohortAll
	case cohort == datasets.CohortCovidAR, cohort == datasets.CohortCovidQUEx:
		st.TrainCohort = cohort
	default:
		st.TrainCohort = datasets.CohortCXRSeg
	}
	sort.Strings(st.HeldOut)
	if len(train) > 0 {
		if err := st.split(train, cohen); err != nil {
			return nil, err
		}
	}
	st.PrepareSeconds = time.Since(start).Seconds()
	return st, nil
}

// split divides the training cohort's items by patient (Settings.Folds: a
// fold of a k-fold cross-validation; otherwise Settings.TestFraction), then
// drops from both sides and from the validation images those a lung model
// cannot learn from (no right or no left lung field: Item.bothLungs) and
// those an opacity model cannot (covid-qu-ex's Non-COVID images, whose
// opacities are not drawn), so that a lung model and an opacity model of
// the same settings have the same patients on each side.
func (st *Study) split(train, cohen []*Item) error {
	s, data := st.Settings, st.Settings.DataDir()
	items := make([]research.SplitItem, len(train))
	for i, it := range train {
		items[i] = research.SplitItem{Name: it.Stem, Patient: it.Patient, Opaque: it.Opaque()}
	}
	need := max(2, s.Folds)
	if s.Folds < 2 && s.TestFraction == 0 {
		need = 1
	}
	if n := len(distinctPatients(train)); n < need {
		return fmt.Errorf("%s: the images of %s belong to %d patients: too few for a train/test split (%d folds)", data, st.TrainCohort, n, s.Folds)
	}
	var sp research.Split
	var err error
	switch {
	case s.Folds < 2 && s.TestFraction == 0:
		// Every image trains (a model to use, not to test).
		patients := map[string]bool{}
		for i, it := range train {
			sp.Train = append(sp.Train, i)
			patients[it.Patient] = true
		}
		sp.TrainPatients = sortedKeys(patients)
	case s.Folds >= 2:
		var folds []research.Split
		if folds, err = research.KFoldByPatient(items, s.Folds, uint64(s.Seed), true); err == nil {
			sp = folds[s.Fold]
		}
	default:
		sp, err = research.SplitByPatient(items, research.SplitOptions{TestFraction: s.TestFraction, Seed: uint64(s.Seed), Stratify: true})
	}
	if err != nil {
		return fmt.Errorf("%s: split of %s: %w", data, st.TrainCohort, err)
	}
	for _, i := range sp.Train {
		train[i].Subset = SubsetTrain
	}
	for _, i := range sp.Test {
		train[i].Subset = SubsetTest
	}
	for _, it := range cohen {
		it.Subset = SubsetValidation
	}
	lungs := datasets.HasTarget(s.Targets, datasets.TargetLungs)
	opacity := datasets.HasTarget(s.Targets, datasets.TargetOpacity)
	unlabelled := 0
	keep := func(it *Item) bool {
		if lungs && !it.bothLungs {
			st.Problems = append(st.Problems, fmt.Sprintf("%s/%s: the annotation lacks a right or a left lung field (left out of the lung model's images)", it.Cohort, it.File))
			return false
		}
		if opacity && it.Class == datasets.QUExNonCOVID {
			// Its pneumonia opacities are in the image but not in the mask:
			// they would teach the model that they are not opacity.
			unlabelled++
			return false
		}
		return true
	}
	defer func() {
		if unlabelled > 0 {
			st.Problems = append(st.Problems, fmt.Sprintf("%s: %d %s images left out of the opacity model's images (their opacities are not drawn in the masks)",
				datasets.CohortCovidQUEx, unlabelled, datasets.QUExNonCOVID))
		}
	}()
	// The split as kept: indices into the kept training-cohort items.
	kept := sp
	kept.Train, kept.Test = nil, nil
	for _, it := range train {
		if !keep(it) {
			continue
		}
		switch it.Subset {
		case SubsetTrain:
			kept.Train = append(kept.Train, len(st.SplitItems))
		case SubsetTest:
			kept.Test = append(kept.Test, len(st.SplitItems))
		}
		st.SplitItems = append(st.SplitItems, research.SplitItem{Name: it.Stem, Patient: it.Patient, Opaque: it.Opaque()})
		st.Items = append(st.Items, it)
	}
	for _, it := range cohen {
		if keep(it) {
			st.Items = append(st.Items, it)
		}
	}
	st.Split = kept
	return nil
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
	c, err := datasets.ScanCohort(s.DataDir(), cohort, datasets.LoadOptions{Images: images}, func(sm *datasets.Sample) error {
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
			st.Severity = append(st.Severity, research.NewSeverityImage(sm.File, sm.Patient, p, st.Clinical))
		}
		if !sm.HasImage() || (keep != nil && !keep(sm.Stem)) {
			return nil
		}
		in, err := transform.Prepare(sm, s.InputSize, s.Framing())
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("%s/%s: %v (left out of the model's images)", cohort, sm.File, err))
			return nil
		}
		items = append(items, &Item{Cohort: cohort, File: sm.File, Stem: sm.Stem, Patient: sm.Patient, Class: sm.Class, Input: in, ManualPct: p, bothLungs: sm.BothLungs(), opaque: sm.Opacity != nil && !sm.Opacity.Empty()})
		return nil
	})
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("data folder %s: %w", s.DataDir(), err)
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

// Inputs returns the model inputs of items.
func Inputs(items []*Item) []*transform.Prepared {
	out := make([]*transform.Prepared, len(items))
	for i, it := range items {
		out[i] = it.Input
	}
	return out
}

// TrainCohortNote says which cohorts lack images (for the messages of steps
// that need a model).
func (st *Study) TrainCohortNote() string {
	n := func(c *CohortCount, f func(*CohortCount) int) int {
		if c == nil {
			return 0
		}
		return f(c)
	}
	c, x := st.Counts[datasets.CohortCovidAR], st.Counts[datasets.CohortCXRSeg]
	return fmt.Sprintf("covid-ar: %d annotations, %d with an image; cxr-seg: %d images",
		n(c, func(c *CohortCount) int { return c.Read }), n(c, func(c *CohortCount) int { return c.WithImage }), n(x, func(c *CohortCount) int { return c.Read }))
}
