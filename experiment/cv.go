package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/num"
	"github.com/covidxray/opacity/research"
)

// CV is a patient-grouped k-fold cross-validation of an experiment: fold i
// is the run of the settings with Folds = k and Fold = i, which trains on
// the other folds and predicts fold i. Each fold is a self-contained job
// (RunFold) that can run in this process, in another process (one per
// GPU), or as a task of a Slurm job array: it finds or trains its run
// (resuming an interrupted one) and writes its out-of-fold result into the
// CV folder. Merge assembles whatever folds have finished, naming the
// missing and the failed ones.
//
// The CV folder (Dir) holds:
//
//	fold-NN.json     one fold's result (FoldResult): status, run folder, its images' records
//	cv.json          the merged report (CVReport)
//	cv-metrics.md    the merged table: every metric pooled out of fold and across folds
//	cv-metrics.csv   the same table
//	oof.csv          one row per image and target: fold, counts, IoU, opacity %
type CV struct {
	// Settings are the experiment's, with Folds >= 2 (Fold is set per fold).
	Settings Settings
	// Dir is the CV folder, under Settings.Runs, named after the settings.
	Dir string
	// Job computes one fold's result; nil means ModelFold (train the
	// settings' model on the fold and predict its images). A pipeline of
	// several models sets its own.
	Job func(ctx context.Context, cv *CV, fold int, mon Monitor) (*FoldResult, error)
}

// FoldResult is one fold's outcome, written to the CV folder as
// fold-NN.json.
type FoldResult struct {
	Fold   int    `json:"fold"`
	Folds  int    `json:"folds"`
	Status string `json:"status"` // StatusComplete or "failed"
	Error  string `json:"error,omitempty"`
	// Runs are the run folders the fold trained or reused.
	Runs []string `json:"runs"`
	// Images are the fold's held-out images, predicted by models that did
	// not see them.
	Images  []OOFImage `json:"images"`
	Seconds float64    `json:"seconds"`
	Commit  string     `json:"commit"`
}

// Names of the per-image values (OOFImage.Values) that every fold job
// records the same way.
const (
	ValueOpacityPctManual    = "opacity_pct_manual"    // the manual masks' opacity %
	ValueOpacityPctPredicted = "opacity_pct_predicted" // the model's, in the manual lungs (ModelFold)
)

// FoldFailed is the status of a fold whose job returned an error.
const FoldFailed = "failed"

// OOFImage is one image predicted out of fold.
type OOFImage struct {
	Image   string `json:"image"`
	Patient string `json:"patient"`
	Fold    int    `json:"fold"`
	// Counts are the segmentation counts of each target on the model's
	// grid (research.CountImage).
	Counts map[string]research.ImageCounts `json:"counts,omitempty"`
	// Values are named per-image measurements (e.g. ValueOpacityPctManual,
	// ValueOpacityPctPredicted, "lungs_dice"); NaN where undefined.
	Values map[string]float64 `json:"-"`
	// values is Values as JSON can hold it (null for NaN).
	JSONValues map[string]*float64 `json:"values,omitempty"`
}

// NewCV returns the cross-validation of the settings (Folds >= 2) and its
// folder: under Settings.Runs, named after the settings' run key with the
// fold left out.
func NewCV(s Settings) (*CV, error) {
	if s.Folds < 2 {
		return nil, fmt.Errorf("cross-validation needs Folds >= 2, got %d", s.Folds)
	}
	s.Fold = 0
	if err := s.Validate(); err != nil {
		return nil, err
	}
	cohort := s.Cohort
	if cohort == "" {
		cohort = "auto"
	}
	key, err := s.Key(cohort)
	if err != nil {
		return nil, err
	}
	key.Fold = -1 // the CV, not one of its folds
	return &CV{Settings: s, Dir: key.Dir(s.Runs)}, nil
}

// FoldSettings returns the settings of fold i.
func (cv *CV) FoldSettings(i int) Settings {
	s := cv.Settings
	s.Fold = i
	return s
}

// FoldFile is the path of fold i's result.
func (cv *CV) FoldFile(i int) string {
	return filepath.Join(cv.Dir, fmt.Sprintf("fold-%02d.json", i))
}

// RunFold runs fold i (Job, by default ModelFold) and writes its result,
// also when the job fails (status failed, with the error), so that Merge
// can name it. It returns the job's error.
func (cv *CV) RunFold(ctx context.Context, i int, mon Monitor) (*FoldResult, error) {
	if i < 0 || i >= cv.Settings.Folds {
		return nil, fmt.Errorf("fold %d: want 0 to %d", i, cv.Settings.Folds-1)
	}
	if err := os.MkdirAll(cv.Dir, 0o755); err != nil {
		return nil, err
	}
	start := time.Now()
	job := cv.Job
	if job == nil {
		job = ModelFold
	}
	res, err := job(ctx, cv, i, mon)
	if res == nil {
		res = &FoldResult{}
	}
	res.Fold, res.Folds, res.Seconds, res.Commit = i, cv.Settings.Folds, time.Since(start).Seconds(), Commit(cv.Settings.Repo)
	res.Status = StatusComplete
	if err != nil {
		res.Status, res.Error, res.Images = FoldFailed, err.Error(), nil
	}
	for k := range res.Images {
		res.Images[k].JSONValues = jsonFloats(res.Images[k].Values)
	}
	if werr := atomicfile.WriteJSON(cv.FoldFile(i), res, 0o644); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return res, fmt.Errorf("fold %d of %d: %w", i, cv.Settings.Folds, err)
	}
	return res, nil
}

// Run runs every fold in this process, one after the other, going on past
// a failed fold, then merges them. The error names the failed folds; the
// report is returned with it.
func (cv *CV) Run(ctx context.Context, mon Monitor) (*CVReport, error) {
	var failed []string
	for i := 0; i < cv.Settings.Folds; i++ {
		mon.Printf("Fold %d of %d\n", i+1, cv.Settings.Folds)
		if _, err := cv.RunFold(ctx, i, mon); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			mon.Printf("%v\n", err)
			failed = append(failed, fmt.Sprint(i))
		}
	}
	rep, err := cv.Merge()
	if err != nil {
		return nil, err
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("folds %s failed (the others are kept; rerun them with --fold)", strings.Join(failed, ", "))
	}
	return rep, nil
}

// ModelFold is the default fold job: it loads the fold's study, trains (or
// finds, or resumes) its run, predicts the fold's held-out images and
// records, for each, the counts of every target and the opacity
// percentages (manual, and predicted when the opacity is a target).
func ModelFold(ctx context.Context, cv *CV, i int, mon Monitor) (*FoldResult, error) {
	st, err := LoadStudy(cv.FoldSettings(i))
	if err != nil {
		return nil, err
	}
	run, err := st.Train(ctx, "", mon)
	if err != nil {
		return nil, err
	}
	if run == nil {
		return nil, fmt.Errorf("%s: no cohort with images to cross-validate (%s)", st.Settings.DataDir(), st.TrainCohortNote())
	}
	res := &FoldResult{Runs: []string{run.Dir}}
	if err := st.Predict(run, mon); err != nil {
		return res, err
	}
	for _, it := range st.Subset(SubsetTest) {
		img := OOFImage{Image: it.Stem, Patient: it.Patient, Fold: i, Counts: map[string]research.ImageCounts{},
			Values: map[string]float64{ValueOpacityPctManual: it.ManualPct}}
		for _, t := range st.Settings.Targets {
			c, err := research.CountImage(research.Prediction{Name: it.Stem, Patient: it.Patient, Truth: it.Input.Pix(t), Prob: it.Prob[t]}, research.DefaultThreshold)
			if err != nil {
				return res, err
			}
			img.Counts[t] = c
		}
		if datasets.HasTarget(st.Settings.Targets, datasets.TargetOpacity) {
			p, err := it.PredictedPct()
			if err != nil {
				p = math.NaN() // empty lungs: undefined
			}
			img.Values[ValueOpacityPctPredicted] = p
		}
		res.Images = append(res.Images, img)
	}
	return res, nil
}

// jsonFloats turns NaN and infinite values into nulls for JSON.
func jsonFloats(m map[string]float64) map[string]*float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]*float64, len(m))
	for k, v := range m {
		out[k] = num.Nullable(v)
	}
	return out
}

// ReadFold reads fold i's result; ok is false when the fold has not
// written one yet.
func (cv *CV) ReadFold(i int) (res *FoldResult, ok bool, err error) {
	b, err := os.ReadFile(cv.FoldFile(i))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	res = &FoldResult{}
	if err := json.Unmarshal(b, res); err != nil {
		return nil, false, fmt.Errorf("%s: %w", cv.FoldFile(i), err)
	}
	if res.Fold != i || res.Folds != cv.Settings.Folds {
		return nil, false, fmt.Errorf("%s: fold %d of %d, want %d of %d", cv.FoldFile(i), res.Fold, res.Folds, i, cv.Settings.Folds)
	}
	for k := range res.Images {
		im := &res.Images[k]
		im.Values = map[string]float64{}
		for name, v := range im.JSONValues {
			if v == nil {
				im.Values[name] = math.NaN()
			} else {
				im.Values[name] = *v
			}
		}
	}
	return res, true, nil
}

// ReadOOF reads the out-of-fold images of a CV folder (fold-NN.json, the
// number of folds from its cv.json), without changing the folder: what
// another step (a models folder's interval) calibrates on. It fails when
// the folder has no merged report or a fold is missing or not complete
// (naming it), so that nothing is calibrated on part of a CV.
func ReadOOF(dir string) ([]OOFImage, error) {
	b, err := os.ReadFile(filepath.Join(dir, CVReportFile))
	if err != nil {
		return nil, fmt.Errorf("%s: not a merged CV folder (opacity cv ... then opacity cv merge): %w", dir, err)
	}
	var rep CVReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, CVReportFile), err)
	}
	if rep.Folds < 2 {
		return nil, fmt.Errorf("%s: %d folds", filepath.Join(dir, CVReportFile), rep.Folds)
	}
	cv := &CV{Dir: dir, Settings: Settings{Folds: rep.Folds}}
	var oof []OOFImage
	for i := range rep.Folds {
		res, ok, err := cv.ReadFold(i)
		switch {
		case err != nil:
			return nil, err
		case !ok:
			return nil, fmt.Errorf("%s: fold %d of %d has no result", dir, i, rep.Folds)
		case res.Status != StatusComplete:
			return nil, fmt.Errorf("%s: fold %d of %d is %s: %s", dir, i, rep.Folds, res.Status, res.Error)
		}
		oof = append(oof, res.Images...)
	}
	if len(oof) == 0 {
		return nil, fmt.Errorf("%s: no out-of-fold image", dir)
	}
	return oof, nil
}

// CVReport is the merged cross-validation: what every finished fold
// predicted, summarised per target and per measurement, pooled over the
// out-of-fold images and across folds.
type CVReport struct {
	Folds    int      `json:"folds"`
	Complete []int    `json:"complete"`
	Missing  []int    `json:"missing,omitempty"` // no result yet
	Failed   []string `json:"failed,omitempty"`  // "fold: error"
	Images   int      `json:"images"`
	// Metrics are the rows of the merged table.
	Metrics []CVMetric `json:"metrics"`
	// OOF are the out-of-fold images of the complete folds, in fold and
	// image order.
	OOF []OOFImage `json:"-"`
}

// CVMetric is one metric of the merged table: its value pooled over every
// out-of-fold image, and its spread across the folds (each fold's value on
// its own images).
type CVMetric struct {
	Name    string    `json:"name"`
	Target  string    `json:"target,omitempty"`
	N       int       `json:"n"`      // images it is computed on, over all folds
	Pooled  float64   `json:"pooled"` // over all out-of-fold images
	PerFold []float64 `json:"per_fold"`
	// Mean, SD, CI95 (Student t) of the per-fold values; Min, Max.
	Mean float64    `json:"mean"`
	SD   float64    `json:"sd"`
	CI95 [2]float64 `json:"ci95"`
	Min  float64    `json:"min"`
	Max  float64    `json:"max"`
}

// Merge reads the folds' results and writes the merged report and tables
// (cv.json, cv-metrics.md, cv-metrics.csv, oof.csv) from the complete
// ones, naming missing and failed folds in the report. It fails when no
// fold is complete.
func (cv *CV) Merge() (*CVReport, error) {
	k := cv.Settings.Folds
	rep := &CVReport{Folds: k}
	var folds []*FoldResult
	for i := 0; i < k; i++ {
		res, ok, err := cv.ReadFold(i)
		switch {
		case err != nil:
			rep.Failed = append(rep.Failed, fmt.Sprintf("%d: %v", i, err))
		case !ok:
			rep.Missing = append(rep.Missing, i)
		case res.Status != StatusComplete:
			rep.Failed = append(rep.Failed, fmt.Sprintf("%d: %s", i, res.Error))
		default:
			rep.Complete = append(rep.Complete, i)
			folds = append(folds, res)
			rep.OOF = append(rep.OOF, res.Images...)
		}
	}
	if len(folds) == 0 {
		return rep, fmt.Errorf("%s: no fold of %d is complete (missing %v, failed %v)", cv.Dir, k, rep.Missing, rep.Failed)
	}
	rep.Images = len(rep.OOF)
	rep.Metrics = cvMetrics(folds)
	if err := cv.writeReport(rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// cvMetrics computes the merged table's rows: for every target, the
// segmentation metrics of package research under each convention; then
// the mean of every named per-image value.
func cvMetrics(folds []*FoldResult) []CVMetric {
	opt := research.DefaultMetricOptions()
	targets := map[string]bool{}
	values := map[string]bool{}
	for _, f := range folds {
		for _, im := range f.Images {
			for t := range im.Counts {
				targets[t] = true
			}
			for v := range im.Values {
				values[v] = true
			}
		}
	}
	var out []CVMetric
	for _, t := range sortedKeys(targets) {
		scores := func(images []OOFImage) (research.Scores, int) {
			var cs []research.ImageCounts
			for _, im := range images {
				if c, ok := im.Counts[t]; ok {
					cs = append(cs, c)
				}
			}
			if len(cs) == 0 {
				return research.Scores{}, 0
			}
			s, err := research.Summarize(cs, opt)
			if err != nil {
				return research.Scores{}, 0
			}
			return s, len(cs)
		}
		for _, m := range []struct {
			name string
			get  func(research.Scores) float64
		}{
			{"IoU (a) soft pooled, the paper's", func(s research.Scores) float64 { return s.SoftPooledIoU }},
			{"IoU (c) per image, empty/empty = 1", func(s research.Scores) float64 { return s.PerImageIoU }},
			{"IoU (d) per image, truth not empty", func(s research.Scores) float64 { return s.NonEmptyIoU }},
			{"IoU (e) per image, empty/empty excluded", func(s research.Scores) float64 { return s.NaNAwareIoU }},
			{"F1 (a) soft pooled", func(s research.Scores) float64 { return s.SoftPooledF1 }},
			{"Dice (c) per image, empty/empty = 1", func(s research.Scores) float64 { return s.PerImageF1 }},
			{"detection sensitivity", func(s research.Scores) float64 { return s.Detection.Sensitivity }},
			{"detection specificity", func(s research.Scores) float64 { return s.Detection.Specificity }},
		} {
			var all []OOFImage
			row := CVMetric{Name: m.name, Target: t}
			for _, f := range folds {
				s, n := scores(f.Images)
				if n > 0 {
					row.PerFold = append(row.PerFold, m.get(s))
				} else {
					row.PerFold = append(row.PerFold, math.NaN())
				}
				all = append(all, f.Images...)
			}
			pooled, n := scores(all)
			row.N, row.Pooled = n, m.get(pooled)
			out = append(out, spread(row))
		}
	}
	for _, v := range sortedKeys(values) {
		row := CVMetric{Name: ValueMetricName(v)}
		var sum float64
		for _, f := range folds {
			var fs float64
			var fn int
			for _, im := range f.Images {
				if x, ok := im.Values[v]; ok && num.Finite(x) {
					fs += x
					fn++
				}
			}
			sum += fs
			row.N += fn
			if fn > 0 {
				row.PerFold = append(row.PerFold, fs/float64(fn))
			} else {
				row.PerFold = append(row.PerFold, math.NaN())
			}
		}
		row.Pooled = math.NaN()
		if row.N > 0 {
			row.Pooled = sum / float64(row.N)
		}
		out = append(out, spread(row))
	}
	return out
}

// ValueMetricName is the name of the merged table's row of the mean of a
// per-image value (OOFImage.Values).
func ValueMetricName(value string) string { return "mean " + value }

// spread fills the across-fold statistics of a metric from its per-fold
// values (NaN values left out).
func spread(m CVMetric) CVMetric {
	var vals []float64
	for _, v := range m.PerFold {
		if num.Finite(v) {
			vals = append(vals, v)
		}
	}
	m.Mean, m.SD, m.Min, m.Max = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	m.CI95 = [2]float64{math.NaN(), math.NaN()}
	if len(vals) == 0 {
		return m
	}
	m.Min, m.Max = vals[0], vals[0]
	for _, v := range vals {
		m.Min, m.Max = math.Min(m.Min, v), math.Max(m.Max, v)
	}
	if mean, ci, err := research.MeanCI95(vals); err == nil {
		m.Mean, m.CI95 = mean, ci
	} else {
		m.Mean = vals[0]
	}
	if len(vals) > 1 {
		var ss float64
		for _, v := range vals {
			ss += (v - m.Mean) * (v - m.Mean)
		}
		m.SD = math.Sqrt(ss / float64(len(vals)-1))
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
