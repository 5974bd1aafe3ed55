package unet

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

// masksTensor packs the target masks of a batch, masks[i][t] the mask of
// target t of image i (all size x size), into a float32 tensor
// [B, size, size, T] of 0 and 1. A nil mask is empty.
func masksTensor(masks [][]*datasets.Mask, size int) (*tensors.Tensor, error) {
	if len(masks) == 0 {
		return nil, fmt.Errorf("no masks")
	}
	nt := len(masks[0])
	data := make([]float32, len(masks)*size*size*nt)
	for i, ms := range masks {
		for t, m := range ms {
			if m == nil {
				continue
			}
			if m.Width != size || m.Height != size {
				return nil, fmt.Errorf("mask %d is %dx%d, want %dx%d", i, m.Width, m.Height, size, size)
			}
			base := i * size * size * nt
			for j, p := range m.Pix {
				if p != 0 {
					data[base+j*nt+t] = 1
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(data, len(masks), size, size, nt), nil
}

// targetMasks returns the masks of targets of a prepared image, in order.
func targetMasks(p *datasets.Prepared, targets []string) []*datasets.Mask {
	out := make([]*datasets.Mask, len(targets))
	for t, name := range targets {
		out[t] = p.Mask(name)
	}
	return out
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
