// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package gobackend

// Patch 8 (see PATCHES.md): an op timeline, for finding where the cores
// idle.

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// TimelineEnv names the environment variable that, set to a file path when
// the program starts, makes every execution append one line per executed
// node to that file: the op type, its output shape, its inputs' shapes
// (separated by ";"; shapes without spaces), and its start and end in Unix
// nanoseconds, tab-separated. The file is written after each execution. It is a
// profiling aid (the project's bench/optimeline summarises it); timing
// every node costs a little.
const TimelineEnv = "GOBACKEND_TIMELINE"

// opTimeline is the timeline TimelineEnv asks for, or nil.
var opTimeline = newTimeline(os.Getenv(TimelineEnv))

// timeline collects node records and writes them to its file.
type timeline struct {
	path    string
	mu      sync.Mutex
	w       *bufio.Writer
	failed  bool
	pending int
}

func newTimeline(path string) *timeline {
	if path == "" {
		return nil
	}
	return &timeline{path: path}
}

// record adds one executed node.
func (t *timeline) record(node *Node, start, end time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed {
		return
	}
	if t.w == nil {
		f, err := os.Create(t.path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gobackend: %s: %v (no op timeline)\n", TimelineEnv, err)
			t.failed = true
			return
		}
		t.w = bufio.NewWriterSize(f, 1<<20)
	}
	inputs := make([]string, len(node.Inputs))
	for i, in := range node.Inputs {
		inputs[i] = strings.ReplaceAll(in.Shape.String(), " ", "")
	}
	fmt.Fprintf(t.w, "%s\t%s\t%s\t%d\t%d\n", node.OpType, strings.ReplaceAll(node.Shape.String(), " ", ""),
		strings.Join(inputs, ";"), start.UnixNano(), end.UnixNano())
	t.pending++
}

// flush writes the records so far to the file.
func (t *timeline) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w != nil && t.pending > 0 {
		if err := t.w.Flush(); err != nil && !t.failed {
			fmt.Fprintf(os.Stderr, "gobackend: %s: %v (op timeline stopped)\n", TimelineEnv, err)
			t.failed = true
		}
		t.pending = 0
	}
}
