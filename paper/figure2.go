package paper

import (
	"fmt"
	"github.com/covidxray/opacity/experiment"
	"math"
	"path/filepath"

	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
	"github.com/covidxray/opacity/xla/unet"
)

// Figure2 is the paper's Figure 2: IoU and loss per epoch on the training
// and testing images, from the run's metrics.csv (the paper's soft pooled
// IoU solid, the per-image IoU dashed). Study.EnsureModel must have run.
// Files: figure2, table-figure2 (the last epoch).
func Figure2(st *experiment.Study) (*Result, error) {
	return finish(st, "figure2")(figure2(st))
}

func figure2(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Figure 2: IoU and loss per epoch")
	if st.Run() == nil {
		if st.TrainCohort == "" {
			r.skip("no model: no cohort with images to train on (%s).", st.TrainCohortNote())
		} else {
			r.skip("no training run: call Study.EnsureModel before Figure2.")
		}
		return r, nil
	}
	path := filepath.Join(st.Run().Dir, unet.MetricsFile)
	recs, err := research.ReadMetricsCSV(path)
	if err != nil {
		return nil, fmt.Errorf("Figure 2: %w", err)
	}
	if len(recs) == 0 {
		r.skip("%s holds no epoch.", path)
		return r, nil
	}
	f, err := plots.TrainingFigure(fmt.Sprintf("Training on %s, %d×%d input%s", st.TrainCohort, s.InputSize, s.InputSize, dataTag(s)), recs)
	if err != nil {
		return nil, err
	}
	if err := r.saveFigure(s, "figure2", f); err != nil {
		return nil, err
	}
	last := map[string]research.EpochRecord{}
	for _, rec := range recs {
		if old, ok := last[rec.Split]; !ok || rec.Epoch >= old.Epoch {
			last[rec.Split] = rec
		}
	}
	t := &table{header: []string{"split", "epoch", "loss", "IoU (a) soft pooled", "IoU (c) per image", "F1", "paper IoU (epoch 50)"}}
	for _, split := range []string{experiment.SubsetTrain, experiment.SubsetTest} {
		rec, ok := last[split]
		if !ok {
			continue
		}
		paper := map[string]float64{experiment.SubsetTrain: PaperIoUTrain, experiment.SubsetTest: PaperIoUTest}[split]
		t.add(split, fmt.Sprint(rec.Epoch), research.FormatScore(rec.Loss), research.FormatScore(rec.IoUSoftPooled), research.FormatScore(rec.IoUPerImage), research.FormatScore(rec.F1), fmt.Sprint(paper))
		r.Numbers["last_epoch_iou_a_"+split] = rec.IoUSoftPooled
		r.Numbers["last_epoch_loss_"+split] = rec.Loss
		if !math.IsNaN(rec.IoUPerImage) {
			r.Numbers["last_epoch_iou_c_"+split] = rec.IoUPerImage
		}
	}
	if err := r.saveTable(s, "table-figure2", "Last epoch of training (from "+unet.MetricsFile+")"+dataTag(s), t); err != nil {
		return nil, err
	}
	r.note("Run folder: `%s`. Both splits are evaluated after each epoch, in inference mode, on unaugmented images: loss = Dice + focal over the split, IoU (a) = the paper's soft pooled IoU (solid), IoU (c) = per-image mean (dashed). "+
		"Keras' \"train\" curve, which the paper shows, is instead the running mean over the epoch's augmented batches while the weights change; `Study.Train` prints that training loss per epoch.", st.Run().Dir)
	return r, nil
}
