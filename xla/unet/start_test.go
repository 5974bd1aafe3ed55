package unet

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets/transform"
)

// TestTrainStartsFromWeights trains a run, then starts a second one from
// its folder: the fresh run's model variables are the first run's final
// weights and batch-norm statistics, its optimiser starts afresh (no step
// taken, no Adam moment), and its configuration records the start's
// digest. A resumed run continues from its own checkpoint, not the start.
func TestTrainStartsFromWeights(t *testing.T) {
	train, first, digest := firstRun(t, 71)
	src, _, err := LatestCheckpoint(filepath.Join(first.Dir, CheckpointsDir))
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyTrainConfig()
	cfg.Seed = 9 // another seed: a random initialisation would differ
	cfg.Start, cfg.StartSHA256 = first.Dir, digest
	cfg.Dir = t.TempDir()
	tr, err := newTrainer(cfg, train, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.resume(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for v := range tr.m.Store().IterVariables() {
		want, ok := src.variables[v.Path()]
		switch {
		case isModelVariable(v) && !ok:
			t.Errorf("model variable %s not in the start checkpoint", v.Path())
		case isModelVariable(v):
			if !v.MustValue().Equal(want) {
				t.Errorf("model variable %s differs from the start's", v.Path())
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no model variable compared")
	}
	if step := tr.m.GlobalStep(); step != 0 {
		t.Errorf("global step %d after the start, want 0 (the optimiser starts afresh)", step)
	}

	res, err := Train(context.Background(), cfg, train, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != 0 {
		t.Errorf("fresh run resumed from epoch %d", res.ResumedFrom)
	}
	l, err := LoadModel(cfg.Dir, "go")
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.StartSHA256 != digest {
		t.Errorf("the run's checkpoint records start %q, want %q", l.Config.StartSHA256, digest)
	}
	if got, want := l.Model.GlobalStep(), int64(2); got != want {
		t.Errorf("global step after one epoch of the fine-tuning %d, want %d (4 images, batch 2)", got, want)
	}
	// Resuming for a second epoch goes on from the run's own checkpoint:
	// the start's folder may be gone by then.
	if err := os.RemoveAll(first.Dir); err != nil {
		t.Fatal(err)
	}
	cfg.Epochs = 2
	res, err = Train(context.Background(), cfg, train, nil)
	if err != nil {
		t.Fatalf("resuming a fine-tuning without its start: %v", err)
	}
	if res.ResumedFrom != 1 {
		t.Errorf("resumed from epoch %d, want 1", res.ResumedFrom)
	}
}

// firstRun trains one epoch of the tiny model on a synthetic set drawn
// from seed into a temporary folder: the weights a second run starts from.
// It returns the set, the run's configuration and its StartDigest.
func firstRun(t *testing.T, seed uint64) ([]*transform.Prepared, TrainConfig, string) {
	t.Helper()
	train := syntheticSet(4, 64, seed)
	first := tinyTrainConfig()
	first.Dir = t.TempDir()
	if _, err := Train(context.Background(), first, train, nil); err != nil {
		t.Fatal(err)
	}
	digest, err := StartDigest(first.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return train, first, digest
}

// TestStartRefused: a start that changed since the run was named after it,
// a model of another architecture, and a folder without checkpoints are
// refused, each by name.
func TestStartRefused(t *testing.T) {
	train, first, digest := firstRun(t, 72)
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		edit func(*TrainConfig)
		want []string
	}{
		{"changed", func(c *TrainConfig) { c.StartSHA256 = strings.Repeat("0", 64) }, []string{first.Dir, "changed since"}},
		{"architecture", func(c *TrainConfig) { c.Model.Width = 16 }, []string{"another architecture", "width 8", "width 16"}},
		{"targets", func(c *TrainConfig) { c.Model.Targets = []string{"lungs", "opacity"} }, []string{"another architecture", "lungs,opacity"}},
		{"no checkpoint", func(c *TrainConfig) { c.Start, c.StartSHA256 = empty, "" }, []string{empty, "no checkpoint"}},
		{"missing", func(c *TrainConfig) { c.Start, c.StartSHA256 = filepath.Join(empty, "gone.ckpt"), "" }, []string{"gone.ckpt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyTrainConfig()
			cfg.Start, cfg.StartSHA256 = first.Dir, digest
			cfg.Dir = t.TempDir()
			tc.edit(&cfg)
			_, err := Train(context.Background(), cfg, train, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestStartDigest: a file's digest is its SHA-256; a folder's covers every
// checkpoint under it, so it changes when any of them does.
func TestStartDigest(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "lungs", CheckpointsDir, "epoch-0001.ckpt")
	b := filepath.Join(dir, "opacity", CheckpointsDir, "epoch-0002.ckpt")
	for _, p := range []string{a, b} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("weights of "+filepath.Base(p)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "models.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	fa, err := StartDigest(a)
	if err != nil {
		t.Fatal(err)
	}
	// sha256 of "weights of epoch-0001.ckpt", worked out with sha256sum.
	if want := "dd69a60d38e9bfa5f576f71096a7a58fd2222f050a0ca9873367bec20bb21b09"; fa != want {
		t.Errorf("digest of a file %s, want %s", fa, want)
	}
	d1, err := StartDigest(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The folder's: sha256sum's listing of its checkpoints, hashed
	// (cd dir && sha256sum lungs/... opacity/... | sha256sum).
	if want := "fdded13f9667d28bf45a2f13569751e151b8a2c45aeb5ffae17fe15232843f79"; d1 != want {
		t.Errorf("digest of a folder %s, want %s", d1, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "models.json"), []byte(`{"note": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if d2, _ := StartDigest(dir); d2 != d1 {
		t.Errorf("folder digest changed with a file that is not a checkpoint")
	}
	if err := os.WriteFile(b, []byte("other weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d3, _ := StartDigest(dir); d3 == d1 {
		t.Errorf("folder digest unchanged after a checkpoint changed")
	}
	if _, err := StartDigest(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("empty folder: err = %v, want no checkpoint", err)
	}
}

// TestZeroEpochsKeepsStart: a run of 0 epochs from a start is the start's
// model as it is, evaluated (epoch 0 of metrics.csv) and checkpointed, so
// that it loads like any run; without a start 0 epochs are refused.
func TestZeroEpochsKeepsStart(t *testing.T) {
	train, first, digest := firstRun(t, 73)
	test := syntheticSet(2, 64, 74)
	cfg := tinyTrainConfig()
	cfg.Epochs, cfg.Seed = 0, 5
	cfg.Start, cfg.StartSHA256 = first.Dir, digest
	cfg.Dir = t.TempDir()
	res, err := Train(context.Background(), cfg, train, test)
	if err != nil {
		t.Fatal(err)
	}
	if line := EpochLine(0, 0, math.NaN(), res.Records, PhaseTimes{}); !strings.HasPrefix(line, "0 epochs: the starting weights as they are; train loss") || strings.Contains(line, "NaN") {
		t.Errorf("the 0-epoch line %q", line)
	}
	if len(res.Records) != 2 || res.Records[0].Epoch != 0 || res.Records[1].Split != SplitTest {
		t.Errorf("records %+v, want epoch 0 of train and test", res.Records)
	}
	kept, err := LoadModel(cfg.Dir, "go")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(kept.Checkpoint) != "epoch-0000.ckpt" || kept.Epoch != 0 || kept.Model.GlobalStep() != 0 {
		t.Errorf("checkpoint %s, epoch %d, step %d; want epoch-0000.ckpt, 0, 0", kept.Checkpoint, kept.Epoch, kept.Model.GlobalStep())
	}
	orig, err := LoadModel(first.Dir, "go")
	if err != nil {
		t.Fatal(err)
	}
	assertSamePredictions(t, orig.Model, kept.Model, test, "the start", "the 0-epoch run")
	if _, err := os.Stat(filepath.Join(cfg.Dir, MetricsFile)); err != nil {
		t.Error(err)
	}
	none := tinyTrainConfig()
	none.Epochs = 0
	if _, err := Train(context.Background(), none, train, nil); err == nil || !strings.Contains(err.Error(), "0 only with starting weights") {
		t.Errorf("0 epochs without a start: err = %v", err)
	}
}
