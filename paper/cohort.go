package paper

import (
	"fmt"
	"github.com/covidxray/opacity/experiment"
	"strings"

	"github.com/covidxray/opacity/datasets"
)

// Paper's cohort numbers (sections 2.1, 2.2, 4.1).
const (
	PaperImages          = 221 // chest X-rays of the COVID-19-AR cohort
	PaperPatients        = 105
	PaperTrainImages     = 154
	PaperTestImages      = 67
	PaperClearImages     = 71 // images without any opacity region
	PaperValidation      = 25 // images of Cohen's collection (22 annotations are public)
	PaperValidationAnnot = 22
)

// CohortTables counts every cohort of the data folder and the patient-grouped
// train/test split, beside the paper's numbers. Tables: table-cohorts,
// table-split.
func CohortTables(st *experiment.Study) (*Result, error) {
	return finish(st, "cohorts")(cohortTables(st))
}

func cohortTables(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Cohorts and the patient split (sections 2.1, 2.2)")
	t := &table{header: []string{"cohort", "role", "files", "read", "with image", "patients", "clear lungs", "ICU patients", "deaths", "patients without clinical row", "paper"}}
	role := map[string]string{
		datasets.CohortCovidAR: "the paper's training/testing cohort",
		datasets.CohortCohen:   "the paper's validation set",
		datasets.CohortCXRSeg:  "radiologists' masks (not in the paper)",
	}
	paper := map[string]string{
		datasets.CohortCovidAR: fmt.Sprintf("%d images, %d patients, %d clear", PaperImages, PaperPatients, PaperClearImages),
		datasets.CohortCohen:   fmt.Sprintf("%d images (%d annotations public)", PaperValidation, PaperValidationAnnot),
		datasets.CohortCXRSeg:  "—",
	}
	for _, name := range []string{datasets.CohortCovidAR, datasets.CohortCohen, datasets.CohortCXRSeg} {
		c := st.Counts[name]
		if c == nil || c.Files == 0 {
			t.add(name, role[name], "0", "", "", "", "", "", "", "", paper[name])
			continue
		}
		icu, death, noRow := "", "", ""
		if name == datasets.CohortCovidAR {
			if st.Clinical != nil {
				icu, death, noRow = fmt.Sprint(c.ICU), fmt.Sprint(c.Death), fmt.Sprint(c.NoClinical)
			} else {
				icu, death, noRow = "no table", "no table", "no table"
			}
		}
		t.add(name, role[name], fmt.Sprint(c.Files), fmt.Sprint(c.Read), fmt.Sprint(c.WithImage), fmt.Sprint(c.Patients),
			fmt.Sprint(c.Clear), icu, death, noRow, paper[name])
	}
	if err := r.saveTable(s, "table-cohorts", "Cohorts"+dataTag(s), t); err != nil {
		return nil, err
	}
	if c := st.Counts[datasets.CohortCovidAR]; c != nil {
		r.Numbers["covid_ar_images"] = float64(c.Read)
		r.Numbers["covid_ar_patients"] = float64(c.Patients)
		r.Numbers["covid_ar_clear"] = float64(c.Clear)
		r.Numbers["covid_ar_with_image"] = float64(c.WithImage)
	}
	if st.ClinicalErr != nil {
		r.skip("no clinical table: %v", st.ClinicalErr)
	}

	if st.TrainCohort == "" {
		r.skip("no cohort with images (covid-ar annotations have none here, and there is no cxr-seg/ with images): no train/test split and no model. " +
			"The analyses of manual masks (Figure 3a, Cohen's scores) still run.")
	} else {
		if st.TrainCohort != datasets.CohortCovidAR {
			r.note("The covid-ar annotations here carry no images, so the model is trained and tested on **%s** instead "+
				"(real X-rays with radiologists' masks; patient ids from its metadata.csv), and validated on cohen/ as in the paper. "+
				"%d cxr-seg images that the paper's authors also annotated in cohen/ are kept out of training and testing.",
				st.TrainCohort, len(st.HeldOut))
		}
		z := st.Split.Sizes(st.SplitItems)
		val := st.Subset(experiment.SubsetValidation)
		valPatients := map[string]bool{}
		for _, it := range val {
			valPatients[it.Patient] = true
		}
		valClear := 0
		for _, it := range val {
			if !it.Opaque() {
				valClear++
			}
		}
		t := &table{header: []string{"subset", "cohort", "images", "patients", "with opacity", "clear", "paper"}}
		t.add("train", st.TrainCohort, fmt.Sprint(z.TrainImages), fmt.Sprint(z.TrainPatients), fmt.Sprint(z.TrainOpaque), fmt.Sprint(z.TrainClear), fmt.Sprintf("%d images", PaperTrainImages))
		t.add("test", st.TrainCohort, fmt.Sprint(z.TestImages), fmt.Sprint(z.TestPatients), fmt.Sprint(z.TestOpaque), fmt.Sprint(z.TestClear), fmt.Sprintf("%d images", PaperTestImages))
		t.add("validation", datasets.CohortCohen, fmt.Sprint(len(val)), fmt.Sprint(len(valPatients)), fmt.Sprint(len(val)-valClear), fmt.Sprint(valClear), fmt.Sprintf("%d images", PaperValidation))
		if err := r.saveTable(s, "table-split", fmt.Sprintf("Patient-grouped split %.0f:%.0f (seed %d, stratified by clear/opaque; no patient on both sides)%s",
			10*(1-s.TestFraction), 10*s.TestFraction, s.Seed, dataTag(s)), t); err != nil {
			return nil, err
		}
		r.Numbers["train_images"] = float64(z.TrainImages)
		r.Numbers["test_images"] = float64(z.TestImages)
		r.Numbers["train_patients"] = float64(z.TrainPatients)
		r.Numbers["test_patients"] = float64(z.TestPatients)
		r.Numbers["validation_images"] = float64(len(val))
		r.Facts["train_cohort"] = st.TrainCohort
	}
	if len(st.Problems) > 0 {
		r.note("Left out (%d): %s", len(st.Problems), strings.Join(limit(st.Problems, 10), "; "))
	}
	return r, nil
}

// limit returns at most n strings of list, saying how many more there are.
func limit(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(append([]string(nil), list[:n]...), fmt.Sprintf("… and %d more", len(list)-n))
}
