package research

import (
	"fmt"
	"reflect"
	"testing"
)

// cohortItems makes images of patients with 1-4 images each, about a third
// of the images clear.
func cohortItems(patients int) []SplitItem {
	var items []SplitItem
	for p := 0; p < patients; p++ {
		for k := 0; k < 1+(p*7)%4; k++ {
			items = append(items, SplitItem{Name: fmt.Sprintf("P%03d_%d", p, k), Patient: fmt.Sprintf("P%03d", p), Opaque: (p+k)%3 != 0})
		}
	}
	return items
}

func checkPartition(t *testing.T, items []SplitItem, s Split) {
	t.Helper()
	side := map[string]string{}
	seen := make([]int, len(items))
	for name, idx := range map[string][]int{"train": s.Train, "test": s.Test} {
		for _, i := range idx {
			seen[i]++
			p := items[i].Patient
			if other, ok := side[p]; ok && other != name {
				t.Errorf("patient %s on both sides", p)
			}
			side[p] = name
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("item %d used %d times", i, n)
		}
	}
}

func TestSplitByPatient(t *testing.T) {
	items := cohortItems(76)
	for _, strat := range []bool{false, true} {
		opt := SplitOptions{TestFraction: 0.3, Seed: 1, Stratify: strat}
		s, err := SplitByPatient(items, opt)
		if err != nil {
			t.Fatal(err)
		}
		checkPartition(t, items, s)
		z := s.Sizes(items)
		target := 0.3 * float64(len(items))
		if d := float64(z.TestImages) - target; d < -4 || d > 4 {
			t.Errorf("stratify %v: %d test images, want about %.0f: %v", strat, z.TestImages, target, z)
		}
		if z.TrainPatients+z.TestPatients != 76 {
			t.Errorf("patients %d + %d != 76", z.TrainPatients, z.TestPatients)
		}
		if strat && (z.TestClear == 0 || z.TestOpaque == 0 || z.TrainClear == 0 || z.TrainOpaque == 0) {
			t.Errorf("stratified split lacks a kind: %v", z)
		}
		again, _ := SplitByPatient(items, opt)
		if !reflect.DeepEqual(s, again) {
			t.Error("same seed, different split")
		}
		// The order of the items does not change which patients go where.
		rev := make([]SplitItem, len(items))
		for i := range items {
			rev[len(items)-1-i] = items[i]
		}
		r, _ := SplitByPatient(rev, opt)
		if !reflect.DeepEqual(r.TestPatients, s.TestPatients) {
			t.Error("reordered items gave other test patients")
		}
	}
	other, _ := SplitByPatient(items, SplitOptions{TestFraction: 0.3, Seed: 2})
	s, _ := SplitByPatient(items, SplitOptions{TestFraction: 0.3, Seed: 1})
	if reflect.DeepEqual(other.TestPatients, s.TestPatients) {
		t.Error("seeds 1 and 2 gave the same test patients")
	}
}

func TestSplitByPatientBadInput(t *testing.T) {
	items := cohortItems(10)
	for _, f := range []float64{0, 1, -0.3, 1.5} {
		if _, err := SplitByPatient(items, SplitOptions{TestFraction: f}); err == nil {
			t.Errorf("fraction %v: no error", f)
		}
	}
	if _, err := SplitByPatient([]SplitItem{{Name: "a", Patient: "p"}, {Name: "b", Patient: "p"}}, SplitOptions{TestFraction: 0.3}); err == nil {
		t.Error("one patient: no error")
	}
	if _, err := SplitByPatient([]SplitItem{{Name: "a"}, {Name: "b", Patient: "p"}}, SplitOptions{TestFraction: 0.3}); err == nil {
		t.Error("missing patient id: no error")
	}
}

func TestKFoldByPatient(t *testing.T) {
	items := cohortItems(30)
	for _, strat := range []bool{false, true} {
		folds, err := KFoldByPatient(items, 5, 3, strat)
		if err != nil {
			t.Fatal(err)
		}
		inTest := make([]int, len(items))
		for _, f := range folds {
			checkPartition(t, items, f)
			for _, i := range f.Test {
				inTest[i]++
			}
			// Folds are even: each holds about a fifth of the images.
			if n := len(f.Test); n < len(items)/5-4 || n > len(items)/5+4 {
				t.Errorf("stratify %v: fold with %d of %d images", strat, n, len(items))
			}
		}
		for i, n := range inTest {
			if n != 1 {
				t.Errorf("item %d in %d test folds, want 1", i, n)
			}
		}
	}
	if _, err := KFoldByPatient(cohortItems(3), 5, 1, false); err == nil {
		t.Error("3 patients, 5 folds: no error")
	}
}
