package experiment

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/covidxray/opacity/atomicfile"
)

// TestStartRecord: the record of a run's starting weights lists what they
// had seen (their run's training images and its own start's), follows a
// checkpoint file to its run folder, and says so when it cannot know.
func TestStartRecord(t *testing.T) {
	writeRun := func(dir string, train []string, start *StartRecord) {
		t.Helper()
		rec := RunRecord{Format: RunFormat, Data: "/data", Key: RunKey{Cohort: "cxr-seg"}, Split: SplitRecord{TrainImages: train}, Start: start}
		if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.WriteJSON(filepath.Join(dir, RunFile), rec, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "checkpoints", "epoch-0001.ckpt"), []byte("w"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	pre, tuned, bare := filepath.Join(root, "pre"), filepath.Join(root, "tuned"), filepath.Join(root, "bare.ckpt")
	writeRun(pre, []string{"q2", "q1"}, nil)
	writeRun(tuned, []string{"c1"}, &StartRecord{TrainImages: []string{"q1", "q2"}, Known: true})
	if err := os.WriteFile(bare, []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       []string
		known      bool
	}{
		{"run folder", pre, []string{"q1", "q2"}, true},
		{"checkpoint in a run folder", filepath.Join(tuned, "checkpoints", "epoch-0001.ckpt"), []string{"c1", "q1", "q2"}, true},
		{"bare checkpoint", bare, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRecord(tc.path, "abc")
			if !slices.Equal(r.TrainImages, tc.want) || r.Known != tc.known || r.SHA256 != "abc" || !filepath.IsAbs(r.Path) {
				t.Errorf("%+v, want images %v, known %v", r, tc.want, tc.known)
			}
		})
	}
	// A start whose own start was unknown is unknown.
	writeRun(tuned, []string{"c1"}, &StartRecord{Known: false})
	if r := startRecord(tuned, "abc"); r.Known {
		t.Errorf("start of an unknown start: %+v, want unknown", r)
	}
	rec := RunRecord{Split: SplitRecord{TrainImages: []string{"a"}}, Start: &StartRecord{TrainImages: []string{"b"}}}
	if seen := rec.Seen(); len(seen) != 2 || !seen["a"] || !seen["b"] {
		t.Errorf("Seen = %v, want a and b", seen)
	}
}
