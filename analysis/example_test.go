package analysis_test

import (
	"fmt"
	"log"
	"os"

	"github.com/covidxray/opacity/analysis"
	"github.com/covidxray/opacity/datasets/xrayfile"
)

// Measuring a folder of X-rays with a models folder made by opacity models
// (or analysis.TrainModels): masks, overlays and labelme files per image,
// and report.csv/report.json, in results/. (Not run: it needs trained
// models; see the package's tests.)
func ExampleModels_AnalyzeFiles() {
	m, err := analysis.OpenModels("models", "") // "": $GOMLX_BACKEND, else the Go backend
	if err != nil {
		log.Fatal(err)
	}
	files, err := analysis.XrayFiles([]string{"scans/"}) // JPEG, PNG, DICOM, recursively
	if err != nil {
		log.Fatal(err)
	}
	rep, err := m.AnalyzeFiles(files, analysis.FileOptions{Out: "results", Progress: os.Stderr, Errors: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range rep.Files {
		if f.OpacityPct != nil {
			fmt.Printf("%s: %.1f%% of the lungs %v\n", f.File, *f.OpacityPct, f.Flags)
		}
	}
}

// One image in memory: the automatic pipeline's masks and percentage.
func ExampleModels_Analyze() {
	m, err := analysis.OpenModels("models", "")
	if err != nil {
		log.Fatal(err)
	}
	x, err := xrayfile.Read("chest.dcm", xrayfile.Options{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := m.Analyze(x.Image)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("opacity %.1f%% of %d lung pixels (%.0f%% of the image), flags %v\n", r.OpacityPct, r.LungPixels, 100*r.LungShare, r.Flags)
}
