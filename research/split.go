package research

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SplitItem is one image to be split: its patient and whether its truth
// mask holds opacity ("opaque") or not ("clear").
type SplitItem struct {
	Name    string
	Patient string
	Opaque  bool
}

// SplitOptions configures a patient-grouped train/test split.
type SplitOptions struct {
	// TestFraction is the share of images that should go to the test side
	// (0.3 for the paper's 7:3). In (0, 1).
	TestFraction float64
	// Seed fixes the shuffling of patients.
	Seed uint64
	// Stratify aims at TestFraction of the clear images and of the opaque
	// images separately, and requires both sides to hold both kinds when
	// the data allows it.
	Stratify bool
}

// Split is a partition of images into train and test with no patient on both
// sides. Indices refer to the items given to the splitting function, in
// ascending order.
type Split struct {
	Train, Test                 []int
	TrainPatients, TestPatients []string // sorted
}

// SplitSizes counts a split in images, patients and clear/opaque images.
type SplitSizes struct {
	TrainImages, TestImages     int
	TrainPatients, TestPatients int
	TrainOpaque, TestOpaque     int
	TrainClear, TestClear       int
}

// Sizes returns the sizes of s for the items it was made from.
func (s Split) Sizes(items []SplitItem) SplitSizes {
	z := SplitSizes{TrainImages: len(s.Train), TestImages: len(s.Test), TrainPatients: len(s.TrainPatients), TestPatients: len(s.TestPatients)}
	for _, i := range s.Train {
		if items[i].Opaque {
			z.TrainOpaque++
		} else {
			z.TrainClear++
		}
	}
	for _, i := range s.Test {
		if items[i].Opaque {
			z.TestOpaque++
		} else {
			z.TestClear++
		}
	}
	return z
}

// String formats the sizes on one line.
func (z SplitSizes) String() string {
	return fmt.Sprintf("train %d images (%d patients, %d opaque, %d clear), test %d images (%d patients, %d opaque, %d clear)",
		z.TrainImages, z.TrainPatients, z.TrainOpaque, z.TrainClear, z.TestImages, z.TestPatients, z.TestOpaque, z.TestClear)
}

// patientGroup is the images of one patient.
type patientGroup struct {
	id            string
	items         []int
	opaque, clear int
}

// groupByPatient groups item indices by patient, patients sorted by id so
// that the result does not depend on the order of items.
func groupByPatient(items []SplitItem) ([]patientGroup, error) {
	index := map[string]int{}
	var groups []patientGroup
	for i, it := range items {
		if it.Patient == "" {
			return nil, fmt.Errorf("split: item %d (%q) has no patient id", i, it.Name)
		}
		k, ok := index[it.Patient]
		if !ok {
			k = len(groups)
			index[it.Patient] = k
			groups = append(groups, patientGroup{id: it.Patient})
		}
		g := &groups[k]
		g.items = append(g.items, i)
		if it.Opaque {
			g.opaque++
		} else {
			g.clear++
		}
	}
	sort.Slice(groups, func(a, b int) bool { return groups[a].id < groups[b].id })
	return groups, nil
}

// SplitByPatient splits items into train and test by patient: every image
// of a patient goes to the same side. Patients are shuffled with the seed,
// then each in turn goes to the test side when that brings the test side
// closer to round(TestFraction * images) (with Stratify: closer to that
// share of the opaque and of the clear images). With Stratify, when both
// kinds exist on at least two patients, a split that leaves a side without
// clear or without opaque images is redrawn (up to 100 times, then an
// error).
func SplitByPatient(items []SplitItem, opt SplitOptions) (Split, error) {
	if !(opt.TestFraction > 0 && opt.TestFraction < 1) {
		return Split{}, fmt.Errorf("split: test fraction %v is not in (0, 1)", opt.TestFraction)
	}
	groups, err := groupByPatient(items)
	if err != nil {
		return Split{}, err
	}
	if len(groups) < 2 {
		return Split{}, fmt.Errorf("split: %d patient(s): need at least 2 to split by patient", len(groups))
	}
	var nOpaque, nClear int
	var pOpaque, pClear int // patients holding each kind
	for _, g := range groups {
		nOpaque += g.opaque
		nClear += g.clear
		if g.opaque > 0 {
			pOpaque++
		}
		if g.clear > 0 {
			pClear++
		}
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5851f42d4c957f2d))
	needBoth := opt.Stratify && pOpaque >= 2 && pClear >= 2
	for attempt := 0; attempt < 100; attempt++ {
		rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		test := make([]bool, len(groups))
		if opt.Stratify {
			tO := math.Round(opt.TestFraction * float64(nOpaque))
			tC := math.Round(opt.TestFraction * float64(nClear))
			var o, c float64
			for k, g := range groups {
				before := math.Abs(o-tO) + math.Abs(c-tC)
				after := math.Abs(o+float64(g.opaque)-tO) + math.Abs(c+float64(g.clear)-tC)
				if after < before {
					test[k] = true
					o += float64(g.opaque)
					c += float64(g.clear)
				}
			}
		} else {
			target := math.Round(opt.TestFraction * float64(len(items)))
			var n float64
			for k, g := range groups {
				s := float64(len(g.items))
				if math.Abs(n+s-target) < math.Abs(n-target) {
					test[k] = true
					n += s
				}
			}
		}
		s := buildSplit(groups, test)
		z := s.Sizes(items)
		if len(s.Train) == 0 || len(s.Test) == 0 {
			continue
		}
		if needBoth && (z.TrainOpaque == 0 || z.TrainClear == 0 || z.TestOpaque == 0 || z.TestClear == 0) {
			continue
		}
		return s, nil
	}
	return Split{}, fmt.Errorf("split: no split in 100 draws satisfies the constraints (%d patients, %d opaque and %d clear images, test fraction %v)",
		len(groups), nOpaque, nClear, opt.TestFraction)
}

func buildSplit(groups []patientGroup, test []bool) Split {
	var s Split
	for k, g := range groups {
		if test[k] {
			s.Test = append(s.Test, g.items...)
			s.TestPatients = append(s.TestPatients, g.id)
		} else {
			s.Train = append(s.Train, g.items...)
			s.TrainPatients = append(s.TrainPatients, g.id)
		}
	}
	sort.Ints(s.Train)
	sort.Ints(s.Test)
	sort.Strings(s.TrainPatients)
	sort.Strings(s.TestPatients)
	return s
}

// KFoldByPatient splits items into k folds by patient and returns k splits:
// split i tests on fold i and trains on the others. Patients are shuffled
// with the seed, ordered by decreasing number of images (ties in shuffled
// order), and each goes to the fold where it keeps the folds most even: the
// one minimising the sum of squared image counts (with stratify, squared
// opaque and clear counts separately). Needs at least k patients.
func KFoldByPatient(items []SplitItem, k int, seed uint64, stratify bool) ([]Split, error) {
	if k < 2 {
		return nil, fmt.Errorf("k-fold: k = %d: need at least 2 folds", k)
	}
	groups, err := groupByPatient(items)
	if err != nil {
		return nil, err
	}
	if len(groups) < k {
		return nil, fmt.Errorf("k-fold: %d patients for %d folds: need at least one patient per fold", len(groups), k)
	}
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	sort.SliceStable(groups, func(a, b int) bool { return len(groups[a].items) > len(groups[b].items) })
	fold := make([]int, len(groups))
	opaque := make([]float64, k)
	clr := make([]float64, k)
	patients := make([]int, k)
	for gi, g := range groups {
		best, bestCost := -1, math.Inf(1)
		for f := 0; f < k; f++ {
			var cost float64
			if stratify {
				cost = sq(opaque[f]+float64(g.opaque)) + sq(clr[f]+float64(g.clear)) - sq(opaque[f]) - sq(clr[f])
			} else {
				n := opaque[f] + clr[f]
				cost = sq(n+float64(len(g.items))) - sq(n)
			}
			// An empty fold is filled first so that every fold gets a patient.
			if patients[f] == 0 {
				cost = math.Inf(-1)
			}
			if cost < bestCost {
				best, bestCost = f, cost
			}
		}
		fold[gi] = best
		opaque[best] += float64(g.opaque)
		clr[best] += float64(g.clear)
		patients[best]++
	}
	splits := make([]Split, k)
	for f := 0; f < k; f++ {
		test := make([]bool, len(groups))
		for gi := range groups {
			test[gi] = fold[gi] == f
		}
		splits[f] = buildSplit(groups, test)
	}
	return splits, nil
}

func sq(x float64) float64 { return x * x }
