package main

import (
	"strings"
	"testing"
)

// summariseText reads a timeline from text and summarises it.
func summariseText(t *testing.T, in string, byOp bool) summary {
	t.Helper()
	recs, err := read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	return summarise(recs, byOp)
}

// TestSummarise checks the sweep on a hand-made timeline (times in ns):
//
//	A: 0-10, B: 5-20, C: 30-40, D: 35-40
//
// A runs alone 0-5, A and B together 5-10, B alone 10-20, nothing 20-30,
// C alone 30-35, C and D together 35-40: span 40, gap 10; alone A 5, B 10,
// C 5, D 0; totals A 10, B 15, C 10, D 5.
func TestSummarise(t *testing.T) {
	s := summariseText(t, "A\t[1]\t\t0\t10\nB\t[2]\t[1];[1]\t5\t20\nD\t[4]\t\t35\t40\nC\t[3]\t\t30\t40\n", false)
	if s.span != 40 || s.gap != 10 {
		t.Errorf("span %d, gap %d; want 40, 10", s.span, s.gap)
	}
	for _, c := range []struct {
		key          string
		total, alone int64
	}{{"A [1] <- ", 10, 5}, {"B [2] <- [1];[1]", 15, 10}, {"C [3] <- ", 10, 5}, {"D [4] <- ", 5, 0}} {
		st := s.ops[c.key]
		if st == nil {
			t.Fatalf("no %q in %v", c.key, s.keys)
		}
		if st.n != 1 || st.total != c.total || st.alone != c.alone {
			t.Errorf("%q: n %d, total %d, alone %d; want 1, %d, %d", c.key, st.n, st.total, st.alone, c.total, c.alone)
		}
	}
	if s.keys[0] != "B [2] <- [1];[1]" {
		t.Errorf("first key %q, want B (largest total)", s.keys[0])
	}
}

// TestReadRejectsBadLines checks that a malformed line is named.
func TestReadRejectsBadLines(t *testing.T) {
	for _, in := range []string{"A\t[1]\t0\t10\n", "A\t[1]\t\tx\t10\n", "A\t[1]\t\t10\t5\n"} {
		if _, err := read(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v, want one naming line 1", in, err)
		}
	}
}

// TestSummariseByOp: with rows by op type, two shapes of one op add up
// (A 0-10 and A 5-20 overlap: totals 10 + 15, alone 5 + 10, though never
// alone as an op type 5-10) and the gaps are as before.
func TestSummariseByOp(t *testing.T) {
	s := summariseText(t, "A\t[1]\t\t0\t10\nA\t[2]\t[1]\t5\t20\nB\t[3]\t\t30\t40\n", true)
	if a, b := s.ops["A"], s.ops["B"]; a == nil || b == nil || a.n != 2 || a.total != 25 || a.alone != 15 || b.n != 1 || b.total != 10 || b.alone != 10 {
		t.Fatalf("by op: %v, keys %v", s.ops, s.keys)
	}
	if s.gap != 10 || s.span != 40 || len(s.keys) != 2 || s.keys[0] != "A" {
		t.Errorf("gap %d, span %d, keys %v; want 10, 40, [A B]", s.gap, s.span, s.keys)
	}
}
