package xla

import (
	"fmt"
	"image"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/covidxray/opacity/datasets"
)

// imagesTensor packs gray images (all size x size) into a float32 tensor
// [B, size, size, channels] of intensities 0..255, repeating the gray level
// on every channel.
func imagesTensor(imgs []*image.Gray, size, channels int) (*tensors.Tensor, error) {
	data := make([]float32, len(imgs)*size*size*channels)
	for i, img := range imgs {
		b := img.Bounds()
		if b.Dx() != size || b.Dy() != size {
			return nil, fmt.Errorf("image %d is %dx%d, want %dx%d", i, b.Dx(), b.Dy(), size, size)
		}
		base := i * size * size * channels
		for y := 0; y < size; y++ {
			row := img.Pix[(y+b.Min.Y-img.Rect.Min.Y)*img.Stride+(b.Min.X-img.Rect.Min.X):]
			for x := 0; x < size; x++ {
				v := float32(row[x])
				o := base + (y*size+x)*channels
				for c := 0; c < channels; c++ {
					data[o+c] = v
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(data, len(imgs), size, size, channels), nil
}

// masksTensor packs masks (all size x size) into a float32 tensor
// [B, size, size, 1] of 0 and 1. A nil mask is empty.
func masksTensor(masks []*datasets.Mask, size int) (*tensors.Tensor, error) {
	data := make([]float32, len(masks)*size*size)
	for i, m := range masks {
		if m == nil {
			continue
		}
		if m.Width != size || m.Height != size {
			return nil, fmt.Errorf("mask %d is %dx%d, want %dx%d", i, m.Width, m.Height, size, size)
		}
		for j, p := range m.Pix {
			if p != 0 {
				data[i*size*size+j] = 1
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(data, len(masks), size, size, 1), nil
}

// splitProbabilities copies a probabilities tensor [B, H, W, 1] into one
// slice per image.
func splitProbabilities(t *tensors.Tensor) ([][]float32, error) {
	dims := t.Shape().Dimensions
	if len(dims) != 4 || dims[3] != 1 {
		return nil, fmt.Errorf("probabilities have shape %s, want [B, H, W, 1]", t.Shape())
	}
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	n := dims[1] * dims[2]
	out := make([][]float32, dims[0])
	for i := range out {
		out[i] = flat[i*n : (i+1)*n : (i+1)*n]
	}
	return out, nil
}
