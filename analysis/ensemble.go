package analysis

import (
	"fmt"
	"image"
	"math"
	"sort"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla/unet"
)

// Member is one member of the ensemble that measures an image: the two
// models run on a transformed input (a test-time augmentation), their
// probabilities brought back to the image's grid. The members' opacity
// percentages give the measurement's spread; their mean probabilities give
// the masks reported.
type Member struct {
	Name string `json:"name"`
	// Flip mirrors the input left to right (and the prediction back).
	Flip bool `json:"flip"`
	// Gamma changes the contrast: a grey level v becomes
	// 255 (v/255)^Gamma; 1 (or 0) leaves it.
	Gamma float64 `json:"gamma"`
	// MarginScale multiplies the crop margin of the opacity model's input
	// (transform.DefaultMargin); 1 (or 0) is the paper's margin.
	MarginScale float64 `json:"margin_scale"`
}

// DefaultMembers are the test-time augmentations of TrainModels' models:
// the image as it is, mirrored, darker and lighter mid-tones (gamma 1.25 and
// 0.8), and a tighter and a looser crop to the lungs (margin halved,
// mirrored; margin doubled). They stay within what training showed the
// models (mirroring) or what changes between X-ray machines (exposure,
// framing).
func DefaultMembers() []Member {
	return []Member{
		{Name: "identity"},
		{Name: "flip", Flip: true},
		{Name: "gamma1.25", Gamma: 1.25},
		{Name: "gamma0.8", Gamma: 0.8},
		{Name: "flip-margin0.5", Flip: true, MarginScale: 0.5},
		{Name: "margin2", MarginScale: 2},
	}
}

// members returns the record's members, or the identity alone for a
// models folder without them (one model, no spread).
func (m *Models) members() []Member {
	if len(m.Record.Members) == 0 {
		return []Member{{Name: "identity"}}
	}
	return m.Record.Members
}

// Single returns the models without their ensemble: the image as it is,
// one member, no interval (to measure what the ensemble changes).
func (m *Models) Single() *Models {
	one := *m
	one.Record.Members, one.Record.Interval = nil, nil
	return &one
}

// lungVariant is what decides the lung model's input: the margin does not.
type lungVariant struct {
	flip  bool
	gamma float64
}

func (mb Member) lungVariant() lungVariant { return lungVariant{mb.Flip, mb.gamma()} }

func (mb Member) gamma() float64 {
	if mb.Gamma == 0 {
		return 1
	}
	return mb.Gamma
}

func (mb Member) margin() float64 {
	if mb.MarginScale == 0 {
		return transform.DefaultMargin
	}
	return transform.DefaultMargin * mb.MarginScale
}

// transformed returns a copy of the model input with the member's flip and
// gamma applied (the input itself when neither applies).
func (mb Member) transformed(in *transform.Prepared) *transform.Prepared {
	g := mb.gamma()
	if !mb.Flip && g == 1 {
		return in
	}
	out := *in
	src := in.Image
	img := image.NewGray(src.Rect)
	var lut [256]uint8
	for v := range lut {
		lut[v] = uint8(math.Round(255 * math.Pow(float64(v)/255, g)))
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	for y := 0; y < h; y++ {
		s := src.Pix[y*src.Stride : y*src.Stride+w]
		d := img.Pix[y*img.Stride : y*img.Stride+w]
		for x, v := range s {
			if mb.Flip {
				d[w-1-x] = lut[v]
			} else {
				d[x] = lut[v]
			}
		}
	}
	out.Image = img
	return &out
}

// untransform mirrors a size x size probability map back when the member
// flipped its input (in place).
func (mb Member) untransform(p []float32, size int) {
	if !mb.Flip {
		return
	}
	for y := 0; y < size; y++ {
		row := p[y*size : (y+1)*size]
		for i, j := 0, size-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
}

// predictMembers frames box of s for model l, runs the model on every
// member's transform of it in one batch, and returns each member's
// probabilities of target on the box's own grid (box.Dx() x box.Dy()).
func predictMembers(l *unet.Loaded, s *datasets.Sample, boxes []image.Rectangle, members []Member, target string) ([][]float32, error) {
	size := l.Config.Size
	k := -1
	for i, t := range l.Model.Config.TargetList() {
		if t == target {
			k = i
		}
	}
	if k < 0 {
		return nil, fmt.Errorf("%s: the model does not predict %s", l.Checkpoint, target)
	}
	ins := make([]*transform.Prepared, len(members))
	framed := map[image.Rectangle]*transform.Prepared{}
	for i, mb := range members {
		in := framed[boxes[i]]
		if in == nil {
			var err error
			if in, err = transform.PrepareBox(s, size, boxes[i]); err != nil {
				return nil, err
			}
			framed[boxes[i]] = in
		}
		ins[i] = mb.transformed(in)
	}
	probs, err := l.Model.Predict(ins, len(ins))
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(members))
	for i, mb := range members {
		p := probs[i][k]
		mb.untransform(p, size)
		out[i] = transform.ResizeProb(p, size, size, boxes[i].Dx(), boxes[i].Dy())
	}
	return out, nil
}

// Spread summarises the members' opacity percentages of one image.
type Spread struct {
	// Members are the members' percentages, in the record's member order
	// (NaN where a member found no lungs).
	Members []float64
	// Mean, SD (n-1 denominator; 0 for one member), Min and Max of the
	// members' finite percentages; NaN when none is finite.
	Mean, SD, Min, Max float64
}

// NewSpread summarises percentages (NaNs left out of the statistics).
func NewSpread(pct []float64) Spread {
	s := Spread{Members: pct, Mean: math.NaN(), SD: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	var xs []float64
	for _, v := range pct {
		if !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return s
	}
	sum := 0.0
	s.Min, s.Max = xs[0], xs[0]
	for _, v := range xs {
		sum += v
		s.Min, s.Max = math.Min(s.Min, v), math.Max(s.Max, v)
	}
	s.Mean = sum / float64(len(xs))
	s.SD = 0
	if len(xs) > 1 {
		ss := 0.0
		for _, v := range xs {
			ss += (v - s.Mean) * (v - s.Mean)
		}
		s.SD = math.Sqrt(ss / float64(len(xs)-1))
	}
	return s
}

// Interval is the calibration of the reported interval of the opacity
// percentage: [pct - Factor*max(SD, SDFloor), pct + Factor*max(SD, SDFloor)]
// clipped to [0, 100], where pct is the ensemble's percentage and SD the
// members' spread. Factor is the Level quantile of |truth - pct| /
// max(SD, SDFloor) on the calibration images (split conformal prediction
// with the spread as the scale), so that on images like them the interval
// holds the truth with probability Level.
type Interval struct {
	Level   float64 `json:"level"`
	Factor  float64 `json:"factor"`
	SDFloor float64 `json:"sd_floor"`
	// FittedOn counts the calibration images; Source says which they are.
	FittedOn int    `json:"fitted_on"`
	Source   string `json:"source"`
	// ConstantWidth makes the interval pct ± Factor*SDFloor whatever the
	// members' spread (IntervalFromCV chooses it where the spread does not
	// track the error): Factor is then the Level quantile of
	// |truth - pct| / SDFloor.
	ConstantWidth bool `json:"constant_width,omitempty"`
}

// DefaultSDFloor keeps the interval from collapsing on an image where every
// member agrees (percentage points).
const DefaultSDFloor = 1.0

// Bounds returns the interval around pct for spread sd.
func (iv Interval) Bounds(pct, sd float64) (lo, hi float64) {
	if math.IsNaN(pct) || math.IsNaN(sd) || iv.Factor == 0 {
		return math.NaN(), math.NaN()
	}
	scale := math.Max(sd, iv.SDFloor)
	if iv.ConstantWidth {
		scale = iv.SDFloor
	}
	half := iv.Factor * scale
	return math.Max(0, pct-half), math.Min(100, pct+half)
}

// Formula says how the interval is computed, for reports: "% ± F × max(SD
// of the members, floor)" or, with ConstantWidth, "% ± W".
func (iv Interval) Formula() string {
	if iv.ConstantWidth {
		return fmt.Sprintf("%% ± %.2f (a constant width)", iv.Factor*iv.SDFloor)
	}
	return fmt.Sprintf("%% ± %.2f × max(SD of the members, %.1f)", iv.Factor, iv.SDFloor)
}

// FitInterval calibrates the interval at level (for example 0.9) from the
// ensemble percentages pct, the members' SDs and the truth on calibration
// images (NaNs skipped): Factor is the ceil((n+1) level)-th smallest
// normalised error |truth - pct| / max(sd, floor), the split-conformal
// quantile (the largest error when n is too small for the level).
func FitInterval(pct, sd, truth []float64, level, floor float64, source string) (Interval, error) {
	if len(pct) != len(sd) || len(pct) != len(truth) {
		return Interval{}, fmt.Errorf("interval: %d percentages, %d spreads, %d truths", len(pct), len(sd), len(truth))
	}
	if !(level > 0 && level < 1) || !(floor > 0) {
		return Interval{}, fmt.Errorf("interval: level %v, floor %v: want a level in (0, 1) and a floor > 0", level, floor)
	}
	var scores []float64
	for i := range pct {
		if math.IsNaN(pct[i]) || math.IsNaN(sd[i]) || math.IsNaN(truth[i]) {
			continue
		}
		scores = append(scores, math.Abs(truth[i]-pct[i])/math.Max(sd[i], floor))
	}
	if len(scores) == 0 {
		return Interval{}, fmt.Errorf("interval: no calibration image with a percentage and a truth")
	}
	sort.Float64s(scores)
	k := int(math.Ceil(float64(len(scores)+1)*level)) - 1
	k = min(max(k, 0), len(scores)-1)
	return Interval{Level: level, Factor: scores[k], SDFloor: floor, FittedOn: len(scores), Source: source}, nil
}

// Coverage is the share of images whose truth lies in their interval
// (inclusive), over the images with a percentage and a truth; NaN when
// there are none.
func (iv Interval) Coverage(pct, sd, truth []float64) (share float64, n int) {
	in := 0
	for i := range pct {
		lo, hi := iv.Bounds(pct[i], sd[i])
		if math.IsNaN(lo) || math.IsNaN(truth[i]) {
			continue
		}
		n++
		if truth[i] >= lo && truth[i] <= hi {
			in++
		}
	}
	if n == 0 {
		return math.NaN(), 0
	}
	return float64(in) / float64(n), n
}

// IntervalCheck is an interval calibrated and checked on the same kind of
// images without seeing the one it is checked on (IntervalOutOfFold).
type IntervalCheck struct {
	// Coverage is the share of the N images whose truth lies in the
	// interval fitted without their patient; MedianWidth the median width
	// of those intervals (percentage points).
	Coverage    float64
	N           int
	MedianWidth float64
	// Factor is the interval fitted on all N images: the one a models
	// folder calibrated on such images would report.
	Factor float64
}

// IntervalOutOfFold calibrates the interval (see FitInterval: level, floor)
// on images of one kind and checks it on the same images without letting
// an image, or another image of its patient, calibrate its own interval:
// each image's interval uses the factor fitted on the other patients'
// images (leave one patient out; groups[i] names image i's patient, nil
// makes every image its own). Images with a NaN percentage, spread or truth
// are left out. It measures what split-conformal calibration on images
// annotated like these would cover.
func IntervalOutOfFold(pct, sd, truth []float64, groups []string, level, floor float64) (IntervalCheck, error) {
	if len(pct) != len(sd) || len(pct) != len(truth) || (groups != nil && len(groups) != len(pct)) {
		return IntervalCheck{}, fmt.Errorf("interval out of fold: %d percentages, %d spreads, %d truths, %d groups", len(pct), len(sd), len(truth), len(groups))
	}
	var keep []int
	distinct := map[string]bool{}
	group := func(i int) string {
		if groups == nil {
			return fmt.Sprint(i)
		}
		return groups[i]
	}
	for i := range pct {
		if math.IsNaN(pct[i]) || math.IsNaN(sd[i]) || math.IsNaN(truth[i]) {
			continue
		}
		if group(i) == "" {
			return IntervalCheck{}, fmt.Errorf("interval out of fold: image %d has no patient id", i)
		}
		keep = append(keep, i)
		distinct[group(i)] = true
	}
	if len(distinct) < 2 {
		return IntervalCheck{}, fmt.Errorf("interval out of fold: %d patient(s) with a percentage and a truth: need at least 2", len(distinct))
	}
	all, err := FitInterval(pick(pct, keep), pick(sd, keep), pick(truth, keep), level, floor, "")
	if err != nil {
		return IntervalCheck{}, err
	}
	check := IntervalCheck{N: len(keep), Factor: all.Factor}
	in := 0
	widths := make([]float64, 0, len(keep))
	for _, i := range keep {
		var others []int
		for _, j := range keep {
			if group(j) != group(i) {
				others = append(others, j)
			}
		}
		iv, err := FitInterval(pick(pct, others), pick(sd, others), pick(truth, others), level, floor, "")
		if err != nil {
			return IntervalCheck{}, err
		}
		lo, hi := iv.Bounds(pct[i], sd[i])
		if truth[i] >= lo && truth[i] <= hi {
			in++
		}
		widths = append(widths, hi-lo)
	}
	sort.Float64s(widths)
	check.Coverage = float64(in) / float64(len(keep))
	check.MedianWidth = widths[len(widths)/2]
	if len(widths)%2 == 0 {
		check.MedianWidth = (widths[len(widths)/2-1] + widths[len(widths)/2]) / 2
	}
	return check, nil
}

// pick returns xs at the indices idx.
func pick(xs []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for k, i := range idx {
		out[k] = xs[i]
	}
	return out
}

// meanProb accumulates probability maps on an image grid.
type meanProb struct {
	sum []float32
	n   int
}

func (a *meanProb) add(p []float32, w int, box image.Rectangle) {
	bw := box.Dx()
	for y := 0; y < box.Dy(); y++ {
		dst := a.sum[(box.Min.Y+y)*w+box.Min.X:][:bw]
		for x, v := range p[y*bw : (y+1)*bw] {
			dst[x] += v
		}
	}
}

func (a *meanProb) mask(w, h int) *mask.Mask {
	if a.n > 1 {
		inv := 1 / float32(a.n)
		for i := range a.sum {
			a.sum[i] *= inv
		}
	}
	return threshold(a.sum, w, h)
}

// analyze runs the ensemble on s: lungs predicted (given nil) or given,
// then the opacity model in each member's crop to its own lungs; the
// reported masks are the members' mean probabilities thresholded, the
// percentage that of those masks, and the spread that of the members'
// percentages.
func (m *Models) analyze(r *Result, s *datasets.Sample, given *mask.Mask) error {
	w, h := r.Width, r.Height
	members := m.members()
	full := image.Rect(0, 0, w, h)
	lungs := make([]*mask.Mask, len(members))
	if given != nil {
		r.LungsRaw, r.Lungs = given, given
		for i := range lungs {
			lungs[i] = given
		}
	} else {
		// One lung prediction per distinct (flip, gamma).
		var uniq []Member
		index := map[lungVariant]int{}
		for _, mb := range members {
			if _, ok := index[mb.lungVariant()]; !ok {
				index[mb.lungVariant()] = len(uniq)
				uniq = append(uniq, mb)
			}
		}
		boxes := make([]image.Rectangle, len(uniq))
		for i := range boxes {
			boxes[i] = full
		}
		lp, err := predictMembers(m.lungs, s, boxes, uniq, datasets.TargetLungs)
		if err != nil {
			return err
		}
		mean := meanProb{sum: make([]float32, w*h)}
		post := make([]*mask.Mask, len(uniq))
		for i, mb := range members {
			j := index[mb.lungVariant()]
			mean.add(lp[j], w, full)
			mean.n++
			if post[j] == nil {
				post[j] = m.Record.PostProcess.Apply(threshold(lp[j], w, h))
			}
			lungs[i] = post[j]
		}
		r.LungsRaw = mean.mask(w, h)
		var parts int
		r.Lungs, parts = m.Record.PostProcess.apply(r.LungsRaw)
		if parts > 2 {
			r.Flags = append(r.Flags, FlagMoreComponents)
		}
	}
	r.Right, r.Left = mask.SplitLungs(r.Lungs)
	r.LungPixels = r.Lungs.Count()
	r.LungShare = float64(r.LungPixels) / float64(w*h)
	r.Opacity = mask.New(w, h)
	r.Spread = NewSpread(nanSlice(len(members)))
	if r.LungPixels == 0 {
		r.Flags = append(r.Flags, FlagNoLungs)
		return nil
	}
	if r.Right.Empty() || r.Left.Empty() {
		r.Flags = append(r.Flags, FlagOneLung)
	}
	if r.LungShare < MinLungShare || r.LungShare > MaxLungShare {
		r.Flags = append(r.Flags, FlagLungArea)
	}
	var err error
	if r.Crop, err = transform.CropBox(r.Lungs, transform.DefaultMargin); err != nil {
		return err
	}

	// The opacity model in each member's crop to its own lungs.
	var run []Member
	var boxes []image.Rectangle
	var which []int
	for i, mb := range members {
		if lungs[i].Empty() {
			continue
		}
		box, err := transform.CropBox(lungs[i], mb.margin())
		if err != nil {
			return err
		}
		run, boxes, which = append(run, mb), append(boxes, box), append(which, i)
	}
	sm := *s
	sm.Lung = r.Lungs
	op, err := predictMembers(m.opacity, &sm, boxes, run, datasets.TargetOpacity)
	if err != nil {
		return err
	}
	mean := meanProb{sum: make([]float32, w*h)}
	pct := nanSlice(len(members))
	for j, i := range which {
		mean.add(op[j], w, boxes[j])
		mean.n++
		crop := threshold(op[j], boxes[j].Dx(), boxes[j].Dy())
		opm := mask.New(w, h)
		place(opm, crop, boxes[j])
		if pct[i], err = research.OpacityPercent(lungs[i], opm); err != nil {
			return err
		}
	}
	// The reported opacity: the members' mean probability, inside the
	// ensemble lungs' crop as the single model's.
	all := mean.mask(w, h)
	crop := mask.New(r.Crop.Dx(), r.Crop.Dy())
	for y := 0; y < crop.Height; y++ {
		copy(crop.Pix[y*crop.Width:(y+1)*crop.Width], all.Pix[(r.Crop.Min.Y+y)*w+r.Crop.Min.X:])
	}
	place(r.Opacity, crop, r.Crop)
	if r.OpacityPct, err = research.OpacityPercent(r.Lungs, r.Opacity); err != nil {
		return err
	}
	r.Spread = NewSpread(pct)
	r.Zones = mask.BrixiaZones(r.Right, r.Left)
	if r.ZoneShares, err = mask.ZoneShares(r.Opacity, r.Zones); err != nil {
		return err
	}
	if b := m.Record.Brixia; b != nil {
		r.ZoneScores, r.BrixiaGlobal = b.Scores(r.ZoneShares)
	}
	if iv := m.Record.Interval; iv != nil {
		r.PctLo, r.PctHi = iv.Bounds(r.OpacityPct, r.Spread.SD)
		if r.PctHi-r.PctLo > MaxIntervalWidth {
			r.Flags = append(r.Flags, FlagUncertain)
		}
	}
	if sv := m.Record.Severity; sv != nil {
		r.Geographic = sv.Geographic.Predict(r.OpacityPct)
		r.OpacityScore = sv.Opacity.Predict(r.OpacityPct)
		if !math.IsNaN(r.PctLo) {
			r.GeographicLo, r.GeographicHi = sv.Geographic.Predict(r.PctLo), sv.Geographic.Predict(r.PctHi)
			r.OpacityScoreLo, r.OpacityScoreHi = sv.Opacity.Predict(r.PctLo), sv.Opacity.Predict(r.PctHi)
		}
	}
	return nil
}

// place copies src into dst at box's corner.
func place(dst, src *mask.Mask, box image.Rectangle) {
	for y := 0; y < src.Height; y++ {
		copy(dst.Pix[(box.Min.Y+y)*dst.Width+box.Min.X:], src.Pix[y*src.Width:(y+1)*src.Width])
	}
}

func nanSlice(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}
