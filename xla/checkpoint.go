package xla

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// checkpointMagic starts every checkpoint file.
const checkpointMagic = "OPACITY-CKPT-1\n"

// CheckpointMeta is the training state stored with a checkpoint's weights.
type CheckpointMeta struct {
	Epoch      int            `json:"epoch"`       // epochs completed
	GlobalStep int64          `json:"global_step"` // training steps taken
	Config     TrainConfig    `json:"config"`      // the run's configuration
	Metrics    []EpochMetrics `json:"metrics"`     // every row of metrics.csv so far
	Note       string         `json:"note,omitempty"`
}

// ckptVar describes one variable in a checkpoint file.
type ckptVar struct {
	Path      string `json:"path"`
	DType     int32  `json:"dtype"`
	Dims      []int  `json:"dims"`
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Trainable bool   `json:"trainable"`
}

// ckptHeader is the JSON header of a checkpoint file.
type ckptHeader struct {
	Meta      CheckpointMeta `json:"meta"`
	Variables []ckptVar      `json:"variables"`
	DataBytes int64          `json:"data_bytes"`
	DataCRC32 uint32         `json:"data_crc32"`
}

// SaveCheckpoint writes every variable of store (weights, batch-norm
// statistics, optimiser state, global step) and meta to path, atomically:
// it writes a temporary file in the same folder, syncs it and renames it.
// The file is the magic line, the header length (8 bytes, little endian),
// the JSON header, then the variables' raw little-endian data, guarded by a
// CRC-32.
func SaveCheckpoint(path string, store *model.Store, meta CheckpointMeta) error {
	var vars []ckptVar
	var data bytes.Buffer
	var paths []string
	byPath := map[string]*model.Variable{}
	for v := range store.IterVariables() {
		paths = append(paths, v.Path())
		byPath[v.Path()] = v
	}
	sort.Strings(paths)
	for _, p := range paths {
		v := byPath[p]
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("%s: variable %s: %w", path, p, err)
		}
		var raw []byte
		if err := t.ConstBytes(func(b []byte) { raw = append(raw, b...) }); err != nil {
			return fmt.Errorf("%s: variable %s: %w", path, p, err)
		}
		vars = append(vars, ckptVar{Path: p, DType: int32(t.DType()), Dims: t.Shape().Dimensions,
			Offset: int64(data.Len()), Length: int64(len(raw)), Trainable: v.Trainable})
		data.Write(raw)
	}
	header, err := json.Marshal(ckptHeader{Meta: meta, Variables: vars, DataBytes: int64(data.Len()),
		DataCRC32: crc32.ChecksumIEEE(data.Bytes())})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var out bytes.Buffer
	out.WriteString(checkpointMagic)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	out.Write(n[:])
	out.Write(header)
	out.Write(data.Bytes())
	return writeFileAtomic(path, out.Bytes())
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and
// renames it over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
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
	r := bufio.NewReader(f)
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != checkpointMagic {
		return nil, fmt.Errorf("%s: not a checkpoint of this program (bad magic)", path)
	}
	var n [8]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, fmt.Errorf("%s: truncated header: %w", path, err)
	}
	hlen := binary.LittleEndian.Uint64(n[:])
	if hlen > 1<<30 {
		return nil, fmt.Errorf("%s: header length %d is implausible", path, hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("%s: truncated header: %w", path, err)
	}
	var h ckptHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if h.DataBytes < 0 || h.DataBytes > 1<<36 {
		return nil, fmt.Errorf("%s: data size %d is implausible", path, h.DataBytes)
	}
	data := make([]byte, h.DataBytes)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("%s: truncated data: %w", path, err)
	}
	if crc32.ChecksumIEEE(data) != h.DataCRC32 {
		return nil, fmt.Errorf("%s: data checksum mismatch (corrupt file)", path)
	}
	c := &Checkpoint{Path: path, Meta: h.Meta, variables: map[string]*tensors.Tensor{}, trainable: map[string]bool{}}
	for _, v := range h.Variables {
		dt := dtypes.DType(v.DType)
		size := 1
		for _, d := range v.Dims {
			if d < 0 {
				return nil, fmt.Errorf("%s: variable %s: negative dimension", path, v.Path)
			}
			size *= d
		}
		if v.Offset < 0 || v.Length < 0 || v.Offset+v.Length > int64(len(data)) ||
			int64(dt.SizeForDimensions(size)) != v.Length {
			return nil, fmt.Errorf("%s: variable %s: bad offset/length", path, v.Path)
		}
		t := tensors.FromShape(shapeFromDims(dt, v.Dims))
		if err := t.MutableBytes(func(b []byte) { copy(b, data[v.Offset:v.Offset+v.Length]) }); err != nil {
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

// LatestCheckpoint returns the newest readable epoch checkpoint in dir
// (skipping corrupt ones), or nil when there is none.
func LatestCheckpoint(dir string) (*Checkpoint, error) {
	files, err := listCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for i := len(files) - 1; i >= 0; i-- {
		c, err := ReadCheckpoint(files[i])
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return nil, fmt.Errorf("no readable checkpoint in %s: %w", dir, firstErr)
	}
	return nil, nil
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
