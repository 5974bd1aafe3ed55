package nb

import (
	"strings"
	"testing"
	"time"

	"github.com/covidxray/opacity/xla/unet"
)

func TestProgressHTML(t *testing.T) {
	// Step 2 of 6 in epoch 3 of 40: (3-1)*6 + 2 = 14 of 240 steps.
	got := ProgressHTML(unet.StepInfo{Epoch: 3, Epochs: 40, Step: 2, Steps: 6, MeanLoss: 0.51234}, 95*time.Second)
	for _, want := range []string{`value="14" max="240"`, "epoch 3/40, step 2/6, mean loss 0.5123, 1m35s"} {
		if !strings.Contains(got, want) {
			t.Errorf("ProgressHTML = %s, want %q in it", got, want)
		}
	}
}

func TestMarkdownWriterOutsideANotebook(t *testing.T) {
	// Outside a GoNB kernel nothing is displayed, and the write succeeds.
	if n, err := (markdownWriter{}).Write([]byte("Found the complete run x\n")); n != 25 || err != nil {
		t.Errorf("Write: %d, %v", n, err)
	}
}
