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
	"sort"
	"strings"
	"time"

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
	ModelsFormat = 1
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
// named by backend (see unet.NewBackend). A missing folder or file is an
// error that names it.
func OpenModels(dir, backend string) (*Models, error) {
	b, err := os.ReadFile(filepath.Join(dir, ModelsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: not a models folder: no %s (made by opacity models)", dir, ModelsFile)
	}
	if err != nil {
		return nil, err
	}
	m := &Models{Dir: dir}
	if err := json.Unmarshal(b, &m.Record); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ModelsFile), err)
	}
	if m.Record.Format != ModelsFormat {
		return nil, fmt.Errorf("%s: models format %d, this program reads %d", filepath.Join(dir, ModelsFile), m.Record.Format, ModelsFormat)
	}
	if m.lungs, err = unet.Load(filepath.Join(dir, LungsDir), backend); err != nil {
		return nil, fmt.Errorf("lung model: %w", err)
	}
	if m.opacity, err = unet.Load(filepath.Join(dir, OpacityDir), backend); err != nil {
		return nil, fmt.Errorf("opacity model: %w", err)
	}
	return m, nil
}

// NewModels makes Models from two complete runs (a lung model and an
// opacity model) without a models folder, with the default post-processing
// and no severity maps: what a cross-validation fold analyses its images
// with.
func NewModels(lungs, opacity *experiment.Run, backend string) (*Models, error) {
	l, err := lungs.Load(backend)
	if err != nil {
		return nil, err
	}
	o, err := opacity.Load(backend)
	if err != nil {
		return nil, err
	}
	return &Models{Record: ModelsRecord{PostProcess: DefaultPostProcess()}, lungs: l, opacity: o}, nil
}

// ModelSettings returns the settings of the lung model and of the opacity
// model of settings s: s with the target lungs (whole images), and with the
// target opacity (lung crops).
func ModelSettings(s experiment.Settings) (lungs, opacity experiment.Settings) {
	lungs, opacity = s, s
	lungs.Targets = []string{datasets.TargetLungs}
	opacity.Targets = []string{datasets.TargetOpacity}
	return lungs, opacity
}

// TrainModels trains (or finds, or resumes) the lung model and the opacity
// model of settings s (ModelSettings: their runs under s.Runs, like opacity
// train's), copies them into the models folder out (run.json and the
// newest checkpoint's weights), fits the severity maps on the scored images
// the models did not train on (the studies' testing and validation
// images, analysed by the new pipeline: see FitSeverity) and writes
// models.json. It returns the models, loaded.
func TrainModels(ctx context.Context, s experiment.Settings, out string, mon experiment.Monitor) (*Models, error) {
	runs, studies, err := trainPair(ctx, s, mon)
	if err != nil {
		return nil, err
	}
	rec := ModelsRecord{Format: ModelsFormat, Created: time.Now().UTC(), Commit: experiment.Commit(s.Repo), Data: runs[1].Record.Data,
		Synthetic: studies[1].Synthetic, PostProcess: DefaultPostProcess()}
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
	if m.lungs, err = unet.Load(filepath.Join(out, LungsDir), s.Backend); err != nil {
		return nil, err
	}
	if m.opacity, err = unet.Load(filepath.Join(out, OpacityDir), s.Backend); err != nil {
		return nil, err
	}
	sev, note, err := m.FitSeverity(studies[1], mon)
	if err != nil {
		return nil, err
	}
	m.Record.Severity, m.Record.Note = sev, note
	if err := datasets.WriteJSONAtomic(filepath.Join(out, ModelsFile), m.Record, 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

// trainPair trains (or finds, or resumes) the lung and the opacity model
// of settings s (ModelSettings), in that order, and returns their runs and
// studies.
func trainPair(ctx context.Context, s experiment.Settings, mon experiment.Monitor) (runs [2]*experiment.Run, studies [2]*experiment.Study, err error) {
	ls, os_ := ModelSettings(s)
	for i, ms := range []experiment.Settings{ls, os_} {
		st, err := experiment.Load(ms)
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
	return runs, studies, nil
}

// exportRun copies a run's record and its newest checkpoint's weights into
// dir.
func exportRun(run *experiment.Run, dir string) (ModelInfo, error) {
	l, err := run.Load("")
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
	if err := datasets.WriteJSONAtomic(filepath.Join(dir, experiment.RunFile), run.Record, 0o644); err != nil {
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
	err := ScanSamples(st.Settings.DataDir(), want, func(sm *datasets.Sample) error {
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

// ScanSamples reads, with their images, the samples of a data folder whose
// cohort/stem is in want (every cohort of the layout is scanned) and hands
// each to fn, in file order.
func ScanSamples(data string, want map[string]bool, fn func(*datasets.Sample) error) error {
	cohorts := map[string]bool{}
	for k := range want {
		c, _, _ := strings.Cut(k, "/")
		cohorts[c] = true
	}
	names := make([]string, 0, len(cohorts))
	for c := range cohorts {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		only := func(stem string) bool { return want[c+"/"+stem] }
		if _, err := datasets.ScanCohort(data, c, datasets.LoadOptions{Images: true, Only: only}, func(sm *datasets.Sample) error {
			if !sm.HasImage() {
				return nil
			}
			return fn(sm)
		}); err != nil {
			return err
		}
	}
	return nil
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
