package datasets

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/covidxray/opacity/atomicfile"
)

// LabelmeWriteVersion is the labelme version written by NewLabelme: that of
// the paper's annotation files. labelme 4.5.x and 5.x open such files (5.x
// only adds optional keys: description, mask).
const LabelmeWriteVersion = "4.5.6"

// NewLabelme returns a labelme annotation without shapes for an image of
// width x height pixels, as labelme itself writes it: version
// LabelmeWriteVersion, empty flags, imageData null (the image is not
// embedded) and imagePath as given. labelme opens the image at imagePath
// relative to the folder of the JSON file, so pass the image's path
// relative to where the annotation will be written: its base name when the
// two lie side by side.
func NewLabelme(imagePath string, width, height int) *Labelme {
	return &Labelme{
		Version:     LabelmeWriteVersion,
		Flags:       map[string]any{},
		Shapes:      []Shape{},
		ImagePath:   imagePath,
		ImageHeight: height,
		ImageWidth:  width,
	}
}

// AddPolygons appends one polygon shape with the given label for each
// polygon of polys (as mask.Polygons returns them: (x, y) in labelme pixel
// coordinates, closed implicitly), with group_id null and empty flags.
// Coordinates are rounded to 0.1 px, as in the paper's files, for short,
// readable JSON. Polygons of fewer than 3 points enclose nothing and are
// skipped. polys is not changed.
func (l *Labelme) AddPolygons(label string, polys [][][2]float64) {
	for _, p := range polys {
		if len(p) < 3 {
			continue
		}
		pts := make([][2]float64, len(p))
		for k, q := range p {
			pts[k] = [2]float64{round1(q[0]), round1(q[1])}
		}
		l.Shapes = append(l.Shapes, Shape{Label: label, Points: pts, ShapeType: ShapePolygon, Flags: map[string]any{}})
	}
}

// Encode returns the annotation as labelme writes it: JSON indented by two
// spaces, keys in labelme's order (version, flags, shapes, imagePath,
// imageData, imageHeight, imageWidth; per shape label, points, group_id,
// shape_type, flags), ending in a newline. Missing flags and shapes are
// written as {} and [] (labelme expects objects and lists there). It fails
// on what ParseLabelme would reject: a shape without label, of unknown type
// or with too few points, a non-finite coordinate or a negative image size.
func (l *Labelme) Encode() ([]byte, error) {
	if l == nil {
		return nil, fmt.Errorf("no labelme annotation")
	}
	if l.ImageWidth < 0 || l.ImageHeight < 0 {
		return nil, fmt.Errorf("negative image size %dx%d", l.ImageWidth, l.ImageHeight)
	}
	c := *l
	if c.Flags == nil {
		c.Flags = map[string]any{}
	}
	c.Shapes = make([]Shape, len(l.Shapes))
	for i, sh := range l.Shapes {
		if err := checkShape(sh); err != nil {
			return nil, fmt.Errorf("shape %d (%q): %w", i, sh.Label, err)
		}
		if sh.Flags == nil {
			sh.Flags = map[string]any{}
		}
		c.Shapes[i] = sh
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteLabelme encodes l (see Encode) and writes it to path atomically
// (atomicfile.WriteFile, mode 0644): readers see the old file or the new one,
// never a part. Polygons from mask.Polygons read back through ReadLabelme and
// LabelmeSample to the masks they were traced from, up to the
// simplification (see mask.Polygons; the tests check an IoU of at least 0.97
// for lung and opacity masks traced at tol 1 px).
func WriteLabelme(path string, l *Labelme) error {
	data, err := l.Encode()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// round1 rounds to one decimal, as labelme files keep their points.
func round1(v float64) float64 { return math.Round(v*10) / 10 }
