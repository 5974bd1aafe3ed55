package phantom

import (
	"image"
	"math/rand/v2"

	"github.com/covidxray/opacity/datasets/mask"
)

// phantomXray is one painted X-ray with its annotation.
type phantomXray struct {
	img        *image.Gray
	lungs      [2]lungField // right (image left), left
	opacities  []opacityShape
	lung       *mask.Mask // union of the lungs
	opacity    *mask.Mask // union of the opacities
	opacityPct float64    // 100 |O ∩ L| / |L|
}

// extent returns the fraction of lung i covered by opacity and the densest
// kind there (-1 when none).
func (x *phantomXray) extent(i int) (frac float64, densest int) {
	densest = -1
	o := mask.New(x.lung.Width, x.lung.Height)
	for _, s := range x.opacities {
		if s.lung != i {
			continue
		}
		o.Or(s.mask)
		if densest < 0 || s.kind == kindConsolidation {
			densest = s.kind
		}
	}
	in, _ := o.IntersectCount(x.lungs[i].mask)
	if x.lungs[i].area == 0 {
		return 0, densest
	}
	return float64(in) / float64(x.lungs[i].area), densest
}

// paintXray paints one X-ray of w x h pixels of a patient with the given
// anatomy; target is the fraction of the lungs to make opaque (0: clear).
// external selects the exposure of the external (Cohen-like) set.
func paintXray(rng *rand.Rand, a patientAnatomy, w, h int, target float64, external bool) *phantomXray {
	c := newChestFrame(rng, a, w, h)
	x := &phantomXray{lung: mask.New(w, h), opacity: mask.New(w, h)}
	for i, pts := range [2][][2]float64{c.right, c.left} {
		m := mask.New(w, h)
		mask.RasterizePolygon(m, pts)
		x.lungs[i] = lungField{pts: pts, mask: m, area: m.Count()}
		x.lung.Or(m)
	}
	d, lungSoft := c.density(rng, x.lung)
	x.opacities = drawOpacities(rng, x.lungs, target, w, h)
	for _, s := range x.opacities {
		x.opacity.Or(s.mask)
	}
	paintOpacities(rng, d, lungSoft, x.opacities)
	ex := hospitalExposure(rng, float64(min(w, h)))
	if external {
		ex = externalExposure(rng, float64(min(w, h)))
	}
	x.img = render(rng, d, ex)
	if n := x.lung.Count(); n > 0 {
		in, _ := x.opacity.IntersectCount(x.lung)
		x.opacityPct = 100 * float64(in) / float64(n)
	}
	return x
}
