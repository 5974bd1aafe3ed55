package unet

import (
	"fmt"
	"image"

	"github.com/covidxray/opacity/datasets/transform"
	"github.com/gomlx/gomlx/core/tensors"
)

// Predict returns the probabilities of every target for prepared images:
// out[i][t] holds Size*Size values (row-major) of target t (in the order of
// Config.TargetList) of image i. It runs in batches of batch.
func (m *Model) Predict(set []*transform.Prepared, batch int) ([][][]float32, error) {
	out := make([][][]float32, 0, len(set))
	if batch < 1 {
		batch = 1
	}
	for start := 0; start < len(set); start += batch {
		part := set[start:min(start+batch, len(set))]
		size := part[0].Image.Bounds().Dx()
		imgs := make([]*image.Gray, len(part))
		for i, p := range part {
			imgs[i] = p.Image
		}
		it, err := imagesTensor(imgs, size, m.Config.InChannels)
		if err != nil {
			return nil, err
		}
		probs, err := m.Probabilities(it)
		it.FinalizeAll()
		if err != nil {
			return nil, err
		}
		per, err := splitProbabilities(probs)
		probs.FinalizeAll()
		if err != nil {
			return nil, err
		}
		out = append(out, per...)
	}
	return out, nil
}

// splitProbabilities copies a probabilities tensor [B, H, W, T] into one
// slice per image and target, out[i][t] (H*W values, row-major).
func splitProbabilities(t *tensors.Tensor) ([][][]float32, error) {
	dims := t.Shape().Dimensions
	if len(dims) != 4 {
		return nil, fmt.Errorf("probabilities have shape %s, want [B, H, W, T]", t.Shape())
	}
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	n, nt := dims[1]*dims[2], dims[3]
	out := make([][][]float32, dims[0])
	for i := range out {
		out[i] = make([][]float32, nt)
		img := flat[i*n*nt : (i+1)*n*nt]
		for k := range out[i] {
			if nt == 1 {
				out[i][k] = img[:n:n]
				continue
			}
			ch := make([]float32, n)
			for j := range ch {
				ch[j] = img[j*nt+k]
			}
			out[i][k] = ch
		}
	}
	return out, nil
}
