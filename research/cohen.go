package research

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/num"
)

// CohenPair is one validation image with both an opacity percentage and
// Cohen et al.'s radiologist severity scores.
type CohenPair struct {
	Stem           string
	OpacityPct     float64
	GeographicMean float64 // extent of involvement, 0-8
	OpacityMean    float64 // degree of opacity, 0-6
}

// CohenComparison is the Spearman correlation of the opacity percentage
// with Cohen et al.'s geographic-extent and opacity scores on the images
// that have both (JSON as in the "opacity severity --cohen" schema).
type CohenComparison struct {
	N                  int         `json:"n"`
	SpearmanGeographic Correlation `json:"spearman_geographic"`
	SpearmanOpacity    Correlation `json:"spearman_opacity"`
	Pairs              []CohenPair `json:"-"` // sorted by stem
	// Unscored lists the stems with an opacity percentage but no score.
	Unscored []string `json:"-"`
}

// CompareCohenScores correlates opacity percentages (by image file stem)
// with Cohen's severity scores (by file stem, datasets.ReadSeverityScores)
// on the stems present in both. Spearman's rho with the Fisher-z interval of
// Spearman (variance 1.06/(n-3)); at least 4 pairs are needed.
func CompareCohenScores(pct map[string]float64, scores map[string]datasets.SeverityScore) (CohenComparison, error) {
	var c CohenComparison
	stems := make([]string, 0, len(pct))
	for s := range pct {
		stems = append(stems, s)
	}
	sort.Strings(stems)
	var x, geo, op []float64
	for _, s := range stems {
		sc, ok := scores[s]
		if !ok {
			c.Unscored = append(c.Unscored, s)
			continue
		}
		c.Pairs = append(c.Pairs, CohenPair{Stem: s, OpacityPct: pct[s], GeographicMean: sc.GeographicMean, OpacityMean: sc.OpacityMean})
		x = append(x, pct[s])
		geo = append(geo, sc.GeographicMean)
		op = append(op, sc.OpacityMean)
	}
	c.N = len(c.Pairs)
	var err error
	if c.SpearmanGeographic, err = Spearman(x, geo); err != nil {
		return c, fmt.Errorf("opacity %% vs geographic_mean: %w", err)
	}
	if c.SpearmanOpacity, err = Spearman(x, op); err != nil {
		return c, fmt.Errorf("opacity %% vs opacity_mean: %w", err)
	}
	return c, nil
}

// FileStem returns a file name without folders (/ or \) and without an
// extension of at most 5 characters, dot included (datasets.FileStem): the
// key that matches annotations (.json), images (.jpg, .png) and score tables
// to each other, whatever folder a table's file column names.
func FileStem(name string) string {
	return datasets.FileStem(path.Base(strings.ReplaceAll(name, `\`, "/")), 5)
}

// scoreKeyColumns are the names accepted for the image column of a score
// CSV, in order of preference (compared without case).
var scoreKeyColumns = []string{"file", "filename", "image", "stem"}

// ReadScoreCSV reads one per-image score column of a CSV file (for example
// the output of Cohen et al.'s model on the paper's images) and returns the
// scores by image file stem (FileStem). The image column is the first of
// file, filename, image or stem; column names the score (both compared
// without case). Lines starting with '#' are comments.
func ReadScoreCSV(path, column string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ParseScoreCSV(f, column)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseScoreCSV parses the content of a score CSV; see ReadScoreCSV.
func ParseScoreCSV(r io.Reader, column string) (map[string]float64, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty file: want a header with an image column (%s) and %q", strings.Join(scoreKeyColumns, ", "), column)
		}
		return nil, err
	}
	key, val := -1, -1
	for _, want := range scoreKeyColumns {
		for i, h := range header {
			if key < 0 && strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), want) {
				key = i
			}
		}
	}
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), strings.TrimSpace(column)) {
			val = i
			break
		}
	}
	if key < 0 {
		return nil, fmt.Errorf("no image column: want one of %s", strings.Join(scoreKeyColumns, ", "))
	}
	if val < 0 {
		return nil, fmt.Errorf("no column %q", column)
	}
	out := map[string]float64{}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(row) != len(header) {
			return nil, fmt.Errorf("line %d: %d fields, header has %d", line, len(row), len(header))
		}
		stem := FileStem(strings.TrimSpace(row[key]))
		if stem == "" || stem == "." || stem == "/" {
			return nil, fmt.Errorf("line %d: empty image name", line)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(row[val]), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("line %d: %s = %q is not a finite number", line, column, row[val])
		}
		if _, dup := out[stem]; dup {
			return nil, fmt.Errorf("line %d: a second score for image %s", line, stem)
		}
		out[stem] = v
	}
}

// PairedComparison compares the ROC analysis of the opacity percentage with
// that of another score on the same cases.
type PairedComparison struct {
	Opacity ROCSummary         `json:"opacity_pct"`
	Other   ROCSummary         `json:"score"`
	Paired  PairedDeLongResult `json:"paired_delong"` // AUC1 = opacity %, AUC2 = the other score
}

// ScoreComparison is the comparison of the opacity percentage with another
// per-image score, per image and per patient, on the images with both.
type ScoreComparison struct {
	Name      string    `json:"name"`
	Images    int       `json:"images"`    // images with both scores
	Aggregate Aggregate `json:"aggregate"` // of the per-patient analysis
	// Per image. The paired DeLong test here treats the images of one
	// patient as independent; the per-patient comparison does not.
	ImageICU       PairedComparison `json:"image_icu"`
	ImageMortality PairedComparison `json:"image_mortality"`
	// Per patient (both scores aggregated the same way).
	PatientICU       PairedComparison `json:"patient_icu"`
	PatientMortality PairedComparison `json:"patient_mortality"`
	Missing          []string         `json:"missing"` // files of images without the other score
}

// CompareScores compares the opacity percentage of images with another
// per-image score (by file stem, ReadScoreCSV) against ICU admission and
// mortality: each score's ROC analysis and a paired DeLong test, per image
// and per patient (aggregate agg for both scores).
func CompareScores(images []SeverityImage, name string, other map[string]float64, agg Aggregate, opt BootstrapOptions) (ScoreComparison, error) {
	c := ScoreComparison{Name: name, Aggregate: agg, Missing: []string{}}
	var both []SeverityImage
	var otherScore []float64
	for _, i := range chronological(images) {
		im := images[i]
		v, ok := other[FileStem(im.File)]
		if !ok {
			c.Missing = append(c.Missing, im.File)
			continue
		}
		both = append(both, im)
		otherScore = append(otherScore, v)
	}
	c.Images = len(both)
	for _, o := range []struct {
		name       string
		outcome    func(SeverityImage) *int
		image, pat *PairedComparison
	}{
		{"ICU admission", func(s SeverityImage) *int { return s.ICU }, &c.ImageICU, &c.PatientICU},
		{"mortality", func(s SeverityImage) *int { return s.Mortality }, &c.ImageMortality, &c.PatientMortality},
	} {
		var s1, s2 []float64
		var labels []bool
		var patients []string
		for k, im := range both {
			if oc := o.outcome(im); oc != nil {
				s1 = append(s1, im.OpacityPct)
				s2 = append(s2, otherScore[k])
				labels = append(labels, *oc == 1)
				patients = append(patients, im.Patient)
			}
		}
		pc, err := pairedComparison(s1, s2, labels, patients, opt)
		if err != nil {
			return c, fmt.Errorf("%s vs opacity %%, %s, per image: %w", name, o.name, err)
		}
		*o.image = pc
		p1, err := AggregateByPatient(patients, s1, labels, agg)
		if err != nil {
			return c, err
		}
		p2, err := AggregateByPatient(patients, s2, labels, agg)
		if err != nil {
			return c, err
		}
		if pc, err = pairedComparison(p1.Scores, p2.Scores, p1.Labels, nil, opt); err != nil {
			return c, fmt.Errorf("%s vs opacity %%, %s, per patient: %w", name, o.name, err)
		}
		*o.pat = pc
	}
	return c, nil
}

func pairedComparison(s1, s2 []float64, labels []bool, clusters []string, opt BootstrapOptions) (PairedComparison, error) {
	var pc PairedComparison
	var err error
	if pc.Opacity, err = AnalyzeROC(s1, labels, clusters, opt); err != nil {
		return pc, err
	}
	if pc.Other, err = AnalyzeROC(s2, labels, clusters, opt); err != nil {
		return pc, err
	}
	pc.Paired, err = PairedDeLong(s1, s2, labels)
	return pc, err
}

// MarshalJSON encodes the test with snake_case keys; an undefined z or p
// (identical scores) is null.
func (r PairedDeLongResult) MarshalJSON() ([]byte, error) {
	return jsonMarshal(struct {
		AUC1 *float64    `json:"auc1"`
		AUC2 *float64    `json:"auc2"`
		Diff *float64    `json:"diff"`
		SE   *float64    `json:"se"`
		CI95 [2]*float64 `json:"ci95"`
		Z    *float64    `json:"z"`
		P    *float64    `json:"p"`
		NPos int         `json:"n_pos"`
		NNeg int         `json:"n_neg"`
	}{num.Nullable(r.AUC1), num.Nullable(r.AUC2), num.Nullable(r.Diff), num.Nullable(r.SE), [2]*float64{num.Nullable(r.CI95[0]), num.Nullable(r.CI95[1])}, num.Nullable(r.Z), num.Nullable(r.P), r.NPos, r.NNeg})
}
