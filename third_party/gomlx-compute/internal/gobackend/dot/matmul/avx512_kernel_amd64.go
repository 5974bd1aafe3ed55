// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

// avx512KernelToOutput selects avx512LargeToOutputFloat32 for the float32
// products (tests turn it off to compare with the Go kernel and its packed
// lhs and output).
var avx512KernelToOutput = true

// avx512UnpackedRHSMaxRows and avx512UnpackedRHSMaxCols bound the
// products whose non-transposed rhs avx512LargeToOutputFloat32 reads where
// it lies: at most that many output rows in a worker's share and columns
// in the rhs. With more rows packing it pays (BenchmarkAVX512LargeSlice:
// with rows of the rhs a power of two apart, the unpacked reads conflict
// in the L1 cache), with fewer its cost is not amortised; with rows of the
// rhs far apart (a Winograd transform's [36, 16384] tiles) packing wins
// again.
var (
	avx512UnpackedRHSMaxRows = 64
	avx512UnpackedRHSMaxCols = 512
)

// avx512Kernel4x32Float32 is the 4x32 float32 micro-kernel in assembly
// (avx512_kernel_amd64.s), strides in values: out[r*outStride+c] =
// (out[r*outStride+c] if accumulate) + sum over p < k of
// lhs[r*lhsRowStride+p] * rhs[p*rhsKStep+c], for r < 4 and c <
// 32, the sum in the order of p with one fused multiply-add per step and
// the output's value added last: what avx512LargeKernelFloat32 and
// avx512ApplyPackedOutputFloat32 compute.
//
//go:noescape
func avx512Kernel4x32Float32(lhs *float32, lhsRowStride int, rhs *float32, rhsKStep int,
	out *float32, outStride, k int, accumulate bool)

// avx512LargeToOutputFloat32 multiplies one contracting panel into the
// output directly (overwriting on the first panel, adding after it), in
// 4x32 kernel tiles, with the lhs read where it lies: rows
// rowOffset...+height and columns contractingOffset...+contractingLen of
// lhsMatrix (rows lhsRowStride values apart; 4 sequential streams per
// tile, not packed). The rhs columns colOffset...+width are either packed
// (rhsPacked: groups of 32 columns, contractingLen deep, zero-padded, as
// avx512PackRHSNonTransposed writes them) or the rows
// contractingOffset... of an unpacked [contracting, rhsRowStride] matrix
// rhs, read where they lie. Tiles that the edges cut are computed from
// zero-padded copies (lhsScratch: 4*contractingLen values, rhsScratch:
// 32*contractingLen) into scratch (4*32) and their valid part written.
// Same arithmetic, in the same order, as packing both and the output:
// bit for bit the Go kernel's result.
func avx512LargeToOutputFloat32(
	lhsMatrix []float32, lhsRowStride, contractingOffset int,
	rhs []float32, rhsPacked bool, rhsRowStride int,
	lhsScratch, rhsScratch, scratch, output []float32,
	isFirstContractingPanel bool,
	rowOffset, colOffset, outputRowStride int,
	contractingLen, height, width int,
) {
	const kernelRows, kernelCols = 4, 32
	if contractingLen == 0 || height == 0 || width == 0 {
		return
	}
	_ = lhsMatrix[(rowOffset+height-1)*lhsRowStride+contractingOffset+contractingLen-1]
	if rhsPacked {
		_ = rhs[contractingLen*((width+kernelCols-1)/kernelCols*kernelCols)-1]
	} else {
		_ = rhs[(contractingOffset+contractingLen-1)*rhsRowStride+colOffset+width-1]
	}
	_ = output[(rowOffset+height-1)*outputRowStride+colOffset+width-1]
	_ = scratch[kernelRows*kernelCols-1]
	accumulate := !isFirstContractingPanel

	// The rhs of column group c: its first value and its step along the
	// contracting axis; a cut group of an unpacked rhs is copied, padded.
	var rhsCut *float32
	if !rhsPacked && width%kernelCols != 0 {
		c := width / kernelCols * kernelCols
		pad := rhsScratch[:contractingLen*kernelCols]
		clear(pad)
		for p := range contractingLen {
			start := (contractingOffset+p)*rhsRowStride + colOffset + c
			copy(pad[p*kernelCols:], rhs[start:start+width-c])
		}
		rhsCut = &pad[0]
	}
	rhsAt := func(c int) (*float32, int) {
		switch {
		case rhsPacked:
			return &rhs[c*contractingLen], kernelCols
		case c+kernelCols > width:
			return rhsCut, kernelCols
		default:
			return &rhs[contractingOffset*rhsRowStride+colOffset+c], rhsRowStride
		}
	}

	for r := 0; r < height; r += kernelRows {
		rows := min(kernelRows, height-r)
		lhs, lhsStride := &lhsMatrix[(rowOffset+r)*lhsRowStride+contractingOffset], lhsRowStride
		if rows < kernelRows {
			pad := lhsScratch[:kernelRows*contractingLen]
			clear(pad)
			for i := range rows {
				start := (rowOffset+r+i)*lhsRowStride + contractingOffset
				copy(pad[i*contractingLen:(i+1)*contractingLen], lhsMatrix[start:start+contractingLen])
			}
			lhs, lhsStride = &pad[0], contractingLen
		}
		for c := 0; c < width; c += kernelCols {
			rhsPtr, rhsStep := rhsAt(c)
			cols := min(kernelCols, width-c)
			outIdx := (rowOffset+r)*outputRowStride + colOffset + c
			if rows == kernelRows && cols == kernelCols {
				avx512Kernel4x32Float32(lhs, lhsStride, rhsPtr, rhsStep, &output[outIdx], outputRowStride, contractingLen, accumulate)
				continue
			}
			avx512Kernel4x32Float32(lhs, lhsStride, rhsPtr, rhsStep, &scratch[0], kernelCols, contractingLen, false)
			addOrCopyTile(output[outIdx:], scratch, outputRowStride, kernelCols, rows, cols, accumulate)
		}
	}
}

// addOrCopyTile copies (or, accumulating, adds) the first rows x cols
// values of src, rows srcStride apart, to dst, rows dstStride apart; the
// sum is src + dst, as the packed output's.
func addOrCopyTile(dst, src []float32, dstStride, srcStride, rows, cols int, accumulate bool) {
	for i := range rows {
		d := dst[i*dstStride : i*dstStride+cols]
		s := src[i*srcStride : i*srcStride+cols]
		if accumulate {
			for j, v := range s {
				d[j] = v + d[j]
			}
		} else {
			copy(d, s)
		}
	}
}
