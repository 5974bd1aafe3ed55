package datasets

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/xrayfile"
	"github.com/covidxray/opacity/num"
)

// Shape types of labelme. An empty shape_type (labelme 3) is a polygon.
const (
	ShapePolygon   = "polygon"
	ShapeRectangle = "rectangle"
	ShapeCircle    = "circle"
	ShapeLine      = "line"
	ShapeLineStrip = "linestrip"
	ShapePoint     = "point"
)

// ParseLabelme parses and checks a labelme (4.x) JSON file; name is used in
// errors. It checks that the JSON is well formed, that every shape has a
// label, a known shape type and the number of points that type needs (at
// least 3 for a polygon), that every coordinate is finite and that the image
// size, when given, is not negative. It does not decode the embedded image.
func ParseLabelme(name string, data []byte) (*Labelme, error) {
	var raw rawLabelme
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, jsonError(data, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: invalid JSON: data after the top-level object", name)
	}
	l := &Labelme{
		Version:     raw.Version,
		Flags:       raw.Flags,
		ImagePath:   raw.ImagePath,
		ImageData:   raw.ImageData,
		ImageHeight: raw.ImageHeight,
		ImageWidth:  raw.ImageWidth,
	}
	if l.ImageWidth < 0 || l.ImageHeight < 0 {
		return nil, fmt.Errorf("%s: negative image size %dx%d", name, l.ImageWidth, l.ImageHeight)
	}
	if raw.Shapes != nil {
		l.Shapes = make([]Shape, len(raw.Shapes))
	}
	for i, rs := range raw.Shapes {
		sh := Shape{Label: rs.Label, GroupID: rs.GroupID, ShapeType: rs.ShapeType, Flags: rs.Flags}
		if rs.Points != nil {
			sh.Points = make([][2]float64, len(rs.Points))
		}
		for k, p := range rs.Points {
			if len(p) != 2 {
				return nil, fmt.Errorf("%s: shape %d (%q): point %d has %d coordinates, want 2", name, i, rs.Label, k, len(p))
			}
			sh.Points[k] = [2]float64{p[0], p[1]}
		}
		if err := checkShape(sh); err != nil {
			return nil, fmt.Errorf("%s: shape %d (%q): %w", name, i, sh.Label, err)
		}
		l.Shapes[i] = sh
	}
	return l, nil
}

// rawLabelme is Labelme as decoded, before the points are checked to be
// pairs (encoding/json would silently pad or cut a [2]float64).
type rawLabelme struct {
	Version     string         `json:"version"`
	Flags       map[string]any `json:"flags"`
	Shapes      []rawShape     `json:"shapes"`
	ImagePath   string         `json:"imagePath"`
	ImageData   *string        `json:"imageData"`
	ImageHeight int            `json:"imageHeight"`
	ImageWidth  int            `json:"imageWidth"`
}

type rawShape struct {
	Label     string         `json:"label"`
	Points    [][]float64    `json:"points"`
	GroupID   *int           `json:"group_id"`
	ShapeType string         `json:"shape_type"`
	Flags     map[string]any `json:"flags"`
}

// ReadLabelme reads and parses a labelme file with ParseLabelme.
func ReadLabelme(path string) (*Labelme, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseLabelme(path, data)
}

// jsonError gives a JSON error the line and column where it happened.
func jsonError(data []byte, err error) error {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("invalid JSON: truncated (%w)", err)
	}
	if off <= 0 || off > int64(len(data)) {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	off-- // the offending byte
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
}

func checkShape(s Shape) error {
	if s.Label == "" {
		return errors.New("empty label")
	}
	n := len(s.Points)
	var want string
	switch s.ShapeType {
	case "", ShapePolygon:
		if n < 3 {
			want = "at least 3"
		}
	case ShapeRectangle, ShapeCircle, ShapeLine:
		if n != 2 {
			want = "2"
		}
	case ShapeLineStrip:
		if n < 2 {
			want = "at least 2"
		}
	case ShapePoint:
		if n != 1 {
			want = "1"
		}
	default:
		return fmt.Errorf("unknown shape_type %q", s.ShapeType)
	}
	if want != "" {
		t := s.ShapeType
		if t == "" {
			t = ShapePolygon
		}
		return fmt.Errorf("a %s needs %s points, has %d", t, want, n)
	}
	for k, p := range s.Points {
		if !num.Finite(p[0], p[1]) {
			return fmt.Errorf("point %d is not finite: (%g, %g)", k, p[0], p[1])
		}
	}
	return nil
}

// hasArea reports whether the shape type encloses pixels.
func hasArea(shapeType string) bool {
	switch shapeType {
	case "", ShapePolygon, ShapeRectangle, ShapeCircle:
		return true
	}
	return false
}

// EmbeddedImageBytes returns the decoded base64 of imageData: the bytes of a
// JPEG or PNG file, or nil when imageData is null. name is used in errors.
func (l *Labelme) EmbeddedImageBytes(name string) ([]byte, error) {
	if l.ImageData == nil {
		return nil, nil
	}
	s := *l.ImageData
	if strings.ContainsAny(s, "\r\n \t") { // base64 as written by older tools, in lines
		s = strings.Join(strings.Fields(s), "")
	}
	if len(s)%4 != 0 {
		return nil, fmt.Errorf("%s: imageData: truncated base64 (%d characters, not a multiple of 4)", name, len(s))
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: imageData: invalid base64: %w", name, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: imageData is empty", name)
	}
	return data, nil
}

// EmbeddedImage decodes the image embedded in imageData (base64 JPEG or PNG)
// as 8-bit grayscale (see DecodeGray). It returns nil, nil when imageData is
// null. name is used in errors.
func (l *Labelme) EmbeddedImage(name string) (*image.Gray, error) {
	data, err := l.EmbeddedImageBytes(name)
	if err != nil || data == nil {
		return nil, err
	}
	return xrayfile.DecodeGray(name+": imageData", data)
}

// LoadOptions says how much of a file to read.
type LoadOptions struct {
	// Images says whether to decode the pixels. When false, Sample.Image is
	// nil; the mask grid is still the image's size when it is known, from the
	// image's header (embedded or beside) or imageWidth/imageHeight, and the
	// canvas of the points otherwise. A corrupt image body then goes
	// unnoticed; only its header is read.
	Images bool
	// Only, when set, restricts the scan to the files whose stem (the file
	// name without its extension) it accepts; the others are not read.
	Only func(stem string) bool

	// noMasks skips the rasterisation (Lung, Opacity and Classes stay nil)
	// but checks everything else: for statistics that only count.
	noMasks bool
}

// outsideTolerance is how far outside the image (as a fraction of its width
// or height) a point may be before it is an error rather than a clipped
// point with a warning.
const outsideTolerance = 0.10

// LabelmeSample turns a parsed labelme file into a Sample: path is the
// annotation file's path (its base name becomes Sample.File, and its folder
// is where the image is looked for), cohort goes to Sample.Cohort.
//
// The image is the embedded one (imageData), else a file beside the
// annotation (FindImageBeside), else none. The masks lie on the image's
// pixel grid; for an annotation without any image nor imageWidth/imageHeight
// they lie on a canvas with origin (0, 0) and size floor(max x)+1 by
// floor(max y)+1 over all points: the smallest such canvas where the pixel
// containing every point exists.
//
// Each shape with an area (polygon, rectangle, circle) is rasterised (see
// RasterizePolygon) into Classes[label]; shapes of one label are united
// (several polygons of a label never cancel out), and Lung and Opacity are
// the unions over the lung and opacity labels, an unknown label counting as
// opacity (design rule: every label but the lungs' is opacity). Lung and
// Opacity are always non-nil and on the same grid.
//
// Errors: an image that does not decode, an imageWidth/imageHeight that
// disagrees with the image, a point more than 10% of the image's width or
// height outside it. Warnings (Sample.Warnings): points slightly outside
// (clipped), unknown labels, a lung label missing or present more than once,
// shapes without an area (ignored).
func LabelmeSample(cohort, path string, l *Labelme, opt LoadOptions) (*Sample, error) {
	file := filepath.Base(path)
	s := &Sample{
		Cohort:  cohort,
		File:    file,
		Stem:    fileStem(file),
		Patient: PatientID(file),
	}
	for i, sh := range l.Shapes { // l may not come from ParseLabelme
		if err := checkShape(sh); err != nil {
			return nil, fmt.Errorf("%s: shape %d (%q): %w", path, i, sh.Label, err)
		}
	}
	if err := labelmeImage(s, path, l, opt); err != nil {
		return nil, err
	}
	w, h := s.Width, s.Height
	grid := "image"
	if w == 0 {
		grid = "canvas"

		var err error
		if w, h, err = labelmeCanvas(l); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s.Width, s.Height = w, h
	}

	if !opt.noMasks {
		s.Lung, s.Opacity = mask.New(w, h), mask.New(w, h)
		s.Classes = map[string]*mask.Mask{}
	}
	counts := map[string]int{}
	areaLabels := map[string]bool{}
	for i, sh := range l.Shapes {
		counts[sh.Label]++
		if !hasArea(sh.ShapeType) {
			s.Warnings = append(s.Warnings, fmt.Sprintf("shape %d (%q) is a %s: no area, ignored", i, sh.Label, sh.ShapeType))
			continue
		}
		out, err := pointsOutside(sh.Points, w, h)
		if err != nil {
			return nil, fmt.Errorf("%s: shape %d (%q): %w the %dx%d %s", path, i, sh.Label, err, w, h, grid)
		}
		if out > 0 {
			s.Warnings = append(s.Warnings, fmt.Sprintf("shape %d (%q): %d of %d points slightly outside the %dx%d %s, clipped", i, sh.Label, out, len(sh.Points), w, h, grid))
		}
		areaLabels[sh.Label] = true
		if opt.noMasks {
			continue
		}
		m := s.Classes[sh.Label]
		if m == nil {
			m = mask.New(w, h)
			s.Classes[sh.Label] = m
		}
		// Drawing the shape again into Lung or Opacity is cheaper than
		// uniting whole masks afterwards.
		rasterizeShape(m, sh)
		if ClassifyLabel(sh.Label) == LabelLung {
			rasterizeShape(s.Lung, sh)
		} else {
			rasterizeShape(s.Opacity, sh)
		}
	}
	var labels []string
	for label := range areaLabels {
		labels = append(labels, label)
	}
	sort.Strings(labels)
	for _, label := range labels {
		if ClassifyLabel(label) == LabelUnknown {
			s.Warnings = append(s.Warnings, fmt.Sprintf("unknown label %q counted as opacity", label))
		}
	}
	for _, lung := range []string{LabelRightLung, LabelLeftLung} {
		switch n := counts[lung]; {
		case n == 0:
			s.Warnings = append(s.Warnings, fmt.Sprintf("no %s shape", lung))
		case n > 1:
			s.Warnings = append(s.Warnings, fmt.Sprintf("%d %s shapes (united)", n, lung))
		}
	}
	return s, nil
}

// labelmeImage fills s.Image (when asked), s.Width and s.Height from the
// embedded image or the image beside; it leaves the size 0 when there is
// neither and no imageWidth/imageHeight.
func labelmeImage(s *Sample, path string, l *Labelme, opt LoadOptions) error {
	var data []byte
	var name string
	if l.ImageData != nil {
		var err error
		if data, err = l.EmbeddedImageBytes(path); err != nil {
			return err
		}
		name = path + ": imageData"
	} else if p, ok := FindImageBeside(path, l.ImagePath); ok {
		var err error
		if data, err = os.ReadFile(p); err != nil {
			return fmt.Errorf("%s: image: %w", path, err)
		}
		name = p
	}
	switch {
	case data != nil && opt.Images:
		img, err := xrayfile.DecodeGray(name, data)
		if err != nil {
			return err
		}
		s.Image = img
		s.Width, s.Height = img.Rect.Dx(), img.Rect.Dy()
	case data != nil:
		w, h, err := xrayfile.DecodeSize(name, data)
		if err != nil {
			return err
		}
		s.Width, s.Height = w, h
	case l.ImageWidth > 0 && l.ImageHeight > 0:
		if err := xrayfile.CheckSize(l.ImageWidth, l.ImageHeight); err != nil {
			return fmt.Errorf("%s: imageWidth/imageHeight: %w", path, err)
		}
		s.Width, s.Height = l.ImageWidth, l.ImageHeight
		return nil
	default:
		return nil
	}
	if (l.ImageWidth > 0 || l.ImageHeight > 0) && (l.ImageWidth != s.Width || l.ImageHeight != s.Height) {
		return fmt.Errorf("%s: imageWidth x imageHeight %dx%d differ from the image's %dx%d (%s)", path, l.ImageWidth, l.ImageHeight, s.Width, s.Height, name)
	}
	return nil
}

// labelmeCanvas returns the canvas of an annotation without image: origin
// (0, 0), size floor(max)+1 over the points of the shapes with an area.
func labelmeCanvas(l *Labelme) (w, h int, err error) {
	maxX, maxY := 0.0, 0.0
	found := false
	for _, sh := range l.Shapes {
		if !hasArea(sh.ShapeType) {
			continue
		}
		for _, p := range sh.Points {
			maxX, maxY = math.Max(maxX, p[0]), math.Max(maxY, p[1])
			found = true
		}
		if sh.ShapeType == ShapeCircle && len(sh.Points) == 2 {
			r := math.Hypot(sh.Points[1][0]-sh.Points[0][0], sh.Points[1][1]-sh.Points[0][1])
			maxX, maxY = math.Max(maxX, sh.Points[0][0]+r), math.Max(maxY, sh.Points[0][1]+r)
		}
	}
	if !found {
		return 1, 1, nil
	}
	if maxX >= xrayfile.MaxSide || maxY >= xrayfile.MaxSide || (math.Floor(maxX)+1)*(math.Floor(maxY)+1) > xrayfile.MaxPixels {
		return 0, 0, fmt.Errorf("points reach (%g, %g): too far for a canvas (at most %d px a side, %d px in all)", maxX, maxY, xrayfile.MaxSide, xrayfile.MaxPixels)
	}
	return int(math.Floor(maxX)) + 1, int(math.Floor(maxY)) + 1, nil
}

// pointsOutside counts the points outside [0, w] x [0, h], and fails for one
// more than outsideTolerance of the size outside.
func pointsOutside(pts [][2]float64, w, h int) (int, error) {
	fw, fh := float64(w), float64(h)
	mx, my := outsideTolerance*fw, outsideTolerance*fh
	n := 0
	for k, p := range pts {
		x, y := p[0], p[1]
		if x < -mx || x > fw+mx || y < -my || y > fh+my {
			return 0, fmt.Errorf("point %d (%g, %g) is far outside", k, x, y)
		}
		if x < 0 || x > fw || y < 0 || y > fh {
			n++
		}
	}
	return n, nil
}

// rasterizeShape ORs a shape with an area into m.
func rasterizeShape(m *mask.Mask, sh Shape) {
	switch sh.ShapeType {
	case ShapeRectangle:
		a, b := sh.Points[0], sh.Points[1]
		mask.RasterizePolygon(m, [][2]float64{{a[0], a[1]}, {b[0], a[1]}, {b[0], b[1]}, {a[0], b[1]}})
	case ShapeCircle:
		c, p := sh.Points[0], sh.Points[1]
		mask.RasterizeCircle(m, c[0], c[1], math.Hypot(p[0]-c[0], p[1]-c[1]))
	default:
		mask.RasterizePolygon(m, sh.Points)
	}
}

// ReadLabelmeSample reads a labelme annotation file with its image (embedded
// in imageData, or the file beside it that imagePath names) into a sample
// with its lung, opacity and class masks on the image's pixel grid. It is
// an error when the image can be found neither way.
func ReadLabelmeSample(path string) (*Sample, error) {
	l, err := ReadLabelme(path)
	if err != nil {
		return nil, err
	}
	s, err := LabelmeSample("", path, l, LoadOptions{Images: true})
	if err != nil {
		return nil, err
	}
	if s.Image == nil {
		return nil, fmt.Errorf("%s: no image (neither embedded nor beside the file)", path)
	}
	return s, nil
}
