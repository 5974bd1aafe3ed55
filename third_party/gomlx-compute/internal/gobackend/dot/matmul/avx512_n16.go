// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import "simd/archsimd"

// avx512SmallN16Float32 is the small float32 product in the non-transposed
// layout with exactly 16 rhs columns (patch 13: a batch norm's channel
// sums, [1, N] x [N, 16], went to the generic scalar loop, which walks the
// rhs four columns at a time), the 16 columns in one AVX-512 register,
// with the arithmetic of smallNoSIMDGeneric lane by lane: each product
// rounded before it is added (a multiply and an add, no fused
// multiply-add: the generic loop's explicit conversion keeps Go from
// fusing them), in its order, which differs by row: rows in its groups of
// three (row < 3*floor(rows/3)) sum zero plus the products in the order of
// k; the other rows add the products four at a time, ((p0+p1)+p2)+p3,
// to the sum, then the last k%4 one by one. The result is the same bit
// for bit. The batch's matrices one after the other.
func avx512SmallN16Float32(lhs, rhs []float32, batchSize, lhsCrossSize, contractingSize int, output []float32) {
	const n = 16
	zero := archsimd.BroadcastFloat32x16(0)
	grouped := lhsCrossSize / 3 * 3
	for b := range batchSize {
		l := lhs[b*lhsCrossSize*contractingSize : (b+1)*lhsCrossSize*contractingSize]
		r := rhs[b*contractingSize*n : (b+1)*contractingSize*n]
		o := output[b*lhsCrossSize*n : (b+1)*lhsCrossSize*n]
		for row := range lhsCrossSize {
			lr := l[row*contractingSize : (row+1)*contractingSize]
			acc := zero
			k := 0
			if row >= grouped {
				for ; k+3 < contractingSize; k += 4 {
					p0 := archsimd.BroadcastFloat32x16(lr[k]).Mul(archsimd.LoadFloat32x16Slice(r[k*n:]))
					p1 := archsimd.BroadcastFloat32x16(lr[k+1]).Mul(archsimd.LoadFloat32x16Slice(r[(k+1)*n:]))
					p2 := archsimd.BroadcastFloat32x16(lr[k+2]).Mul(archsimd.LoadFloat32x16Slice(r[(k+2)*n:]))
					p3 := archsimd.BroadcastFloat32x16(lr[k+3]).Mul(archsimd.LoadFloat32x16Slice(r[(k+3)*n:]))
					acc = acc.Add(p0.Add(p1).Add(p2).Add(p3))
				}
			}
			for ; k < contractingSize; k++ {
				acc = acc.Add(archsimd.BroadcastFloat32x16(lr[k]).Mul(archsimd.LoadFloat32x16Slice(r[k*n:])))
			}
			acc.StoreSlice(o[row*n:])
		}
	}
}
