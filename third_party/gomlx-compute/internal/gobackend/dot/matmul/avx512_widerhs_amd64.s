// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

#include "textflag.h"

// func wideRHSRow128(block *float32, offsets *int, values *float32, n int, out *float32)
//
// One output row of patch 14's block (avx512_widerhs.go): for c < 128,
// out[c] = the sum over e < n, in order from zero with one fused
// multiply-add per term, of values[e] * block[offsets[e]/4 + c]
// (offsets in bytes).
TEXT ·wideRHSRow128(SB), NOSPLIT, $0-40
	MOVQ   block+0(FP), BX
	MOVQ   offsets+8(FP), SI
	MOVQ   values+16(FP), DX
	MOVQ   n+24(FP), CX
	MOVQ   out+32(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	TESTQ  CX, CX
	JZ     store

loop:
	MOVQ         (SI), R8
	VBROADCASTSS (DX), Z8
	VFMADD231PS  (BX)(R8*1), Z8, Z0
	VFMADD231PS  64(BX)(R8*1), Z8, Z1
	VFMADD231PS  128(BX)(R8*1), Z8, Z2
	VFMADD231PS  192(BX)(R8*1), Z8, Z3
	VFMADD231PS  256(BX)(R8*1), Z8, Z4
	VFMADD231PS  320(BX)(R8*1), Z8, Z5
	VFMADD231PS  384(BX)(R8*1), Z8, Z6
	VFMADD231PS  448(BX)(R8*1), Z8, Z7
	ADDQ         $8, SI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          loop

store:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	VZEROUPPER
	RET
