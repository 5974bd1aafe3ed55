package ops

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
	"github.com/pkg/errors"
)

func init() {
	gobackend.RegisterSlice.Register(Slice, gobackend.PriorityGeneric)
	gobackend.SetNodeExecutor(compute.OpTypeSlice, gobackend.PriorityGeneric, execSlice)
}

// sliceNode is attached to the gobackend.Node.data field for Slice.
type sliceNode struct {
	starts, limits, strides []int
}

// Recompute implements gobackend.RecomputableNodeData for sliceNode.
func (s *sliceNode) Recompute(backend *gobackend.Backend, resolvedNodes []*gobackend.Node, originalNode *gobackend.Node) (any, error) {
	operandShape := resolvedNodes[originalNode.Inputs[0].Index].Shape

	needsUpdate := false
	for i, lim := range s.limits {
		if lim == shapes.DynamicDim {
			if operandShape.Dimensions[i] == shapes.DynamicDim {
				return nil, errors.Errorf("recomputeSliceData: operand axis %d is still DynamicDim after resolution", i)
			}
			needsUpdate = true
			break
		}
	}
	if !needsUpdate {
		return s, nil
	}

	newData := &sliceNode{
		starts:  slices.Clone(s.starts),
		limits:  slices.Clone(s.limits),
		strides: slices.Clone(s.strides),
	}
	for i, lim := range newData.limits {
		if lim == shapes.DynamicDim {
			newData.limits[i] = operandShape.Dimensions[i]
		}
	}
	return newData, nil
}

// EqualNodeData implements nodeDataComparable for sliceNode.
func (s *sliceNode) EqualNodeData(other gobackend.NodeDataComparable) bool {
	o := other.(*sliceNode)
	return slices.Equal(s.starts, o.starts) &&
		slices.Equal(s.limits, o.limits) &&
		slices.Equal(s.strides, o.strides)
}

// Slice extracts a subarray from the input array.
//
// The subarray is of the same rank as the input and contains the values inside a bounding box within the input array
// where the dimensions and indices of the bounding box are given as arguments to the slice operation.
//
// The strides set the input stride of the slice in each axis and must be >= 1.
// It is optional, and if missing, it is assumed to be 1 for every dimension.
//
// The limits are defined on the x axes, and they are exclusive upper bounds, i.e. the slice includes
// elements from starts up to (but not including) limits.
//
// Examples:
//
//	Slice(x={0, 1, 2, 3, 4}, starts={2}, limits={4}, strides=nil) -> {2, 3}
//	Slice(x={0, 1, 2, 3, 4}, starts={2}, limits={5}, strides={2}) -> {2, 4}
func Slice(f *gobackend.Function, operandOp compute.Value, starts, limits, strides []int) (compute.Value, error) {
	opType := compute.OpTypeSlice
	inputs, err := f.VerifyAndCastValues(opType.String(), operandOp)
	if err != nil {
		return nil, err
	}
	operand := inputs[0]
	rank := operand.Shape.Rank()

	if len(starts) != rank || len(limits) != rank || (len(strides) != 0 && len(strides) != rank) {
		return nil, errors.Errorf("Slice op %s: starts, limits and strides (if provided) must have the same rank as the operand (%d), but got %d, %d and %d",
			opType, rank, len(starts), len(limits), len(strides))
	}

	data := &sliceNode{
		starts:  make([]int, rank),
		limits:  make([]int, rank),
		strides: make([]int, rank),
	}
	for axis := 0; axis < rank; axis++ {
		dimSize := operand.Shape.Dimensions[axis]

		// Start
		start := starts[axis]
		if dimSize != shapes.DynamicDim {
			if start < 0 {
				start = dimSize + start
			}
			start = min(max(start, 0), dimSize)
		}
		data.starts[axis] = start

		// Limit
		limit := limits[axis]
		if dimSize != shapes.DynamicDim {
			if limit < 0 {
				limit = dimSize + limit
			}
			limit = min(max(limit, 0), dimSize)
		}
		data.limits[axis] = limit

		// Stride
		stride := 1
		if len(strides) > axis {
			stride = max(1, strides[axis])
		}
		data.strides[axis] = stride
	}

	// Calculate output shape.
	outputShape, err := shapeinference.Slice(operand.Shape, data.starts, data.limits, data.strides)
	if err != nil {
		return nil, err
	}

	node, _ := f.GetOrCreateNode(opType, outputShape, []*gobackend.Node{operand}, data)
	return node, nil
}

func execSlice(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, _ []bool) (*gobackend.Buffer, error) {
	operand := inputs[0]
	sliceParams, ok := node.Data.(*sliceNode)
	if !ok {
		return nil, errors.Errorf("internal error: node.data for Slice op is not *sliceNode, but %T", node.Data)
	}

	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	if output.RawShape.Size() == 0 {
		// Simplest case, where the slice is of 0 elements, just return the empty buffer with the correct shape.
		return output, nil
	}

	// Dispatch to the generic implementation based on DType.
	tmpAny, tmpErr := sliceDTypeMap.Get(node.Shape.DType)
	if tmpErr != nil {
		panic(tmpErr)
	}
	fn := tmpAny.(func(operand, output *gobackend.Buffer, params *sliceNode)) //nolint:errcheck
	fn(operand, output, sliceParams)
	return output, nil
}

//gobackend:dtypemap execSliceGeneric ints,uints,floats,half,bool
var sliceDTypeMap = gobackend.NewDTypeMap("Slice")

// execSliceGeneric implements the actual slice data copying. It is called via sliceDTypeMap.Dispatch.
//
// The output is written in order, as runs of elements that are contiguous in
// the operand too: the innermost axes that are taken whole with stride 1,
// together with the next axis out when it has stride 1 (a partial range), or
// any axis that has a single output element, form one run (see
// execSliceRunLength); a single copy moves it. The next axis out is then
// walked with its stride, one run per step, and the axes outside it with a
// carry loop, once per output row of that axis. Slices of contiguous whole
// blocks (a range of the outermost axis, or of an axis whose inner axes are
// whole) are one copy; an NHWC image's tap with full channels is one copy of
// W*C values per row at stride 1 and one copy of C values per pixel at
// stride > 1; a single channel is a strided element loop per row.
func execSliceGeneric[T gobackend.SupportedTypesConstraints](operand, output *gobackend.Buffer, params *sliceNode) {
	outputFlat := output.Flat.([]T)
	operandFlat := operand.Flat.([]T)
	outputDimensions := output.RawShape.Dimensions
	operandFlatStrides := operand.RawShape.Strides()

	// Find operandFlatIdx start value.
	var operandFlatIdx int
	for axis, start := range params.starts {
		operandFlatIdx += start * operandFlatStrides[axis]
	}

	run, runAxis := execSliceRunLength(outputDimensions, operandFlatStrides, params.strides)
	if runAxis == 0 {
		// The whole output is one contiguous block of the operand.
		copy(outputFlat, operandFlat[operandFlatIdx:operandFlatIdx+len(outputFlat)])
		return
	}

	// Axis stepAxis (the one just outside the run) is walked with its stride,
	// one run per step; the axes outside it by a carry loop.
	stepAxis := runAxis - 1
	numSteps := outputDimensions[stepAxis]
	step := params.strides[stepAxis] * operandFlatStrides[stepAxis]
	rowLen := numSteps * run
	outerAxisIdxs := make([]int, stepAxis)
	for outputFlatIdx := 0; outputFlatIdx < len(outputFlat); outputFlatIdx += rowLen {
		dst := outputFlat[outputFlatIdx : outputFlatIdx+rowLen]
		src := operandFlatIdx
		if run == 1 {
			for i := range dst {
				dst[i] = operandFlat[src]
				src += step
			}
		} else {
			for i := 0; i < rowLen; i += run {
				copy(dst[i:i+run], operandFlat[src:src+run])
				src += step
			}
		}

		// Iterate to the next row.
		for axis := stepAxis - 1; axis >= 0; axis-- {
			outerAxisIdxs[axis]++
			if outerAxisIdxs[axis] < outputDimensions[axis] {
				operandFlatIdx += params.strides[axis] * operandFlatStrides[axis]
				break
			}
			// Reset axis
			operandFlatIdx -= (outputDimensions[axis] - 1) * params.strides[axis] * operandFlatStrides[axis]
			outerAxisIdxs[axis] = 0
		}
	}
}

// execSliceRunLength returns the number of output elements that are also
// contiguous in the operand, starting at any output index that is a multiple
// of it (the run), and the first axis of the innermost axes that form it
// (runAxis: axes runAxis..rank-1 are in the run; 0 when the whole output is
// one run). Going outwards from the innermost axis, an axis joins the run
// when it has one output element, or when one step along it (its stride
// times the operand's flat stride of the axis) moves exactly one run, that
// is, the run so far covers whole rows of the operand along that axis and
// its slice stride is 1.
func execSliceRunLength(outputDimensions, operandFlatStrides, strides []int) (run, runAxis int) {
	run = 1
	runAxis = len(outputDimensions)
	for runAxis > 0 {
		axis := runAxis - 1
		if outputDimensions[axis] != 1 && strides[axis]*operandFlatStrides[axis] != run {
			break
		}
		run *= outputDimensions[axis]
		runAxis = axis
	}
	return run, runAxis
}
