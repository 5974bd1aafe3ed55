package unet

import (
	"context"
	"fmt"
	"image"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
)

// imagesTensor packs gray images (all size x size) into a float32 tensor
// [B, size, size, channels] of intensities 0..255, repeating the gray level
// on every channel.
func imagesTensor(imgs []*image.Gray, size, channels int) (*tensors.Tensor, error) {
	for i, img := range imgs {
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			return nil, fmt.Errorf("image %d is %dx%d, want %dx%d", i, b.Dx(), b.Dy(), size, size)
		}
	}
	t := tensors.FromShape(shapes.Make(dtypes.Float32, len(imgs), size, size, channels))
	err := tensors.MutableFlatData(t, func(data []float32) {
		for i, img := range imgs {
			b := img.Bounds()
			base := i * size * size * channels
			for y := 0; y < size; y++ {
				row := img.Pix[(y+b.Min.Y-img.Rect.Min.Y)*img.Stride+(b.Min.X-img.Rect.Min.X):][:size]
				out := data[base+y*size*channels : base+(y+1)*size*channels]
				if channels == 1 {
					for x, v := range row {
						out[x] = float32(v)
					}
					continue
				}
				for x, v := range row {
					for c := 0; c < channels; c++ {
						out[x*channels+c] = float32(v)
					}
				}
			}
		}
	})
	return t, err
}

// masksTensor packs the target masks of a batch, masks[i][t] the mask of
// target t of image i (all size x size), into a float32 tensor
// [B, size, size, T] of 0 and 1. A nil mask is empty.
func masksTensor(masks [][]*mask.Mask, size int) (*tensors.Tensor, error) {
	if len(masks) == 0 {
		return nil, fmt.Errorf("no masks")
	}
	nt := len(masks[0])
	for i, ms := range masks {
		for _, m := range ms {
			if m != nil && (m.Width != size || m.Height != size) {
				return nil, fmt.Errorf("mask %d is %dx%d, want %dx%d", i, m.Width, m.Height, size, size)
			}
		}
	}
	out := tensors.FromShape(shapes.Make(dtypes.Float32, len(masks), size, size, nt))
	err := tensors.MutableFlatData(out, func(data []float32) {
		for i, ms := range masks {
			base := i * size * size * nt
			for t, m := range ms {
				if m == nil {
					continue
				}
				for j, p := range m.Pix {
					data[base+j*nt+t] = float32(min(p, 1)) // 0 or 1
				}
			}
		}
	})
	return out, err
}

// targetMasks returns the masks of targets of a prepared image, in order.
func targetMasks(p *transform.Prepared, targets []string) []*mask.Mask {
	out := make([]*mask.Mask, len(targets))
	for t, name := range targets {
		out[t] = p.Mask(name)
	}
	return out
}

// eachProbability calls fn with the probabilities of every image i and
// target k of a tensor [B, H, W, T], without copying the tensor: p is only
// valid during the call (a reused buffer when T > 1).
func eachProbability(t *tensors.Tensor, fn func(i, k int, p []float32) error) error {
	dims := t.Shape().Dimensions
	if len(dims) != 4 {
		return fmt.Errorf("probabilities have shape %s, want [B, H, W, T]", t.Shape())
	}
	n, nt := dims[1]*dims[2], dims[3]
	var ferr error
	err := tensors.ConstFlatData(t, func(flat []float32) {
		buf := make([]float32, n)
		for i := 0; i < dims[0] && ferr == nil; i++ {
			img := flat[i*n*nt : (i+1)*n*nt]
			for k := 0; k < nt && ferr == nil; k++ {
				p := img
				if nt > 1 {
					for j := range buf {
						buf[j] = img[j*nt+k]
					}
					p = buf
				}
				ferr = fn(i, k, p)
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// batchJob is one training step's images (indices into the training set)
// and their drawn augmentations.
type batchJob struct {
	idx   []int
	plans []transform.AugmentPlan
}

// readyBatch is an assembled training batch, or the error that stopped it.
type readyBatch struct {
	images, masks *tensors.Tensor
	seconds       float64 // time spent augmenting and assembling it
	err           error
}

// batchesAhead is how many assembled batches may wait for their step.
const batchesAhead = 2

// assembleBatches applies the jobs' augmentations, each batch's images in
// parallel, and assembles the input tensors, in job order, sending each
// batch on the returned channel up to batchesAhead before it is needed. The
// channel is closed after the last batch, an error, or ctx's end.
func assembleBatches(ctx context.Context, jobs []batchJob, train []*transform.Prepared, targets []string, size, channels int) <-chan readyBatch {
	out := make(chan readyBatch, batchesAhead)
	go func() {
		defer close(out)
		for _, job := range jobs {
			t0 := time.Now()
			imgs := make([]*image.Gray, len(job.idx))
			masks := make([][]*mask.Mask, len(job.idx))
			datasets.Parallel(len(job.idx), func(i int) {
				p := train[job.idx[i]]
				imgs[i], masks[i] = job.plans[i].Apply(p.Image, targetMasks(p, targets)...)
			})
			b := readyBatch{}
			b.images, b.err = imagesTensor(imgs, size, channels)
			if b.err == nil {
				b.masks, b.err = masksTensor(masks, size)
			}
			b.seconds = time.Since(t0).Seconds()
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	return out
}
