package phantom

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/covidxray/opacity/datasets/mask"
)

// Opacity kinds painted into phantom lungs, with the labels of the paper's
// files. Strength is the density added (a lung field is about 0.5 less
// dense than soft tissue), feather the width of the soft inner edge and
// texture how patchy the region is.
const (
	kindGroundGlass = iota
	kindConsolidation
	kindHazy
)

type opacityKind struct {
	label    string     // label in the COVID-19-AR files
	weight   float64    // how often it is drawn
	strength [2]float64 // density added, range
	feather  float64    // soft edge, fraction of the image size
	texture  float64    // 0 uniform .. 1 patchy
}

var opacityKinds = [...]opacityKind{
	kindGroundGlass:   {"groud_glass_opacity", 0.72, [2]float64{0.16, 0.30}, 0.014, 0.6},
	kindConsolidation: {"consolidation", 0.20, [2]float64{0.24, 0.38}, 0.010, 0.35},
	kindHazy:          {"subtle_hazy", 0.08, [2]float64{0.07, 0.11}, 0.02, 0.4},
}

// opacityShape is one opacity polygon of a phantom X-ray.
type opacityShape struct {
	kind     int
	lung     int          // 0 right (image left), 1 left
	pts      [][2]float64 // pixels, rounded to 0.1 px
	strength float64
	mask     *mask.Mask // rasterisation of pts
}

// lungField is one lung of a phantom X-ray.
type lungField struct {
	pts  [][2]float64
	mask *mask.Mask
	area int
}

// drawOpacities draws opacity polygons inside the lungs until they cover
// about target (a fraction of the lung area), choosing bilateral or
// one-sided involvement, preferring the lower and outer zones as COVID-19
// pneumonia does. Each polygon lies inside its lung: vertices that fall
// outside are pulled towards the blob's centre until they are in.
func drawOpacities(rng *rand.Rand, lungs [2]lungField, target float64, w, h int) []opacityShape {
	if target <= 0 {
		return nil
	}
	total := float64(lungs[0].area + lungs[1].area)
	goals := [2]float64{}
	if target > 0.08 && rng.Float64() < 0.8 || target > 0.45 {
		for i := range goals {
			goals[i] = target * float64(lungs[i].area) * (0.7 + 0.6*rng.Float64())
		}
	} else {
		side := rng.IntN(2)
		goals[side] = math.Min(target*total, 0.9*float64(lungs[side].area))
	}
	scale := math.Min(float64(w), float64(h))
	var shapes []opacityShape
	for li, lung := range lungs {
		if goals[li] <= 0 || lung.area == 0 {
			continue
		}
		covered := mask.New(w, h)
		got := 0
		bounds := maskBounds(lung.mask)
		for try := 0; try < 8 && float64(got) < 0.85*goals[li]; try++ {
			kind := pickKind(rng)
			var pts [][2]float64
			frac := goals[li] / float64(lung.area)
			if frac > 0.6 && try == 0 && rng.Float64() < 0.5 {
				// Most of the lung: its outline shrunk and shifted a little,
				// as annotators do for a white lung.
				pts = shrinkPolygon(lung.pts, 0.94, 0.004*scale*rng.NormFloat64(), 0.004*scale*rng.NormFloat64())
			} else {
				cx, cy, ok := pickCentre(rng, lung.mask, bounds)
				if !ok {
					break
				}
				r := math.Sqrt(math.Max(goals[li]-float64(got), 0)/math.Pi) * (0.8 + 0.5*rng.Float64())
				r = math.Max(0.035*scale, math.Min(r, 0.38*float64(bounds.Dy())))
				pts = blobPolygon(rng, cx, cy, r, lung.mask)
			}
			for i := range pts {
				pts[i] = [2]float64{round1(pts[i][0]), round1(pts[i][1])}
			}
			m := mask.New(w, h)
			mask.RasterizePolygon(m, pts)
			area := m.Count()
			in, _ := m.IntersectCount(lung.mask)
			if area < int(0.0006*float64(w*h))+3 || float64(area-in) > 0.03*float64(area) {
				continue
			}
			k := opacityKinds[kind]
			shapes = append(shapes, opacityShape{
				kind: kind, lung: li, pts: pts, mask: m,
				strength: k.strength[0] + (k.strength[1]-k.strength[0])*rng.Float64(),
			})
			covered.Or(m)
			got, _ = covered.IntersectCount(lung.mask)
		}
	}
	return shapes
}

func pickKind(rng *rand.Rand) int {
	u := rng.Float64()
	for k, o := range opacityKinds {
		if u < o.weight {
			return k
		}
		u -= o.weight
	}
	return kindGroundGlass
}

// pickCentre draws a point inside the lung mask, favouring the lower and
// outer parts of the lung.
func pickCentre(rng *rand.Rand, lung *mask.Mask, b image.Rectangle) (x, y float64, ok bool) {
	if b.Empty() {
		return 0, 0, false
	}
	mid := float64(lung.Width) / 2
	for i := 0; i < 200; i++ {
		x = float64(b.Min.X) + rng.Float64()*float64(b.Dx())
		y = float64(b.Min.Y) + rng.Float64()*float64(b.Dy())
		if !lung.At(int(x), int(y)) {
			continue
		}
		low := (y - float64(b.Min.Y)) / float64(b.Dy())
		outer := math.Abs(x-mid) / (float64(b.Dx()) + math.Abs(float64(b.Min.X+b.Max.X)/2-mid))
		if rng.Float64() < 0.25+0.5*low+0.25*outer {
			return x, y, true
		}
	}
	return 0, 0, false
}

// blobPolygon returns an irregular closed blob of mean radius r about
// (cx, cy), a little taller than wide, whose vertices all lie inside the
// lung: those outside are pulled towards the centre.
func blobPolygon(rng *rand.Rand, cx, cy, r float64, lung *mask.Mask) [][2]float64 {
	const n = 22
	aspect := 1 + 0.5*rng.Float64()
	rx, ry := r/math.Sqrt(aspect), r*math.Sqrt(aspect)
	rot := 0.4 * rng.NormFloat64()
	var amp [4]float64
	var ph [4]float64
	for i := range amp {
		amp[i] = 0.3 * rng.Float64() / float64(i+1)
		ph[i] = 2 * math.Pi * rng.Float64()
	}
	inside := func(x, y float64) bool {
		// The pixel holding the point and its 4 neighbours: keeps the
		// polygon a pixel off the lung border.
		ix, iy := int(math.Floor(x)), int(math.Floor(y))
		return lung.At(ix, iy) && lung.At(ix-1, iy) && lung.At(ix+1, iy) && lung.At(ix, iy-1) && lung.At(ix, iy+1)
	}
	pts := make([][2]float64, 0, n)
	for k := 0; k < n; k++ {
		a := 2 * math.Pi * float64(k) / n
		f := 1.0
		for i := range amp {
			f += amp[i] * math.Cos(float64(i+2)*a+ph[i])
		}
		f *= 1 + 0.06*rng.NormFloat64()
		ex, ey := rx*f*math.Cos(a), ry*f*math.Sin(a)
		dx := ex*math.Cos(rot) - ey*math.Sin(rot)
		dy := ex*math.Sin(rot) + ey*math.Cos(rot)
		x, y := cx+dx, cy+dy
		if !inside(x, y) {
			lo, hi := 0.0, 1.0
			for it := 0; it < 12; it++ {
				m := (lo + hi) / 2
				if inside(cx+m*dx, cy+m*dy) {
					lo = m
				} else {
					hi = m
				}
			}
			x, y = cx+lo*dx, cy+lo*dy
		}
		pts = append(pts, [2]float64{x, y})
	}
	return pts
}

// shrinkPolygon scales pts by f about their centroid and shifts them.
func shrinkPolygon(pts [][2]float64, f, dx, dy float64) [][2]float64 {
	var cx, cy float64
	for _, p := range pts {
		cx += p[0]
		cy += p[1]
	}
	cx /= float64(len(pts))
	cy /= float64(len(pts))
	out := make([][2]float64, len(pts))
	for i, p := range pts {
		out[i] = [2]float64{cx + f*(p[0]-cx) + dx, cy + f*(p[1]-cy) + dy}
	}
	return out
}

// paintOpacities adds the opacities' density to d: inside each polygon's
// rasterisation only, with a soft inner edge and a patchy texture, so the
// painted region is exactly the region a reader rasterises from the saved
// polygon.
func paintOpacities(rng *rand.Rand, d, lungSoft *field, shapes []opacityShape) {
	if len(shapes) == 0 {
		return
	}
	scale := math.Min(float64(d.W), float64(d.H))
	tex := valueNoise(rng, d.W, d.H, 0.06*scale, 3)
	add := newField(d.W, d.H)
	for _, s := range shapes {
		k := opacityKinds[s.kind]
		b := maskBounds(s.mask)
		soft := maskField(s.mask).blurRegion(b, k.feather*scale)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				i := y*d.W + x
				if s.mask.Pix[i] == 0 {
					continue
				}
				edge := smoothstep(0.35, 0.95, float64(soft.V[i]))
				t := 1 - k.texture + k.texture*smoothstep(0.25, 0.75, float64(tex.V[i]))
				add.V[i] += float32(s.strength * edge * t * (0.4 + 0.6*float64(lungSoft.V[i])))
			}
		}
	}
	for i, a := range add.V {
		d.V[i] += min(a, 0.5)
	}
}
