package unet

import (
	"image"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/research"
)

// evalSet is a split evaluated after the epochs, with its input batches
// assembled on first use and kept (the images do not change; on an
// accelerator they then stay on the device).
type evalSet struct {
	name     string
	set      []*transform.Prepared
	batches  []evalBatch
	memLimit *memoryLimit // followed after each batch; nil for none
}

// evalBatch is one evaluation batch: its first valid images are part, the
// others pad it to the batch size.
type evalBatch struct {
	images, masks *tensors.Tensor
	part          []*transform.Prepared
}

// evaluate computes the metrics rows (one per target) of the model on the
// set and the times it took. Every batch has batch images (the last one
// padded with empty images that the losses and metrics leave out), so one
// compiled graph serves every split and epoch; the per-image counts of the
// metrics are taken as each batch's probabilities arrive.
func (es *evalSet) evaluate(m *Model, batch, size int, targets []string) ([]research.EpochRecord, PhaseTimes, error) {
	var t PhaseTimes
	t0 := time.Now()
	if es.batches == nil {
		for start := 0; start < len(es.set); start += batch {
			part := es.set[start:min(start+batch, len(es.set))]
			imgs := make([]*image.Gray, batch)
			masks := make([][]*mask.Mask, batch)
			for i := range imgs {
				if i < len(part) {
					imgs[i], masks[i] = part[i].Image, targetMasks(part[i], targets)
				} else {
					imgs[i], masks[i] = image.NewGray(image.Rect(0, 0, size, size)), make([]*mask.Mask, len(targets))
				}
			}
			it, err := imagesTensor(imgs, size, m.Config.InChannels)
			if err != nil {
				return nil, t, err
			}
			mt, err := masksTensor(masks, size)
			if err != nil {
				return nil, t, err
			}
			es.batches = append(es.batches, evalBatch{images: it, masks: mt, part: part})
		}
	}
	t.EvalHost += time.Since(t0).Seconds()
	sumLoss := make([]float64, len(targets))
	counts := make([][]research.ImageCounts, len(targets))
	var device []float64
	var fresh []bool // the batch's shape ran for the first time (compiled)
	opt := research.DefaultMetricOptions()
	for _, b := range es.batches {
		t1 := time.Now()
		probs, losses, err := m.Evaluate(b.images, b.masks, len(b.part))
		if err != nil {
			return nil, t, err
		}
		t2 := time.Now()
		es.memLimit.follow()
		device = append(device, t2.Sub(t1).Seconds())
		fresh = append(fresh, !m.evalShapes[batch])
		m.evalShapes[batch] = true
		for k := range targets {
			sumLoss[k] += losses[k] * float64(len(b.part))
		}
		err = eachProbability(probs, func(i, k int, prob []float32) error {
			if i >= len(b.part) {
				return nil // padding
			}
			p := b.part[i]
			c, err := research.CountImage(research.Prediction{Name: p.Stem, Patient: p.Patient, Truth: p.Pix(targets[k]), Prob: prob}, opt.Threshold)
			counts[k] = append(counts[k], c)
			return err
		})
		probs.FinalizeAll()
		if err != nil {
			return nil, t, err
		}
		t.EvalHost += time.Since(t2).Seconds()
	}
	t0 = time.Now()
	rows := make([]research.EpochRecord, len(targets))
	for k, name := range targets {
		scores, err := research.Summarize(counts[k], opt)
		if err != nil {
			return nil, t, err
		}
		rows[k] = research.EpochRecord{Target: name, Loss: sumLoss[k] / float64(len(es.set)), IoUSoftPooled: scores.SoftPooledIoU,
			IoUPerImage: scores.PerImageIoU, F1: scores.SoftPooledF1}
	}
	t.EvalHost += time.Since(t0).Seconds()
	t.EvalDevice, t.Compile = splitCompile(device, fresh)
	return rows, t, nil
}
