// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

// For the external tests (widerhs_fusion_test.go): the Kronecker product
// and the Winograd transforms of patch 14's tests.
var (
	WideRHSKron = wideRHSKron
	WinoBT2     = winoBT2
	WinoBT4     = winoBT4
)
