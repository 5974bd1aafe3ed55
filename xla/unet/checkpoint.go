package unet

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla/unet/internal/ckptfile"
)

// CheckpointMeta is the training state stored with a checkpoint's weights.
type CheckpointMeta struct {
	Epoch      int                    `json:"epoch"`       // epochs completed
	GlobalStep int64                  `json:"global_step"` // training steps taken
	Config     TrainConfig            `json:"config"`      // the run's configuration
	Metrics    []research.EpochRecord `json:"metrics"`     // every row of metrics.csv so far
	Note       string                 `json:"note,omitempty"`
}

// SaveCheckpoint writes every variable of store (weights, batch-norm
// statistics, optimiser state, global step) and meta to path, atomically:
// it writes a temporary file in the same folder, syncs it and renames it.
// The format (package xla/unet/internal/ckptfile) is a magic line, a JSON
// header and the variables' raw little-endian data guarded by a CRC-32.
func SaveCheckpoint(path string, store *model.Store, meta CheckpointMeta) error {
	snap, err := Snapshot(store)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return snap.Write(path, meta)
}

// VarSnapshot is a copy of every variable of a store, taken between two
// training steps, that can be written while training goes on.
type VarSnapshot struct {
	vars []ckptfile.Var
}

// Snapshot copies every variable of store (in path order) into memory.
func Snapshot(store *model.Store) (*VarSnapshot, error) {
	var paths []string
	byPath := map[string]*model.Variable{}
	for v := range store.IterVariables() {
		paths = append(paths, v.Path())
		byPath[v.Path()] = v
	}
	sort.Strings(paths)
	snap := &VarSnapshot{vars: make([]ckptfile.Var, 0, len(paths))}
	for _, p := range paths {
		v := byPath[p]
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", p, err)
		}
		var raw []byte
		if err := t.ConstBytes(func(b []byte) { raw = append(raw, b...) }); err != nil {
			return nil, fmt.Errorf("variable %s: %w", p, err)
		}
		snap.vars = append(snap.vars, ckptfile.Var{Path: p, DType: int32(t.DType()), Dims: t.Shape().Dimensions,
			Trainable: v.Trainable, Data: raw})
	}
	return snap, nil
}

// Write writes the snapshot and meta to path atomically (see
// SaveCheckpoint).
func (s *VarSnapshot) Write(path string, meta CheckpointMeta) error {
	mb, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return ckptfile.Write(w, mb, s.vars) })
}

// checkpointWriter writes epoch checkpoints in the background, one at a
// time: Save waits for the previous write (and returns its error) before
// starting the next, so the training only waits when writing is slower than
// an epoch. Each write stays atomic.
type checkpointWriter struct {
	dir  string
	keep int
	done chan error // the running write's result; nil when none runs
}

// Save starts writing snap and meta to path, then prunes the folder to the
// newest keep checkpoints. It returns the error of the previous write.
func (w *checkpointWriter) Save(path string, snap *VarSnapshot, meta CheckpointMeta) error {
	if err := w.Wait(); err != nil {
		return err
	}
	w.done = make(chan error, 1)
	go func(done chan<- error) {
		err := snap.Write(path, meta)
		if err == nil {
			err = pruneCheckpoints(w.dir, w.keep)
		}
		done <- err
	}(w.done)
	return nil
}

// Wait waits for the running write, if any, and returns its error.
func (w *checkpointWriter) Wait() error {
	if w.done == nil {
		return nil
	}
	err := <-w.done
	w.done = nil
	return err
}

// Checkpoint is a checkpoint file read into memory.
type Checkpoint struct {
	Path      string
	Meta      CheckpointMeta
	variables map[string]*tensors.Tensor
	trainable map[string]bool
}

// ReadCheckpoint reads and verifies a checkpoint written by SaveCheckpoint.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	meta, vars, err := ckptfile.Decode(path, bufio.NewReader(f), fi.Size())
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Path: path, variables: map[string]*tensors.Tensor{}, trainable: map[string]bool{}}
	if err := json.Unmarshal(meta, &c.Meta); err != nil {
		return nil, fmt.Errorf("%s: training state: %w", path, err)
	}
	for _, v := range vars {
		t := tensors.FromShape(shapeFromDims(dtypes.DType(v.DType), v.Dims))
		if err := t.MutableBytes(func(b []byte) { copy(b, v.Data) }); err != nil {
			return nil, fmt.Errorf("%s: variable %s: %w", path, v.Path, err)
		}
		c.variables[v.Path] = t
		c.trainable[v.Path] = v.Trainable
	}
	return c, nil
}

// LoadVariable implements model.Loader: variables are taken from the
// checkpoint when the model creates them.
func (c *Checkpoint) LoadVariable(_ *model.Store, fullPath string) (*tensors.Tensor, bool) {
	t, ok := c.variables[fullPath]
	return t, ok
}

// DeleteVariable implements model.Loader.
func (c *Checkpoint) DeleteVariable(_ *model.Store, fullPath string) error {
	delete(c.variables, fullPath)
	return nil
}

// restore sets store's existing variables from the checkpoint and arranges
// for the others (the optimiser's, created with the training graph) to be
// loaded when created.
func (c *Checkpoint) restore(store *model.Store) error {
	for v := range store.IterVariables() {
		if t, ok := c.variables[v.Path()]; ok {
			if !t.Shape().Equal(v.Shape()) {
				return fmt.Errorf("%s: variable %s has shape %s, the model %s", c.Path, v.Path(), t.Shape(), v.Shape())
			}
			if err := v.SetValue(t); err != nil {
				return err
			}
		}
	}
	store.SetLoader(c)
	return nil
}

// checkpointPattern names the per-epoch checkpoints of a run.
const checkpointPattern = "epoch-%04d.ckpt"

// listCheckpoints returns the epoch checkpoints in dir, oldest first.
func listCheckpoints(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		var epoch int
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".ckpt") {
			if _, err := fmt.Sscanf(e.Name(), checkpointPattern, &epoch); err == nil {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// LatestCheckpoint returns the newest readable epoch checkpoint in dir, or
// nil when there is none, and the errors of the newer ones that could not be
// read (each names its file), so that a caller can say which damaged file
// made it fall back to an older checkpoint. When checkpoints exist but none
// is readable, the error names the newest one and why.
func LatestCheckpoint(dir string) (c *Checkpoint, damaged []error, err error) {
	files, err := listCheckpoints(dir)
	if err != nil {
		return nil, nil, err
	}
	for i := len(files) - 1; i >= 0; i-- {
		c, err := ReadCheckpoint(files[i])
		if err == nil {
			return c, damaged, nil
		}
		damaged = append(damaged, fmt.Errorf("checkpoint %s is damaged: %w", files[i], err))
	}
	if len(damaged) > 0 {
		return nil, damaged, fmt.Errorf("no readable checkpoint in %s: %w", dir, damaged[0])
	}
	return nil, nil, nil
}

// pruneCheckpoints removes all but the newest keep epoch checkpoints.
func pruneCheckpoints(dir string, keep int) error {
	files, err := listCheckpoints(dir)
	if err != nil {
		return err
	}
	for i := 0; i < len(files)-keep; i++ {
		if err := os.Remove(files[i]); err != nil {
			return err
		}
	}
	return nil
}

// ExportWeights writes to dst a checkpoint of src with only the model's
// variables (its weights and batch-norm statistics, the variables under
// /unet/), without the optimiser's state: a third of the size, enough for
// inference (LoadModel), not for resuming the training.
func ExportWeights(src, dst string) error {
	c, err := ReadCheckpoint(src)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(c.variables))
	for p := range c.variables {
		if strings.HasPrefix(p, modelScope+"/") {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return fmt.Errorf("%s: no model variable (%s/...) in the checkpoint", src, modelScope)
	}
	sort.Strings(paths)
	snap := &VarSnapshot{}
	for _, p := range paths {
		t := c.variables[p]
		var raw []byte
		if err := t.ConstBytes(func(b []byte) { raw = append(raw, b...) }); err != nil {
			return fmt.Errorf("%s: variable %s: %w", src, p, err)
		}
		snap.vars = append(snap.vars, ckptfile.Var{Path: p, DType: int32(t.DType()), Dims: t.Shape().Dimensions, Trainable: c.trainable[p], Data: raw})
	}
	meta := c.Meta
	meta.Note = strings.TrimSpace(meta.Note + " weights only (exported from " + filepath.Base(src) + ")")
	return snap.Write(dst, meta)
}
