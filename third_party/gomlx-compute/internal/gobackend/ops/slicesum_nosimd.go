// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build !(amd64 && goexperiment.simd)

package ops

// f32SumRuns is patch 16's run (slicesum_simd.go), element by element.
func f32SumRuns(out, in []float32, offsets []int) { f32SumRunsScalar(out, in, offsets) }
