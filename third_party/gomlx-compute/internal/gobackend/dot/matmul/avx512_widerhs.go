// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"simd/archsimd"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot"
	"github.com/gomlx/compute/internal/gobackend/ops"
)

// Patch 14: a small lhs times a wide rhs that is a stack of slices, [M,
// K] x [K, N] with M and K at most a few dozen, N in the thousands and
// the rhs a Concatenate fused by patch 12 (a Winograd input transform: the
// Kronecker product of B^T with itself times the tiles of an image, each
// of the alpha² rows a strided slice of the zero-padded image), computed
// one block of columns at a time from the image itself: the block's rows
// are gathered from the image into a scratch in L1 and multiplied there,
// and the rhs matrix (2.25 or 4 times the image) is neither written nor
// read back. The lhs's zeros are skipped (B^T ⊗ B^T is 25% or 37%
// non-zero).
//
// Both paths this replaces compute each output as a chain of fused
// multiply-adds from zero in the order of k, acc = fma(rhs[k], lhs[k], acc)
// (the packed kernel within its first, here only, contracting panel; the
// small kernel's groups of four rows), and so does this one. A term with a
// zero lhs value adds a zero to acc, which leaves it as it is: acc starts
// at +0 and in round-to-nearest a sum is -0 only when both addends are, so
// acc is never -0 (except after a product that underflows below the
// smallest subnormal) and acc + ±0 == acc. Skipping those terms therefore
// gives the same bits, provided the rhs value is finite (0 times an
// infinity or a NaN is a NaN): a block of columns holding a non-finite
// value is computed with every term.
const (
	wideRHSMaxRows  = 64   // M, at most
	wideRHSMaxDepth = 64   // K, at most (within the packed kernel's first panel)
	wideRHSMinCols  = 1024 // N, at least
	wideRHSBlock    = 128  // columns of a block: 8 registers of 16
	wideRHSMinChunk = 1024 // fewest columns per core when split
)

func init() {
	gobackend.RegisterTransformation(49, wideRHSFusion{}) // after patch 12's (50)
}

// WideRHSFusionEnabled switches patch 14's graph transformation on (the
// default) or off; tests turn it off to compare with the op-by-op
// execution. Set it before compiling.
var WideRHSFusionEnabled = true

// wideRHSApplies reports whether a float32 product [M, K] x [K, N] can take
// patch 14's path: M a multiple of 4 (the small kernel's row groups) and
// at most wideRHSMaxRows, K at most wideRHSMaxDepth, N a multiple of 16
// and at least wideRHSMinCols.
func wideRHSApplies(m, n, k int) bool {
	return m > 0 && m%4 == 0 && m <= wideRHSMaxRows && k > 0 && k <= wideRHSMaxDepth &&
		n%16 == 0 && n >= wideRHSMinCols
}

// wideRHSFusion is patch 14's graph transformation.
type wideRHSFusion struct{}

// Name implements gobackend.GraphTransformation.
func (wideRHSFusion) Name() string { return "WideRHSFusion" }

// Apply implements gobackend.GraphTransformation: a float32 DotGeneral
// normalised to one non-transposed [M, K] x [K, N] product
// (wideRHSApplies) whose rhs is a Concatenate fused by patch 12, [K, N]
// (possibly through a Reshape), used by nothing else, gets the core tensor
// of the stack as its rhs input and wideRHSFused data. No node is created;
// the Concatenate, now unused, is not executed.
func (wideRHSFusion) Apply(b *gobackend.Builder) (bool, error) {
	if !WideRHSFusionEnabled || !archsimd.X86.AVX512() {
		return false, nil
	}
	uses, _ := b.NodeUses()
	for _, f := range b.Functions {
		for _, node := range f.Nodes {
			if node.OpType != compute.OpTypeDotGeneral || len(node.Inputs) != 2 {
				continue
			}
			params, ok := node.Data.(*dot.NodeData)
			if !ok || params.Layout != dot.LayoutNonTransposed || params.InputDType != dtypes.Float32 ||
				params.OutputDType != dtypes.Float32 || params.BatchSize != 1 ||
				!wideRHSApplies(params.LHSCrossSize, params.RHSCrossSize, params.ContractingSize) {
				continue
			}
			// The rhs, [1, K, N] in the normalised product: the stack
			// itself or a Reshape of it (the same values in the same order).
			m, n, k := params.LHSCrossSize, params.RHSCrossSize, params.ContractingSize
			rhs := node.Inputs[1]
			if rhs.OpType == compute.OpTypeReshape && uses[rhs] == 1 {
				rhs = rhs.Inputs[0]
			}
			if rhs.OpType != compute.OpTypeConcatenate || uses[rhs] != 1 || node.Inputs[0].Shape.DType != dtypes.Float32 {
				continue
			}
			stack := ops.StackedRowsOf(rhs)
			if stack == nil || stack.Rows != k || stack.Cols != n {
				continue
			}
			node.Inputs = []*gobackend.Node{node.Inputs[0], rhs.Inputs[0]}
			node.Data = &wideRHSFused{stack: stack, m: m, n: n, k: k}
		}
	}
	return false, nil
}

// wideRHSFused is the Data of a DotGeneral rewritten by wideRHSFusion: its
// inputs are the lhs and the core tensor of the stack of slices.
type wideRHSFused struct {
	stack   *ops.StackedRows
	m, n, k int
}

// ExecFused implements dot.FusedExecutor.
func (w *wideRHSFused) ExecFused(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer) (*gobackend.Buffer, error) {
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	lhs, core := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32)
	st := w.stack
	fill := func(dst []float32, c, width int) bool {
		for j := range w.k {
			offs, row := st.Offsets[j], dst[j*wideRHSBlock:j*wideRHSBlock+width]
			p, in := c/st.Width, c%st.Width
			for len(row) > 0 {
				n := min(st.Width-in, len(row))
				if o := int(offs[p]); o < 0 {
					clear(row[:n])
				} else {
					copy(row[:n], core[o+in:o+in+n])
				}
				row = row[n:]
				p, in = p+1, 0
			}
		}
		return wideRHSFinite(dst, w.k, width)
	}
	avx512WideRHSFloat32(backend, lhs, fill, w.m, w.n, w.k, output.Flat.([]float32))
	return output, nil
}

// wideRHSRow128 is one output row of a whole block in assembly
// (avx512_widerhs_amd64.s): for c < wideRHSBlock, out[c] = the sum over e
// < n, from zero in order with one fused multiply-add per term, of
// values[e] * block[offsets[e]/4 + c].
//
//go:noescape
func wideRHSRow128(block *float32, offsets *int, values *float32, n int, out *float32)

// wideRHSFinite reports whether the first width values of each of the k
// rows of a block (wideRHSBlock apart) are all finite: x*0 is a NaN exactly
// when x is an infinity or a NaN.
func wideRHSFinite(block []float32, k, width int) bool {
	zero := archsimd.BroadcastFloat32x16(0)
	c0, c1 := zero, zero
	for j := range k {
		row := block[j*wideRHSBlock : j*wideRHSBlock+width]
		v := 0
		for ; v+32 <= width; v += 32 {
			c0 = archsimd.LoadFloat32x16((*[16]float32)(row[v:v+16])).MulAdd(zero, c0)
			c1 = archsimd.LoadFloat32x16((*[16]float32)(row[v+16:v+32])).MulAdd(zero, c1)
		}
		for ; v < width; v += 16 {
			c0 = archsimd.LoadFloat32x16((*[16]float32)(row[v:v+16])).MulAdd(zero, c0)
		}
	}
	c0 = c0.Add(c1)
	return c0.Equal(c0).ToBits() == 0xFFFF
}

// wideRHSTerms are the terms of each output row: row i's are the rhs
// rows ks[start[i]:start[i+1]] with the lhs values as[...], in the order
// of k; offsets[e] is ks[e]'s row in the scratch, in bytes.
type wideRHSTerms struct {
	start   []int
	ks      []int
	offsets []int
	as      []float32
}

// newWideRHSTerms lists the terms of lhs [m, k]: its non-zero values when
// sparse, every value otherwise.
func newWideRHSTerms(lhs []float32, m, k int, sparse bool) wideRHSTerms {
	t := wideRHSTerms{start: make([]int, m+1), ks: make([]int, 0, m*k), as: make([]float32, 0, m*k)}
	for i := range m {
		for j, a := range lhs[i*k : (i+1)*k] {
			if a != 0 || !sparse {
				t.ks = append(t.ks, j)
				t.offsets = append(t.offsets, j*wideRHSBlock*4)
				t.as = append(t.as, a)
			}
		}
		t.start[i+1] = len(t.ks)
	}
	return t
}

// wideRHSFill writes columns [c, c+width) of the rhs's K rows into dst
// (row j at dst[j*wideRHSBlock:]) and reports whether they are all finite.
type wideRHSFill func(dst []float32, c, width int) (finite bool)

// avx512WideRHSFloat32 computes output [M, N] = lhs [M, K] x rhs [K, N]
// (wideRHSApplies), the rhs's rows given by fill, the columns split
// between idle cores.
func avx512WideRHSFloat32(backend *gobackend.Backend, lhs []float32, fill wideRHSFill, m, n, k int, output []float32) {
	sparse := newWideRHSTerms(lhs, m, k, true)
	dense := sparse
	if len(sparse.ks) < m*k {
		dense = newWideRHSTerms(lhs, m, k, false)
	}
	run := func(lo, hi int) {
		wideRHSColumns(&sparse, &dense, fill, output, m, n, k, lo*16, hi*16)
	}
	if backend == nil {
		run(0, n/16)
		return
	}
	backend.ParallelFor(n/16, wideRHSMinChunk/16, run)
}

// wideRHSColumns computes the columns [c0, c1) of the output (multiples of
// 16), wideRHSBlock columns at a time (fewer at the end): the block's rows
// of the rhs are gathered into a scratch and checked for non-finite values
// (fill), then each output row is summed from its terms.
func wideRHSColumns(sparse, dense *wideRHSTerms, fill wideRHSFill, output []float32, m, n, k, c0, c1 int) {
	var scratch [wideRHSMaxDepth * wideRHSBlock]float32
	zero := archsimd.BroadcastFloat32x16(0)
	for c := c0; c < c1; c += wideRHSBlock {
		width := min(wideRHSBlock, c1-c)
		t := sparse
		if !fill(scratch[:], c, width) {
			t = dense
		}
		if width == wideRHSBlock {
			for i := range m {
				lo, hi := t.start[i], t.start[i+1]
				if hi > lo {
					wideRHSRow128(&scratch[0], &t.offsets[lo], &t.as[lo], hi-lo, &output[i*n+c : i*n+c+wideRHSBlock][0])
				} else {
					clear(output[i*n+c : i*n+c+wideRHSBlock])
				}
			}
			continue
		}
		for v := 0; v < width; v += 16 { // the last columns, 16 at a time
			for i := range m {
				acc := zero
				for e := t.start[i]; e < t.start[i+1]; e++ {
					off := t.ks[e]*wideRHSBlock + v
					acc = archsimd.LoadFloat32x16((*[16]float32)(scratch[off:off+16])).MulAdd(archsimd.BroadcastFloat32x16(t.as[e]), acc)
				}
				acc.Store((*[16]float32)(output[i*n+c+v : i*n+c+v+16]))
			}
		}
	}
}
