package nb

import (
	"os"
	"path/filepath"
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

func TestPNGHTML(t *testing.T) {
	tests := []struct {
		png           []byte
		caption, want string
	}{
		// base64 of "abc" is "YWJj"; the caption is escaped.
		{[]byte("abc"), "a<b>&c.png", `<figure style="margin:0"><img style="max-width:100%;width:900px" src="data:image/png;base64,YWJj"/><figcaption><code>a&lt;b&gt;&amp;c.png</code></figcaption></figure>`},
		{nil, "", `<figure style="margin:0"><img style="max-width:100%;width:900px" src="data:image/png;base64,"/><figcaption><code></code></figcaption></figure>`},
	}
	for _, tc := range tests {
		if got := PNGHTML(tc.png, tc.caption); got != tc.want {
			t.Errorf("PNGHTML(%q, %q) = %s, want %s", tc.png, tc.caption, got, tc.want)
		}
	}
}

func TestImageHTML(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.png")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ImageHTML(p)
	if want := PNGHTML([]byte("abc"), p); err != nil || got != want {
		t.Errorf("ImageHTML = %s, %v, want %s", got, err, want)
	}
	if _, err := ImageHTML(filepath.Join(t.TempDir(), "missing.png")); err == nil {
		t.Error("ImageHTML of a missing file: no error")
	}
}
