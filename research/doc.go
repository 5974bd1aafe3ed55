// Package research holds the science of the opacity-segmentation study
// (Tang et al. 2020) in pure Go: patient-grouped splits, segmentation metrics
// under every common convention for empty masks (the question of the paper's
// section 4.1), the opacity percentage, ROC analysis with confidence
// intervals (DeLong and a patient-level cluster bootstrap), paired comparison
// of two scores, Spearman correlation with a confidence interval, agreement
// between two annotations of the same images: the statistics of package
// paper's figures (and of the "opacity severity" and "opacity agreement"
// commands, through it).
//
// Conventions used throughout:
//   - A binary mask is a row-major []uint8 of 0/1 (mask.Mask.Pix); a
//     probability mask is a []float32 of values in [0,1], same layout.
//   - A probability becomes a hard prediction when it is strictly greater
//     than the threshold (0.5 by default), as segmentation_models does.
//   - Labels of ROC analysis are bools: true = the outcome occurred (a
//     "positive" case). A higher score means "more likely positive".
//   - Every random procedure takes an explicit seed; the same seed gives the
//     same result.
//
// The plots of the paper's figures live in the subpackage research/plots.
package research
