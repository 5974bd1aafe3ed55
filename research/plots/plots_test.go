package plots

import (
	"bytes"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/research"
)

// outDir is where the tests leave their figures for a person to look at:
// $OPACITY_PLOT_DIR when set, else a temporary folder.
func outDir(t *testing.T) string {
	if d := os.Getenv("OPACITY_PLOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// checkFigure saves f as PNG and SVG and checks that both decode and that
// the PNG has the printed size at PNGDPI.
func checkFigure(t *testing.T, f *Figure, name string) {
	t.Helper()
	paths, err := f.SaveAll(filepath.Join(outDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", paths[0], err)
	}
	wantW := int(f.Width.Dots(PNGDPI) + 0.5)
	if b := img.Bounds(); b.Dx() < wantW-1 || b.Dx() > wantW+1 {
		t.Errorf("%s: %d px wide, want %d (%.1f cm at %d dpi)", paths[0], b.Dx(), wantW, f.Width.Points()/28.3465, PNGDPI)
	}
	svg, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("%s: not an SVG document", paths[1])
	}
}

func rocOf(t *testing.T, shift float64, seed uint64) research.ROCSummary {
	rng := rand.New(rand.NewPCG(seed, 1))
	var s []float64
	var l []bool
	for i := 0; i < 120; i++ {
		pos := i%4 == 0
		v := rng.NormFloat64()
		if pos {
			v += shift
		}
		s = append(s, v)
		l = append(l, pos)
	}
	r, err := research.AnalyzeROC(s, l, nil, research.BootstrapOptions{Seed: 1, Resamples: 200})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestROCFigure(t *testing.T) {
	f, err := ROCFigure("Opacity percentage (synthetic test data)", []ROCPanel{
		{Title: "ICU admission", Note: "per image, n = 120 (30 positive)", Curves: []ROCCurve{
			CurveFromSummary("opacity % (manual)", rocOf(t, 1.5, 1)),
			CurveFromSummary("opacity % (predicted)", rocOf(t, 1.0, 2)),
		}},
		{Title: "Mortality", Curves: []ROCCurve{
			CurveFromSummary("opacity % (manual)", rocOf(t, 0.8, 3)),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, f, "roc")
	if _, err := ROCFigure("", nil); err == nil {
		t.Error("no panels: no error")
	}
	if _, err := ROCFigure("", []ROCPanel{{Title: "x"}}); err == nil || !strings.Contains(err.Error(), "no curve") {
		t.Errorf("panel without curve: %v", err)
	}
}

func TestTrainingFigure(t *testing.T) {
	var recs []research.EpochRecord
	rng := rand.New(rand.NewPCG(4, 1))
	for e := 1; e <= 50; e++ {
		x := float64(e)
		recs = append(recs,
			research.EpochRecord{Epoch: e, Split: "train", Loss: 0.9*math.Exp(-x/15) + 0.1, IoUSoftPooled: 0.55 * (1 - math.Exp(-x/12)), IoUPerImage: 0.6 * (1 - math.Exp(-x/10)), F1: 0.6},
			research.EpochRecord{Epoch: e, Split: "test", Loss: 0.9*math.Exp(-x/15) + 0.15 + 0.1*rng.Float64(), IoUSoftPooled: 0.5*(1-math.Exp(-x/12)) - 0.05*rng.Float64(), IoUPerImage: math.NaN(), F1: 0.5})
	}
	f, err := TrainingFigure("Training (synthetic test data)", recs)
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, f, "training")
	if _, err := TrainingFigure("", nil); err == nil {
		t.Error("no records: no error")
	}
}
