// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package gobackend

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// TestTimelineRecordsNodes checks patch 8's line format: op, output shape,
// input shapes joined by ";", start and end nanoseconds, tab-separated,
// written by flush.
func TestTimelineRecordsNodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tl.txt")
	tl := newTimeline(path)
	in1 := &Node{Shape: shapes.Make(dtypes.Float32, 2, 3)}
	in2 := &Node{Shape: shapes.Make(dtypes.Float32, 3)}
	node := &Node{OpType: compute.OpTypeAdd, Shape: shapes.Make(dtypes.Float32, 2, 3), Inputs: []*Node{in1, in2}}
	start := time.Unix(0, 1000)
	tl.record(node, start, start.Add(250))
	tl.flush()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "Add\t(Float32)[2,3]\t(Float32)[2,3];(Float32)[3]\t1000\t1250\n"
	if string(got) != want {
		t.Fatalf("timeline %q, want %q", got, want)
	}
	if newTimeline("") != nil {
		t.Error("a timeline without a path")
	}
}
