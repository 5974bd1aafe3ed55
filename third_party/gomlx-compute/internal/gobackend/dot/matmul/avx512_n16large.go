// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"simd/archsimd"
	"slices"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot"
	"github.com/gomlx/compute/internal/gobackend/ops"
)

// Patch 17: a large float32 product with 16 columns, [M, K] x [K, 16],
// computed with the 16 columns in one AVX-512 register, eight rows at a
// time, reading the lhs and the rhs where they lie. The packed kernel it
// replaces is 4 rows x 32 columns wide: at 16 columns half of each of its
// multiply-adds is padding, and it packs the rhs and writes through a
// scratch tile. Such products are the convolutions with 16 output channels
// (the U-Net's full-resolution decoder layers, their input gradients, and
// the Winograd products of 16-channel tiles) and the head's input gradient.
//
// Same bits: the packed kernel computes each output, per contracting panel
// of AVX512ParamsFloat32.PanelContractingSize values, as a chain of fused
// multiply-adds from +0 in the order of k, and adds the panel's sum to the
// output of the panels before (v + out); so does this one.

// When the lhs is an im2col matrix (a Concatenate of slices fused by patch
// 4), a graph transformation (im2colN16Fusion) computes the product from
// the image itself, and likewise a weight gradient's [16, N] x [N, K]
// product whose rhs is one: the matrix's rows are read where they lie in
// the image (ops.SliceConcatRows), only those whose patches reach into the
// zero padding written into a small scratch first, as patch 4 writes them;
// the matrix (k*k times the image) is neither written to memory nor read
// back, and the values are those of the op-by-op product.

func init() {
	gobackend.RegisterTransformation(48, im2colN16Fusion{}) // after patches 4 and 12 (50) and 14 (49)
}

// Im2colN16FusionEnabled switches patch 17's graph transformation on (the
// default) or off; tests turn it off to compare with the op-by-op
// execution. Set it before compiling.
var Im2colN16FusionEnabled = true

// N16LargeEnabled switches patch 17's path on (the default) or off; tests
// turn it off to compare with the packed kernel.
var N16LargeEnabled = true

// n16MinChunkMACs is the fewest multiply-adds per core when patch 17's
// product is split between idle cores.
const n16MinChunkMACs = 1 << 18

// n16Rows8 is eight rows of the product in assembly
// (avx512_n16large_amd64.s): for r < 8 and c < 16, out[r*16+c] =
// (out[r*16+c] if accumulate) + the sum over p < k, from +0 in order with
// one fused multiply-add per term, of lhs[r*lhsRowStride+p] * rhs[p*16+c].
//
//go:noescape
func n16Rows8(lhs *float32, lhsRowStride int, rhs *float32, k int, out *float32, accumulate bool)

// avx512LargeN16Float32 computes output [B, M, 16] = lhs [B, M, K] x rhs
// [B, K, 16] (non-transposed layout, K > 0), the batch's rows split between
// idle cores in blocks of eight.
func avx512LargeN16Float32(backend *gobackend.Backend, lhs, rhs []float32, batchSize, m, k int, output []float32) {
	blocks := (m + 7) / 8
	run := func(lo, hi int) {
		for u := lo; u < hi; {
			b := u / blocks
			end := min(hi, (b+1)*blocks)
			r0, r1 := (u-b*blocks)*8, min(m, (end-b*blocks)*8)
			N16Rows(lhs[(b*m+r0)*k:(b*m+r1)*k], k, rhs[b*k*16:(b+1)*k*16], k, r1-r0, output[(b*m+r0)*16:(b*m+r1)*16])
			u = end
		}
	}
	if backend == nil {
		run(0, batchSize*blocks)
		return
	}
	backend.ParallelFor(batchSize*blocks, max(1, n16MinChunkMACs/(8*16*k)), run)
}

// N16Rows computes out [rows, 16] = lhs [rows, k] x rhs [k, 16] with the
// packed kernel's arithmetic (see patch 17 above); the lhs's rows are ld
// values apart. k > 0.
func N16Rows(lhs []float32, ld int, rhs []float32, k, rows int, out []float32) {
	if rows == 0 {
		return
	}
	_ = lhs[(rows-1)*ld+k-1]
	_ = rhs[k*16-1]
	_ = out[rows*16-1]
	panel := AVX512ParamsFloat32.PanelContractingSize
	r := 0
	for ; r+8 <= rows; r += 8 {
		for p := 0; p < k; p += panel {
			n16Rows8(&lhs[r*ld+p], ld, &rhs[p*16], min(panel, k-p), &out[r*16], p > 0)
		}
	}
	zero := archsimd.BroadcastFloat32x16(0)
	for ; r < rows; r++ {
		row := lhs[r*ld : r*ld+k]
		total := zero
		for p := 0; p < k; p += panel {
			acc := zero
			for q := p; q < min(p+panel, k); q++ {
				acc = archsimd.LoadFloat32x16((*[16]float32)(rhs[q*16:q*16+16])).MulAdd(archsimd.BroadcastFloat32x16(row[q]), acc)
			}
			if p == 0 {
				total = acc
			} else {
				total = acc.Add(total)
			}
		}
		total.Store((*[16]float32)(out[r*16 : r*16+16]))
	}
}

// im2colN16Fusion is patch 17's graph transformation.
type im2colN16Fusion struct{}

// Name implements gobackend.GraphTransformation.
func (im2colN16Fusion) Name() string { return "Im2colN16Fusion" }

// Apply implements gobackend.GraphTransformation: a float32 DotGeneral
// normalised to one non-transposed [M, K] x [K, 16] product that takes
// patch 17's path unfused (at least noSIMDSmallMatMulSizeThreshold
// multiply-adds), whose lhs is a Concatenate fused by patch 4 (possibly
// through a Reshape) used by nothing else, gets the Concatenate's core
// tensor as its lhs input and im2colN16Fused data; and a product [16, N] x
// [N, K] of the packed kernel whose rhs is such a Concatenate (a weight
// gradient, dY^T times the patches) gets its core as the rhs input and
// im2colDWFused data (im2colDWFusion). No node is created; the
// Concatenate, now unused, is not executed.
func (im2colN16Fusion) Apply(b *gobackend.Builder) (bool, error) {
	if !Im2colN16FusionEnabled || !N16LargeEnabled || !archsimd.X86.AVX512() {
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
				params.OutputDType != dtypes.Float32 || params.BatchSize != 1 || params.ContractingSize == 0 ||
				params.LHSCrossSize*params.ContractingSize*params.RHSCrossSize < noSIMDSmallMatMulSizeThreshold ||
				ForceSmallVariant {
				continue
			}
			if dw := im2colDWFusion(node, params, uses); dw != nil {
				node.Inputs = []*gobackend.Node{node.Inputs[0], dw.core}
				node.Data = dw.fused
				continue
			}
			m, k := params.LHSCrossSize, params.ContractingSize
			lhs := node.Inputs[0]
			if params.RHSCrossSize != 16 {
				continue
			}
			if lhs.OpType == compute.OpTypeReshape && uses[lhs] == 1 {
				lhs = lhs.Inputs[0]
			}
			if lhs.OpType != compute.OpTypeConcatenate || uses[lhs] != 1 || node.Inputs[1].Shape.DType != dtypes.Float32 {
				continue
			}
			rows := ops.SliceConcatRowsOf(lhs)
			if rows == nil || rows.Cols != k || rows.Positions*rows.Rows != m {
				continue
			}
			node.Inputs = []*gobackend.Node{lhs.Inputs[0], node.Inputs[1]}
			node.Data = &im2colN16Fused{rows: rows, m: m, k: k}
		}
	}
	return false, nil
}

// im2colN16Fused is the Data of a DotGeneral rewritten by im2colN16Fusion:
// its inputs are the core tensor of the im2col matrix and the rhs [K, 16].
type im2colN16Fused struct {
	rows *ops.SliceConcatRows
	m, k int
}

// ExecFused implements dot.FusedExecutor: the matrix's positions split
// between idle cores. Where a position's rows can be read where they lie
// in the image (im2colDirect), eight rows at a time are multiplied from
// there; the others (the rows whose patches reach into the zero padding)
// are written into a scratch first, as patch 4 writes them.
func (f *im2colN16Fused) ExecFused(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer) (*gobackend.Buffer, error) {
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	core, rhs, out := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32), output.Flat.([]float32)
	r := f.rows
	perPosition := r.Rows * f.k
	direct := im2colDirect(r)
	run := func(lo, hi int) {
		ref, scratch, ok := GetBuffer[float32](backend, perPosition)
		if ok {
			defer ReleaseBuffer(ref)
		} else {
			scratch = make([]float32, perPosition)
		}
		bases := make([]int, r.Slices())
		offs := make([]int, r.Slices())
		for pos := lo; pos < hi; pos++ {
			o := out[pos*r.Rows*16 : (pos+1)*r.Rows*16]
			if !direct {
				r.Write(scratch, core, pos, pos+1)
				N16Rows(scratch, f.k, rhs, f.k, r.Rows, o)
				continue
			}
			// Rows [x0, x1) from the image, in blocks of eight; the
			// others (the edges, every row where a slice lies in the
			// padding) written into the scratch first.
			x0, x1 := r.DirectRows(pos, bases, 0, r.Rows)
			x1 = x0 + (x1-x0)/8*8
			for x := 0; x < r.Rows; x++ {
				if x == x0 {
					x = x1
					if x >= r.Rows {
						break
					}
				}
				r.WriteRow(scratch[x*f.k:(x+1)*f.k], core, bases, x)
			}
			N16Rows(scratch, f.k, rhs, f.k, x0, o)
			N16Rows(scratch[x1*f.k:], f.k, rhs, f.k, r.Rows-x1, o[x1*16:])
			n16TapRows(core, bases, offs, r, rhs, f.k, x0, x1, o)
		}
	}
	backend.ParallelFor(r.Positions, max(1, n16MinChunkMACs/(perPosition*16)), run)
	return output, nil
}

// im2colDirect reports whether the fused product can read an im2col
// matrix's rows where they lie in the image: every slice the same width
// on the last axis, inside the image there, and the same step on the
// rows' axis (SliceConcatRows), the width a divisor of the contracting
// panel (so that each panel is whole slices).
func im2colDirect(r *ops.SliceConcatRows) bool {
	panel := AVX512ParamsFloat32.PanelContractingSize
	return r.Width > 0 && r.Step > 0 && panel%r.Width == 0
}

// n16TapRows computes the rows [x0, x1) (a multiple of eight of them) of a
// position of the fused product into o (the position's output rows) from
// the image core, with the arithmetic of N16Rows: per contracting panel,
// one chain of fused multiply-adds over its slices' values, added to the
// panels' before. offs is scratch, one per slice.
func n16TapRows(core []float32, bases, offs []int, r *ops.SliceConcatRows, rhs []float32, k, x0, x1 int, o []float32) {
	if x1 <= x0 {
		return
	}
	panel := AVX512ParamsFloat32.PanelContractingSize
	perPanel := panel / r.Width
	ld := 4 * r.Step * r.RowStride
	slices := r.Slices()
	// The core's values read: every slice of rows x0...x1-1.
	for i := range slices {
		_ = core[r.Offset(i, bases, x0)]
		_ = core[r.Offset(i, bases, x1-1)+r.Width-1]
	}
	for x := x0; x < x1; x += 8 {
		for i := range slices {
			offs[i] = 4 * r.Offset(i, bases, x)
		}
		for t := 0; t < slices; t += perPanel {
			n := min(perPanel, slices-t)
			n16Taps8(&core[0], &offs[t], n, r.Width, ld, &rhs[t*r.Width*16], &o[x*16], t > 0)
		}
	}
}

// n16Taps8 is eight rows of the fused product read from the image, in
// assembly (avx512_n16large_amd64.s): as n16Rows8 over k = ntaps*width
// values, row r's values t*width...(t+1)*width-1 at base + offs[t] +
// r*ld (in bytes).
//
//go:noescape
func n16Taps8(base *float32, offs *int, ntaps, width, ld int, rhs *float32, out *float32, accumulate bool)

// im2colDW is what im2colDWFusion found: the core tensor of the rhs and the
// fused product's data.
type im2colDW struct {
	core  *gobackend.Node
	fused *im2colDWFused
}

// im2colDWFusion returns the fused form of a DotGeneral (already checked to
// be a large non-transposed float32 product, params) [16, N] x [N, K] whose
// rhs is an im2col matrix that can be read where it lies (a Concatenate
// fused by patch 4, possibly through a Reshape, used by nothing else,
// im2colDirect, its slices whole blocks of 16 columns), or nil.
func im2colDWFusion(node *gobackend.Node, params *dot.NodeData, uses map[*gobackend.Node]int) *im2colDW {
	if params.LHSCrossSize != 16 || params.RHSCrossSize%16 != 0 || node.Inputs[0].Shape.DType != dtypes.Float32 {
		return nil
	}
	rhs := node.Inputs[1]
	if rhs.OpType == compute.OpTypeReshape && uses[rhs] == 1 {
		rhs = rhs.Inputs[0]
	}
	if rhs.OpType != compute.OpTypeConcatenate || uses[rhs] != 1 {
		return nil
	}
	rows := ops.SliceConcatRowsOf(rhs)
	if rows == nil || rows.Cols != params.RHSCrossSize || rows.Positions*rows.Rows != params.ContractingSize ||
		!im2colDirect(rows) || rows.Width%16 != 0 {
		return nil
	}
	return &im2colDW{core: rhs.Inputs[0], fused: &im2colDWFused{rows: rows, n: params.ContractingSize, kc: params.RHSCrossSize}}
}

// im2colDWFused is the Data of a DotGeneral rewritten by im2colDWFusion:
// its inputs are the lhs [16, N] and the core tensor of the im2col matrix
// [N, K].
//
// The packed kernel computes each output value, per contracting panel of
// AVX512ParamsFloat32.PanelContractingSize rows of the matrix, as a chain
// of fused multiply-adds from +0 in the order of the rows, and adds the
// panels' sums in order (v + out); so does this: each panel's [16, K] sums
// (the panels split between idle cores), then their sum in order.
type im2colDWFused struct {
	rows  *ops.SliceConcatRows
	n, kc int
}

// ExecFused implements dot.FusedExecutor: the panels split between idle
// cores; the first core's panels summed into the output as they come, the
// other cores' kept and added after them, in order.
func (f *im2colDWFused) ExecFused(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer) (*gobackend.Buffer, error) {
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	lhs, core, out := inputs[0].Flat.([]float32), inputs[1].Flat.([]float32), output.Flat.([]float32)
	panel := AVX512ParamsFloat32.PanelContractingSize
	panels := (f.n + panel - 1) / panel
	size := 16 * f.kc
	type part struct {
		lo   int
		sums []float32 // the panels' [16, K] sums, one after the other
	}
	var (
		mu    sync.Mutex
		parts []part
	)
	run := func(lo, hi int) {
		scratch := make([]float32, panel*f.kc)
		acc := make([]float32, size)
		bases := make([]int, f.rows.Slices())
		offs := make([]int, f.kc/16)
		var sums []float32
		if lo > 0 {
			sums = make([]float32, (hi-lo)*size)
		}
		for p := lo; p < hi; p++ {
			clear(acc)
			f.panel(acc, lhs, core, scratch, bases, offs, p*panel, min(f.n, (p+1)*panel))
			if lo > 0 {
				f.tiles(acc, sums[(p-lo)*size:(p-lo+1)*size])
				continue
			}
			f.tiles(acc, scratch[:size])
			addPanel(out, scratch[:size], p == 0)
		}
		if lo > 0 {
			mu.Lock()
			parts = append(parts, part{lo: lo, sums: sums})
			mu.Unlock()
		}
	}
	backend.ParallelFor(panels, max(1, n16MinChunkMACs/(panel*size)), run)
	slices.SortFunc(parts, func(a, b part) int { return a.lo - b.lo })
	for _, pt := range parts {
		for p := 0; p*size < len(pt.sums); p++ {
			addPanel(out, pt.sums[p*size:(p+1)*size], false)
		}
	}
	return output, nil
}

// addPanel adds a panel's sums to out (v + out, as the packed kernel adds
// a panel to the panels before), or copies them for the first.
func addPanel(out, sum []float32, first bool) {
	if first {
		copy(out, sum)
		return
	}
	for i, v := range sum {
		out[i] = v + out[i]
	}
}

// panel continues acc's chains (dwTile4's and dwTile1's tiles, in the
// order tiles walks them) over the matrix rows [r0, r1), position by
// position: rows that can be read where they lie in the image from there,
// the others (whose patches reach into the zero padding) from scratch.
func (f *im2colDWFused) panel(acc, lhs, core, scratch []float32, bases, offs []int, r0, r1 int) {
	rs := f.rows
	for r := r0; r < r1; {
		pos, x := r/rs.Rows, r%rs.Rows
		end := min(r1, (pos+1)*rs.Rows)
		xe := x + end - r
		d0, d1 := rs.DirectRows(pos, bases, x, xe)
		f.scratchRows(acc, lhs, core, scratch, bases, offs, r, x, d0)
		if d1 > d0 {
			ld := 4 * rs.Step * rs.RowStride
			for cb := range offs {
				i, within := cb*16/rs.Width, cb*16%rs.Width
				offs[cb] = 4 * (rs.Offset(i, bases, d0) + within)
				_ = core[rs.Offset(i, bases, d1-1)+within+15]
			}
			f.chains(acc, lhs, r+d0-x, &core[0], offs, ld, d1-d0)
		}
		f.scratchRows(acc, lhs, core, scratch, bases, offs, r+d1-x, d1, xe)
		r = end
	}
}

// scratchRows continues acc's chains over the rows x0...x1-1 of a
// position (matrix rows from r), written into scratch first.
func (f *im2colDWFused) scratchRows(acc, lhs, core, scratch []float32, bases, offs []int, r, x0, x1 int) {
	if x1 <= x0 {
		return
	}
	for x := x0; x < x1; x++ {
		f.rows.WriteRow(scratch[(x-x0)*f.kc:(x-x0+1)*f.kc], core, bases, x)
	}
	for cb := range offs {
		offs[cb] = 4 * 16 * cb
	}
	f.chains(acc, lhs, r, &scratch[0], offs, 4*f.kc, x1-x0)
}

// chains continues acc's chains over rows matrix rows from r, column block
// cb of row i at base + offs[cb] + i*ld (bytes): for each 4 rows of the lhs,
// the column blocks four at a time (dwTile4), then one at a time (dwTile1).
func (f *im2colDWFused) chains(acc, lhs []float32, r int, base *float32, offs []int, ld, rows int) {
	_ = lhs[15*f.n+r+rows-1]
	t := 0
	for m0 := 0; m0 < 16; m0 += 4 {
		l := &lhs[m0*f.n+r]
		for j := 0; j < len(offs); {
			if len(offs)-j >= 4 {
				dwTile4(&acc[t], l, 4*f.n, base, &offs[j], ld, rows)
				t, j = t+4*4*16, j+4
				continue
			}
			dwTile1(&acc[t], l, 4*f.n, base, &offs[j], ld, rows)
			t, j = t+4*16, j+1
		}
	}
}

// tiles copies acc's tiles (in chains' order) to the [16, K] matrix sum.
func (f *im2colDWFused) tiles(acc, sum []float32) {
	ncb := f.kc / 16
	t := 0
	for m0 := 0; m0 < 16; m0 += 4 {
		for j := 0; j < ncb; {
			g := 1
			if ncb-j >= 4 {
				g = 4
			}
			for m := range 4 {
				for jj := range g {
					copy(sum[(m0+m)*f.kc+(j+jj)*16:(m0+m)*f.kc+(j+jj+1)*16], acc[t+(m*g+jj)*16:t+(m*g+jj+1)*16])
				}
			}
			t, j = t+4*g*16, j+g
		}
	}
}

// dwTile4 and dwTile1 continue a tile of chains of the fused weight
// gradient in assembly (avx512_n16large_amd64.s): for m < 4, j < 4 (1) and
// c < 16, acc[(m*4+j)*16+c] (acc[m*16+c]) += lhs[m*lhsStride/4+r] * the
// value c of column block j in row r, at base + offs[j] + r*ld, one fused
// multiply-add per row r < rows, in order (strides and offsets in bytes).
//
//go:noescape
func dwTile4(acc *float32, lhs *float32, lhsStride int, base *float32, offs *int, ld, rows int)

//go:noescape
func dwTile1(acc *float32, lhs *float32, lhsStride int, base *float32, offs *int, ld, rows int)
