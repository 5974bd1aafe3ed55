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
// It turns annotations into masks on the image's pixel grid (pixel centres,
// even-odd rule per polygon, union per class), applies the paper's
// preprocessing (crop to the lung fields, resize) and augmentation, writes a
// deterministic synthetic cohort, and downloads the real data.
//
// Definitions used throughout: the lung mask L is the union of lung polygons,
// the opacity mask O the union of opacity polygons; the patient id is the part
// of a file name before the first '_'.
package datasets
