package unet

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/covidxray/opacity/research"
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

// epochDone prints the epoch's summary line: the mean step loss, the
// metrics of every split (and target, when there are several) and where
// the epoch's time went.
func (p *progress) epochDone(epoch int, trainLoss float64, rows []research.EpochRecord, t PhaseTimes) {
	if p.w == nil {
		return
	}
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprint(p.w, EpochLine(epoch, p.epochs, trainLoss, rows, t))
	p.epochStart = time.Now()
}

// EpochLine is the one-line summary of an epoch that Train prints: the
// mean step loss, the metrics of every split (and target, when the rows
// have several) and the epoch's phase times, ending in a newline.
func EpochLine(epoch, epochs int, trainLoss float64, rows []research.EpochRecord, t PhaseTimes) string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d/%d: step loss %.4f", epoch, epochs, trainLoss)
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
