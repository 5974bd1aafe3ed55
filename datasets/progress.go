package datasets

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// barWidth is the number of characters between a Bar's brackets.
const barWidth = 30

// Bar is a progress bar of a fixed number of steps, redrawn in place on a
// terminal. On any other writer (a file, a pipe, a notebook's output) and
// without one it draws nothing, so that logs keep only whole lines.
type Bar struct {
	w     io.Writer // nil when the bar does not draw
	total int
	start time.Time
}

// NewBar returns a bar of total steps drawn on w when w is a terminal, its
// clock started now.
func NewBar(w io.Writer, total int) *Bar {
	if f, ok := w.(*os.File); !ok || !isTerminal(f) {
		w = nil
	}
	return &Bar{w: w, total: total, start: time.Now()}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Terminal reports whether the bar draws: its writer is a terminal.
func (b *Bar) Terminal() bool { return b.w != nil }

// Restart starts the bar's clock again, for a new round of the same steps
// (an epoch).
func (b *Bar) Restart() { b.start = time.Now() }

// Elapsed returns the time since NewBar or the last Restart.
func (b *Bar) Elapsed() time.Duration { return time.Since(b.start) }

// line returns the bar's line after done of its steps: prefix, the bar,
// done/total, detail and the time left at the mean pace so far (0 before the
// first step), as Draw writes it after erasing the line.
func (b *Bar) line(done int, prefix, detail string, elapsed time.Duration) string {
	n := min(max(barWidth*done/max(b.total, 1), 0), barWidth)
	eta := time.Duration(0)
	if done > 0 {
		eta = elapsed / time.Duration(done) * time.Duration(b.total-done)
	}
	return fmt.Sprintf("%s[%s%s] %d/%d %s eta %s", prefix, strings.Repeat("=", n), strings.Repeat(" ", barWidth-n), done, b.total,
		detail, eta.Round(time.Second))
}

// Draw redraws the bar's line after done of its steps (see line), in place
// of the last one.
func (b *Bar) Draw(done int, prefix, detail string) {
	if b.w != nil {
		fmt.Fprint(b.w, "\r\033[K"+b.line(done, prefix, detail, b.Elapsed()))
	}
}

// Clear erases the bar's line, for a message or a summary to take its place.
func (b *Bar) Clear() {
	if b.w != nil {
		fmt.Fprint(b.w, "\r\033[K")
	}
}

// Done ends the bar's line, leaving the last drawing on the screen.
func (b *Bar) Done() {
	if b.w != nil {
		fmt.Fprintln(b.w)
	}
}
