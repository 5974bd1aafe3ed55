package plots_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

func ExampleROCFigure() {
	pct := []float64{42, 35, 30, 12, 18, 12, 3, 5}
	icu := []bool{true, true, true, true, false, false, false, false}
	patient := []string{"A", "A", "B", "C", "D", "D", "E", "F"}
	r, err := research.AnalyzeROC(pct, icu, patient, research.BootstrapOptions{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := plots.ROCFigure("Opacity %", []plots.ROCPanel{
		{Title: "ICU admission", Curves: []plots.ROCCurve{plots.CurveFromSummary("opacity % (manual)", r)}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "roc")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	paths, err := f.SaveAll(filepath.Join(dir, "fig3a"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range paths {
		fmt.Println(filepath.Base(p))
	}
	// Output:
	// fig3a.png
	// fig3a.svg
}
