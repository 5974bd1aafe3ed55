package paper

import (
	"fmt"
	"path/filepath"
)

// Run is a training run of the study's model: its folder (metrics.csv,
// checkpoints, configuration) under the settings' runs folder.
type Run struct {
	Dir string
	// Trained says whether this process trained (or finished training) it,
	// rather than finding it complete.
	Trained bool
}

// RunDir returns the folder of the run that these settings train on the
// given cohort: the same settings give the same folder, so every notebook
// reuses the run the training notebook made.
func (s Settings) RunDir(trainCohort string) string {
	p := s.Preset
	return filepath.Join(s.Runs, fmt.Sprintf("%s-%s-%s-%dpx-e%d-b%d-%s-lr%g-%s-aug-%s-seed%d", s.DataKey(), trainCohort, p.Name, p.InputSize, p.Epochs, p.Batch, p.Model, p.LearningRate, p.schedule(), p.augment(), s.Seed))
}

// Run returns the study's training run, nil before EnsureModel.
func (st *Study) Run() *Run { return st.run }
