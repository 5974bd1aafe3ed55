package plots

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets/mask"
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

// fakeChest returns a gray image w x h with two dark lung fields, their
// mask, and an elliptic "opacity" mask centred at (cx, cy) in the left lung.
func fakeChest(w, h int, cx, cy, r float64) (*image.Gray, *mask.Mask, *mask.Mask) {
	img := image.NewGray(image.Rect(0, 0, w, h))
	lung := mask.New(w, h)
	op := mask.New(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			v := 200.0
			inL := sq((fx-0.3)/0.15)+sq((fy-0.5)/0.3) < 1
			inR := sq((fx-0.7)/0.15)+sq((fy-0.5)/0.3) < 1
			if inL || inR {
				v = 70
				lung.Set(x, y, true)
			}
			if inL && sq(fx-cx)+sq(fy-cy) < r*r {
				op.Set(x, y, true)
				v = 130
			}
			img.Pix[y*img.Stride+x] = uint8(v)
		}
	}
	return img, lung, op
}

func sq(x float64) float64 { return x * x }

func TestImageGrid(t *testing.T) {
	var cells []GridImage
	for i := 0; i < 5; i++ {
		w, h := 320, 320+40*i
		img, lung, manual := fakeChest(w, h, 0.3, 0.45+0.04*float64(i), 0.08)
		_, _, pred := fakeChest(w, h, 0.32, 0.5, 0.1)
		cells = append(cells, GridImage{
			Title: fmt.Sprintf("image %d\nIoU %.2f", i+1, 0.5),
			Image: img,
			Overlays: []Overlay{
				{Mask: lung, Color: LungColor, Label: "lung (manual)"},
				{Mask: manual, Color: ManualColor, Label: "opacity (manual)", Fill: true},
				{Mask: pred, Color: PredictedColor, Label: "opacity (predicted)"},
			},
		})
	}
	f, err := ImageGrid("Manual and predicted opacity (synthetic test images)", cells, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, f, "grid")
	bad := cells[0]
	bad.Overlays = []Overlay{{Mask: mask.New(3, 3), Label: "wrong size"}}
	if _, err := ImageGrid("", []GridImage{bad}, 2); err == nil {
		t.Error("mask of another size: no error")
	}
	if _, err := ImageGrid("", []GridImage{{Title: "no image"}}, 2); err == nil {
		t.Error("cell without image: no error")
	}
}

func TestScatterAndBlandAltman(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 1))
	var pct, geo, op []float64
	for i := 0; i < 21; i++ {
		v := 60 * rng.Float64()
		pct = append(pct, v)
		geo = append(geo, math.Round(math.Min(8, math.Max(0, v/8+rng.NormFloat64()))*10)/10)
		op = append(op, math.Round(math.Min(6, math.Max(0, v/10+rng.NormFloat64()))*10)/10)
	}
	cg, err := research.Spearman(pct, geo)
	if err != nil {
		t.Fatal(err)
	}
	co, _ := research.Spearman(pct, op)
	f, err := ScatterFigure("Opacity % vs Cohen's severity scores (synthetic test data)", []ScatterPanel{
		{Title: "Geographic extent", XLabel: "opacity % (manual)", YLabel: "geographic_mean (0–8)", X: pct, Y: geo, Corr: cg},
		{Title: "Opacity degree", XLabel: "opacity % (manual)", YLabel: "opacity_mean (0–6)", X: pct, Y: op, Corr: co},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, f, "scatter")

	b := make([]float64, len(pct))
	for i := range b {
		b[i] = math.Max(0, pct[i]+5+8*rng.NormFloat64())
	}
	s, err := research.BlandAltman(pct, b)
	if err != nil {
		t.Fatal(err)
	}
	f, err = BlandAltmanFigure("", "opacity %", "paper", "cxr-seg", s)
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, f, "bland-altman")
	if _, err := BlandAltmanFigure("", "x", "a", "b", research.BlandAltmanStats{}); err == nil {
		t.Error("no data: no error")
	}
}
