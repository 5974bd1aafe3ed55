package xla

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
)

// Run is a trained model read back from a run folder.
type Run struct {
	Dir        string
	Config     TrainConfig // config.json, with Dir set
	Model      *Model
	Checkpoint string // the checkpoint file the weights come from
	Epoch      int    // epochs completed at that checkpoint
}

// LoadRun opens the run folder dir written by Train: its config.json and
// its newest epoch checkpoint, on the backend named by backendSpec (see
// NewBackend; empty means GOMLX_BACKEND or the Go backend).
func LoadRun(dir, backendSpec string) (*Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("%s: not a training run folder: %w", dir, err)
	}
	var cfg TrainConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	cfg.Dir = dir
	c, err := LatestCheckpoint(filepath.Join(dir, CheckpointsDir))
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("%s: no checkpoint yet (has the training finished an epoch?)", dir)
	}
	if spec := backendSpec; spec != "" {
		cfg.Backend = spec
	}
	backend, err := NewBackend(backendSpec)
	if err != nil {
		return nil, err
	}
	m, err := NewModel(backend, cfg.Model, cfg.Seed, cfg.LearningRate)
	if err != nil {
		return nil, err
	}
	if err := m.Restore(c); err != nil {
		return nil, err
	}
	if err := m.InitVariables(cfg.Size, cfg.Size); err != nil {
		return nil, err
	}
	return &Run{Dir: dir, Config: cfg, Model: m, Checkpoint: c.Path, Epoch: c.Meta.Epoch}, nil
}

// PrepareLabelme reads a labelme annotation with its image (embedded or
// beside the file) and crops and resizes it as in training (lung bounding
// box with datasets.DefaultMargin, size x size). The sample keeps the
// full-resolution masks.
func PrepareLabelme(path string, size int) (*datasets.Prepared, *datasets.Sample, error) {
	l, err := datasets.ReadLabelme(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := datasets.LabelmeSample("", path, l, datasets.LoadOptions{Images: true})
	if err != nil {
		return nil, nil, err
	}
	if s.Image == nil {
		return nil, nil, fmt.Errorf("%s: no image (neither embedded nor beside the file)", path)
	}
	p, err := datasets.Prepare(s, size, datasets.DefaultMargin)
	if err != nil {
		return nil, nil, err
	}
	return p, s, nil
}

// Prediction is the model's output for one prepared image.
type Prediction struct {
	Prob []float32      // opacity probability per pixel, Size*Size, row-major
	Mask *datasets.Mask // Prob > Threshold
	// OpacityPercent is 100 |predicted opacity ∩ lung| / |lung| on the
	// prepared (cropped, resized) grid, the paper's opacity percentage.
	OpacityPercent float64
}

// Threshold turns probabilities into the predicted opacity mask.
const Threshold = research.DefaultThreshold

// PredictPrepared runs the model on prepared images (in batches of batch)
// and derives the masks and opacity percentages.
func (m *Model) PredictPrepared(set []*datasets.Prepared, batch int) ([]Prediction, error) {
	probs, err := m.Predict(set, batch)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, len(set))
	for i, p := range set {
		mask := datasets.NewMask(p.Size, p.Size)
		for j, v := range probs[i] {
			if v > Threshold {
				mask.Pix[j] = 1
			}
		}
		pct, err := research.PredictedOpacityPercent(p.Lung.Pix, probs[i], Threshold)
		if err != nil {
			if errors.Is(err, research.ErrEmptyLung) {
				return nil, fmt.Errorf("%s: %w", p.Stem, err)
			}
			return nil, err
		}
		out[i] = Prediction{Prob: probs[i], Mask: mask, OpacityPercent: pct}
	}
	return out, nil
}

// MaskImage renders a mask as a black-and-white image (255 where set).
func MaskImage(m *datasets.Mask) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, m.Width, m.Height))
	for i, p := range m.Pix {
		if p != 0 {
			img.Pix[i] = 255
		}
	}
	return img
}

// Overlay renders a prepared image with the predicted opacity filled in red,
// the lung mask's outline in green and, when the image has a manual opacity
// mask, its outline in yellow, each input pixel drawn as a scale×scale block
// (scale < 1 counts as 1) with outlines one output pixel wide, so that a
// 64×64 input stays legible (OverlayScale).
func Overlay(p *datasets.Prepared, predicted *datasets.Mask, scale int) *image.RGBA {
	scale = max(scale, 1)
	b := p.Image.Bounds()
	w, h := b.Dx()*scale, b.Dy()*scale
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g := p.Image.GrayAt(b.Min.X+x/scale, b.Min.Y+y/scale).Y
			c := color.RGBA{g, g, g, 255}
			if predicted != nil && predicted.At(x/scale, y/scale) {
				c.R = uint8(0.55*float64(g) + 0.45*255)
				c.G = uint8(0.55 * float64(g))
				c.B = uint8(0.55 * float64(g))
			}
			if outline(p.Lung, x, y, scale) {
				c = color.RGBA{0, 220, 0, 255}
			}
			if outline(p.Opacity, x, y, scale) {
				c = color.RGBA{255, 230, 0, 255}
			}
			out.SetRGBA(x, y, c)
		}
	}
	return out
}

// OverlayScale returns the scale at which Overlay draws an input of the
// given side at least 256 pixels wide.
func OverlayScale(side int) int {
	if side <= 0 {
		return 1
	}
	return max(1, (256+side-1)/side)
}

// outline reports whether the output pixel (x, y) of m drawn at scale
// (each mask pixel a scale×scale block) is set with an unset 4-neighbour.
func outline(m *datasets.Mask, x, y, scale int) bool {
	at := func(x, y int) bool { return x >= 0 && y >= 0 && m.At(x/scale, y/scale) }
	if m == nil || !at(x, y) {
		return false
	}
	return !at(x-1, y) || !at(x+1, y) || !at(x, y-1) || !at(x, y+1)
}
