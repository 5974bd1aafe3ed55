package datasets

import (
	"bytes"
	"testing"
	"time"
)

func TestBarLine(t *testing.T) {
	tests := []struct {
		name           string
		total, done    int
		prefix, detail string
		elapsed        time.Duration
		want           string
	}{
		// 30*1/3 = 10 marks; 12 s for 1 step, 2 left: 24 s.
		{"a third", 3, 1, "", "a.png", 12 * time.Second, "[==========                    ] 1/3 a.png eta 24s"},
		// 30*5/20 = 7 marks (7.5 rounded down); 10 s / 5 = 2 s a step, 15 left.
		{"epoch", 20, 5, "epoch 2/4 ", "loss 0.5000 2.00s/step", 10 * time.Second,
			"epoch 2/4 [=======                       ] 5/20 loss 0.5000 2.00s/step eta 30s"},
		{"before the first step", 4, 0, "", "x", time.Minute, "[                              ] 0/4 x eta 0s"},
		{"all done", 4, 4, "", "x", time.Minute, "[==============================] 4/4 x eta 0s"},
		{"no steps", 0, 0, "", "x", 0, "[                              ] 0/0 x eta 0s"},
	}
	for _, tc := range tests {
		b := &Bar{total: tc.total}
		if got := b.line(tc.done, tc.prefix, tc.detail, tc.elapsed); got != tc.want {
			t.Errorf("%s: line = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestBarSilentOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	for _, b := range []*Bar{NewBar(&buf, 3), NewBar(nil, 3)} {
		if b.Terminal() {
			t.Error("a bar on a buffer or on nothing says it draws")
		}
		b.Draw(1, "p ", "d")
		b.Clear()
		b.Done()
	}
	if buf.Len() != 0 {
		t.Errorf("a bar on a buffer wrote %q", buf.String())
	}
}
