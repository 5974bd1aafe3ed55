package research

import (
	"math/rand/v2"
	"testing"
)

func TestClusterBootstrapEnumerable(t *testing.T) {
	// One positive patient P with images 0.5, 0.9; negative patients
	// A (0.2, 0.6) and B (0.95). Each resample draws P once and two negative
	// patients with replacement:
	//   {A, A} (prob 1/4): negatives 0.2, 0.6 twice each (weight 2):
	//          0.5 beats 0.2 (2 of 4), 0.9 beats all 4 -> (2+4)/(2*4) = 0.75
	//   {B, B} (prob 1/4): 0.95 twice, both positives lose -> 0
	//   {A, B} (prob 1/2): negatives 0.2, 0.6, 0.95:
	//          0.5 beats 1, 0.9 beats 2 -> 3/(2*3) = 0.5
	// So the resampled AUCs are 0 (25%), 0.5 (50%), 0.75 (25%): the 10% and
	// 90% quantiles are 0 and 0.75, the 30% and 70% quantiles 0.5.
	scores := []float64{0.5, 0.9, 0.2, 0.6, 0.95}
	labels := []bool{true, true, false, false, false}
	clusters := []string{"P", "P", "A", "A", "B"}
	r, err := ClusterBootstrapAUC(scores, labels, clusters, BootstrapOptions{Seed: 1, Level: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	if r.CI != [2]float64{0, 0.75} {
		t.Errorf("80%% interval = %v, want [0, 0.75]", r.CI)
	}
	if r.Clusters != 3 || r.PosClusters != 1 || r.NegClusters != 2 || r.Resamples != 2000 {
		t.Errorf("counts = %+v, want 3 clusters (1 positive, 2 negative), 2000 resamples", r)
	}
	r, err = ClusterBootstrapAUC(scores, labels, clusters, BootstrapOptions{Seed: 1, Level: 0.4})
	if err != nil {
		t.Fatal(err)
	}
	if r.CI != [2]float64{0.5, 0.5} {
		t.Errorf("40%% interval = %v, want [0.5, 0.5]", r.CI)
	}
}

func TestClusterBootstrapDeterministicAndNarrowing(t *testing.T) {
	gen := func(patients int, seed uint64) ([]float64, []bool, []string) {
		rng := rand.New(rand.NewPCG(seed, 9))
		var s []float64
		var l []bool
		var c []string
		for p := 0; p < patients; p++ {
			pos := p%3 == 0
			for k := 0; k < 1+rng.IntN(3); k++ {
				v := rng.NormFloat64()
				if pos {
					v += 1
				}
				s = append(s, v)
				l = append(l, pos)
				c = append(c, string(rune('a'+p%26))+string(rune('a'+p/26%26))+string(rune('a'+p/676)))
			}
		}
		return s, l, c
	}
	s, l, c := gen(40, 1)
	a, err := ClusterBootstrapAUC(s, l, c, BootstrapOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ClusterBootstrapAUC(s, l, c, BootstrapOptions{Seed: 7})
	if a != b {
		t.Errorf("same seed, different intervals: %v and %v", a.CI, b.CI)
	}
	auc, _ := AUC(s, l)
	if a.CI[0] > auc || a.CI[1] < auc || a.CI[0] < 0 || a.CI[1] > 1 {
		t.Errorf("interval %v does not hold AUC %v inside [0, 1]", a.CI, auc)
	}
	small := a.CI[1] - a.CI[0]
	s, l, c = gen(400, 1)
	big, err := ClusterBootstrapAUC(s, l, c, BootstrapOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if w := big.CI[1] - big.CI[0]; w >= small*0.6 {
		t.Errorf("interval width with 400 patients %v not clearly below that with 40 (%v)", w, small)
	}
}

func TestClusterBootstrapBadInput(t *testing.T) {
	s := []float64{1, 2, 3}
	l := []bool{true, false, false}
	if _, err := ClusterBootstrapAUC(s, l, []string{"a"}, BootstrapOptions{}); err == nil {
		t.Error("wrong number of cluster ids: no error")
	}
	if _, err := ClusterBootstrapAUC(s, l, nil, BootstrapOptions{Resamples: -1}); err == nil {
		t.Error("negative resamples: no error")
	}
	if _, err := ClusterBootstrapAUC(s, l, nil, BootstrapOptions{Level: 1.5}); err == nil {
		t.Error("level 1.5: no error")
	}
	if _, err := ClusterBootstrapAUC(s, l, []string{"a", "a", "a"}, BootstrapOptions{}); err == nil {
		t.Error("one mixed cluster: no error")
	}
}
