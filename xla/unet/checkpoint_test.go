package unet

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/covidxray/opacity/datasets/transform"
)

// TestCheckpointWriterReportsFailure checks that a checkpoint written in
// the background that fails (its folder is gone) is reported by the next
// Save or by Wait, and that a good one is atomic and pruned.
func TestCheckpointWriterReportsFailure(t *testing.T) {
	m, err := NewModel(goBackend(t), TinyConfig(), 1, DefaultLearningRate)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.InitVariables(32, 32); err != nil {
		t.Fatal(err)
	}
	snap, err := Snapshot(m.Store())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := &checkpointWriter{dir: dir, keep: 1}
	for epoch := 1; epoch <= 2; epoch++ {
		if err := w.Save(filepath.Join(dir, "epoch-000"+string(rune('0'+epoch))+".ckpt"), snap, CheckpointMeta{Epoch: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	if files, _ := listCheckpoints(dir); len(files) != 1 || filepath.Base(files[0]) != "epoch-0002.ckpt" {
		t.Errorf("checkpoints %v, want epoch 2 only (keep 1)", files)
	}
	if c, err := ReadCheckpoint(filepath.Join(dir, "epoch-0002.ckpt")); err != nil || c.Meta.Epoch != 2 {
		t.Errorf("reading it back: %v", err)
	}
	gone := filepath.Join(dir, "gone")
	if err := w.Save(filepath.Join(gone, "epoch-0003.ckpt"), snap, CheckpointMeta{Epoch: 3}); err != nil {
		t.Fatal(err) // the failure comes later
	}
	if err := w.Wait(); err == nil {
		t.Error("writing into a missing folder: no error")
	}
	if _, err := os.Stat(gone); err == nil {
		t.Error("the missing folder was created")
	}
}

// TestExportWeights checks that a weights-only checkpoint loads into a
// model that predicts what the full one does, at a third of the size.
func TestExportWeights(t *testing.T) {
	train := syntheticSet(4, 64, 61)
	cfg := tinyTrainConfig()
	cfg.Dir = t.TempDir()
	if _, err := Train(context.Background(), cfg, train, nil); err != nil {
		t.Fatal(err)
	}
	full, err := LoadModel(cfg.Dir, "go")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := os.MkdirAll(filepath.Join(out, CheckpointsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(out, CheckpointsDir, filepath.Base(full.Checkpoint))
	if err := ExportWeights(full.Checkpoint, dst); err != nil {
		t.Fatal(err)
	}
	small, err := LoadModel(out, "go")
	if err != nil {
		t.Fatal(err)
	}
	assertSamePredictions(t, full.Model, small.Model, train, "the full checkpoint", "the weights")
	fi, _ := os.Stat(full.Checkpoint)
	si, _ := os.Stat(dst)
	if si.Size()*2 > fi.Size() {
		t.Errorf("weights-only checkpoint %d bytes, full %d: want at most half", si.Size(), fi.Size())
	}
}

// assertSamePredictions fails unless models a and b (named as given)
// predict exactly the same probabilities on set.
func assertSamePredictions(t *testing.T, a, b *Model, set []*transform.Prepared, nameA, nameB string) {
	t.Helper()
	pa, err := a.Predict(set, 2)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Predict(set, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pa {
		for j := range pa[i][0] {
			if pa[i][0][j] != pb[i][0][j] {
				t.Fatalf("image %d pixel %d: %v with %s, %v with %s", i, j, pa[i][0][j], nameA, pb[i][0][j], nameB)
			}
		}
	}
}
