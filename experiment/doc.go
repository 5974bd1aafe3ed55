// Package experiment is the experiment layer: one pipeline from a data
// folder to a trained model and its predictions, under both the notebooks
// and the command line.
//
// Settings decide everything an experiment computes (data, cohort,
// targets, split, model, training) and where it writes; Preset and FromEnv
// give the presets of the reproduction (tiny, smoke, full), and a notebook
// or a command changes fields from there. LoadStudy reads the Study: the
// cohorts, the manual opacity percentages with the clinical outcomes, and
// the model inputs, framed and resized, with the patient-grouped split.
//
// A run folder is owned by this package: Study.Train writes it, OpenRun
// reads it back.
//
//	RUN/run.json          the run record (RunRecord): settings, data folder, split,
//	                      training configuration, targets, metrics schema, timings,
//	                      parameter count, commit
//	RUN/metrics.csv       one row per epoch, split and target (research.EpochRecord)
//	RUN/train.log         the text log: one line per epoch with its phase times
//	RUN/checkpoints/      the newest epoch checkpoint (package xla/unet)
//	RUN/predictions.gob   the model's probabilities on every image of the study
//
// The same settings give the same run folder (RunKey.Dir under
// Settings.Runs) and, on the same backend, the same numbers, whichever side
// made the run: a notebook finds the run `opacity train` made and the
// reverse, and `opacity eval --run RUN` needs nothing but the folder. One
// rule decides whether two runs are the same: RunKey.Same.
//
// Inputs are framed per target (transform.FramingFor): an opacity model
// sees the paper's lung crop (the manual lungs' bounding box with a 5%
// margin, resized to the input size); a model with the lungs among its
// targets sees the whole image resized, since at inference the lungs are
// what is unknown.
package experiment
