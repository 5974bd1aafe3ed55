package analysis

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
)

// Brixia is how a models folder turns the opacity of each lung zone into a
// Brixia score (Borghesi & Maroldi 2020: six zones, 0-3 each, global 0-18):
// each predicted lung is split into upper, middle and lower thirds of its
// height (mask.BrixiaZones), the opacity share of each zone is mapped to
// 0-3 by Thresholds (research.ZoneThresholds), fitted to the mean of two
// radiologists' zone scores on images the models did not train on.
type Brixia struct {
	// Thresholds t1 <= t2 <= t3 on the zone's opacity share (0-1): the
	// score is the number of thresholds the share exceeds. Stored finite
	// (below 0 or above 1 where the fit put them at -Inf or +Inf).
	Thresholds research.ZoneThresholds `json:"thresholds"`
	// FittedOn are the images (cohort/stem) the thresholds were fitted on.
	FittedOn []string `json:"fitted_on"`
	// Out-of-fold agreement on those images (each patient scored by
	// thresholds fitted without it): mean absolute error of the global
	// score and of the zone scores against each radiologist, beside the two
	// radiologists' own difference on the same images.
	GlobalMAE             [2]float64 `json:"global_mae_out_of_fold"` // against radiologist S, J
	ZoneMAE               [2]float64 `json:"zone_mae_out_of_fold"`
	RadiologistsGlobalMAE float64    `json:"radiologists_global_mae"`
	RadiologistsZoneMAE   float64    `json:"radiologists_zone_mae"`
}

// Scores returns the zone scores (A-F) of zone shares and their global
// score; a zone without lung (NaN share) scores 0.
func (b *Brixia) Scores(shares [6]float64) (zones [6]int, global int) {
	for i, s := range shares {
		zones[i] = b.Thresholds.Score(s)
	}
	return zones, research.BrixiaGlobal(zones)
}

// finiteThresholds replaces infinite thresholds by values outside [0, 1]
// that score every share the same (shares lie in [0, 1]), so that they can
// be written as JSON.
func finiteThresholds(t research.ZoneThresholds) research.ZoneThresholds {
	for i, v := range t {
		switch {
		case math.IsInf(v, -1):
			t[i] = -1
		case math.IsInf(v, 1):
			t[i] = 2
		}
	}
	return t
}

// readBrixiaScores reads the data folder's Brixia table; without one it
// returns no scores and says why.
func readBrixiaScores(data string) (map[string]datasets.BrixiaScores, string, error) {
	scores, err := datasets.ReadBrixia(filepath.Join(data, datasets.BrixiaDir, datasets.BrixiaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Sprintf("no Brixia scores: no %s/%s in %s", datasets.BrixiaDir, datasets.BrixiaFile, data), nil
	}
	if err != nil {
		return nil, "", err
	}
	return scores, "", nil
}

// minBrixiaImages is the fewest scored images FitBrixia fits thresholds on.
const minBrixiaImages = 8

// BrixiaImage is one image with radiologists' Brixia scores, as analysed.
type BrixiaImage struct {
	Key     string // cohort/stem
	Patient string
	Shares  [6]float64 // the automatic opacity share of each zone
	S, J    datasets.BrixiaScore
}

// BrixiaImages analyses the images of the data folder that have Brixia
// scores (brixia/public-annotations.csv, matched by stem in cxr-seg/ and
// cohen/; an X-ray in both counts once, from cxr-seg) and that skip does not
// reject (nil: none), returning each with its zone shares. A data folder
// without the Brixia table gives none and says why.
func (m *Models) BrixiaImages(data string, skip func(key string) bool) ([]BrixiaImage, string, error) {
	scores, note, err := readBrixiaScores(data)
	if scores == nil {
		return nil, note, err
	}
	want := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range []string{datasets.CohortCXRSeg, datasets.CohortCohen} {
		if _, err := datasets.ScanCohort(data, c, datasets.LoadOptions{Only: func(stem string) bool {
			_, ok := scores[stem]
			return ok
		}}, func(sm *datasets.Sample) error {
			k := c + "/" + sm.Stem
			if !seen[sm.Stem] && (skip == nil || !skip(k)) {
				want[k] = true
			}
			seen[sm.Stem] = true
			return nil
		}); err != nil {
			return nil, "", err
		}
	}
	var out []BrixiaImage
	err = datasets.ScanSamples(data, want, func(sm *datasets.Sample) error {
		r, err := m.Analyze(sm.Image)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", sm.Cohort, sm.File, err)
		}
		sc := scores[sm.Stem]
		out = append(out, BrixiaImage{Key: sm.Cohort + "/" + sm.Stem, Patient: sm.Patient, Shares: r.ZoneShares, S: sc.S, J: sc.J})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, "", err
}

// BrixiaImagesOf returns the images of oof (analysed images with their
// zone shares, ValueZoneShare: a cross-validation's out-of-fold images)
// that have Brixia scores in the data folder, matched by stem; a data
// folder without the Brixia table gives none and says why.
func BrixiaImagesOf(data string, oof []experiment.OOFImage) ([]BrixiaImage, string, error) {
	scores, note, err := readBrixiaScores(data)
	if scores == nil {
		return nil, note, err
	}
	var out []BrixiaImage
	for _, im := range oof {
		_, stem := splitKey(im.Image)
		sc, ok := scores[stem]
		if !ok {
			continue
		}
		b := BrixiaImage{Key: im.Image, Patient: im.Patient, S: sc.S, J: sc.J}
		for z := range b.Shares {
			v, ok := im.Values[ValueZoneShare(z)]
			if !ok {
				return nil, "", fmt.Errorf("%s: no zone shares recorded (analysed by an older program? rerun its fold)", im.Image)
			}
			b.Shares[z] = v
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, "", nil
}

// splitKey splits an image key, cohort/stem or a bare stem, into its
// cohort ("" for a bare stem) and stem.
func splitKey(key string) (cohort, stem string) {
	if c, st, ok := strings.Cut(key, "/"); ok {
		return c, st
	}
	return "", key
}

// ManualBrixiaImages returns images with the zone shares of the
// radiologists' own masks in place of the automatic ones: for each image
// whose X-ray has a hand-drawn lung and opacity annotation in the data
// folder (cxr-seg/, cohen/; matched by the key's cohort, or by stem in that
// order when the key has none), the annotated lungs split into right and
// left (mask.SplitLungs), their zones (mask.BrixiaZones) and the annotated
// opacity's share of each (mask.ZoneShares). Images without an annotated
// lung are left out. Fitted with FitBrixia, they measure how well the
// zone split and thresholds can do with a perfect segmentation.
func ManualBrixiaImages(data string, images []BrixiaImage) ([]BrixiaImage, error) {
	byStem := map[string][]int{}
	for i, im := range images {
		_, stem := splitKey(im.Key)
		byStem[stem] = append(byStem[stem], i)
	}
	done := make([]bool, len(images))
	var out []BrixiaImage
	for _, c := range []string{datasets.CohortCXRSeg, datasets.CohortCohen} {
		_, err := datasets.ScanCohort(data, c, datasets.LoadOptions{Only: func(stem string) bool { return byStem[stem] != nil }}, func(sm *datasets.Sample) error {
			if sm.Lung == nil || sm.Lung.Empty() || sm.Opacity == nil {
				return nil
			}
			right, left := mask.SplitLungs(sm.Lung) // once per annotation, for every image it matches
			shares, err := mask.ZoneShares(sm.Opacity, mask.BrixiaZones(right, left))
			if err != nil {
				return fmt.Errorf("%s/%s: %w", c, sm.File, err)
			}
			for _, i := range byStem[sm.Stem] {
				cohort, _ := splitKey(images[i].Key)
				if done[i] || (cohort != "" && cohort != c) {
					continue
				}
				im := images[i]
				im.Shares = shares
				out = append(out, im)
				done[i] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// FitBrixia fits the zone thresholds to the mean of the two radiologists'
// zone scores on images (every zone of every image one pair), and measures
// them out of fold: each patient's zones scored by thresholds fitted
// without that patient, their global score compared with each
// radiologist's.
func FitBrixia(images []BrixiaImage) (*Brixia, error) {
	if len(images) < minBrixiaImages {
		return nil, fmt.Errorf("%d images with Brixia scores: too few (want %d)", len(images), minBrixiaImages)
	}
	var shares, target []float64
	var groups []string
	b := &Brixia{}
	for _, im := range images {
		for z := 0; z < 6; z++ {
			shares = append(shares, im.Shares[z])
			target = append(target, float64(im.S.Zones[z]+im.J.Zones[z])/2)
			groups = append(groups, im.Patient)
		}
		b.FittedOn = append(b.FittedOn, im.Key)
	}
	t, err := research.FitZoneThresholds(shares, target)
	if err != nil {
		return nil, err
	}
	b.Thresholds = finiteThresholds(t)
	oof, err := research.ZoneThresholdsOutOfFold(shares, target, groups)
	if err != nil {
		return nil, err
	}
	var g, zn [2]float64
	var rg, rz float64
	for i, im := range images {
		var zones [6]int
		copy(zones[:], oof[6*i:6*i+6])
		global := research.BrixiaGlobal(zones)
		for k, rad := range []datasets.BrixiaScore{im.S, im.J} {
			g[k] += math.Abs(float64(global - rad.Global))
			for z := 0; z < 6; z++ {
				zn[k] += math.Abs(float64(zones[z] - rad.Zones[z]))
			}
		}
		rg += math.Abs(float64(im.S.Global - im.J.Global))
		for z := 0; z < 6; z++ {
			rz += math.Abs(float64(im.S.Zones[z] - im.J.Zones[z]))
		}
	}
	n := float64(len(images))
	for k := 0; k < 2; k++ {
		b.GlobalMAE[k], b.ZoneMAE[k] = g[k]/n, zn[k]/(6*n)
	}
	b.RadiologistsGlobalMAE, b.RadiologistsZoneMAE = rg/n, rz/(6*n)
	return b, nil
}

// FitBrixiaFor fits the Brixia thresholds of the models on the Brixia-scored
// images of st's data folder that the models did not train on (not in the
// training subset of st, the opacity model's study). Without enough such
// images it fits none and says why.
func (m *Models) FitBrixiaFor(st *experiment.Study, mon experiment.Monitor) (*Brixia, string, error) {
	trained := map[string]bool{}
	for _, it := range st.Items {
		if it.Subset == experiment.SubsetTrain {
			trained[it.Key()] = true
		}
	}
	images, note, err := m.BrixiaImages(st.Settings.DataDir(), func(k string) bool { return trained[k] })
	if err != nil || note != "" {
		return nil, note, err
	}
	b, err := FitBrixia(images)
	if err != nil {
		return nil, "no Brixia thresholds: " + err.Error(), nil
	}
	mon.Printf("Brixia thresholds fitted on %d scored images the models did not train on: %.3f %.3f %.3f; global MAE out of fold %.2f / %.2f against the two radiologists (they differ by %.2f)\n",
		len(images), b.Thresholds[0], b.Thresholds[1], b.Thresholds[2], b.GlobalMAE[0], b.GlobalMAE[1], b.RadiologistsGlobalMAE)
	return b, "", nil
}
