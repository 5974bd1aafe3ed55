package phantom

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
)

// A phantom chest X-ray is painted as a density field (how much tissue the
// beam crosses, 0 = air) that is then turned into gray levels: air black,
// lungs dark, soft tissue gray, mediastinum, heart, bone and abdomen bright.
// The lung fields are two polygons; the painted lungs are exactly their
// rasterisation (softened by a pixel or two), so the saved lung polygons are
// the lung fields one sees.

// lungOutlineRight holds the control points of the right lung (on the
// image's left, as a chest X-ray is viewed) in thorax units: u from the
// midline (-1 = lateral chest wall), v from the apex (0) to the lateral
// costophrenic angle (1). It starts at the apex and runs counter-clockwise
// on screen: lateral wall, costophrenic angle, diaphragm dome, cardiophrenic
// angle, mediastinal border.
var lungOutlineRight = [][2]float64{
	{-0.34, 0.00}, {-0.56, 0.07}, {-0.76, 0.25}, {-0.88, 0.50}, {-0.93, 0.78},
	{-0.94, 0.97}, {-0.86, 1.00}, {-0.68, 0.92}, {-0.46, 0.86}, {-0.24, 0.88},
	{-0.15, 0.70}, {-0.13, 0.45}, {-0.14, 0.22}, {-0.20, 0.06},
}

// lungOutlineLeft is the left lung (on the image's right): lower diaphragm,
// and a medial border pushed out by the heart.
var lungOutlineLeft = [][2]float64{
	{0.32, 0.01}, {0.55, 0.08}, {0.76, 0.27}, {0.88, 0.52}, {0.93, 0.80},
	{0.94, 1.01}, {0.86, 1.04}, {0.70, 0.98}, {0.55, 0.95}, {0.44, 0.93},
	{0.34, 0.78}, {0.22, 0.58}, {0.14, 0.40}, {0.13, 0.24}, {0.18, 0.07},
}

// patientAnatomy is what stays the same in all X-rays of one patient.
type patientAnatomy struct {
	width, height float64      // thorax half-width and lung height, fractions of the image
	heart         float64      // heart size factor (1 normal, up to ~1.3 enlarged)
	jitterR       [][2]float64 // per control point shape offsets
	jitterL       [][2]float64
	ribSpacing    float64 // posterior rib spacing, fraction of the lung height
	softTissue    float64 // soft tissue density factor (body habitus)
}

func newPatientAnatomy(rng *rand.Rand) patientAnatomy {
	a := patientAnatomy{
		width:      0.37 + 0.03*rng.Float64(),
		height:     0.60 + 0.06*rng.Float64(),
		heart:      1 + 0.25*math.Max(0, rng.NormFloat64()*0.6),
		ribSpacing: 0.105 + 0.015*rng.Float64(),
		softTissue: 0.9 + 0.25*rng.Float64(),
	}
	jit := func(n int) [][2]float64 {
		j := make([][2]float64, n)
		for i := range j {
			j[i] = [2]float64{0.025 * rng.NormFloat64(), 0.02 * rng.NormFloat64()}
		}
		return j
	}
	a.jitterR, a.jitterL = jit(len(lungOutlineRight)), jit(len(lungOutlineLeft))
	return a
}

// chestFrame places one X-ray's thorax in the image: all in pixels.
type chestFrame struct {
	W, H          int
	cx, top, bot  float64 // midline, lung apex and costophrenic level
	halfW         float64 // thorax half-width
	tilt          float64 // small rotation (radians) about the thorax centre
	inspiration   float64 // lung height factor of this exposure
	heart         float64
	ribSpacing    float64
	ribPhase      float64
	softTissue    float64
	right, left   [][2]float64 // lung polygons, pixels, rounded to 0.1 px
	rightC, leftC [][2]float64 // jittered control points in thorax units
}

// newChestFrame positions a patient's thorax for one exposure of w x h
// pixels, with per-exposure changes in position, rotation and inspiration.
func newChestFrame(rng *rand.Rand, a patientAnatomy, w, h int) *chestFrame {
	fw, fh := float64(w), float64(h)
	c := &chestFrame{W: w, H: h}
	c.inspiration = 0.94 + 0.1*rng.Float64()
	c.halfW = a.width * fw * (0.96 + 0.08*rng.Float64())
	c.cx = fw * (0.5 + 0.02*rng.NormFloat64())
	lungH := a.height * fh * c.inspiration
	c.top = fh*(0.12+0.025*rng.NormFloat64()) + 0.02*fh
	c.bot = c.top + lungH
	if c.bot > 0.93*fh {
		c.top -= c.bot - 0.93*fh
		c.bot = 0.93 * fh
	}
	c.tilt = 0.03 * rng.NormFloat64()
	c.heart = a.heart
	c.ribSpacing = a.ribSpacing * lungH
	c.ribPhase = rng.Float64()
	c.softTissue = a.softTissue
	c.rightC = jitterOutline(lungOutlineRight, a.jitterR, rng, 1)
	c.leftC = jitterOutline(lungOutlineLeft, a.jitterL, rng, a.heart)
	c.right = c.outline(c.rightC)
	c.left = c.outline(c.leftC)
	return c
}

// jitterOutline adds the patient's and this exposure's offsets to the
// control points; heart > 1 pushes the lower medial border of the left lung
// outwards (cardiomegaly).
func jitterOutline(base, patient [][2]float64, rng *rand.Rand, heart float64) [][2]float64 {
	out := make([][2]float64, len(base))
	for i, p := range base {
		u := p[0] + patient[i][0] + 0.008*rng.NormFloat64()
		v := p[1] + patient[i][1] + 0.008*rng.NormFloat64()
		if heart != 1 && u > 0 && u < 0.5 && v > 0.5 {
			u += (heart - 1) * 0.6 * (v - 0.5) * 2 * (0.5 - u) / 0.5
		}
		out[i] = [2]float64{u, v}
	}
	return out
}

// toPixel maps thorax units to pixels, with the frame's rotation.
func (c *chestFrame) toPixel(u, v float64) (x, y float64) {
	x = c.cx + u*c.halfW
	y = c.top + v*(c.bot-c.top)
	my := (c.top + c.bot) / 2
	s, co := math.Sin(c.tilt), math.Cos(c.tilt)
	dx, dy := x-c.cx, y-my
	return c.cx + co*dx - s*dy, my + s*dx + co*dy
}

// outline samples a closed Catmull-Rom spline through the control points
// and returns it in pixels, rounded to 0.1 px as in the paper's files.
func (c *chestFrame) outline(ctrl [][2]float64) [][2]float64 {
	const per = 4
	n := len(ctrl)
	pts := make([][2]float64, 0, n*per)
	for i := 0; i < n; i++ {
		p0, p1, p2, p3 := ctrl[(i+n-1)%n], ctrl[i], ctrl[(i+1)%n], ctrl[(i+2)%n]
		for k := 0; k < per; k++ {
			t := float64(k) / per
			u := catmullRom(p0[0], p1[0], p2[0], p3[0], t)
			v := catmullRom(p0[1], p1[1], p2[1], p3[1], t)
			x, y := c.toPixel(u, v)
			pts = append(pts, [2]float64{round1(x), round1(y)})
		}
	}
	return pts
}

func catmullRom(p0, p1, p2, p3, t float64) float64 {
	t2, t3 := t*t, t*t*t
	return 0.5 * (2*p1 + (-p0+p2)*t + (2*p0-5*p1+4*p2-p3)*t2 + (-p0+3*p1-3*p2+p3)*t3)
}

// round1 rounds to one decimal.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// density paints the anatomy's density field (without opacities) given the
// lung masks of the frame; lungSoft is the lung mask softened by about a
// pixel, the weight with which air replaces tissue.
func (c *chestFrame) density(rng *rand.Rand, lungs *mask.Mask) (d, lungSoft *field) {
	W, H := c.W, c.H
	d = newField(W, H)
	scale := math.Min(float64(W), float64(H))
	lungSoft = maskField(lungs).blurRegion(maskBounds(lungs), 0.007*scale)
	vessels := c.vesselTrees(rng)
	mottle := valueNoise(rng, W, H, 0.2*scale, 2)
	bowel := valueNoise(rng, W, H, 0.06*scale, 2)
	my := (c.top + c.bot) / 2
	lungH := c.bot - c.top
	// Hila: where the vessels fan out from.
	hx1, hy1 := c.toPixel(-0.27, 0.42)
	hx2, hy2 := c.toPixel(0.25, 0.40)
	// Heart: an ellipse low in the mediastinum, to the patient's left; it
	// shows only where there is no lung, so the lung borders draw it.
	hcx, hcy := c.toPixel(0.10, 0.78)
	hrx, hry := 0.45*c.halfW*c.heart, 0.26*lungH
	// Gastric bubble under the left hemidiaphragm.
	gx, gy := c.toPixel(0.55, 1.13)
	grx, gry := 0.16*c.halfW, 0.06*lungH
	s, co := math.Sin(c.tilt), math.Cos(c.tilt)
	for y := 0; y < H; y++ {
		fy := float64(y) + 0.5
		for x := 0; x < W; x++ {
			fx := float64(x) + 0.5
			// Thorax coordinates (undo the tilt).
			dx, dy := fx-c.cx, fy-my
			ux := (co*dx + s*dy) / c.halfW
			vy := (-s*dx+co*dy)/lungH + 0.5
			i := y*W + x
			// Body: an elliptic cross-section, wider at the shoulders.
			bw := 1.18 + 0.06*vy
			if vy < 0.05 {
				bw += 0.25 * smoothstep(0.05, -0.2, vy)
			}
			au := math.Abs(ux) / bw
			body := 0.0
			if au < 1 {
				body = (0.35 + 0.65*math.Sqrt(1-au*au)) * smoothstep(1, 0.97, au)
				// Shoulders slope down from the neck; air above them.
				if a := math.Abs(ux); a > 0.4 {
					q := (a - 0.4) / 0.9
					body *= smoothstep(-0.03, 0.03, vy-(-0.3+0.22*q*q))
				}
			}
			body *= 1 + 0.08*(float64(mottle.V[i])-0.5)
			l := float64(lungSoft.V[i])
			v := 0.8 * body * c.softTissue
			// Abdomen below the diaphragm: thicker, with bowel gas.
			abd := smoothstep(0.85, 1.2, vy)
			v += abd * body * (0.22 - 0.12*smoothstep(0.45, 0.75, float64(bowel.V[i]))*smoothstep(1.15, 1.35, vy))
			// Mediastinum (between the lungs) and spine.
			med := smoothstep(0.40, 0.18, math.Abs(ux+0.02)) * smoothstep(-0.3, 0.0, vy)
			v += 0.28 * med * body * (1 - l)
			if sp := smoothstep(0.10, 0.07, math.Abs(ux)); sp > 0 {
				disc := 0.5 + 0.5*math.Cos(2*math.Pi*vy/0.075)
				v += sp * (0.07 + 0.04*disc) * body
			}
			// Heart.
			ex, ey := (fx-hcx)/hrx, (fy-hcy)/hry
			if r := ex*ex + ey*ey; r < 1.3 {
				v += 0.22 * smoothstep(1.2, 0.7, r) * (1 - 0.9*l)
			}
			// Gastric bubble (air).
			ex, ey = (fx-gx)/grx, (fy-gy)/gry
			if r := ex*ex + ey*ey; r < 1.3 {
				v -= 0.16 * smoothstep(1.2, 0.5, r) * body * (1 - l)
			}
			// Lungs: air replaces tissue, less so at the bases (soft tissue
			// in front) and at the hila; vessels fan out from the hila.
			if l > 0 {
				d1 := math.Hypot(fx-hx1, fy-hy1)
				d2 := math.Hypot(fx-hx2, fy-hy2)
				hil := math.Exp(-math.Min(d1, d2) / (0.2 * lungH))
				air := 0.54 + 0.1*float64(mottle.V[i]) - 0.14*smoothstep(0.55, 1.0, vy) - 0.06*smoothstep(0.5, 0.0, vy)*smoothstep(0.3, 0.9, math.Abs(ux))
				v -= l * body * (air - 0.2*hil - 0.16*float64(vessels.V[i]))
			}
			v += c.bones(ux, vy) * body
			d.V[i] = float32(v)
		}
	}
	return d, lungSoft
}

// vesselTrees paints the pulmonary vessels: from each hilum a fan of
// branching segments that thin and shorten at every split, drawn as soft
// lines of value up to 1 (thickest near the hila).
func (c *chestFrame) vesselTrees(rng *rand.Rand) *field {
	f := newField(c.W, c.H)
	lungH := c.bot - c.top
	scale := math.Min(float64(c.W), float64(c.H))
	var grow func(x, y, ang, length, radius float64, depth int)
	grow = func(x, y, ang, length, radius float64, depth int) {
		if depth == 0 || radius < 0.25 {
			return
		}
		ang += 0.25 * rng.NormFloat64()
		x2, y2 := x+length*math.Cos(ang), y+length*math.Sin(ang)
		f.segment(x, y, x2, y2, radius, math.Min(1, 0.3+radius/(0.007*scale)))
		for _, turn := range []float64{-1, 1} {
			grow(x2, y2, ang+turn*(0.25+0.35*rng.Float64()), length*(0.7+0.2*rng.Float64()), radius*0.72, depth-1)
		}
	}
	defer func() { *f = *f.blurRegion(image.Rect(0, 0, f.W, f.H), 0.003*scale) }()
	for _, side := range []float64{-1, 1} {
		hx, hy := c.toPixel(side*0.26, 0.41)
		// Lateral is angle pi on the image's left, 0 on its right.
		base := 0.0
		if side < 0 {
			base = math.Pi
		}
		for k := 0; k < 7; k++ {
			spread := (float64(k)/6 - 0.5) * 2.6 // -1.3 .. 1.3 rad about lateral
			ang := base - side*spread + 0.15*rng.NormFloat64()
			grow(hx, hy, ang, (0.08+0.04*rng.Float64())*lungH, 0.007*scale*(0.8+0.4*rng.Float64()), 5)
		}
	}
	return f
}

// segment draws a soft line from (x0, y0) to (x1, y1) of the given radius
// (pixels) and peak value, keeping the maximum where lines cross.
func (f *field) segment(x0, y0, x1, y1, radius, peak float64) {
	r := radius + 1
	minX, maxX := int(math.Floor(math.Min(x0, x1)-r)), int(math.Ceil(math.Max(x0, x1)+r))
	minY, maxY := int(math.Floor(math.Min(y0, y1)-r)), int(math.Ceil(math.Max(y0, y1)+r))
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	for y := max(minY, 0); y < min(maxY, f.H); y++ {
		for x := max(minX, 0); x < min(maxX, f.W); x++ {
			px, py := float64(x)+0.5-x0, float64(y)+0.5-y0
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, (px*dx+py*dy)/l2))
			}
			d := math.Hypot(px-t*dx, py-t*dy) / r
			if d >= 1 {
				continue
			}
			v := float32(peak * math.Sqrt(1-d*d))
			if i := y*f.W + x; v > f.V[i] {
				f.V[i] = v
			}
		}
	}
}

// bones returns the density of ribs and clavicles at thorax coordinates
// (u, v). Posterior ribs are bands about 0.4 spacings thick whose centre
// line leaves the spine nearly horizontally and curves down laterally,
// repeated every rib spacing, each with a faint core and a brighter
// cortical rim. Anterior ribs, fainter, slope down towards the midline. The
// clavicles run nearly horizontally above the apices.
func (c *chestFrame) bones(u, v float64) float64 {
	t := math.Abs(u)
	if t < 0.08 || t > 1.1 {
		return 0
	}
	lungH := c.bot - c.top
	sp := c.ribSpacing / lungH // in v units
	fade := smoothstep(1.1, 0.95, t) * smoothstep(0.08, 0.16, t)
	total := 0.0
	band := func(w, half, core, rim float64) float64 {
		r := math.Abs(w) / half
		if r >= 1 {
			return 0
		}
		return core*math.Sqrt(1-r*r) + rim*smoothstep(0.6, 0.85, r)*smoothstep(1, 0.9, r)
	}
	// Posterior ribs: v = v0 + g(t), v0 on a grid of step sp.
	if w := v - (0.02*t + 0.34*t*t); w > -0.3 && w < 1.05 {
		k := math.Round(w/sp - c.ribPhase)
		total += fade * band(w-(k+c.ribPhase)*sp, 0.2*sp*(1-0.2*t), 0.09, 0.08)
	}
	// Anterior ribs: slope down towards the midline.
	if w := v - 0.35*(1-t)*(1-t); t > 0.2 && w > -0.1 && w < 0.9 {
		ph := c.ribPhase + 0.5
		k := math.Round(w/(1.3*sp) - ph)
		total += fade * smoothstep(0.2, 0.45, t) * band(w-(k+ph)*1.3*sp, 0.22*sp, 0.03, 0.025)
	}
	// Clavicles.
	if t < 0.95 {
		wc := v - (-0.01 - 0.3*t + 0.12*t*t)
		total += smoothstep(0.95, 0.8, t) * smoothstep(0.06, 0.12, t) * band(wc, 0.03, 0.16, 0.08)
	}
	return total
}

// exposure turns densities into gray levels for one X-ray: gray =
// offset + 255*gain*(d/2)^gamma, times a left-right heel effect, after a
// detector blur, plus quantum noise.
type exposure struct {
	gain, gamma, offset float64
	heel                float64 // relative brightness change from left to right edge
	blur                float64 // detector blur sigma, pixels
	noise               float64 // noise sigma, gray levels
}

// hospitalExposure draws the exposure of a portable AP chest film of the
// COVID-19-AR kind.
func hospitalExposure(rng *rand.Rand, size float64) exposure {
	return exposure{
		gain:   0.9 + 0.2*rng.Float64(),
		gamma:  0.85 + 0.3*rng.Float64(),
		offset: 4 + 14*rng.Float64(),
		heel:   0.08 * rng.NormFloat64(),
		blur:   (0.5 + 0.5*rng.Float64()) * size / 256,
		noise:  2 + 3*rng.Float64(),
	}
}

// externalExposure draws the exposure of an image of the external
// (Cohen-like) set: harder contrast, lighter gray levels, more noise, as if
// scanned from a figure.
func externalExposure(rng *rand.Rand, size float64) exposure {
	return exposure{
		gain:   1.0 + 0.2*rng.Float64(),
		gamma:  0.55 + 0.2*rng.Float64(),
		offset: 15 + 25*rng.Float64(),
		heel:   0.04 * rng.NormFloat64(),
		blur:   (0.8 + 0.8*rng.Float64()) * size / 256,
		noise:  5 + 5*rng.Float64(),
	}
}

// render turns the density field into an 8-bit image.
func render(rng *rand.Rand, d *field, ex exposure) *image.Gray {
	if ex.blur > 0 {
		d = d.blurRegion(image.Rect(0, 0, d.W, d.H), ex.blur)
	}
	// (d/2)^gamma from a table over d in [0, 4], linearly interpolated.
	const steps = 4096
	var lut [steps + 2]float64
	for i := range lut {
		lut[i] = math.Pow(float64(i)/steps*2, ex.gamma)
	}
	img := image.NewGray(image.Rect(0, 0, d.W, d.H))
	for y := 0; y < d.H; y++ {
		for x := 0; x < d.W; x++ {
			t := math.Min(math.Max(float64(d.V[y*d.W+x]), 0), 4) / 4 * steps
			k := int(t)
			pw := lut[k] + (lut[k+1]-lut[k])*(t-float64(k))
			g := ex.offset + 255*ex.gain*pw
			g *= 1 + ex.heel*(float64(x)/float64(d.W)-0.5)
			g += ex.noise * rng.NormFloat64()
			img.Pix[y*img.Stride+x] = transform.ClampGray(g)
		}
	}
	return img
}
