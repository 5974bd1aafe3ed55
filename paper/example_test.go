package paper_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/paper"
)

// A notebook cell in Go: take the settings of a preset, load the study
// (generating the synthetic cohort on first use) and reproduce Figure 3a
// from the manual masks. Figure 3b needs the model (Study.EnsureModel
// first); without it the result says it was skipped.
func ExampleFigure3() {
	dir, err := os.MkdirTemp("", "paper-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := experiment.Preset(experiment.PresetTiny)
	if err != nil {
		log.Fatal(err)
	}
	s = s.WithRepo(dir) // cache and figures under dir
	st, err := experiment.LoadStudy(s)
	if err != nil {
		log.Fatal(err)
	}
	r, err := paper.Figure3(st)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Title)
	for _, f := range r.Figures {
		fmt.Println("figure:", filepath.Base(f))
	}
	fmt.Printf("per-patient AUC for ICU admission (manual masks): %.3f\n", r.Numbers["auc_manual_patient_icu"])
	fmt.Println("skipped:", len(r.Skipped))
	// Output:
	// Figure 3: opacity % as a predictor of ICU admission and mortality
	// figure: figure3a.png
	// per-patient AUC for ICU admission (manual masks): 0.917
	// skipped: 1
}
