package unet

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Starting weights (fine-tuning). A training with TrainConfig.Start set
// begins from another model's weights instead of a random initialisation:
// the model's variables (weights and batch-norm statistics) are read from
// that checkpoint before the first step, while the optimiser's state and
// the step count start afresh, as do the learning-rate schedule, the
// shuffling and the augmentation. A resumed run continues from its own
// checkpoints; the start only seeds a fresh one.

// readStartCheckpoint reads the checkpoint a start (TrainConfig.Start)
// names: path itself when it is a file; else the newest readable checkpoint
// of path's CheckpointsDir (a training folder, such as a run folder or a
// models folder's lungs/ or opacity/), read once.
func readStartCheckpoint(path string) (*Checkpoint, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("starting weights: %w", err)
	}
	if !fi.IsDir() {
		c, err := ReadCheckpoint(path)
		if err != nil {
			return nil, fmt.Errorf("starting weights: %w", err)
		}
		return c, nil
	}
	c, damaged, err := LatestCheckpoint(filepath.Join(path, CheckpointsDir))
	if err != nil {
		return nil, fmt.Errorf("starting weights: %w", err)
	}
	if c == nil {
		return nil, fmt.Errorf("starting weights %s: not a checkpoint file, and no checkpoint in its %s (of a models folder, name its lungs/ or opacity/ folder, except for a pair: opacity models, cv --pipeline)", path, CheckpointsDir)
	}
	if len(damaged) > 0 {
		return nil, fmt.Errorf("starting weights %s: a newer checkpoint is damaged: %w", path, errors.Join(damaged...))
	}
	return c, nil
}

// StartDigest returns the SHA-256 (hex) that identifies a start: of the
// file itself, or for a folder, of the list of its checkpoint files (every
// *.ckpt under it, with its path relative to the folder and its SHA-256),
// so that a models folder with a lung and an opacity model is identified by
// both. A run keyed by it (TrainConfig.StartSHA256) changes when the
// weights do, wherever the folder lies.
func StartDigest(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("starting weights: %w", err)
	}
	if !fi.IsDir() {
		return fileSHA256(path)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ckpt") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("starting weights: %w", err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("starting weights %s: no checkpoint (*.ckpt) under it", path)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		sum, err := fileSHA256(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(path, f)
		fmt.Fprintf(h, "%s  %s\n", sum, filepath.ToSlash(rel))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileSHA256 returns the SHA-256 (hex) of a file's contents.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readStart reads the start of cfg, checks that it is what keyed the run
// (StartSHA256, when set) and a model of cfg's architecture, and returns a
// checkpoint of its model variables only (no optimiser state, no step).
func readStart(cfg TrainConfig) (*Checkpoint, error) {
	if cfg.StartSHA256 != "" {
		sum, err := StartDigest(cfg.Start)
		if err != nil {
			return nil, err
		}
		if sum != cfg.StartSHA256 {
			return nil, fmt.Errorf("starting weights %s: changed since the run was named after them (SHA-256 %.12s…, now %.12s…)",
				cfg.Start, cfg.StartSHA256, sum)
		}
	}
	c, err := readStartCheckpoint(cfg.Start)
	if err != nil {
		return nil, err
	}
	file := c.Path
	if a, b := architecture(c.Meta.Config.Model), architecture(cfg.Model); a != b {
		return nil, fmt.Errorf("starting weights %s: a model of another architecture (%s; this run's is %s)", file, a, b)
	}
	for p := range c.variables {
		if !strings.HasPrefix(p, modelScope+"/") {
			delete(c.variables, p)
			delete(c.trainable, p)
		}
	}
	if len(c.variables) == 0 {
		return nil, fmt.Errorf("starting weights %s: no model variable (%s/...) in it", file, modelScope)
	}
	return c, nil
}

// architecture describes what decides the shapes of a model's variables:
// encoder, input channels, width, decoder, head and its outputs.
func architecture(m Config) string {
	enc := m.Encoder
	if enc == "" {
		enc = EncoderResNet18
	}
	return fmt.Sprintf("%s width %d, %d input channels, decoder %v, head kernel %d, targets %s",
		enc, m.Width, m.InChannels, m.DecoderChannels, m.HeadKernel, strings.Join(m.TargetList(), ","))
}
