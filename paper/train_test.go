package paper

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/covidxray/opacity/research"
)

// TestTrainResumeAndPredict trains the tiny model for two epochs in one go,
// and for one epoch then resumed for a second: the metrics must be the same
// bytes (seeded shuffling and augmentation per epoch, deterministic Go
// backend). The predictions read back from the checkpoint must give the
// metrics the training wrote after its last epoch.
func TestTrainResumeAndPredict(t *testing.T) {
	tmp := t.TempDir()
	st, _ := tinyStudyEnv(t, tmp, map[string]string{EnvRuns: filepath.Join(tmp, "a"), EnvEpochs: "2"})
	var log bytes.Buffer
	if err := st.EnsureModel(&log); err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	dirA := st.Run().Dir
	want, err := os.ReadFile(filepath.Join(dirA, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}

	// One epoch, then the run folder renamed to the two-epoch run's and
	// its completion marker removed: Train resumes after epoch 1.
	one, _ := tinyStudyEnv(t, tmp, map[string]string{EnvRuns: filepath.Join(tmp, "b"), EnvEpochs: "1"})
	if _, err := one.Train(&log); err != nil {
		t.Fatal(err)
	}
	two, _ := tinyStudyEnv(t, tmp, map[string]string{EnvRuns: filepath.Join(tmp, "b"), EnvEpochs: "2"})
	dirB := two.Settings.RunDir(two.TrainCohort)
	if err := os.Rename(one.Run().Dir, dirB); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dirB, RunFile)); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	if _, err := two.Train(&log); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log.Bytes(), []byte("resumed after epoch 1")) {
		t.Errorf("training did not resume:\n%s", log.String())
	}
	got, err := os.ReadFile(filepath.Join(dirB, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("resumed run's metrics differ from the uninterrupted run's:\n%s\nwant\n%s", got, want)
	}

	// Predictions from the checkpoint (and then from the cache) against
	// the last epoch's metrics.
	recs, err := research.ReadMetricsCSV(filepath.Join(dirA, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]research.EpochRecord{}
	for _, r := range recs {
		last[r.Split] = r
	}
	for pass := 0; pass < 2; pass++ {
		again, _ := tinyStudyEnv(t, tmp, map[string]string{EnvRuns: filepath.Join(tmp, "a"), EnvEpochs: "2"})
		if err := again.EnsureModel(&log); err != nil {
			t.Fatal(err)
		}
		for _, split := range []string{SubsetTrain, SubsetTest} {
			var preds []research.Prediction
			for _, it := range again.Subset(split) {
				preds = append(preds, research.Prediction{Truth: it.Input.Opacity.Pix, Prob: it.Prob})
			}
			sc, err := research.Evaluate(preds, research.DefaultMetricOptions())
			if err != nil {
				t.Fatal(err)
			}
			if w := last[split].IoUSoftPooled; math.Abs(sc.SoftPooledIoU-w) > 1e-5*math.Max(1, w) {
				t.Errorf("pass %d, %s: IoU (a) of the checkpoint's predictions %v, the training wrote %v", pass, split, sc.SoftPooledIoU, w)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dirA, predictionsFile)); err != nil {
		t.Errorf("no prediction cache: %v", err)
	}
}
