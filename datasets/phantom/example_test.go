package phantom_test

import (
	"fmt"
	"log"
	"os"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/phantom"
)

func ExampleWrite() {
	dir, err := os.MkdirTemp("", "phantom")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	sum, err := phantom.Write(dir, phantom.Options{Patients: 3, Seed: 1, Size: 64, CohenImages: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(sum.Patients), "patients,", len(sum.Cohen), "external images")
	fmt.Println("synthetic:", datasets.IsSynthetic(dir))

	// Read it back like real data.
	c, err := datasets.LoadCohort(dir, datasets.CohortCovidAR, datasets.LoadOptions{Images: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(c.Samples) == len(sum.Images), len(c.Errors), "errors")
	// Output:
	// 3 patients, 2 external images
	// synthetic: true
	// true 0 errors
}
