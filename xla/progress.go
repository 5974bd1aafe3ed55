package xla

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports training progress: a bar redrawn in place on a
// terminal, one line per epoch elsewhere, nothing without a writer.
type progress struct {
	w             io.Writer
	terminal      bool
	epochs, steps int
	epochStart    time.Time
}

func newProgress(w io.Writer, epochs, steps int) *progress {
	p := &progress{w: w, epochs: epochs, steps: steps, epochStart: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

// step records step s (1-based) of epoch with the epoch's mean loss so far.
func (p *progress) step(epoch, s int, meanLoss float64) {
	if p.w == nil || !p.terminal {
		return
	}
	if s == 1 {
		p.epochStart = time.Now()
	}
	const width = 30
	done := width * s / p.steps
	per := time.Since(p.epochStart) / time.Duration(s)
	eta := per * time.Duration(p.steps-s)
	fmt.Fprintf(p.w, "\repoch %d/%d [%s%s] %d/%d loss %.4f %.2fs/step eta %s ",
		epoch, p.epochs, strings.Repeat("=", done), strings.Repeat(" ", width-done), s, p.steps,
		meanLoss, per.Seconds(), eta.Round(time.Second))
}

// epochDone prints the epoch's summary line.
func (p *progress) epochDone(epoch int, trainLoss float64, rows []EpochMetrics) {
	if p.w == nil {
		return
	}
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "epoch %d/%d: step loss %.4f", epoch, p.epochs, trainLoss)
	for _, r := range rows {
		fmt.Fprintf(p.w, "; %s loss %.4f IoU %.4f (per image %.4f) F1 %.4f", r.Split, r.Loss, r.IoUSoftPooled, r.IoUPerImage, r.F1)
	}
	fmt.Fprintf(p.w, " [%s]\n", time.Since(p.epochStart).Round(time.Second))
	p.epochStart = time.Now()
}
