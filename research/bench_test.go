package research

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkROCDeLong100k: ROC curve and DeLong variance of 100,000 cases
// (target: under 1 s).
func BenchmarkROCDeLong100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	s, l := randomCase(rng, 100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ROCCurve(s, l); err != nil {
			b.Fatal(err)
		}
		if _, err := DeLong(s, l); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClusterBootstrap250: 2000-resample patient bootstrap of the AUC
// on 250 images of 90 patients (target: under 2 s).
func BenchmarkClusterBootstrap250(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	s := make([]float64, 250)
	l := make([]bool, 250)
	c := make([]string, 250)
	for i := range s {
		p := i % 90
		c[i] = fmt.Sprintf("P%02d", p)
		l[i] = p%3 == 0
		s[i] = rng.NormFloat64()
		if l[i] {
			s[i] += 1
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := ClusterBootstrapAUC(s, l, c, BootstrapOptions{Resamples: 2000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMetrics250x320: the section 4.1 table (every convention, every
// subset) over 250 probability masks of 320x320 (target: under 1 s).
func BenchmarkMetrics250x320(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	preds := make([]Prediction, 250)
	for k := range preds {
		truth := make([]uint8, 320*320)
		prob := make([]float32, 320*320)
		cx, cy, r := rng.IntN(320), rng.IntN(320), rng.IntN(80)
		if k%3 == 0 {
			r = 0
		}
		for y := 0; y < 320; y++ {
			for x := 0; x < 320; x++ {
				i := y*320 + x
				if (x-cx)*(x-cx)+(y-cy)*(y-cy) < r*r {
					truth[i] = 1
				}
				prob[i] = rng.Float32()
			}
		}
		preds[k] = Prediction{Name: fmt.Sprint(k), Patient: fmt.Sprint(k / 3), Subset: []string{"train", "test", "validation"}[k%3], Truth: truth, Prob: prob}
	}
	b.SetBytes(250 * 320 * 320 * 5)
	b.ResetTimer()
	for b.Loop() {
		if _, err := SegmentationTable(preds, DefaultMetricOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
