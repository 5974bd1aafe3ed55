package paper

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
)

// SeverityOptions configures ReadSeverity.
type SeverityOptions struct {
	// Aggregate makes one score of a patient's images for the per-patient
	// analyses (Aggregate, the maximum, when empty).
	Aggregate research.Aggregate
	// Bootstrap configures the per-image bootstrap that resamples patients.
	Bootstrap research.BootstrapOptions
	// Cohen adds the correlation of the opacity % of cohen/ (manual masks)
	// with Cohen et al.'s radiologist scores, as CohenCorrelation's first
	// row.
	Cohen bool
	// ScoresCSV names a CSV of another per-image score of the covid-ar
	// images (research.ReadScoreCSV, score column ScoreColumn), compared
	// with the opacity % as Figure 4 compares Cohen et al.'s model score;
	// "" for none.
	ScoresCSV, ScoreColumn string
}

// Severity is the severity analysis of the manual masks of a data folder,
// made without a study (no pixel is read): Figure 3a's ROC analysis of the
// opacity % for ICU admission and mortality and, as asked, CohenCorrelation's
// manual row and Figure 4's comparison with another score. It is what
// `opacity severity` prints (its JSON keys are the command's schema);
// Figure3, CohenCorrelation and Figure4 compute the same from a study with
// the same functions.
type Severity struct {
	Synthetic bool   `json:"synthetic"`
	Source    string `json:"source"` // "manual": the opacity % of the manual masks
	// Images are the covid-ar annotations with lungs, with their patients'
	// outcomes (nil without a clinical row: left out of the ROC analysis).
	Images []research.SeverityImage  `json:"images"`
	ROC    research.SeverityROC      `json:"roc"`
	Cohen  *research.CohenComparison `json:"cohen,omitempty"`
	Scores *research.ScoreComparison `json:"scores,omitempty"`

	// Data is the data folder read.
	Data string `json:"-"`
	// Options are the options it was made with (Aggregate set).
	Options SeverityOptions `json:"-"`
	// Problems lists the files left out and why (cohort/file: reason).
	Problems []string `json:"-"`
	// Warnings counts the recoverable problems of the covid-ar files read.
	Warnings int `json:"-"`
}

// ReadSeverity reads the covid-ar annotations of dataDir with the clinical
// table and analyses the opacity % of their manual masks as Figure 3a does:
// the ROC for ICU admission and mortality per image (DeLong interval, and a
// bootstrap that resamples patients) and per patient (opt.Aggregate), with
// Youden's cut; then, as opt asks, CohenCorrelation's manual row and Figure
// 4's comparison with another score. Files that cannot be read, or whose
// lungs are empty, are left out and listed in Problems; an analysis that
// cannot be done (one class among the images) is an error.
func ReadSeverity(dataDir string, opt SeverityOptions) (*Severity, error) {
	if opt.Aggregate == "" {
		opt.Aggregate = Aggregate
	}
	sv := &Severity{Synthetic: datasets.IsSynthetic(dataDir), Source: "manual", Images: []research.SeverityImage{}, Data: dataDir, Options: opt}
	clinical, err := datasets.ReadClinical(filepath.Join(dataDir, datasets.CohortCovidAR, "patient_info.csv"))
	if err != nil {
		return nil, fmt.Errorf("clinical table: %w", err)
	}
	c, err := sv.scan(datasets.CohortCovidAR, func(s *datasets.Sample, pct float64) {
		sv.Images = append(sv.Images, research.NewSeverityImage(s.File, s.Patient, pct, clinical))
	})
	if err != nil {
		return nil, err
	}
	sv.Warnings = len(c.Warnings)
	if len(sv.Images) == 0 {
		return nil, fmt.Errorf("%s: no annotation with lungs in %s", dataDir, c.Dir)
	}
	if sv.ROC, err = severityROC(sv.Images, opt.Aggregate, opt.Bootstrap); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Dir, err)
	}
	if len(sv.ROC.Failed) > 0 {
		return nil, fmt.Errorf("%s: %s", c.Dir, sv.ROC.Failed[0].Error)
	}
	if opt.Cohen {
		if err := sv.addCohen(); err != nil {
			return nil, err
		}
	}
	if opt.ScoresCSV != "" {
		other, err := research.ReadScoreCSV(opt.ScoresCSV, opt.ScoreColumn)
		if err != nil {
			return nil, fmt.Errorf("scores: %w", err)
		}
		name := opt.ScoreColumn + " (" + filepath.Base(opt.ScoresCSV) + ")"
		sc, err := research.CompareScores(sv.Images, name, other, opt.Aggregate, opt.Bootstrap)
		if err != nil {
			return nil, fmt.Errorf("scores %s: %w", opt.ScoresCSV, err)
		}
		sv.Scores = &sc
	}
	return sv, nil
}

// scan reads the annotations of one cohort (no pixels) and calls each with
// every sample and its opacity % (research.OpacityPercent); samples without
// lungs and files that cannot be read go to Problems.
func (sv *Severity) scan(cohort string, each func(s *datasets.Sample, pct float64)) (*datasets.Cohort, error) {
	c, err := datasets.ScanCohort(sv.Data, cohort, datasets.LoadOptions{}, func(s *datasets.Sample) error {
		pct, err := research.OpacityPercent(s.Lung, s.Opacity)
		if err != nil {
			sv.Problems = append(sv.Problems, fmt.Sprintf("%s/%s: %v", cohort, s.File, err))
			return nil
		}
		each(s, pct)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range c.Errors {
		sv.Problems = append(sv.Problems, fmt.Sprintf("%s/%s: %s", cohort, e.File, e.Error))
	}
	return c, nil
}

// addCohen correlates the opacity % of the cohen/ annotations with Cohen
// et al.'s radiologist scores.
func (sv *Severity) addCohen() error {
	path := filepath.Join(sv.Data, datasets.CohortCohen, "covid-severity-scores.csv")
	scores, err := datasets.ReadSeverityScores(path)
	if err != nil {
		return fmt.Errorf("Cohen's severity scores: %w", err)
	}
	pct := map[string]float64{}
	c, err := sv.scan(datasets.CohortCohen, func(s *datasets.Sample, p float64) { pct[s.Stem] = p })
	if err != nil {
		return fmt.Errorf("Cohen's images: %w", err)
	}
	cc, err := research.CompareCohenScores(pct, scores)
	if err != nil {
		return fmt.Errorf("Cohen's scores (%s, %s): %w", c.Dir, path, err)
	}
	sv.Cohen = &cc
	return nil
}

// SeverityCounts counts the images of a severity analysis.
type SeverityCounts struct {
	Images, Patients int
	// WithOutcome counts the images whose patient has a clinical row.
	WithOutcome int
	// NoRow lists the patients without a clinical row, sorted.
	NoRow []string
}

// Counts counts the images of the analysis.
func (sv *Severity) Counts() SeverityCounts { return countSeverity(sv.Images) }

func countSeverity(images []research.SeverityImage) SeverityCounts {
	c := SeverityCounts{Images: len(images)}
	patients, noRow := map[string]bool{}, map[string]bool{}
	for _, im := range images {
		patients[im.Patient] = true
		if im.ICU != nil {
			c.WithOutcome++
		} else {
			noRow[im.Patient] = true
		}
	}
	c.Patients = len(patients)
	for p := range noRow {
		c.NoRow = append(c.NoRow, p)
	}
	sort.Strings(c.NoRow)
	return c
}

// figure3aTitle is the title of Figure 3a, the ROC of the manual masks'
// opacity %.
func figure3aTitle(c SeverityCounts, synthetic bool) string {
	return fmt.Sprintf("(a) Opacity %% from manual masks, %d images of %d patients%s", c.WithOutcome, c.Patients, syntheticTag(synthetic))
}

// ROCTable is the ROC table of the analysis: table-figure3's rows of the
// manual masks (without its score column), patients by Options.Aggregate.
func (sv *Severity) ROCTable() Table {
	t := &table{header: rocHeader}
	for _, rr := range sv.ROC.Analyses() {
		t.add(rocRow(sv.ROC.Patient.Aggregate, rr)...)
	}
	return t.export()
}

// ScoresTable is the table of the comparison with the other score
// (table-figure4's columns); empty without one.
func (sv *Severity) ScoresTable() Table {
	if sv.Scores == nil {
		return Table{}
	}
	return scoreTable(sv.Options.ScoreColumn, *sv.Scores).export()
}

// SaveFigures writes the figures of the analysis into dir, PNG and SVG,
// and returns their paths: prefix+"roc", Figure 3a; with Cohen,
// prefix+"cohen-scatter", CohenCorrelation's scatter of cohen/'s manual
// masks; with Scores, prefix+"scores-roc", Figure 4's ROC of the other
// score beside the opacity %.
func (sv *Severity) SaveFigures(dir, prefix string) ([]string, error) {
	var figs []namedFigure
	f, ok, err := rocFigure(figure3aTitle(sv.Counts(), sv.Synthetic), sv.ROC.Patient.Aggregate, sv.ROC.Analyses())
	if err != nil {
		return nil, err
	}
	if ok {
		figs = append(figs, namedFigure{"roc", f})
	}
	if sv.Cohen != nil {
		f, err := cohenScatter(datasets.CohortCohen+"/", cohenManualAxis, syntheticShortTag(sv.Synthetic), *sv.Cohen)
		if err != nil {
			return nil, err
		}
		figs = append(figs, namedFigure{"cohen-scatter", f})
	}
	if sv.Scores != nil {
		col := sv.Options.ScoreColumn
		f, err := scoreFigure("Opacity % vs "+col+syntheticTag(sv.Synthetic), col, *sv.Scores)
		if err != nil {
			return nil, err
		}
		figs = append(figs, namedFigure{"scores-roc", f})
	}
	return saveFigures(dir, prefix, figs)
}
