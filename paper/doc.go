// Package paper reproduces the experiments of Tang et al. (2020), "Deep
// learning segmentation model for automated detection of the opacity regions
// in the chest X-rays of the Covid-19 positive patients", figure by figure.
//
// It is the single home of every computation the notebooks in notebooks/
// show: each figure, table and experiment of the paper is one function of
// an experiment.Study that writes its files (PNG and SVG for plots,
// Markdown and CSV for tables) into the figures folder
// (experiment.Settings.Figures) and returns a Result for the notebook to
// display. The notebooks are thin: they take the settings, load the study
// (package experiment), call one function per cell and display what it
// returns (package notebooks/nb).
//
// What the model is trained on is the experiment layer's choice: the
// paper's covid-ar cohort when its annotations carry images (the synthetic
// cohort, or the full data after `make data`); otherwise cxr-seg/ (real
// X-rays with radiologists' masks), holding out the images the paper's
// authors also annotated, which stay validation images with cohen/.
//
// Steps whose inputs are absent (an annotation-only cohort without images, no
// clinical table, no Cohen model scores, no cxr-seg cohort) do not fail: their
// Result says what was skipped and why.
//
// Figure by figure:
//
//	Figure 1      Figure1            lung-cropped inputs and masks, before and after augmentation
//	cohort        CohortTables       counts of every cohort and the patient-grouped split
//	training      experiment.Study.Train        the U-Net on the split: the run folder
//	predictions   experiment.Study.EnsureModel  trains if needed, predicts every image, caches the probabilities
//	Figure 2      Figure2            training curves from RUN/metrics.csv
//	§3.1, §4.1    SegmentationTables IoU/F1 under every convention, the paper's numbers beside
//	Figure 3      Figure3            ROC of the opacity % (manual and predicted masks), per image and per patient
//	Figure 4      Figure4            ROC of Cohen et al.'s model score (user-supplied CSV; a SYNTHETIC stand-in on the phantom)
//	Cohen scores  CohenCorrelation   opacity % vs Cohen's radiologist scores (Spearman, scatter)
//	Figure 5      Figure5            the images where prediction and manual labels disagree most
//	beyond        Agreement          two annotations of the same images: the ceiling of any model's IoU
//	beyond        Validation         the automatic pipeline (package analysis) cross-validated against radiologists
//	beyond        ExternalValidation the automatic pipeline's models applied to cohen/, against the paper's polygons
//	summary       Summary            the paper's numbers beside this run's (summary.md)
//
// Every function records its key numbers in the figures folder's
// numbers.json, from which Summary makes the table that REPRODUCE.md quotes.
//
// Two analyses also run on a data folder alone, without a study or a model,
// for the command line: ReadSeverity (Figure 3a's ROC analysis and, as
// asked, CohenCorrelation's manual row and Figure 4's comparison with
// another score; `opacity severity`) and CompareAnnotations (Agreement
// without the model; `opacity agreement`). They compute, tabulate and draw
// with the same functions as Figure3, CohenCorrelation, Figure4 and
// Agreement, so the command prints the notebooks' numbers and writes their
// figures.
package paper
