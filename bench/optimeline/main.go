// Command optimeline summarises an op timeline of the Go backend: the file
// that GOBACKEND_TIMELINE names when a program runs on the patched backend
// (third_party/gomlx-compute, patch 8), one line per executed node: op
// type, output shape, input shapes, start and end in Unix nanoseconds,
// tab-separated.
//
// It prints, for each op, output shape and input shapes, the nodes and milliseconds per
// step and the milliseconds per step during which that node was the only
// one running ("alone"): a matrix product alone keeps both cores busy, any
// other op alone leaves one idle, so the alone time of the other ops is
// where a one-image forward pass loses its second core. Gaps (no node
// running) are the scheduler's and the host's time. The first -skip share
// of the records (the compiling warm-up) is left out; -steps divides the
// totals. With -by op the rows are op types (every shape of an op summed),
// the first view of where a step's time goes.
//
// Usage:
//
//	GOBACKEND_TIMELINE=/tmp/tl.txt gobench -mode infer -size 320 -batch 1 -steps 6
//	go run ./bench/optimeline -steps 3 -skip 0.5 /tmp/tl.txt
//	go run ./bench/optimeline -steps 3 -by op /tmp/tl.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strconv"
	"strings"
)

// record is one executed node.
type record struct {
	op         string
	key        string // op, output shape and input shapes
	start, end int64
}

func main() {
	steps := flag.Float64("steps", 1, "steps in the records kept (divides the totals)")
	skip := flag.Float64("skip", 0.5, "share of the records (in time order) to leave out first: the warm-up")
	top := flag.Int("top", 30, "rows to print")
	by := flag.String("by", "shape", "rows: shape (each op with its output and input shapes) or op (op types)")
	flag.Parse()
	if flag.NArg() != 1 || *steps <= 0 || *skip < 0 || *skip >= 1 || (*by != "shape" && *by != "op") {
		fmt.Fprintln(os.Stderr, "usage: optimeline [-steps N] [-skip F] [-top N] [-by shape|op] TIMELINE")
		os.Exit(2)
	}
	path := flag.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	recs, err := read(f)
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].start < recs[j].start })
	recs = recs[int(float64(len(recs))**skip):]
	if len(recs) == 0 {
		log.Fatalf("%s: no records after the warm-up", path)
	}
	s := summarise(recs, *by == "op")
	ms := func(ns float64) float64 { return ns / 1e6 / *steps }
	fmt.Printf("span %.1f ms per step, no node running %.1f ms per step\n", ms(float64(s.span)), ms(float64(s.gap)))
	what := "op output <- inputs"
	if *by == "op" {
		what = "op"
	}
	fmt.Printf("%8s %9s %9s %8s  %s\n", "n/step", "ms/step", "alone", "mean ms", what)
	for i, k := range s.keys {
		if i >= *top {
			break
		}
		st := s.ops[k]
		fmt.Printf("%8.1f %9.2f %9.2f %8.3f  %s\n", float64(st.n) / *steps, ms(float64(st.total)), ms(float64(st.alone)), float64(st.total)/float64(st.n)/1e6, k)
	}
}

// read parses the timeline's lines.
func read(r io.Reader) ([]record, error) {
	var recs []record
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 5 {
			return nil, fmt.Errorf("line %d: %d tab-separated fields, want 5 (op, shape, input shapes, start, end)", line, len(fields))
		}
		start, err1 := strconv.ParseInt(fields[3], 10, 64)
		end, err2 := strconv.ParseInt(fields[4], 10, 64)
		if err1 != nil || err2 != nil || end < start {
			return nil, fmt.Errorf("line %d: bad start or end %q, %q", line, fields[3], fields[4])
		}
		recs = append(recs, record{op: fields[0], key: fields[0] + " " + fields[1] + " <- " + fields[2], start: start, end: end})
	}
	return recs, sc.Err()
}

// opStats accumulates one op and shape.
type opStats struct {
	n            int
	total, alone int64
}

// summary is the timeline's totals.
type summary struct {
	span, gap int64
	ops       map[string]*opStats
	keys      []string // by total time, largest first
}

// summarise sweeps the records' start and end events in time order,
// crediting each interval to the node running alone in it, or to the gaps
// when none runs; rows are op types when byOp, else op and shapes.
func summarise(recs []record, byOp bool) summary {
	key := func(r record) string {
		if byOp {
			return r.op
		}
		return r.key
	}
	type event struct {
		t     int64
		start bool
		i     int
	}
	events := make([]event, 0, 2*len(recs))
	s := summary{ops: map[string]*opStats{}}
	for i, r := range recs {
		events = append(events, event{r.start, true, i}, event{r.end, false, i})
		st := s.ops[key(r)]
		if st == nil {
			st = &opStats{}
			s.ops[key(r)] = st
			s.keys = append(s.keys, key(r))
		}
		st.n++
		st.total += r.end - r.start
	}
	sort.Slice(events, func(a, b int) bool {
		if events[a].t != events[b].t {
			return events[a].t < events[b].t
		}
		return !events[a].start && events[b].start // ends first at a tie
	})
	running := map[int]bool{}
	last := events[0].t
	s.span = events[len(events)-1].t - last
	for _, e := range events {
		if dt := e.t - last; dt > 0 {
			switch len(running) {
			case 0:
				s.gap += dt
			case 1:
				for i := range running {
					s.ops[key(recs[i])].alone += dt
				}
			}
		}
		last = e.t
		if e.start {
			running[e.i] = true
		} else {
			delete(running, e.i)
		}
	}
	sort.SliceStable(s.keys, func(a, b int) bool { return s.ops[s.keys[a]].total > s.ops[s.keys[b]].total })
	return s
}
