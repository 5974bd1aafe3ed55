// Package datasets reads the cohorts of the chest X-ray opacity study
// (Tang et al. 2020) from one on-disk layout shared by the real data and the
// synthetic ("phantom") cohort:
//
//	DATA/covid-ar/   labelme annotations + patient_info.csv (clinical outcomes)
//	DATA/cohen/      labelme annotations + images + covid-severity-scores.csv
//	DATA/cxr-seg/    images + class-mask crops + structure.csv + metadata.csv
//	DATA/covid-qu-ex/ images + lung and infection masks + index.csv + near-duplicates.csv
//	DATA/brixia/     public-annotations.csv (two radiologists' Brixia scores)
//
// Every name of that layout is in layout.go. Each cohort has one reader
// (labelme.go for covid-ar and cohen, cxrseg.go, covidquex.go; the tables in
// clinical.go and brixia.go), and every reader returns the same Sample
// (sample.go): the X-ray, its masks on the image's own pixel grid (pixel
// centres, even-odd rule per polygon, union per class), its patient.
// LoadCohort, ScanCohort and ScanSamples read a data folder (cohort.go),
// ComputeStats counts it (stats.go); labels.go classifies the annotations'
// labels, targets.go names the masks a model learns, labelme_write.go writes
// labelme files, findimage.go finds the image beside an annotation.
// Parallel (parallel.go) and the terminal progress Bar (progress.go) are
// small helpers that other layers share.
//
// The packages under it each hold one part of the data layer: mask (the
// geometry of masks), xrayfile (X-ray files: DICOM, JPEG, PNG), transform
// (framing, resizing and augmenting a sample as a model input), phantom
// (the synthetic cohort) and fetch (the download of the real data).
//
// Definitions used throughout: the lung mask L is the union of lung polygons,
// the opacity mask O the union of opacity polygons; the patient id is the part
// of a file name before the first '_'.
package datasets
