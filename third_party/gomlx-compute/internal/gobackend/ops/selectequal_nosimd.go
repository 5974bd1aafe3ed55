// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build !(amd64 && goexperiment.simd)

package ops

// f32SelectEqual is patch 18's pass (selectequal.go), value by value.
func f32SelectEqual(out, a, b, c []float32) { f32SelectEqualScalar(out, a, b, c) }
