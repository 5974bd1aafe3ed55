package ops

// Patch 5 (see PATCHES.md): float32 Add, Sub, Mul and Div, the element-wise
// work of a training step (batch norm, Adam), are computed with SIMD
// kernels where the CPU has them (binaryfast_simd.go), for the shapes the
// generated executors handle without an index iterator: equal shapes, one
// side a scalar, one side the other's trailing axes repeated. Each element
// is the same IEEE operation on the same two operands as the generated
// executors compute it, so results are bit for bit the same, except which
// NaN payload an operation on two NaNs returns (the operand the compiler
// puts first, in the generated code as here). Patch 7 adds Max and Min
// (Go's max and min, lane by lane), rows of 16 or 32 values held in
// registers, and splits each op between idle cores.

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
)

func init() {
	for op, generic := range map[compute.OpType]gobackend.NodeExecutor{
		compute.OpTypeAdd: execAdd, compute.OpTypeSub: execSub, compute.OpTypeMul: execMul, compute.OpTypeDiv: execDiv,
		compute.OpTypeMax: execMax, compute.OpTypeMin: execMin,
	} {
		gobackend.SetNodeExecutor(op, gobackend.PriorityTyped, float32BinaryExecutor(op, generic))
	}
}

// f32Op is one of the operations of patches 5 and 7.
type f32Op int

const (
	f32Add f32Op = iota
	f32Sub
	f32Mul
	f32Div
	f32Max // patch 7: Go's max (its NaN and signed-zero rules, also in SIMD lanes)
	f32Min // patch 7: Go's min, likewise
)

// f32Ops maps the op types of patches 5 and 7 to their operations.
var f32Ops = map[compute.OpType]f32Op{compute.OpTypeAdd: f32Add, compute.OpTypeSub: f32Sub, compute.OpTypeMul: f32Mul, compute.OpTypeDiv: f32Div,
	compute.OpTypeMax: f32Max, compute.OpTypeMin: f32Min}

// f32MinChunk is the fewest output elements per core when patch 7 splits a
// float32 binary op between idle cores (gobackend.Backend.ParallelFor).
const f32MinChunk = 32 << 10

// float32BinaryExecutor returns the executor of op: the fast path for
// float32 operands of the shapes above, generic for everything else.
func float32BinaryExecutor(opType compute.OpType, generic gobackend.NodeExecutor) gobackend.NodeExecutor {
	op := f32Ops[opType]
	commutative := op == f32Add || op == f32Mul || op == f32Max || op == f32Min
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		if fused, ok := node.Data.(*sliceSumNode); ok { // patch 16, slicesum.go
			return execSliceSum(backend, node, inputs[0], fused)
		}
		l, r := inputs[0], inputs[1]
		if node.Shape.DType != dtypes.Float32 || node.Shape.IsDynamic() || l.RawShape.DType != dtypes.Float32 || r.RawShape.DType != dtypes.Float32 {
			return generic(backend, node, inputs, inputsOwned)
		}
		n := node.Shape.Size()
		ln, rn := l.RawShape.Size(), r.RawShape.Size()
		// The generated executors: Add and Mul put a scalar lhs on the right;
		// then rhs scalar, lhs scalar (Sub, Div), equal shapes, rhs repeated,
		// lhs repeated, in this order.
		ls, rs := l.RawShape, r.RawShape
		swap := commutative && ln == 1 && rn != 1
		if swap {
			ln, rn, ls, rs = rn, ln, rs, ls
		}
		var form int
		switch {
		case rn == 1 && ln == n:
			form = formVS
		case !commutative && ln == 1 && rn == n:
			form = formSV
		case ls.Equal(rs) && ln == n:
			form = formVV
		case ln == n && gobackend.IsTrailingBroadcast(rs, node.Shape):
			form = formRowsR
		case rn == n && gobackend.IsTrailingBroadcast(ls, node.Shape):
			form = formRowsL
		default:
			return generic(backend, node, inputs, inputsOwned)
		}
		lhs, rhs, output, _, _ := binaryOperandsAndOutputForExecution(backend, node, inputs, inputsOwned, node.Shape)
		if swap {
			lhs, rhs = rhs, lhs
		}
		a, b, out := lhs.Flat.([]float32), rhs.Flat.([]float32), output.Flat.([]float32)
		// Patch 7: split between idle cores, by elements or by whole rows.
		switch form {
		case formVS:
			backend.ParallelFor(n, f32MinChunk, func(lo, hi int) { f32VS(op, out[lo:hi], a[lo:hi], b[0]) })
		case formSV:
			backend.ParallelFor(n, f32MinChunk, func(lo, hi int) { f32SV(op, out[lo:hi], a[0], b[lo:hi]) })
		case formVV:
			backend.ParallelFor(n, f32MinChunk, func(lo, hi int) { f32VV(op, out[lo:hi], a[lo:hi], b[lo:hi]) })
		case formRowsR:
			f32Rows(backend, op, out, a, b, false)
		case formRowsL:
			f32Rows(backend, op, out, b, a, true)
		}
		return output, nil
	}
}

// f32Rows computes out = each row of v op row (row op each row of v when
// rowFirst), rows of len(row) values, split by whole rows between idle
// cores; short rows in registers (f32RowsVV) where it can, else one f32VV
// per row.
func f32Rows(backend *gobackend.Backend, op f32Op, out, v, row []float32, rowFirst bool) {
	w := len(row)
	backend.ParallelFor(len(v)/w, max(1, f32MinChunk/w), func(lo, hi int) {
		if f32RowsVV(op, out[lo*w:hi*w], v[lo*w:hi*w], row, rowFirst) {
			return
		}
		for s := lo * w; s < hi*w; s += w {
			if rowFirst {
				f32VV(op, out[s:s+w], row, v[s:s+w])
			} else {
				f32VV(op, out[s:s+w], v[s:s+w], row)
			}
		}
	})
}

// Operand forms of the fast path.
const (
	formVS    = iota // vector op scalar
	formSV           // scalar op vector
	formVV           // vector op vector, same shape
	formRowsR        // each row of the lhs op the whole rhs
	formRowsL        // the whole lhs op each row of the rhs
)

// f32VVScalar is out[i] = a[i] op b[i], one element at a time.
func f32VVScalar(op f32Op, out, a, b []float32) {
	b, out = b[:len(a)], out[:len(a)]
	switch op {
	case f32Add:
		for i, x := range a {
			out[i] = x + b[i]
		}
	case f32Sub:
		for i, x := range a {
			out[i] = x - b[i]
		}
	case f32Mul:
		for i, x := range a {
			out[i] = x * b[i]
		}
	case f32Div:
		for i, x := range a {
			out[i] = x / b[i]
		}
	case f32Max:
		for i, x := range a {
			out[i] = max(x, b[i])
		}
	case f32Min:
		for i, x := range a {
			out[i] = min(x, b[i])
		}
	}
}

// f32VSScalar is out[i] = a[i] op c, one element at a time.
func f32VSScalar(op f32Op, out, a []float32, c float32) {
	out = out[:len(a)]
	switch op {
	case f32Add:
		for i, x := range a {
			out[i] = x + c
		}
	case f32Sub:
		for i, x := range a {
			out[i] = x - c
		}
	case f32Mul:
		for i, x := range a {
			out[i] = x * c
		}
	case f32Div:
		for i, x := range a {
			out[i] = x / c
		}
	case f32Max:
		for i, x := range a {
			out[i] = max(x, c)
		}
	case f32Min:
		for i, x := range a {
			out[i] = min(x, c)
		}
	}
}

// f32SVScalar is out[i] = c op b[i], one element at a time.
func f32SVScalar(op f32Op, out []float32, c float32, b []float32) {
	out = out[:len(b)]
	switch op {
	case f32Add:
		for i, x := range b {
			out[i] = c + x
		}
	case f32Sub:
		for i, x := range b {
			out[i] = c - x
		}
	case f32Mul:
		for i, x := range b {
			out[i] = c * x
		}
	case f32Div:
		for i, x := range b {
			out[i] = c / x
		}
	case f32Max:
		for i, x := range b {
			out[i] = max(c, x)
		}
	case f32Min:
		for i, x := range b {
			out[i] = min(c, x)
		}
	}
}
