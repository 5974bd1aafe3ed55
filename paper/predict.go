package paper

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/xla"
)

// predictionsFile caches, in a complete run's folder, the model's
// probabilities on every image of the study.
const predictionsFile = "predictions.gob"

// predictionCache is the content of predictionsFile.
type predictionCache struct {
	Finished string               // run.json's finish time: a retrained run invalidates the cache
	Size     int                  // input side
	Probs    map[string][]float32 // by cohort + "/" + stem
}

func itemKey(it *Item) string { return it.Cohort + "/" + it.Stem }

// EnsureModel gives every item of the study the model's predicted
// probabilities (Item.Prob): it trains the run first when it is missing or
// incomplete (Train, printing its progress), then predicts every image
// (train, test and validation) with the run's checkpoint, caching the
// probabilities in the run folder so that later notebooks need not run the
// model again. Without a cohort to train on it does nothing (the figures
// that need a model then say so).
func (st *Study) EnsureModel(progress io.Writer) error {
	run, err := st.Train(progress)
	if err != nil || run == nil {
		return err
	}
	info, ok := st.readRunInfo(run.Dir)
	if !ok {
		return fmt.Errorf("%s: run incomplete after training", run.Dir)
	}
	finished := info.Finished.String()
	cachePath := filepath.Join(run.Dir, predictionsFile)
	var cache predictionCache
	if b, err := os.ReadFile(cachePath); err == nil {
		if gob.NewDecoder(bytes.NewReader(b)).Decode(&cache) != nil || cache.Finished != finished || cache.Size != st.Settings.Preset.InputSize {
			cache = predictionCache{}
		}
	}
	var missing []*Item
	for _, it := range st.Items {
		if p, ok := cache.Probs[itemKey(it)]; ok && len(p) == it.Input.Size*it.Input.Size {
			it.Prob = p
		} else {
			missing = append(missing, it)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(progress, "Predicting %d images with the run %s ...\n", len(missing), run.Dir)
	probs, err := st.predictWithRun(run.Dir, missing)
	if err != nil {
		return err
	}
	if cache.Probs == nil {
		cache = predictionCache{Finished: finished, Size: st.Settings.Preset.InputSize, Probs: map[string][]float32{}}
	}
	for i, it := range missing {
		it.Prob = probs[i]
		cache.Probs[itemKey(it)] = probs[i]
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(cache); err != nil {
		return err
	}
	return datasets.WriteFileAtomic(cachePath, buf.Bytes(), 0o644)
}

// predictWithRun loads the run's newest checkpoint and predicts items.
func (st *Study) predictWithRun(dir string, items []*Item) ([][]float32, error) {
	run, err := xla.LoadRun(dir, st.Settings.Backend)
	if err != nil {
		return nil, err
	}
	defer run.Model.Backend().Finalize()
	return run.Model.Predict(inputs(items), st.Settings.Preset.Batch)
}
