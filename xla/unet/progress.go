package unet

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
)

// progress reports training progress: a bar redrawn in place on a
// terminal (datasets.Bar), one line per epoch elsewhere, nothing without a
// writer.
type progress struct {
	w      io.Writer
	bar    *datasets.Bar
	epochs int
}

func newProgress(w io.Writer, epochs, steps int) *progress {
	return &progress{w: w, bar: datasets.NewBar(w, steps), epochs: epochs}
}

// step records step s (1-based) of epoch with the epoch's mean loss so far.
func (p *progress) step(epoch, s int, meanLoss float64) {
	if !p.bar.Terminal() {
		return
	}
	if s == 1 {
		p.bar.Restart()
	}
	per := p.bar.Elapsed() / time.Duration(s)
	p.bar.Draw(s, fmt.Sprintf("epoch %d/%d ", epoch, p.epochs), fmt.Sprintf("loss %.4f %.2fs/step", meanLoss, per.Seconds()))
}

// epochDone prints the epoch's summary line: the mean step loss, the
// metrics of every split (and target, when there are several) and where
// the epoch's time went.
func (p *progress) epochDone(epoch int, trainLoss float64, rows []research.EpochRecord, t PhaseTimes) {
	if p.w == nil {
		return
	}
	p.bar.Clear()
	fmt.Fprint(p.w, EpochLine(epoch, p.epochs, trainLoss, rows, t))
	p.bar.Restart()
}

// EpochLine is the one-line summary of an epoch that Train prints: the
// mean step loss, the metrics of every split (and target, when the rows
// have several) and the epoch's phase times, ending in a newline. A run of
// 0 epochs (its starting weights kept) has no step loss.
func EpochLine(epoch, epochs int, trainLoss float64, rows []research.EpochRecord, t PhaseTimes) string {
	var b strings.Builder
	if epochs == 0 {
		b.WriteString("0 epochs: the starting weights as they are") // a run that keeps its start
	} else {
		fmt.Fprintf(&b, "epoch %d/%d: step loss %.4f", epoch, epochs, trainLoss)
	}
	targets := map[string]bool{}
	for _, r := range rows {
		targets[r.Target] = true
	}
	for _, r := range rows {
		name := r.Split
		if len(targets) > 1 {
			name += " " + r.Target
		}
		fmt.Fprintf(&b, "; %s loss %.4f IoU %.4f (per image %.4f) F1 %.4f", name, r.Loss, r.IoUSoftPooled, r.IoUPerImage, r.F1)
	}
	fmt.Fprintf(&b, " [%s: %s]\n", (time.Duration(t.Wall * float64(time.Second))).Round(time.Second), t)
	return b.String()
}
