package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla/unet"
)

// Files of a models folder.
const (
	ModelsFile   = "models.json" // the record (ModelsRecord)
	LungsDir     = "lungs"       // the lung model: run.json, checkpoints/ (weights only)
	OpacityDir   = "opacity"     // the opacity model, likewise
	ModelsFormat = 2             // 2: ensemble members, interval, Brixia thresholds, manifest.json
)

// Cohen et al.'s radiologist score scales.
const (
	GeographicMax = 8 // geographic extent, 0-8
	OpacityMax    = 6 // opacity degree, 0-6
)

// ModelsRecord is the content of models.json: how the models were made.
type ModelsRecord struct {
	Format    int       `json:"format"`
	Created   time.Time `json:"created"`
	Commit    string    `json:"commit"`
	Data      string    `json:"data"`
	Synthetic bool      `json:"synthetic"`
	// Lungs and Opacity describe the two models.
	Lungs   ModelInfo `json:"lungs"`
	Opacity ModelInfo `json:"opacity"`
	// PostProcess is applied to the predicted lungs.
	PostProcess PostProcess `json:"post_process"`
	// Members are the ensemble's test-time augmentations (none: the image
	// as it is, one member).
	Members []Member `json:"members,omitempty"`
	// Interval calibrates the reported interval of the opacity percentage;
	// nil when no image was available to calibrate it.
	Interval *Interval `json:"interval,omitempty"`
	// Brixia maps the zones' opacity to Brixia scores; nil when no
	// Brixia-scored image was available to fit it.
	Brixia *Brixia `json:"brixia,omitempty"`
	// Severity maps the opacity percentage to Cohen et al.'s scores; nil
	// when no scored image was available to fit them (Note says why).
	Severity *Severity `json:"severity,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// ModelInfo describes one model of a models folder.
type ModelInfo struct {
	// Run is the run folder it was trained in (its run.json is copied into
	// the model's subfolder).
	Run        string              `json:"run"`
	Settings   experiment.Settings `json:"settings"`
	Parameters int                 `json:"trainable_parameters"`
	Cohort     string              `json:"cohort"`
	Images     int                 `json:"train_images"`
}

// Severity holds the maps from the automatic opacity percentage to Cohen et
// al.'s two radiologist scores and how they were fitted.
type Severity struct {
	Geographic research.ScoreMap `json:"geographic"`
	Opacity    research.ScoreMap `json:"opacity"`
	// FittedOn are the scored images the maps were fitted on: images the
	// models did not train on, with the automatic percentage of the
	// pipeline on each.
	FittedOn []string `json:"fitted_on"`
	// GeographicOOF and OpacityOOF are the maps' agreement with the scores
	// on those images, each predicted by a map fitted without its patient
	// (leave one patient out).
	GeographicOOF research.ScoreAgreement `json:"geographic_out_of_fold"`
	OpacityOOF    research.ScoreAgreement `json:"opacity_out_of_fold"`
}

// Models are the lung and opacity models, loaded, with their record.
type Models struct {
	Dir     string
	Record  ModelsRecord
	lungs   *unet.Loaded
	opacity *unet.Loaded
}

// OpenModels reads a models folder (made by TrainModels) on the backend
// named by backend (see unet.NewBackend), after checking it against its
// manifest (VerifyManifest): a folder with a missing, extra or altered file,
// or without a manifest, is refused with an error that names each file.
func OpenModels(dir, backend string) (*Models, error) {
	b, err := os.ReadFile(filepath.Join(dir, ModelsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: not a models folder: no %s (made by opacity models)", dir, ModelsFile)
	}
	if err != nil {
		return nil, err
	}
	if _, err := VerifyManifest(dir); err != nil {
		return nil, fmt.Errorf("models folder refused: %w", err)
	}
	m := &Models{Dir: dir}
	if err := json.Unmarshal(b, &m.Record); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ModelsFile), err)
	}
	if m.Record.Format != ModelsFormat {
		return nil, fmt.Errorf("%s: models format %d, this program reads %d", filepath.Join(dir, ModelsFile), m.Record.Format, ModelsFormat)
	}
	if m.lungs, err = unet.LoadModel(filepath.Join(dir, LungsDir), backend); err != nil {
		return nil, fmt.Errorf("lung model: %w", err)
	}
	if m.opacity, err = unet.LoadModel(filepath.Join(dir, OpacityDir), backend); err != nil {
		return nil, fmt.Errorf("opacity model: %w", err)
	}
	return m, nil
}

// NewModels makes Models from two complete runs (a lung model and an
// opacity model) without a models folder, with the default post-processing
// and no severity maps: what a cross-validation fold analyses its images
// with.
func NewModels(lungs, opacity *experiment.Run, backend string) (*Models, error) {
	l, err := lungs.LoadModel(backend)
	if err != nil {
		return nil, err
	}
	o, err := opacity.LoadModel(backend)
	if err != nil {
		return nil, err
	}
	return &Models{Record: ModelsRecord{PostProcess: DefaultPostProcess()}, lungs: l, opacity: o}, nil
}

// ModelSettings returns the settings of the lung model and of the opacity
// model of settings s: s with the target lungs (whole images), and with the
// target opacity (lung crops). The lung model takes s.LungsModel,
// LungsEpochs, LungsEvalEvery and LungsSize where they are set. When s.Start is a
// models folder, its lung model starts the lung model and its opacity
// model the opacity model (see CheckStart).
func ModelSettings(s experiment.Settings) (lungs, opacity experiment.Settings) {
	lungs, opacity = s, s
	lungs.Targets = []string{datasets.TargetLungs}
	lungs.Loss = "" // the paper's: Settings.Loss is the opacity model's
	opacity.Targets = []string{datasets.TargetOpacity}
	switch s.LungsModel {
	case "paper", "tiny":
		lungs.Tiny = s.LungsModel == "tiny"
	}
	if s.LungsEpochs > 0 {
		lungs.Epochs = s.LungsEpochs
	}
	if s.LungsEvalEvery > 0 {
		lungs.EvalEvery = s.LungsEvalEvery
	}
	if s.LungsSize > 0 {
		lungs.InputSize = s.LungsSize
	}
	for _, x := range []*experiment.Settings{&lungs, &opacity} {
		x.LungsModel, x.LungsEpochs, x.LungsEvalEvery, x.LungsSize = "", 0, 0, 0
		x.Ensemble = false // how the pipeline is analysed, not how its models train
	}
	if isModelsFolder(s.Start) {
		lungs.Start, opacity.Start = filepath.Join(s.Start, LungsDir), filepath.Join(s.Start, OpacityDir)
	}
	return lungs, opacity
}

// isModelsFolder reports whether dir is a models folder (it has models.json).
func isModelsFolder(dir string) bool {
	if dir == "" {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, ModelsFile))
	return err == nil && !fi.IsDir()
}

// CheckStart checks the starting weights of s: a models folder must pass
// its manifest check (VerifyManifest), as it would to be used, before its
// models start a training.
func CheckStart(s experiment.Settings) error {
	if !isModelsFolder(s.Start) {
		return nil
	}
	if _, err := VerifyManifest(s.Start); err != nil {
		return fmt.Errorf("starting weights refused: %w", err)
	}
	return nil
}

// TrainModels trains (or finds, or resumes) the lung model and the opacity
// model of settings s (ModelSettings: their runs under s.Runs, like opacity
// train's), copies them into the models folder out (run.json and the
// newest checkpoint's weights), fits the severity maps on the scored images
// the models did not train on (the studies' testing and validation
// images, analysed by the new pipeline: see FitSeverity), the interval and
// the Brixia thresholds, and writes models.json and the manifest. Both
// models read the same data, cohort and split (test fraction or fold, and
// seed), so that the opacity model's testing images are the lung model's
// too. It returns the models, loaded.
func TrainModels(ctx context.Context, s experiment.Settings, out string, mon experiment.Monitor) (*Models, error) {
	lungs, opacity := ModelSettings(s)
	runs, studies, err := trainPair(ctx, s, mon)
	if err != nil {
		return nil, err
	}
	rec := ModelsRecord{Format: ModelsFormat, Created: time.Now().UTC(), Commit: experiment.Commit(opacity.Repo), Data: runs[1].Record.Data,
		Synthetic: studies[1].Synthetic, PostProcess: DefaultPostProcess(), Members: DefaultMembers()}
	for i, sub := range []string{LungsDir, OpacityDir} {
		info, err := exportRun(runs[i], filepath.Join(out, sub))
		if err != nil {
			return nil, err
		}
		if i == 0 {
			rec.Lungs = info
		} else {
			rec.Opacity = info
		}
	}
	m := &Models{Dir: out, Record: rec}
	if m.lungs, err = unet.LoadModel(filepath.Join(out, LungsDir), lungs.Backend); err != nil {
		return nil, err
	}
	if m.opacity, err = unet.LoadModel(filepath.Join(out, OpacityDir), opacity.Backend); err != nil {
		return nil, err
	}
	sev, note, err := m.FitSeverity(studies[1], mon)
	if err != nil {
		return nil, err
	}
	m.Record.Severity, m.Record.Note = sev, note
	iv, note, err := m.fitIntervalFor(s, studies[1], mon)
	if err != nil {
		return nil, err
	}
	m.Record.Interval = iv
	m.Record.addNote(note)
	bx, note, err := m.FitBrixiaFor(studies[1], mon)
	if err != nil {
		return nil, err
	}
	m.Record.Brixia = bx
	m.Record.addNote(note)
	if err := atomicfile.WriteJSON(filepath.Join(out, ModelsFile), m.Record, 0o644); err != nil {
		return nil, err
	}
	if _, err := WriteManifest(out, newProvenance(m.Record, studies)); err != nil {
		return nil, err
	}
	return m, nil
}

// Provenance is what a models folder's manifest says of how it was made,
// beside models.json (which it repeats in part, so that the manifest alone
// tells a reader what they hold).
type Provenance struct {
	Commit string `json:"commit"`
	Data   string `json:"data"`
	// Counts are the data folder's cohorts as the lung and the opacity
	// models' studies read them (files, read, with image, ...).
	Counts [2]map[string]*experiment.CohortCount `json:"data_counts"`
	// Settings of the lung and the opacity model.
	Settings [2]experiment.Settings `json:"settings"`
	// TrainImages of the lung and the opacity model.
	TrainImages [2]int `json:"train_images"`
	// The validation figures recorded with the models.
	Severity *Severity `json:"severity,omitempty"`
	Interval *Interval `json:"interval,omitempty"`
	Brixia   *Brixia   `json:"brixia,omitempty"`
	Note     string    `json:"note,omitempty"`
}

func newProvenance(rec ModelsRecord, studies [2]*experiment.Study) Provenance {
	return Provenance{Commit: rec.Commit, Data: rec.Data, Counts: [2]map[string]*experiment.CohortCount{studies[0].Counts, studies[1].Counts},
		Settings: [2]experiment.Settings{rec.Lungs.Settings, rec.Opacity.Settings}, TrainImages: [2]int{rec.Lungs.Images, rec.Opacity.Images},
		Severity: rec.Severity, Interval: rec.Interval, Brixia: rec.Brixia, Note: rec.Note}
}

// trainPair trains (or finds, or resumes) the lung model and the opacity
// model of s (ModelSettings), in that order, after checking their start
// (CheckStart), and returns their runs and studies.
func trainPair(ctx context.Context, s experiment.Settings, mon experiment.Monitor) (runs [2]*experiment.Run, studies [2]*experiment.Study, err error) {
	if err := CheckStart(s); err != nil {
		return runs, studies, err
	}
	lungs, opacity := ModelSettings(s)
	for i, ms := range []experiment.Settings{lungs, opacity} {
		st, err := experiment.LoadStudy(ms)
		if err != nil {
			return runs, studies, err
		}
		run, err := st.Train(ctx, "", mon)
		if err != nil {
			return runs, studies, err
		}
		if run == nil {
			return runs, studies, fmt.Errorf("%s: no cohort with images to train on (%s)", ms.DataDir(), st.TrainCohortNote())
		}
		runs[i], studies[i] = run, st
	}
	// The pipeline's held-out images must be held out from both models.
	l, o := studies[0].Split, studies[1].Split
	if !slices.Equal(l.TrainPatients, o.TrainPatients) || !slices.Equal(l.TestPatients, o.TestPatients) {
		return runs, studies, fmt.Errorf("%s and %s: the lung model and the opacity model were split differently (%d/%d and %d/%d training/testing patients)",
			runs[0].Dir, runs[1].Dir, len(l.TrainPatients), len(l.TestPatients), len(o.TrainPatients), len(o.TestPatients))
	}
	return runs, studies, nil
}

// exportRun copies a run's record and its newest checkpoint's weights into
// dir.
func exportRun(run *experiment.Run, dir string) (ModelInfo, error) {
	l, err := run.LoadModel("")
	if err != nil {
		return ModelInfo{}, err
	}
	ck := filepath.Join(dir, unet.CheckpointsDir)
	if err := os.MkdirAll(ck, 0o755); err != nil {
		return ModelInfo{}, err
	}
	// A folder made before holds an older checkpoint: replace it.
	old, _ := filepath.Glob(filepath.Join(ck, "*.ckpt"))
	if err := unet.ExportWeights(l.Checkpoint, filepath.Join(ck, filepath.Base(l.Checkpoint))); err != nil {
		return ModelInfo{}, err
	}
	for _, f := range old {
		if filepath.Base(f) != filepath.Base(l.Checkpoint) {
			os.Remove(f)
		}
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, experiment.RunFile), run.Record, 0o644); err != nil {
		return ModelInfo{}, err
	}
	return ModelInfo{Run: run.Dir, Settings: run.Record.Settings, Parameters: run.Record.Parameters,
		Cohort: run.Record.Split.Cohort, Images: len(run.Record.Split.TrainImages)}, nil
}

// severityMethods are the score maps FitSeverity tries.
var severityMethods = []string{research.ScoreMapLinear, research.ScoreMapSqrt, research.ScoreMapIsotonic}

// minSeverityImages is the fewest scored images FitSeverity fits maps on.
const minSeverityImages = 8

// FitSeverity fits the maps from the automatic opacity percentage to
// Cohen et al.'s two scores on the images of st (the opacity model's study)
// that have Cohen scores and that the models did not train on (its
// testing and validation images), each analysed by the pipeline from its
// full-resolution image. For each scale it keeps, of the linear, square-root
// and isotonic maps, the one with the smallest leave-one-patient-out mean
// absolute error on those images, and records that error. With fewer than
// 8 such images it fits none and says why.
func (m *Models) FitSeverity(st *experiment.Study, mon experiment.Monitor) (*Severity, string, error) {
	if st.CohenScores == nil {
		return nil, fmt.Sprintf("no severity maps: no Cohen severity scores in %s (%v)", st.Settings.DataDir(), st.CohenScoresErr), nil
	}
	// An X-ray in two cohorts (cohen/ and cxr-seg/ share some) counts once.
	want, stems := map[string]bool{}, map[string]bool{}
	for _, it := range st.Items {
		if it.Subset != experiment.SubsetTrain && !stems[it.Stem] {
			if _, ok := st.CohenScores[it.Stem]; ok {
				want[it.Key()], stems[it.Stem] = true, true
			}
		}
	}
	if len(want) < minSeverityImages {
		return nil, fmt.Sprintf("no severity maps: %d scored images that the models did not train on (want at least %d)", len(want), minSeverityImages), nil
	}
	var pct, geo, opa []float64
	var groups, names []string
	err := datasets.ScanSamples(st.Settings.DataDir(), want, func(sm *datasets.Sample) error {
		r, err := m.Analyze(sm.Image)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", sm.Cohort, sm.File, err)
		}
		if math.IsNaN(r.OpacityPct) {
			return nil // no lungs found: no percentage to map
		}
		sc := st.CohenScores[sm.Stem]
		pct, geo, opa = append(pct, r.OpacityPct), append(geo, sc.GeographicMean), append(opa, sc.OpacityMean)
		groups, names = append(groups, sm.Patient), append(names, sm.Cohort+"/"+sm.Stem)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if len(pct) < minSeverityImages {
		return nil, fmt.Sprintf("no severity maps: %d scored images with lungs found", len(pct)), nil
	}
	sv := &Severity{FittedOn: names}
	opt := research.BootstrapOptions{Resamples: st.Settings.Bootstrap, Seed: uint64(st.Settings.Seed)}
	for _, scale := range []struct {
		y    []float64
		hi   float64
		fit  *research.ScoreMap
		oof  *research.ScoreAgreement
		name string
	}{{geo, GeographicMax, &sv.Geographic, &sv.GeographicOOF, "geographic extent"}, {opa, OpacityMax, &sv.Opacity, &sv.OpacityOOF, "opacity"}} {
		best := math.Inf(1)
		for _, method := range severityMethods {
			_, agr, err := mapOutOfFold(method, pct, scale.y, groups, scale.hi, opt)
			if err != nil || !(agr.MAE < best) {
				continue // err: e.g. one patient only
			}
			fit, err := research.FitScoreMap(method, pct, scale.y, 0, scale.hi)
			if err != nil {
				continue
			}
			best, *scale.fit, *scale.oof = agr.MAE, fit, agr
		}
		if math.IsInf(best, 1) {
			return nil, fmt.Sprintf("no severity maps: no map of the %s score could be fitted on %d images", scale.name, len(pct)), nil
		}
	}
	mon.Printf("Severity maps fitted on %d scored images the models did not train on: geographic extent %s (MAE %.2f out of fold), opacity %s (MAE %.2f)\n",
		len(pct), sv.Geographic.Method, sv.GeographicOOF.MAE, sv.Opacity.Method, sv.OpacityOOF.MAE)
	return sv, "", nil
}

// addNote appends a note to the record's.
func (r *ModelsRecord) addNote(note string) {
	switch {
	case note == "":
	case r.Note == "":
		r.Note = note
	default:
		r.Note += "; " + note
	}
}

// IntervalLevel is the coverage the reported interval is calibrated for.
const IntervalLevel = 0.9

// FitInterval calibrates the interval of the opacity percentage (see
// Interval) at level on the images of st (the opacity model's study) that
// the models did not train on and that have a manual percentage (its
// testing and validation images), each analysed by the pipeline from its
// full-resolution image, against that percentage. Without such an image it
// fits none and says why.
func (m *Models) FitInterval(st *experiment.Study, level float64, mon experiment.Monitor) (*Interval, string, error) {
	truth := map[string]float64{}
	cohorts := map[string]bool{}
	for _, it := range st.Items {
		if it.Subset != experiment.SubsetTrain && !math.IsNaN(it.ManualPct) {
			if _, ok := truth[it.Key()]; !ok {
				truth[it.Key()] = it.ManualPct
				cohorts[it.Cohort] = true
			}
		}
	}
	if len(truth) == 0 {
		return nil, "no interval: no image with a manual percentage that the models did not train on", nil
	}
	want := map[string]bool{}
	for k := range truth {
		want[k] = true
	}
	var pct, sd, tr []float64
	err := datasets.ScanSamples(st.Settings.DataDir(), want, func(sm *datasets.Sample) error {
		r, err := m.Analyze(sm.Image)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", sm.Cohort, sm.File, err)
		}
		pct, sd, tr = append(pct, r.OpacityPct), append(sd, r.Spread.SD), append(tr, truth[sm.Cohort+"/"+sm.Stem])
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	src := make([]string, 0, len(cohorts))
	for c := range cohorts {
		src = append(src, c)
	}
	sort.Strings(src)
	iv, err := FitInterval(pct, sd, tr, level, DefaultSDFloor, "images not trained on of "+strings.Join(src, ", "))
	if err != nil {
		return nil, "no interval: " + err.Error(), nil
	}
	mon.Printf("Interval of the opacity %% calibrated on %d images the models did not train on: %.0f%% interval = %s\n",
		iv.FittedOn, 100*level, iv.Formula())
	return &iv, "", nil
}

// fitIntervalFor calibrates the models' interval as settings s say: on
// the out-of-fold images of s.IntervalCV when set (IntervalFromCV), else
// on the images of st the models did not train on (FitInterval).
func (m *Models) fitIntervalFor(s experiment.Settings, st *experiment.Study, mon experiment.Monitor) (*Interval, string, error) {
	if s.IntervalCV == "" {
		return m.FitInterval(st, IntervalLevel, mon)
	}
	iv, err := IntervalFromCV(s.IntervalCV, IntervalLevel)
	if err != nil {
		return nil, "", err
	}
	mon.Printf("Interval of the opacity %% calibrated on the %d out-of-fold images of %s: %.0f%% interval = %s\n", iv.FittedOn, s.IntervalCV, 100*IntervalLevel, iv.Formula())
	return iv, "", nil
}

// IntervalFromCV calibrates the interval of the opacity percentage at level
// on the out-of-fold images of a pipeline cross-validation analysed with
// the ensemble (opacity cv --pipeline --ensemble true; its folder dir):
// the percentage each image got from the fold that did not see it, its
// members' spread and its manual percentage, the residuals of models like
// the ones being shipped on images annotated like the ones that matter
// (split conformal with cross-validation residuals). Two forms are checked
// leaving one patient out (IntervalOutOfFold): scaled by the members'
// spread, and at a constant width; the one with the narrower median width
// is fitted on every image. Images without a manual percentage are left
// out; a CV without the members' spread is an error.
func IntervalFromCV(dir string, level float64) (*Interval, error) {
	oof, err := experiment.ReadOOF(dir)
	if err != nil {
		return nil, err
	}
	c, err := intervalColumnsOf(oof)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	forms, err := c.checkForms(level)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	use, form, other, otherForm, scale := forms.Spread, "scaled by the members' spread", forms.Constant, "constant", c.sd
	if forms.ConstantNarrower() {
		use, form, other, otherForm, scale = forms.Constant, "constant width", forms.Spread, "scaled by the spread", c.flat
	}
	src := fmt.Sprintf("out-of-fold images of the pipeline cross-validation %s (%s: leaving each patient out it held %.1f%% of %d at a median width of %.1f points; %s: %.1f%% at %.1f)",
		dir, form, 100*use.Coverage, use.N, use.MedianWidth, otherForm, 100*other.Coverage, other.MedianWidth)
	iv, err := FitInterval(c.pct, scale, c.truth, level, DefaultSDFloor, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	iv.ConstantWidth = forms.ConstantNarrower()
	return &iv, nil
}

// IntervalForms is the interval checked out of fold in its two forms
// (IntervalFormsOutOfFold).
type IntervalForms struct {
	// Spread is % ± factor × max(members' SD, DefaultSDFloor); Constant
	// % ± a constant (the SD ignored), each IntervalOutOfFold.
	Spread, Constant IntervalCheck
}

// ConstantNarrower reports whether the constant width has the narrower
// median width out of fold (the form IntervalFromCV then fits).
func (f IntervalForms) ConstantNarrower() bool {
	return f.Constant.MedianWidth < f.Spread.MedianWidth
}

// IntervalFormsOutOfFold checks the interval at level on out-of-fold images
// of a pipeline analysed with the ensemble (opacity cv --pipeline
// --ensemble true), each image's interval fitted on the other patients'
// images (IntervalOutOfFold), in both forms: scaled by the members' spread
// and at a constant width, which says whether the spread tracks the
// error. An image without the members' spread is an error.
func IntervalFormsOutOfFold(oof []experiment.OOFImage, level float64) (IntervalForms, error) {
	c, err := intervalColumnsOf(oof)
	if err != nil {
		return IntervalForms{}, err
	}
	return c.checkForms(level)
}

// intervalColumns are the values of out-of-fold images an interval is
// calibrated on: the automatic percentage, the members' spread, zeros (the
// constant form's spread), the manual percentage and the patient.
type intervalColumns struct {
	pct, sd, flat, truth []float64
	patients             []string
}

// intervalColumnsOf reads the interval's columns off out-of-fold images; an
// image without the members' spread is an error.
func intervalColumnsOf(oof []experiment.OOFImage) (intervalColumns, error) {
	var c intervalColumns
	for _, im := range oof {
		s, ok := im.Values[ValueOpacityPctSD]
		if !ok {
			return c, fmt.Errorf("image %s has no members' spread: not analysed with the ensemble (opacity cv --pipeline --ensemble true)", im.Image)
		}
		c.pct, c.sd, c.flat = append(c.pct, im.Values[ValueOpacityPctAuto]), append(c.sd, s), append(c.flat, 0)
		c.truth, c.patients = append(c.truth, im.Values[ValueOpacityPctManual]), append(c.patients, im.Patient)
	}
	return c, nil
}

// checkForms is IntervalFormsOutOfFold on the columns.
func (c intervalColumns) checkForms(level float64) (IntervalForms, error) {
	spread, err := IntervalOutOfFold(c.pct, c.sd, c.truth, c.patients, level, DefaultSDFloor)
	if err != nil {
		return IntervalForms{}, err
	}
	constant, err := IntervalOutOfFold(c.pct, c.flat, c.truth, c.patients, level, DefaultSDFloor)
	if err != nil {
		return IntervalForms{}, err
	}
	return IntervalForms{Spread: spread, Constant: constant}, nil
}

// mapOutOfFold estimates the scores y (on the scale 0..hi) from the
// percentages pct with a score map of method, each image by a map fitted
// without its group (patient), and compares the estimates with y (MAE with
// a group-bootstrap interval, Pearson, Spearman).
func mapOutOfFold(method string, pct, y []float64, groups []string, hi float64, opt research.BootstrapOptions) ([]float64, research.ScoreAgreement, error) {
	est, err := research.OutOfFold(method, pct, y, groups, 0, opt.Seed, 0, hi)
	if err != nil {
		return nil, research.ScoreAgreement{}, err
	}
	agr, err := research.CompareScoreValues(est, y, groups, opt)
	return est, agr, err
}

// DefaultModelsDir is the models folder of settings s when none is named:
// under s.Runs, named after the settings of the two models (a changed
// setting makes another folder).
func DefaultModelsDir(s experiment.Settings) (string, error) {
	s.Targets = []string{datasets.TargetLungs, datasets.TargetOpacity}
	cohort := s.Cohort
	if cohort == "" {
		cohort = "auto"
	}
	key, err := s.Key(cohort)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.Runs, "models-"+filepath.Base(key.Dir(s.Runs))), nil
}
