package unet

import (
	"os"
	"path/filepath"
	"testing"
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
