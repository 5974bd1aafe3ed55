// Command pprofkinds groups the samples of a CPU profile of the Go backend
// (gobench -cpuprofile) by the kind of work they are in, and prints one line
// per kind: the kind, its CPU seconds, its share of all samples (tab
// separated). It reads the text of `go tool pprof -traces BINARY PROFILE`
// on its standard input.
//
// The Go backend executes the compiled graph op by op, so a sample's stack
// names the backend op it is in, not the layer that emitted the op; the
// kinds are therefore backend-op kinds, and what layers each one serves is
// stated beside it. Each sample goes to the innermost frame of its stack
// that names a backend op (runtime.memmove, runtime.asyncPreempt and the
// allocator count for the op that called them):
//
//	matmul kernel     gobackend/dot/matmul.*Kernel*Float32, *ApplyPackedOutput*,
//	                  smallNoSIMD*: the multiply-adds of every convolution
//	                  (im2col times kernel, or Winograd's 16 or 36 tile products:
//	                  forward, input gradient, weight gradient), of the
//	                  Winograd tile transforms (small constant matrices
//	                  times the tiles) and of the 1x1 head
//	matmul packing    any other gobackend/dot or gobackend/dot/matmul frame:
//	                  packing the operands into panels, the 4x16 transposes,
//	                  DotGeneral's layout normalisation
//	slice             gobackend/ops.execSlice*: im2col matrices (built in
//	                  one pass by patch 4 of third_party/gomlx-compute),
//	                  Winograd's input tiles, crops, the batch lanes,
//	                  max-pool windows
//	concat/pad        execConcatenate, execPad: zero padding (shiftPad),
//	                  im2col patches, Winograd's tiles gathered, U-Net skip
//	                  concatenation, upsampling
//	transpose/reshape execTranspose*, execReshape, TransposeIterator, CopyFlat
//	                  (among them Winograd's output tiles put in place)
//	element-wise      the other ops.exec* of one or two operands (Add, Mul, Sub,
//	                  Div, Sqrt, Max, Where, Logistic, ...; patch 5's float32
//	                  kernels f32*): batch norm, ReLU and its mask, max
//	                  pool's maximum, the loss, Adam
//	reduction         execReduce*: batch-norm statistics, bias and loss sums
//	buffers           gobackend buffer management outside an op (GetBuffer,
//	                  Fill, Zeros, the allocator and GC under them)
//	runtime           everything else: the scheduler, GC, the worker pool
//	                  waiting, the benchmark itself
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Kinds in print order.
var Kinds = []string{"matmul kernel", "matmul packing", "slice", "concat/pad", "transpose/reshape",
	"element-wise", "reduction", "buffers", "runtime"}

func main() {
	samples, err := parseTraces(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pprofkinds:", err)
		os.Exit(1)
	}
	byKind, total := group(samples)
	for _, k := range Kinds {
		fmt.Printf("%s\t%.3f\t%.4f\n", k, byKind[k], byKind[k]/max(total, 1e-9))
	}
	fmt.Printf("total\t%.3f\t1\n", total)
}

// sample is one stack of `pprof -traces` (leaf first) and its CPU seconds.
type sample struct {
	seconds float64
	stack   []string
}

// parseTraces reads `go tool pprof -traces` text: blocks separated by
// "-----------+----" lines, the first line of a block "  80ms   leafFunc",
// the next ones "             callerFunc".
func parseTraces(r io.Reader) ([]sample, error) {
	var out []sample
	var cur *sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			cur = nil
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if cur == nil {
			if len(f) < 2 {
				continue
			}
			d, err := parseDuration(f[0])
			if err != nil {
				continue // header lines (File:, Type:, ...)
			}
			out = append(out, sample{seconds: d})
			cur = &out[len(out)-1]
			cur.stack = append(cur.stack, f[1])
			continue
		}
		cur.stack = append(cur.stack, f[0])
	}
	return out, sc.Err()
}

// parseDuration parses pprof's sample values: "80ms", "1.20s", "500us".
func parseDuration(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		if v, err2 := strconv.ParseFloat(s, 64); err2 == nil {
			return v, nil
		}
		return 0, err
	}
	return d.Seconds(), nil
}

func group(samples []sample) (map[string]float64, float64) {
	m := map[string]float64{}
	total := 0.0
	for _, s := range samples {
		m[Classify(s.stack)] += s.seconds
		total += s.seconds
	}
	return m, total
}

// Classify returns the kind of a stack given leaf first (see the package
// comment).
func Classify(stack []string) string {
	for _, fn := range stack {
		name := fn
		if i := strings.Index(name, "["); i >= 0 { // generic instantiation
			name = name[:i]
		}
		switch {
		case strings.Contains(name, "gobackend/dot/matmul."):
			base := name[strings.LastIndex(name, ".")+1:]
			if strings.HasPrefix(base, "func") { // closure: its parent's name
				base = name[strings.LastIndex(name[:strings.LastIndex(name, ".")], ".")+1:]
			}
			if (strings.Contains(base, "Kernel") && !strings.Contains(base, "Pack")) ||
				strings.Contains(base, "ApplyPackedOutput") || strings.HasPrefix(base, "smallNoSIMD") {
				return "matmul kernel"
			}
			return "matmul packing"
		case strings.Contains(name, "gobackend/dot."):
			return "matmul packing"
		case strings.Contains(name, "gobackend/ops."):
			op := name[strings.Index(name, "gobackend/ops.")+len("gobackend/ops."):]
			switch {
			case strings.HasPrefix(op, "execSlice"), strings.HasPrefix(op, "writeSliceConcat"):
				return "slice"
			case strings.HasPrefix(op, "execConcatenate"), strings.HasPrefix(op, "execPad"):
				return "concat/pad"
			case strings.HasPrefix(op, "execTranspose"), strings.HasPrefix(op, "execReshape"),
				strings.Contains(op, "TransposeIterator"), strings.HasPrefix(op, "reshapeToShape"):
				return "transpose/reshape"
			case strings.HasPrefix(op, "execReduce"):
				return "reduction"
			case strings.HasPrefix(op, "exec"), strings.HasPrefix(op, "f32"), strings.Contains(op, "float32BinaryExecutor"):
				return "element-wise"
			}
		case strings.HasSuffix(name, "gobackend.CopyFlat"):
			return "transpose/reshape"
		case strings.Contains(name, "gobackend.fillBuffer"), strings.Contains(name, "gobackend.(*Buffer)"),
			strings.Contains(name, "gobackend.(*Backend).GetBuffer"), strings.Contains(name, "gobackend.(*Backend).putBuffer"):
			return "buffers"
		}
	}
	return "runtime"
}
