package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Stats summarises a data folder: what `opacity data stats --json` prints.
// Slices and maps are never nil (they print as [] and {}).
//
// Counts: Annotations (covid-ar, cohen) and Images (cxr-seg) count every file
// found, including those in Errors; every other count is over the files read
// without error.
type Stats struct {
	Synthetic bool         `json:"synthetic"` // the SYNTHETIC marker is there
	Cohorts   CohortsStats `json:"cohorts"`
}

// CohortsStats holds the statistics of each cohort of the layout.
type CohortsStats struct {
	CovidAR CovidARStats `json:"covid-ar"`
	Cohen   CohenStats   `json:"cohen"`
	CXRSeg  CXRSegStats  `json:"cxr-seg"`
	QUEx    QUExStats    `json:"covid-qu-ex"`
}

// CovidARStats describes the covid-ar cohort.
type CovidARStats struct {
	Annotations    int            `json:"annotations"`     // labelme files
	ImagesDecoded  int            `json:"images_decoded"`  // files whose image (embedded or beside) decoded
	Patients       int            `json:"patients"`        // distinct patient ids
	WithoutOpacity int            `json:"without_opacity"` // files with no opacity shape (clear lungs)
	Labels         map[string]int `json:"labels"`          // shapes per label
	// PatientsWithoutClinicalRow lists, sorted, the patients with no row in
	// patient_info.csv (all of them when it is missing or unreadable; the
	// reason is then in Errors).
	PatientsWithoutClinicalRow []string    `json:"patients_without_clinical_row"`
	Errors                     []FileError `json:"errors"`
	Warnings                   []FileError `json:"-"`
}

// CohenStats describes the cohen cohort.
type CohenStats struct {
	Annotations       int         `json:"annotations"`
	ImagesDecoded     int         `json:"images_decoded"`
	WithoutOpacity    int         `json:"without_opacity"`
	WithSeverityScore int         `json:"with_severity_score"` // files whose stem has a row in covid-severity-scores.csv
	Errors            []FileError `json:"errors"`
	Warnings          []FileError `json:"-"`
}

// CXRSegStats describes the cxr-seg cohort.
type CXRSegStats struct {
	Images           int            `json:"images"` // distinct images in structure.csv
	ImagesDecoded    int            `json:"images_decoded"`
	Patients         int            `json:"patients"`           // distinct patient ids (metadata.csv)
	WithoutOpacity   int            `json:"without_opacity"`    // images with no Ground Glass Opacities nor Consolidation mask
	WithoutBothLungs int            `json:"without_both_lungs"` // images lacking a Left Lung or a Right Lung mask
	Classes          map[string]int `json:"classes"`            // masks (rows with a mask file) per class
	Errors           []FileError    `json:"errors"`
	Warnings         []FileError    `json:"-"`
}

// QUExStats describes the covid-qu-ex cohort.
type QUExStats struct {
	Images           int            `json:"images"` // rows of index.csv
	ImagesDecoded    int            `json:"images_decoded"`
	Groups           int            `json:"groups"`                // near-duplicate groups (its "patients")
	NearDuplicates   int            `json:"near_duplicate_images"` // images read that share their group with another
	WithoutOpacity   int            `json:"without_opacity"`       // images with an empty infection mask
	WithoutBothLungs int            `json:"without_both_lungs"`    // lung masks that do not split into a right and a left lung
	Classes          map[string]int `json:"classes"`               // images read per class
	Errors           []FileError    `json:"errors"`
	Warnings         []FileError    `json:"-"`
}

// ComputeStats reads every cohort of dataDir, decoding every image (that is
// what images_decoded counts), and summarises them. A missing cohort folder
// is an empty cohort; files that cannot be read are listed in the cohorts'
// Errors. The error is only for a dataDir that is missing or unreadable.
func ComputeStats(dataDir string) (*Stats, error) {
	fi, err := os.Stat(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("data folder %s is not a folder", dataDir)
	}
	st := &Stats{Synthetic: IsSynthetic(dataDir)}
	// Every check of the labelme files comes before their rasterisation,
	// which the counts do not need.
	opt := LoadOptions{Images: true, noMasks: true}
	if st.Cohorts.CovidAR, err = covidARStats(dataDir, opt); err != nil {
		return nil, err
	}
	if st.Cohorts.Cohen, err = cohenStats(dataDir, opt); err != nil {
		return nil, err
	}
	if st.Cohorts.CXRSeg, err = cxrSegStats(dataDir, LoadOptions{Images: true}); err != nil {
		return nil, err
	}
	if st.Cohorts.QUEx, err = quexStats(dataDir, LoadOptions{Images: true}); err != nil {
		return nil, err
	}
	return st, nil
}

// hasOpacityShape reports whether a labelme file has a shape with an area
// whose label is not a lung's (the design's rule: every other label is
// opacity).
func hasOpacityShape(l *Labelme) bool {
	for _, sh := range l.Shapes {
		if hasArea(sh.ShapeType) && ClassifyLabel(sh.Label) != LabelLung {
			return true
		}
	}
	return false
}

func covidARStats(dataDir string, opt LoadOptions) (CovidARStats, error) {
	st := CovidARStats{Labels: map[string]int{}, PatientsWithoutClinicalRow: []string{}}
	patients := map[string]bool{}
	loaded := 0
	c, err := scanCohort(dataDir, CohortCovidAR, opt, func(it *cohortItem) error {
		s := it.sample
		loaded++
		patients[s.Patient] = true
		if s.Image != nil {
			st.ImagesDecoded++
		}
		if !hasOpacityShape(it.labelme) {
			st.WithoutOpacity++
		}
		for _, sh := range it.labelme.Shapes {
			st.Labels[sh.Label]++
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Annotations = loaded + len(c.Errors) // every error so far is one file's
	st.Patients = len(patients)
	if st.Annotations > 0 {
		clinical, err := ReadClinical(filepath.Join(c.Dir, PatientInfoFile))
		if err != nil {
			c.Errors = append(c.Errors, FileError{File: PatientInfoFile, Error: err.Error()})
		}
		for p := range patients {
			if _, ok := clinical[p]; !ok {
				st.PatientsWithoutClinicalRow = append(st.PatientsWithoutClinicalRow, p)
			}
		}
		sort.Strings(st.PatientsWithoutClinicalRow)
	}
	st.Errors, st.Warnings = c.Errors, c.Warnings
	return st, nil
}

func cohenStats(dataDir string, opt LoadOptions) (CohenStats, error) {
	st := CohenStats{}
	var stems []string
	c, err := scanCohort(dataDir, CohortCohen, opt, func(it *cohortItem) error {
		s := it.sample
		stems = append(stems, s.Stem)
		if s.Image != nil {
			st.ImagesDecoded++
		}
		if !hasOpacityShape(it.labelme) {
			st.WithoutOpacity++
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Annotations = len(stems) + len(c.Errors)
	if st.Annotations > 0 {
		scores, err := ReadSeverityScores(filepath.Join(c.Dir, SeverityScoresFile))
		if err != nil {
			c.Errors = append(c.Errors, FileError{File: SeverityScoresFile, Error: err.Error()})
		}
		for _, stem := range stems {
			if _, ok := scores[stem]; ok {
				st.WithSeverityScore++
			}
		}
	}
	st.Errors, st.Warnings = c.Errors, c.Warnings
	return st, nil
}

func cxrSegStats(dataDir string, opt LoadOptions) (CXRSegStats, error) {
	st := CXRSegStats{Classes: map[string]int{}}
	patients := map[string]bool{}
	loaded := 0
	c, err := scanCohort(dataDir, CohortCXRSeg, opt, func(it *cohortItem) error {
		s := it.sample
		loaded++
		patients[s.Patient] = true
		if s.Image != nil {
			st.ImagesDecoded++
		}
		masks := map[string]int{}
		for _, r := range it.rows {
			if r.Mask != "" {
				masks[r.Class]++
				st.Classes[r.Class]++
			}
		}
		if masks[ClassGroundGlass]+masks[ClassConsolidation] == 0 {
			st.WithoutOpacity++
		}
		if masks[ClassLeftLung] == 0 || masks[ClassRightLung] == 0 {
			st.WithoutBothLungs++
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Images = filesFound(loaded, c.Errors, StructureFile)
	st.Patients = len(patients)
	st.Errors, st.Warnings = c.Errors, c.Warnings
	return st, nil
}

func quexStats(dataDir string, opt LoadOptions) (QUExStats, error) {
	st := QUExStats{Classes: map[string]int{}}
	groups := map[string]int{}
	loaded := 0
	c, err := scanCohort(dataDir, CohortCovidQUEx, opt, func(it *cohortItem) error {
		s := it.sample
		loaded++
		groups[s.Patient]++
		st.Classes[s.Class]++
		if s.Image != nil {
			st.ImagesDecoded++
		}
		if s.Opacity.Empty() {
			st.WithoutOpacity++
		}
		if !s.BothLungs() {
			st.WithoutBothLungs++
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Images = filesFound(loaded, c.Errors, QUExIndexFile, QUExNearDuplicatesFile)
	st.Groups = len(groups)
	for _, n := range groups {
		if n > 1 {
			st.NearDuplicates += n
		}
	}
	st.Errors, st.Warnings = c.Errors, c.Warnings
	return st, nil
}

// filesFound counts the files of a cohort: those loaded and those in errs,
// except the errors of its tables (which are not images).
func filesFound(loaded int, errs []FileError, tables ...string) int {
	n := loaded
	for _, e := range errs {
		if !slices.Contains(tables, e.File) {
			n++
		}
	}
	return n
}
