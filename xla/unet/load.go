package unet

import (
	"fmt"
	"path/filepath"
)

// Loaded is a trained model read back from a training folder.
type Loaded struct {
	Model      *Model
	Config     TrainConfig // the configuration stored in the checkpoint
	Checkpoint string      // the checkpoint file the weights come from
	Epoch      int         // epochs completed at that checkpoint
	// Damaged lists the newer checkpoints that could not be read (each
	// error names its file); the weights come from an older one then.
	Damaged []error
}

// LoadModel reads the newest readable checkpoint of the training folder dir
// (dir/checkpoints, written by Train) into a model on the backend named by
// backendSpec (see NewBackend; empty means GOMLX_BACKEND or the Go
// backend). The configuration comes from the checkpoint itself.
func LoadModel(dir, backendSpec string) (*Loaded, error) {
	c, damaged, err := LatestCheckpoint(filepath.Join(dir, CheckpointsDir))
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("%s: no checkpoint in %s (has the training finished an epoch?)", dir, CheckpointsDir)
	}
	cfg := c.Meta.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: the configuration stored in it: %w", c.Path, err)
	}
	cfg.Dir = dir
	if backendSpec != "" {
		cfg.Backend = backendSpec
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
	return &Loaded{Model: m, Config: cfg, Checkpoint: c.Path, Epoch: c.Meta.Epoch, Damaged: damaged}, nil
}
