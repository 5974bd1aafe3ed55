package paper

import (
	"fmt"
	"image"
	"math/rand/v2"
	"strings"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research/plots"
)

// Figure1Images is the number of training images Figure 1 shows.
const Figure1Images = 3

// Figure1 draws the model input (lung-cropped, resized) and its opacity mask
// before and after augmentation (transform.DefaultAugment, the training's),
// for a few training images: two with opacity and one clear when the data
// have them. Files: figure1.png, figure1.svg.
func Figure1(st *experiment.Study) (*Result, error) {
	return finish(st, "figure1")(figure1(st))
}

func figure1(st *experiment.Study) (*Result, error) {
	s := st.Settings
	r := newResult("Figure 1: model input and mask, before and after augmentation")
	train := st.Subset(experiment.SubsetTrain)
	if len(train) == 0 {
		r.skip("no training images with pixels in this data folder (%s), so no model input to show.", st.TrainCohortNote())
		return r, nil
	}
	picks := pickFigure1(train)
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0x5eed1))
	aug := transform.DefaultAugment()
	var cells []plots.GridImage
	for _, it := range picks {
		in := it.Input
		augImg, augMasks := transform.Augment(rng, aug, in.Image, in.Mask(datasets.TargetLungs), in.Mask(datasets.TargetOpacity))
		cells = append(cells,
			plots.GridImage{Title: shortStem(it.Stem) + "\ninput", Image: in.Image},
			plots.GridImage{Title: "\nmask", Image: maskImage(in.Mask(datasets.TargetLungs), in.Mask(datasets.TargetOpacity))},
			plots.GridImage{Title: "\naugmented input", Image: augImg},
			plots.GridImage{Title: "\naugmented mask", Image: maskImage(augMasks[0], augMasks[1])},
		)
	}
	title := fmt.Sprintf("Input %d×%d and mask, before and after augmentation%s", s.InputSize, s.InputSize, shortTag(s))
	f, err := plots.ImageGrid(title, cells, 4)
	if err != nil {
		return nil, err
	}
	if err := r.saveFigure(s, "figure1", f); err != nil {
		return nil, err
	}
	r.note("Masks: white = opacity, gray = lungs. Each row: one %s training image cropped to its lung fields (bounding box + %.0f%% margin) and resized to %d×%d, its mask, and one random draw of the training augmentation "+
		"(horizontal flip, affine, perspective, brightness/contrast, blur/sharpen, Gaussian noise, random crop; `transform.DefaultAugment`) applied identically to image and mask.",
		st.TrainCohort, 100*transform.DefaultMargin, s.InputSize, s.InputSize)
	return r, nil
}

// pickFigure1 chooses the images of Figure 1: the opaque training images
// with the most opacity first (up to Figure1Images-1), then a clear one.
func pickFigure1(train []*experiment.Item) []*experiment.Item {
	var opaque, clear []*experiment.Item
	for _, it := range train {
		if it.Opaque() {
			opaque = append(opaque, it)
		} else {
			clear = append(clear, it)
		}
	}
	var out []*experiment.Item
	// Spread the picks over the opaque images (file order) instead of the
	// first few, which may all be one patient's.
	nOpaque := min(len(opaque), Figure1Images-min(1, len(clear)))
	for i := 0; i < nOpaque; i++ {
		out = append(out, opaque[i*len(opaque)/nOpaque])
	}
	for i := 0; len(out) < Figure1Images && i < len(clear); i++ {
		out = append(out, clear[i])
	}
	return out
}

// maskImage renders masks as a gray image: black background, lungs gray,
// opacity white.
func maskImage(lung, opacity *mask.Mask) *image.Gray {
	w, h := lung.Width, lung.Height
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		switch {
		case opacity != nil && opacity.Pix[i] != 0:
			g.Pix[i] = 255
		case lung.Pix[i] != 0:
			g.Pix[i] = 90
		}
	}
	return g
}

// shortStem shortens a file stem to fit an image title in a grid of four
// columns: without the "COVID-19-AR-" prefix, at most 22 characters (the
// middle cut with "…").
func shortStem(stem string) string {
	stem = strings.TrimPrefix(stem, "COVID-19-AR-")
	r := []rune(stem)
	if len(r) <= 22 {
		return stem
	}
	return string(r[:11]) + "…" + string(r[len(r)-10:])
}

// trainCohortNote says which cohorts lack images.
func trainCohortNote(st *experiment.Study) string {
	c := st.Counts[datasets.CohortCovidAR]
	x := st.Counts[datasets.CohortCXRSeg]
	return fmt.Sprintf("covid-ar: %d annotations, %d with an image; cxr-seg: %d images", cnt(c, func(c *experiment.CohortCount) int { return c.Read }), cnt(c, func(c *experiment.CohortCount) int { return c.WithImage }), cnt(x, func(c *experiment.CohortCount) int { return c.Read }))
}

func cnt(c *experiment.CohortCount, f func(*experiment.CohortCount) int) int {
	if c == nil {
		return 0
	}
	return f(c)
}
