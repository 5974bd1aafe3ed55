// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

#include "textflag.h"

// func n16Rows8(lhs *float32, lhsRowStride int, rhs *float32, k int, out *float32, accumulate bool)
//
// Eight rows of patch 17's product with 16 columns (avx512_n16large.go),
// strides in values: for r < 8 and c < 16, out[r*16+c] = (out[r*16+c] if
// accumulate) + the sum over p < k, in order from zero with one fused
// multiply-add per term, of lhs[r*lhsRowStride+p] * rhs[p*16+c]; as the
// packed kernel computes a contracting panel and adds it to the output.
TEXT ·n16Rows8(SB), NOSPLIT, $0-41
	MOVQ   lhs+0(FP), SI
	MOVQ   lhsRowStride+8(FP), R8
	SHLQ   $2, R8
	LEAQ   (R8)(R8*2), R9
	LEAQ   (SI)(R8*4), R10
	MOVQ   rhs+16(FP), DX
	MOVQ   k+24(FP), CX
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
	JZ     done

loop:
	VMOVUPS          (DX), Z8
	VFMADD231PS.BCST (SI), Z8, Z0
	VFMADD231PS.BCST (SI)(R8*1), Z8, Z1
	VFMADD231PS.BCST (SI)(R8*2), Z8, Z2
	VFMADD231PS.BCST (SI)(R9*1), Z8, Z3
	VFMADD231PS.BCST (R10), Z8, Z4
	VFMADD231PS.BCST (R10)(R8*1), Z8, Z5
	VFMADD231PS.BCST (R10)(R8*2), Z8, Z6
	VFMADD231PS.BCST (R10)(R9*1), Z8, Z7
	ADDQ             $64, DX
	ADDQ             $4, SI
	ADDQ             $4, R10
	DECQ             CX
	JNZ              loop

done:
	MOVBLZX accumulate+40(FP), AX
	TESTQ   AX, AX
	JZ      store
	VADDPS  (DI), Z0, Z0
	VADDPS  64(DI), Z1, Z1
	VADDPS  128(DI), Z2, Z2
	VADDPS  192(DI), Z3, Z3
	VADDPS  256(DI), Z4, Z4
	VADDPS  320(DI), Z5, Z5
	VADDPS  384(DI), Z6, Z6
	VADDPS  448(DI), Z7, Z7

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

// func n16Taps8(base *float32, offs *int, ntaps, width, ld int, rhs *float32, out *float32, accumulate bool)
//
// Eight rows of patch 17's fused im2col product read from the image: as
// n16Rows8 over k = ntaps*width values, where row r's values t*width ...
// (t+1)*width-1 lie at base + offs[t] + r*ld (offsets in bytes), one tap
// after the other, in one chain of fused multiply-adds from zero.
TEXT ·n16Taps8(SB), NOSPLIT, $0-57
	MOVQ   base+0(FP), BX
	MOVQ   offs+8(FP), R11
	MOVQ   ntaps+16(FP), R12
	MOVQ   width+24(FP), R13
	MOVQ   ld+32(FP), R8
	LEAQ   (R8)(R8*2), R9
	MOVQ   rhs+40(FP), DX
	MOVQ   out+48(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

tap:
	MOVQ (R11), SI
	ADDQ BX, SI
	LEAQ (SI)(R8*4), R10
	MOVQ R13, CX

inner:
	VMOVUPS          (DX), Z8
	VFMADD231PS.BCST (SI), Z8, Z0
	VFMADD231PS.BCST (SI)(R8*1), Z8, Z1
	VFMADD231PS.BCST (SI)(R8*2), Z8, Z2
	VFMADD231PS.BCST (SI)(R9*1), Z8, Z3
	VFMADD231PS.BCST (R10), Z8, Z4
	VFMADD231PS.BCST (R10)(R8*1), Z8, Z5
	VFMADD231PS.BCST (R10)(R8*2), Z8, Z6
	VFMADD231PS.BCST (R10)(R9*1), Z8, Z7
	ADDQ             $64, DX
	ADDQ             $4, SI
	ADDQ             $4, R10
	DECQ             CX
	JNZ              inner
	ADDQ             $8, R11
	DECQ             R12
	JNZ              tap

	MOVBLZX accumulate+56(FP), AX
	TESTQ   AX, AX
	JZ      store8
	VADDPS  (DI), Z0, Z0
	VADDPS  64(DI), Z1, Z1
	VADDPS  128(DI), Z2, Z2
	VADDPS  192(DI), Z3, Z3
	VADDPS  256(DI), Z4, Z4
	VADDPS  320(DI), Z5, Z5
	VADDPS  384(DI), Z6, Z6
	VADDPS  448(DI), Z7, Z7

store8:
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

// func dwTile4(acc *float32, lhs *float32, lhsStride int, base *float32, offs *int, ld, rows int)
//
// Patch 17's fused weight-gradient product, 4 blocks of 16 columns by
// 4 rows: acc[m*64+j*16+c] (m < 4, j < 4, c < 16) continues its chain
// of fused multiply-adds, in order over r < rows, with lhs[m*lhsStride/4 +
// r] * the value c of column block j in row r, which lies at base +
// offs[j] + r*ld (strides and offsets in bytes).
TEXT ·dwTile4(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), DI
	MOVQ lhs+8(FP), DX
	MOVQ lhsStride+16(FP), R8
	LEAQ (R8)(R8*2), R9
	MOVQ base+24(FP), BX
	MOVQ offs+32(FP), SI
	MOVQ ld+40(FP), R14
	MOVQ rows+48(FP), CX
	MOVQ 0(SI), R10
	ADDQ BX, R10
	MOVQ 8(SI), R11
	ADDQ BX, R11
	MOVQ 16(SI), R12
	ADDQ BX, R12
	MOVQ 24(SI), R13
	ADDQ BX, R13
	VMOVUPS 0(DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS 256(DI), Z4
	VMOVUPS 320(DI), Z5
	VMOVUPS 384(DI), Z6
	VMOVUPS 448(DI), Z7
	VMOVUPS 512(DI), Z8
	VMOVUPS 576(DI), Z9
	VMOVUPS 640(DI), Z10
	VMOVUPS 704(DI), Z11
	VMOVUPS 768(DI), Z12
	VMOVUPS 832(DI), Z13
	VMOVUPS 896(DI), Z14
	VMOVUPS 960(DI), Z15
	TESTQ CX, CX
	JZ    dwTile4done

dwTile4loop:
	VMOVUPS (R10), Z16
	VMOVUPS (R11), Z17
	VMOVUPS (R12), Z18
	VMOVUPS (R13), Z19
	VBROADCASTSS (DX), Z20
	VFMADD231PS Z16, Z20, Z0
	VFMADD231PS Z17, Z20, Z1
	VFMADD231PS Z18, Z20, Z2
	VFMADD231PS Z19, Z20, Z3
	VBROADCASTSS (DX)(R8*1), Z21
	VFMADD231PS Z16, Z21, Z4
	VFMADD231PS Z17, Z21, Z5
	VFMADD231PS Z18, Z21, Z6
	VFMADD231PS Z19, Z21, Z7
	VBROADCASTSS (DX)(R8*2), Z22
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VFMADD231PS Z18, Z22, Z10
	VFMADD231PS Z19, Z22, Z11
	VBROADCASTSS (DX)(R9*1), Z23
	VFMADD231PS Z16, Z23, Z12
	VFMADD231PS Z17, Z23, Z13
	VFMADD231PS Z18, Z23, Z14
	VFMADD231PS Z19, Z23, Z15
	ADDQ R14, R10
	ADDQ R14, R11
	ADDQ R14, R12
	ADDQ R14, R13
	ADDQ $4, DX
	DECQ CX
	JNZ  dwTile4loop

dwTile4done:
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	VMOVUPS Z8, 512(DI)
	VMOVUPS Z9, 576(DI)
	VMOVUPS Z10, 640(DI)
	VMOVUPS Z11, 704(DI)
	VMOVUPS Z12, 768(DI)
	VMOVUPS Z13, 832(DI)
	VMOVUPS Z14, 896(DI)
	VMOVUPS Z15, 960(DI)
	VZEROUPPER
	RET

// func dwTile1(acc *float32, lhs *float32, lhsStride int, base *float32, offs *int, ld, rows int)
//
// Patch 17's fused weight-gradient product, 1 block of 16 columns by
// 4 rows: acc[m*16+j*16+c] (m < 4, j < 1, c < 16) continues its chain
// of fused multiply-adds, in order over r < rows, with lhs[m*lhsStride/4 +
// r] * the value c of column block j in row r, which lies at base +
// offs[j] + r*ld (strides and offsets in bytes).
TEXT ·dwTile1(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), DI
	MOVQ lhs+8(FP), DX
	MOVQ lhsStride+16(FP), R8
	LEAQ (R8)(R8*2), R9
	MOVQ base+24(FP), BX
	MOVQ offs+32(FP), SI
	MOVQ ld+40(FP), R14
	MOVQ rows+48(FP), CX
	MOVQ 0(SI), R10
	ADDQ BX, R10
	VMOVUPS 0(DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	TESTQ CX, CX
	JZ    dwTile1done

dwTile1loop:
	VMOVUPS (R10), Z16
	VBROADCASTSS (DX), Z20
	VFMADD231PS Z16, Z20, Z0
	VBROADCASTSS (DX)(R8*1), Z21
	VFMADD231PS Z16, Z21, Z1
	VBROADCASTSS (DX)(R8*2), Z22
	VFMADD231PS Z16, Z22, Z2
	VBROADCASTSS (DX)(R9*1), Z23
	VFMADD231PS Z16, Z23, Z3
	ADDQ R14, R10
	ADDQ $4, DX
	DECQ CX
	JNZ  dwTile1loop

dwTile1done:
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VZEROUPPER
	RET
