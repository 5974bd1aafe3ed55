package experiment

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla/unet"
)

// PredictionsFile caches, in a complete run's folder, the model's
// probabilities on every image of its study.
const PredictionsFile = "predictions.gob"

// predictionCache is the content of PredictionsFile.
type predictionCache struct {
	Finished string                          // the run's finish time: a retrained run invalidates the cache
	Size     int                             // input side
	Frame    transform.Framing               // how the inputs were framed
	Probs    map[string]map[string][]float32 // by Item.Key, then target
}

// EnsureModel gives every item of the study the model's predicted
// probabilities (Item.Prob): it trains the run first when it is missing or
// incomplete (Train into RunDir, reporting to mon), then predicts every
// image (train, test and validation) with the run's checkpoint, caching
// the probabilities in the run folder so that later notebooks and commands
// need not run the model again. Without a cohort to train on it does
// nothing (the figures that need a model then say so).
func (st *Study) EnsureModel(ctx context.Context, mon Monitor) error {
	run, err := st.Train(ctx, "", mon)
	if err != nil || run == nil {
		return err
	}
	return st.Predict(run, mon)
}

// Predict attaches the probabilities of run's model to every item of the
// study (cached in the run folder, see EnsureModel). The run must be
// complete and made with the study's settings.
func (st *Study) Predict(run *Run, mon Monitor) error {
	if !run.Complete() {
		return fmt.Errorf("%s: the run is not complete (status %q): finish its training first", run.Dir, run.Record.Status)
	}
	if err := st.Attach(run); err != nil {
		return err
	}
	finished := run.Record.Finished.String()
	cachePath := filepath.Join(run.Dir, PredictionsFile)
	var cache predictionCache
	if b, err := os.ReadFile(cachePath); err == nil {
		if gob.NewDecoder(bytes.NewReader(b)).Decode(&cache) != nil || cache.Finished != finished ||
			cache.Size != st.Settings.InputSize || cache.Frame != st.Settings.Framing() {
			cache = predictionCache{}
		}
	}
	targets := st.Settings.Targets
	var missing []*Item
	for _, it := range st.Items {
		p, ok := cache.Probs[it.Key()]
		complete := ok
		for _, t := range targets {
			complete = complete && len(p[t]) == it.Input.Size*it.Input.Size
		}
		if complete {
			it.Prob = p
		} else {
			missing = append(missing, it)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	mon.Printf("Predicting %d images with the run %s ...\n", len(missing), run.Dir)
	l, err := run.LoadModel(st.Settings.Backend)
	if err != nil {
		return err
	}
	for _, d := range l.Damaged {
		mon.Printf("warning: %v; the model comes from %s\n", d, l.Checkpoint)
	}
	probs, err := l.Model.Predict(Inputs(missing), st.Settings.Batch)
	if err != nil {
		return fmt.Errorf("%s: %w", run.Dir, err)
	}
	if cache.Probs == nil {
		cache = predictionCache{Finished: finished, Size: st.Settings.InputSize, Frame: st.Settings.Framing(), Probs: map[string]map[string][]float32{}}
	}
	for i, it := range missing {
		it.Prob = map[string][]float32{}
		for k, t := range l.Model.Config.TargetList() {
			it.Prob[t] = probs[i][k]
		}
		cache.Probs[it.Key()] = it.Prob
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(cache); err != nil {
		return err
	}
	return atomicfile.WriteFile(cachePath, buf.Bytes(), 0o644)
}

// Attach makes run the study's run (Study.Run), after checking that it was
// made with the study's settings (RunKey.Same).
func (st *Study) Attach(run *Run) error {
	key, err := st.Settings.Key(st.TrainCohort)
	if err != nil {
		return err
	}
	if !run.Record.Key.Same(key) {
		return fmt.Errorf("%s: the run was made with other settings than this study's", run.Dir)
	}
	st.run = run
	return nil
}

// LoadModel reads the run's model from its newest readable checkpoint, on the
// backend named by backend (see unet.NewBackend; empty: GOMLX_BACKEND or
// the Go backend). Damaged newer checkpoints are named in
// unet.Loaded.Damaged.
func (r *Run) LoadModel(backend string) (*unet.Loaded, error) {
	l, err := unet.LoadModel(r.Dir, backend)
	if err != nil {
		return nil, err
	}
	if got, want := strings.Join(l.Model.Config.TargetList(), ","), strings.Join(r.Record.Key.Targets, ","); got != want {
		return nil, fmt.Errorf("%s: the checkpoint predicts %s, the run record says %s", l.Checkpoint, got, want)
	}
	return l, nil
}

// PredictedPct returns the opacity percentage of the item from its
// predicted masks (see PredictedPct).
func (it *Item) PredictedPct() (float64, error) {
	p, err := PredictedPct(it.Input, it.Prob)
	if err != nil {
		return 0, fmt.Errorf("%s/%s: %w", it.Cohort, it.File, err)
	}
	return p, nil
}

// PredictedPct returns the opacity percentage of a model input from the
// model's probabilities by target: 100 |predicted opacity ∩ lungs| / |lungs|
// on the model's grid, with the lungs the model predicted when the lungs
// are one of its targets, the manual lungs of the input (framed like it)
// otherwise. The probabilities must include the opacity target.
func PredictedPct(in *transform.Prepared, prob map[string][]float32) (float64, error) {
	op, ok := prob[datasets.TargetOpacity]
	if !ok {
		return 0, fmt.Errorf("the model does not predict %s", datasets.TargetOpacity)
	}
	lungs := in.Pix(datasets.TargetLungs)
	if lp, ok := prob[datasets.TargetLungs]; ok {
		lungs = research.Threshold(lp, research.DefaultThreshold)
	}
	return research.PredictedOpacityPercent(lungs, op, research.DefaultThreshold)
}

// Predictions returns the research predictions of a target for the items
// that have one (Item.Prob), with their manual masks as truth.
func (st *Study) Predictions(target string) []research.Prediction {
	var out []research.Prediction
	for _, it := range st.Items {
		p, ok := it.Prob[target]
		if !ok {
			continue
		}
		out = append(out, research.Prediction{Name: it.Stem, Patient: it.Patient, Subset: it.Subset, Truth: it.Input.Pix(target), Prob: p})
	}
	return out
}

// PredictedMask returns the predicted mask of a target on the model's grid
// (probability > research.DefaultThreshold), nil without a prediction.
func (it *Item) PredictedMask(target string) *mask.Mask {
	p, ok := it.Prob[target]
	if !ok {
		return nil
	}
	n := it.Input.Size
	return &mask.Mask{Width: n, Height: n, Pix: research.Threshold(p, research.DefaultThreshold)}
}

// Predictor applies a run's model to samples read from files.
type Predictor struct {
	Run    *Run
	Loaded *unet.Loaded
}

// Predictor loads the run's model (see LoadModel) to predict samples.
func (r *Run) Predictor(backend string) (*Predictor, error) {
	l, err := r.LoadModel(backend)
	if err != nil {
		return nil, err
	}
	return &Predictor{Run: r, Loaded: l}, nil
}

// SamplePrediction is the model's output for one sample.
type SamplePrediction struct {
	// Input is the sample framed as the run frames its inputs.
	Input *transform.Prepared
	// Prob and Masks are the probabilities and the predicted masks
	// (probability > research.DefaultThreshold) of every target, on the
	// model's grid.
	Prob  map[string][]float32
	Masks map[string]*mask.Mask
}

// Predict frames the sample as the run's inputs were (the manual lungs'
// crop for an opacity model, which the sample must then have; the whole
// image for a model of the lungs) and predicts every target.
func (p *Predictor) Predict(s *datasets.Sample) (*SamplePrediction, error) {
	set := p.Run.Record.Settings
	in, err := transform.Prepare(s, set.InputSize, set.Framing())
	if err != nil {
		return nil, err
	}
	probs, err := p.Loaded.Model.Predict([]*transform.Prepared{in}, 1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.File, err)
	}
	out := &SamplePrediction{Input: in, Prob: map[string][]float32{}, Masks: map[string]*mask.Mask{}}
	for k, t := range p.Loaded.Model.Config.TargetList() {
		out.Prob[t] = probs[0][k]
		out.Masks[t] = &mask.Mask{Width: in.Size, Height: in.Size, Pix: research.Threshold(probs[0][k], research.DefaultThreshold)}
	}
	return out, nil
}
