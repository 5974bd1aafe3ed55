// Package ckptfile is the on-disk format of package unet's checkpoints: a
// magic line, the length of a JSON header (8 bytes, little endian), the
// header, then the variables' raw bytes, guarded by a CRC-32. It knows
// nothing of tensors, so that it can be fuzzed quickly.
package ckptfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
)

// Magic starts every checkpoint file.
const Magic = "OPACITY-CKPT-1\n"

// Var is one variable: its path, dtype (GoMLX's dtypes.DType value),
// dimensions and raw little-endian data.
type Var struct {
	Path      string
	DType     int32
	Dims      []int
	Trainable bool
	Data      []byte
}

// varEntry is a variable in the header.
type varEntry struct {
	Path      string `json:"path"`
	DType     int32  `json:"dtype"`
	Dims      []int  `json:"dims"`
	Offset    int64  `json:"offset"`
	Length    int64  `json:"length"`
	Trainable bool   `json:"trainable"`
}

type header struct {
	Meta      json.RawMessage `json:"meta"`
	Variables []varEntry      `json:"variables"`
	DataBytes int64           `json:"data_bytes"`
	DataCRC32 uint32          `json:"data_crc32"`
}

// ElementSize returns the bytes per element of the dtypes a checkpoint may
// hold (float32 = 11, int64 = 5 and uint64 = 9, the random generator's
// state, in GoMLX's numbering), 0 for others.
func ElementSize(dtype int32) int {
	switch dtype {
	case 11: // Float32
		return 4
	case 5, 9: // Int64, Uint64
		return 8
	}
	return 0
}

// Encode returns the file bytes of meta (any JSON value) and vars.
func Encode(meta json.RawMessage, vars []Var) ([]byte, error) {
	var out bytes.Buffer
	if err := Write(&out, meta, vars); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Write writes the file of meta (any JSON value) and vars to w, streaming
// the variables' data from vars (no copy of it is made).
func Write(w io.Writer, meta json.RawMessage, vars []Var) error {
	h := header{Meta: meta}
	crc := crc32.NewIEEE()
	var offset int64
	for _, v := range vars {
		h.Variables = append(h.Variables, varEntry{Path: v.Path, DType: v.DType, Dims: v.Dims,
			Offset: offset, Length: int64(len(v.Data)), Trainable: v.Trainable})
		offset += int64(len(v.Data))
		crc.Write(v.Data)
	}
	h.DataBytes = offset
	h.DataCRC32 = crc.Sum32()
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hb)))
	for _, b := range [][]byte{[]byte(Magic), n[:], hb} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	for _, v := range vars {
		if _, err := w.Write(v.Data); err != nil {
			return err
		}
	}
	return nil
}

// Decode reads a checkpoint of size bytes from r and verifies it: the
// magic, the lengths against the file size, the checksum, and every
// variable's dtype, dimensions and extent. name labels errors.
func Decode(name string, r io.Reader, size int64) (meta json.RawMessage, vars []Var, err error) {
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != Magic {
		return nil, nil, fmt.Errorf("%s: not a checkpoint of this program (bad magic)", name)
	}
	var n [8]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated header: %w", name, err)
	}
	hlen := binary.LittleEndian.Uint64(n[:])
	rest := size - int64(len(Magic)) - 8
	if hlen > uint64(max(rest, 0)) {
		return nil, nil, fmt.Errorf("%s: header length %d does not fit the file (truncated?)", name, hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated header: %w", name, err)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", name, err)
	}
	if h.DataBytes < 0 || h.DataBytes > rest-int64(hlen) {
		return nil, nil, fmt.Errorf("%s: data size %d does not fit the file (truncated?)", name, h.DataBytes)
	}
	data := make([]byte, h.DataBytes)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated data: %w", name, err)
	}
	if crc32.ChecksumIEEE(data) != h.DataCRC32 {
		return nil, nil, fmt.Errorf("%s: data checksum mismatch (corrupt file)", name)
	}
	for _, e := range h.Variables {
		es := ElementSize(e.DType)
		if es == 0 {
			return nil, nil, fmt.Errorf("%s: variable %s: unsupported dtype %d", name, e.Path, e.DType)
		}
		count := int64(1)
		for _, d := range e.Dims {
			if d < 0 || (d > 0 && count > int64(len(data))/int64(d)) {
				return nil, nil, fmt.Errorf("%s: variable %s: bad dimensions %v", name, e.Path, e.Dims)
			}
			count *= int64(d)
		}
		if e.Offset < 0 || e.Length < 0 || e.Offset > int64(len(data))-e.Length || int64(es)*count != e.Length {
			return nil, nil, fmt.Errorf("%s: variable %s: bad offset or length", name, e.Path)
		}
		vars = append(vars, Var{Path: e.Path, DType: e.DType, Dims: e.Dims, Trainable: e.Trainable,
			Data: data[e.Offset : e.Offset+e.Length : e.Offset+e.Length]})
	}
	return h.Meta, vars, nil
}
