// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

#include "textflag.h"

// func avx512Kernel4x32Float32(lhs *float32, lhsRowStride int, rhs *float32, rhsKStep int,
//	out *float32, outStride, k int, accumulate bool)
//
// The 4x32 float32 micro-kernel of the matrix product, strides in values:
// out[r*outStride+c] = (out[r*outStride+c] if accumulate) + sum over p < k
// of lhs[r*lhsRowStride+p] * rhs[p*rhsKStep+c], for r < 4 and
// c < 32 (the 32 rhs values of a step contiguous). The sum runs over p in
// order from zero with one fused multiply-add per step, then adds the
// output's value, as the Go kernel and its packed output's pass do.
TEXT ·avx512Kernel4x32Float32(SB), NOSPLIT, $0-57
	MOVQ lhs+0(FP), SI
	MOVQ lhsRowStride+8(FP), R8
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	MOVQ rhs+16(FP), DX
	MOVQ rhsKStep+24(FP), R12
	SHLQ $2, R12
	MOVQ out+32(FP), DI
	MOVQ outStride+40(FP), BX
	SHLQ $2, BX
	MOVQ k+48(FP), CX
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	TESTQ CX, CX
	JZ    done

loop:
	VMOVUPS      (DX), Z0
	VMOVUPS      64(DX), Z1
	VBROADCASTSS (SI), Z2
	VBROADCASTSS (SI)(R8*1), Z3
	VBROADCASTSS (SI)(R8*2), Z4
	VBROADCASTSS (SI)(R9*1), Z5
	VFMADD231PS  Z0, Z2, Z16
	VFMADD231PS  Z1, Z2, Z17
	VFMADD231PS  Z0, Z3, Z18
	VFMADD231PS  Z1, Z3, Z19
	VFMADD231PS  Z0, Z4, Z20
	VFMADD231PS  Z1, Z4, Z21
	VFMADD231PS  Z0, Z5, Z22
	VFMADD231PS  Z1, Z5, Z23
	ADDQ         R12, DX
	ADDQ         $4, SI
	DECQ         CX
	JNZ          loop

done:
	MOVBLZX accumulate+56(FP), AX
	TESTB   AL, AL
	JZ      write
	LEAQ    (DI)(BX*1), R8
	LEAQ    (R8)(BX*1), R9
	LEAQ    (R9)(BX*1), R10
	VADDPS  (DI), Z16, Z16
	VADDPS  64(DI), Z17, Z17
	VADDPS  (R8), Z18, Z18
	VADDPS  64(R8), Z19, Z19
	VADDPS  (R9), Z20, Z20
	VADDPS  64(R9), Z21, Z21
	VADDPS  (R10), Z22, Z22
	VADDPS  64(R10), Z23, Z23

write:
	VMOVUPS Z16, (DI)
	VMOVUPS Z17, 64(DI)
	ADDQ    BX, DI
	VMOVUPS Z18, (DI)
	VMOVUPS Z19, 64(DI)
	ADDQ    BX, DI
	VMOVUPS Z20, (DI)
	VMOVUPS Z21, 64(DI)
	ADDQ    BX, DI
	VMOVUPS Z22, (DI)
	VMOVUPS Z23, 64(DI)
	VZEROUPPER
	RET
