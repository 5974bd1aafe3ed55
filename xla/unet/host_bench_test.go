package unet

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/research"
)

// Paper's cohort sizes: the host work of one of its epochs is what
// BenchmarkHostEpoch times.
const (
	paperTrainImages      = 154
	paperTestImages       = 67
	paperValidationImages = 25
)

// hostSet returns n prepared 320x320 images like lung crops: a textured
// image, two lung fields and an opacity disk of random place and size.
func hostSet(n int, seed uint64) []*transform.Prepared {
	rng := rand.New(rand.NewPCG(seed, 1))
	const size = transform.PaperSize
	out := make([]*transform.Prepared, n)
	for i := range out {
		img := image.NewGray(image.Rect(0, 0, size, size))
		lungs, op := mask.New(size, size), mask.New(size, size)
		for j := range img.Pix {
			img.Pix[j] = uint8(rng.IntN(256))
		}
		mask.RasterizeCircle(lungs, 90, 160, 70)
		mask.RasterizeCircle(lungs, 230, 160, 70)
		mask.RasterizeCircle(op, 60+200*rng.Float64(), 60+200*rng.Float64(), 10+40*rng.Float64())
		out[i] = &transform.Prepared{Stem: "x", Size: size, Image: img, Masks: map[string]*mask.Mask{datasets.TargetLungs: lungs, datasets.TargetOpacity: op}}
	}
	return out
}

// BenchmarkHostEpoch times the work on the host of one training epoch of the
// paper's cohort (154 training, 67 testing and 25 validation images) at
// 320x320, batches of 8, with the paper's augmentation, the device work
// left out:
//
//   - batch: drawing the augmentations, applying them and assembling the
//     19 steps' input tensors (assembleBatches, in parallel as in training;
//     the steps themselves are skipped);
//   - eval: for the 246 evaluated images, reading the probabilities the
//     device returns and the metrics' per-image counts and summaries (the
//     probabilities are made up; the forward passes are device work; the
//     evaluation's input tensors are assembled once per run, not per
//     epoch);
//   - snapshot: copying the paper model's variables and Adam state for the
//     epoch's checkpoint, the part that holds up the next step (the file is
//     written in the background).
//
// It reports each part's seconds per epoch and their sum, host-s/epoch.
func BenchmarkHostEpoch(b *testing.B) {
	const size, batch = transform.PaperSize, 8
	train := hostSet(paperTrainImages, 1)
	evalSet := hostSet(paperTrainImages+paperTestImages+paperValidationImages, 2)
	targets := []string{datasets.TargetOpacity}
	opt := transform.DefaultAugment()

	// The simulated device output: one probability tensor per eval batch,
	// smooth blobs as a model's.
	var probs []*tensors.Tensor
	for start := 0; start < len(evalSet); start += batch {
		p := make([]float32, batch*size*size)
		for i := range p {
			x, y := float64(i%size), float64(i/size%size)
			p[i] = float32(1 / (1 + math.Exp((math.Hypot(x-150, y-170)-40)/8)))
		}
		probs = append(probs, tensors.FromFlatDataAndDimensions(p, batch, size, size, 1))
	}

	// The paper's model with its Adam state (one step at 32x32 creates it).
	m, err := NewModel(goBackend(b), DefaultConfig(), 1, DefaultLearningRate)
	if err != nil {
		b.Fatal(err)
	}
	small := hostSet(1, 4)[0]
	it, _ := imagesTensor([]*image.Gray{transform.ResizeGray(small.Image, 32, 32)}, 32, 1)
	mt, _ := masksTensor([][]*mask.Mask{{transform.ResizeMask(small.Mask(datasets.TargetOpacity), 32, 32)}}, 32)
	if _, err := m.TrainStep(it, mt); err != nil {
		b.Fatal(err)
	}

	var batchS, evalS, snapS float64
	for b.Loop() {
		// Batches.
		t0 := time.Now()
		rngE := rand.New(rand.NewPCG(1, uint64(b.N)))
		order := rngE.Perm(len(train))
		jobs := make([]batchJob, len(train)/batch)
		for s := range jobs {
			jobs[s].idx = order[s*batch : (s+1)*batch]
			for range jobs[s].idx {
				jobs[s].plans = append(jobs[s].plans, transform.DrawAugment(rngE, opt, size, size))
			}
		}
		for rb := range assembleBatches(context.Background(), jobs, train, targets, size, 1) {
			if rb.err != nil {
				b.Fatal(rb.err)
			}
			rb.images.FinalizeAll()
			rb.masks.FinalizeAll()
		}
		t1 := time.Now()
		// Evaluation on the host.
		var counts []research.ImageCounts
		for k, p := range probs {
			err := eachProbability(p, func(i, _ int, prob []float32) error {
				if j := k*batch + i; j < len(evalSet) {
					c, err := research.CountImage(research.Prediction{Truth: evalSet[j].Pix(datasets.TargetOpacity), Prob: prob}, 0.5)
					counts = append(counts, c)
					return err
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		if _, err := research.Summarize(counts, research.DefaultMetricOptions()); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		// The checkpoint's snapshot.
		if _, err := Snapshot(m.Store()); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		batchS += t1.Sub(t0).Seconds()
		evalS += t2.Sub(t1).Seconds()
		snapS += t3.Sub(t2).Seconds()
	}
	n := float64(b.N)
	b.ReportMetric(batchS/n, "batch-s/epoch")
	b.ReportMetric(evalS/n, "eval-s/epoch")
	b.ReportMetric(snapS/n, "snapshot-s/epoch")
	b.ReportMetric((batchS+evalS+snapS)/n, "host-s/epoch")
}
