package datasets

import (
	"encoding/base64"
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets/internal/fixture"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/xrayfile"
)

// poly is a labelme polygon shape.
func poly(label string, pts ...[2]float64) Shape {
	return Shape{Label: label, Points: pts, ShapeType: ShapePolygon, Flags: map[string]any{}}
}

// rect returns the four corners of [x0,x1] x [y0,y1].
func rect(x0, y0, x1, y1 float64) [][2]float64 {
	return [][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
}

func labelmeJSON(t testing.TB, l *Labelme) []byte {
	t.Helper()
	if l.Version == "" {
		l.Version = "4.5.6"
	}
	data, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func embed(data []byte) *string {
	s := base64.StdEncoding.EncodeToString(data)
	return &s
}

func TestParseLabelme(t *testing.T) {
	tests := []struct {
		name, json string
		wantErr    string // "" for success
	}{
		{"valid", `{"version":"4.5.6","flags":{},"shapes":[{"label":"right_lung","points":[[0,0],[4,0],[4,4]],"group_id":null,"shape_type":"polygon","flags":{}}],"imagePath":"a.jpg","imageData":null}`, ""},
		{"no shapes", `{"version":"4.5.6","shapes":null,"imagePath":"a.jpg","imageData":null}`, ""},
		{"labelme 3 shape without shape_type", `{"shapes":[{"label":"opacity","points":[[0,0],[4,0],[4,4]]}]}`, ""},
		{"rectangle", `{"shapes":[{"label":"opacity","points":[[0,0],[4,4]],"shape_type":"rectangle"}]}`, ""},
		{"malformed", "{\n\"shapes\": [\n  {\"label\": \"x\",, }]}", "line 3, column 17"},
		{"truncated", `{"shapes":[{"label":"x","points":[[0,`, "invalid JSON: truncated"},
		{"not an object", `[1,2]`, "invalid JSON"},
		{"trailing data", `{"shapes":[]} {}`, "data after the top-level object"},
		{"wrong type", `{"shapes":[{"label":"x","points":"abc"}]}`, "invalid JSON at line 1"},
		{"two-point polygon", `{"shapes":[{"label":"opacity","points":[[0,0],[4,0]],"shape_type":"polygon"}]}`, `shape 0 ("opacity"): a polygon needs at least 3 points, has 2`},
		{"empty polygon", `{"shapes":[{"label":"opacity","points":[]}]}`, "needs at least 3 points, has 0"},
		{"rectangle with 3 points", `{"shapes":[{"label":"o","points":[[0,0],[4,4],[1,1]],"shape_type":"rectangle"}]}`, "a rectangle needs 2 points"},
		{"unknown shape type", `{"shapes":[{"label":"o","points":[[0,0],[4,4],[1,1]],"shape_type":"blob"}]}`, `unknown shape_type "blob"`},
		{"empty label", `{"shapes":[{"label":"","points":[[0,0],[4,4],[1,1]]}]}`, "empty label"},
		{"NaN literal", `{"shapes":[{"label":"o","points":[[NaN,0],[4,4],[1,1]]}]}`, "invalid JSON"},
		{"overflowing number", `{"shapes":[{"label":"o","points":[[1e999,0],[4,4],[1,1]]}]}`, "invalid JSON"},
		{"point with one coordinate", `{"shapes":[{"label":"o","points":[[1],[4,4],[1,1]]}]}`, `shape 0 ("o"): point 0 has 1 coordinates, want 2`},
		{"point with three coordinates", `{"shapes":[{"label":"o","points":[[4,4],[1,2,3],[1,1]]}]}`, "point 1 has 3 coordinates"},
		{"null point", `{"shapes":[{"label":"o","points":[[4,4],null,[1,1]]}]}`, "point 1 has 0 coordinates"},
		{"negative size", `{"shapes":[],"imageWidth":-3,"imageHeight":4}`, "negative image size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLabelme("ann/x.json", []byte(tt.json))
			if tt.wantErr == "" {
				if err != nil || l == nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "ann/x.json: ") {
				t.Errorf("error %v, want one starting with the file name and saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseLabelmeRejectsNonFinite(t *testing.T) {
	// JSON cannot carry NaN, but a Labelme built in code can; LabelmeSample
	// checks again.
	l := &Labelme{Shapes: []Shape{poly("opacity", [2]float64{0, 0}, [2]float64{math.Inf(1), 0}, [2]float64{1, 1})}}
	_, err := LabelmeSample(CohortCovidAR, "x.json", l, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("error %v, want not finite", err)
	}
}

func TestEmbeddedImage(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range g.Pix {
		g.Pix[i] = uint8(10 * i)
	}
	pngData := fixture.EncodePNG(t, g)
	jpgData := fixture.EncodeJPEG(t, g)
	good := base64.StdEncoding.EncodeToString(pngData)
	lines := good[:10] + "\n" + good[10:]
	trunc := good[:len(good)/2+1]
	if len(trunc)%4 == 0 {
		trunc = trunc[:len(trunc)-1]
	}
	trunc4 := good[:len(good)/8*4]
	bad := "!!" + good[2:]
	truncJPEG := base64.StdEncoding.EncodeToString(jpgData[:len(jpgData)-40])
	tests := []struct {
		name    string
		data    *string
		wantErr string
	}{
		{"null", nil, ""},
		{"PNG", &good, ""},
		{"base64 in lines", &lines, ""},
		{"truncated base64", &trunc, "imageData: truncated base64"},
		{"corrupt base64", &bad, "imageData: invalid base64"},
		{"truncated JPEG", &truncJPEG, "imageData: corrupt JPEG: truncated"},
		{"truncated at a multiple of 4", &trunc4, "imageData: corrupt PNG"},
		{"empty", new(string), "imageData is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Labelme{ImageData: tt.data}
			img, err := l.EmbeddedImage("a/x.json")
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "a/x.json: ") {
					t.Errorf("error %v, want %q naming a/x.json", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tt.data == nil:
				if img != nil {
					t.Error("image for null imageData")
				}
			default:
				if string(img.Pix) != string(g.Pix) {
					t.Errorf("pixels %v, want %v", img.Pix, g.Pix)
				}
			}
		})
	}
}

func TestLabelmeSampleCanvas(t *testing.T) {
	// No image, no imageWidth/Height: canvas floor(max x)+1 = 10 by
	// floor(max y)+1 = 8.
	l := &Labelme{Shapes: []Shape{
		poly(LabelRightLung, rect(0, 0, 4, 7)...),                                   // 4x7 = 28 centres
		poly(LabelLeftLung, rect(5, 0, 9.9, 7)...),                                  // x centres 5.5..9.5 (5) x 7 = 35
		poly(LabelGroundGlass, rect(1, 1, 3, 3)...),                                 // 2x2 = 4
		poly(LabelConsolidated, rect(2, 2, 6, 4)...),                                // 4x2 = 8, overlaps the above on (2,2): union 4+8-1 = 11
		{Label: "note", Points: [][2]float64{{1, 1}, {2, 2}}, ShapeType: ShapeLine}, // no area
	}}
	s, err := LabelmeSample(CohortCovidAR, "/d/covid-ar/annotations/COVID-19-AR-1_01-02-2020-XR.json", l, LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Width != 10 || s.Height != 8 || s.Lung.Width != 10 || s.Opacity.Height != 8 {
		t.Fatalf("grid %dx%d (lung %dx%d), want 10x8", s.Width, s.Height, s.Lung.Width, s.Lung.Height)
	}
	if s.File != "COVID-19-AR-1_01-02-2020-XR.json" || s.Stem != "COVID-19-AR-1_01-02-2020-XR" || s.Patient != "COVID-19-AR-1" || s.Cohort != CohortCovidAR {
		t.Errorf("names %q %q %q %q", s.File, s.Stem, s.Patient, s.Cohort)
	}
	if s.Image != nil {
		t.Error("image without pixels")
	}
	if got := s.Lung.Count(); got != 28+35 {
		t.Errorf("lung %d px, want 63", got)
	}
	if got := s.Opacity.Count(); got != 11 {
		t.Errorf("opacity %d px, want 11", got)
	}
	if got := s.Classes[LabelConsolidated].Count(); got != 8 {
		t.Errorf("consolidation %d px, want 8", got)
	}
	if len(s.Classes) != 4 {
		t.Errorf("%d classes, want 4 (the line has no area)", len(s.Classes))
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "no area") {
		t.Errorf("warnings %q", s.Warnings)
	}
}

func TestLabelmeSameLabelIsUnion(t *testing.T) {
	// An outer square and an inner one of the same label: union (36 px), not
	// a hole (36 - 4 = 32 px) as even-odd across polygons would give.
	l := &Labelme{ImageWidth: 8, ImageHeight: 8, Shapes: []Shape{
		poly(LabelOpacityAny, rect(0, 0, 6, 6)...),
		poly(LabelOpacityAny, rect(2, 2, 4, 4)...),
		poly(LabelRightLung, rect(0, 0, 8, 8)...),
		poly(LabelLeftLung, rect(0, 0, 1, 1)...),
	}}
	s, err := LabelmeSample(CohortCohen, "x.json", l, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Width != 8 || s.Height != 8 {
		t.Errorf("grid %dx%d, want imageWidth x imageHeight 8x8", s.Width, s.Height)
	}
	if got := s.Opacity.Count(); got != 36 {
		t.Errorf("opacity %d px, want 36", got)
	}
	if got := s.Classes[LabelOpacityAny].Count(); got != 36 {
		t.Errorf("class %d px, want 36", got)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %q", s.Warnings)
	}
}

func TestLabelmeSampleEmbeddedImage(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 8, 6))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	pngData := fixture.EncodePNG(t, g)
	shapes := []Shape{poly(LabelRightLung, rect(0, 0, 4, 6)...), poly(LabelLeftLung, rect(4, 0, 8, 6)...), poly(LabelSubtleHazy, rect(1, 1, 2, 2)...)}
	l := &Labelme{ImageData: embed(pngData), Shapes: shapes}
	s, err := LabelmeSample(CohortCovidAR, "a_b.json", l, LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Image == nil || string(s.Image.Pix) != string(g.Pix) || s.Width != 8 || s.Height != 6 {
		t.Fatalf("image %v, grid %dx%d", s.Image, s.Width, s.Height)
	}
	if s.Lung.Count() != 48 || s.Opacity.Count() != 1 {
		t.Errorf("lung %d opacity %d, want 48 and 1", s.Lung.Count(), s.Opacity.Count())
	}
	// Without pixels: same grid from the PNG header.
	s, err = LabelmeSample(CohortCovidAR, "a_b.json", l, LoadOptions{})
	if err != nil || s.Image != nil || s.Width != 8 || s.Height != 6 {
		t.Errorf("Images=false: %v, %v", s, err)
	}
	// imageWidth/Height that disagree with the pixels.
	l.ImageWidth, l.ImageHeight = 9, 6
	if _, err := LabelmeSample(CohortCovidAR, "a_b.json", l, LoadOptions{Images: true}); err == nil || !strings.Contains(err.Error(), "9x6 differ from the image's 8x6") {
		t.Errorf("error %v, want size mismatch", err)
	}
}

func TestLabelmeSampleImageBeside(t *testing.T) {
	dir := t.TempDir()
	g := image.NewGray(image.Rect(0, 0, 6, 4))
	os.MkdirAll(filepath.Join(dir, "images"), 0o755)
	os.MkdirAll(filepath.Join(dir, "annotations"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "images", "x.jpeg"), fixture.EncodeJPEG(t, g), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &Labelme{ImagePath: "x.jpg", Shapes: []Shape{poly(LabelRightLung, rect(0, 0, 3, 4)...), poly(LabelLeftLung, rect(3, 0, 6, 4)...)}}
	s, err := LabelmeSample(CohortCohen, filepath.Join(dir, "annotations", "x.json"), l, LoadOptions{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Image == nil || s.Width != 6 || s.Height != 4 || s.Lung.Count() != 24 {
		t.Errorf("image %v grid %dx%d lung %d", s.Image != nil, s.Width, s.Height, s.Lung.Count())
	}
	// A corrupt image beside is an error naming it.
	if err := os.WriteFile(filepath.Join(dir, "images", "x.jpeg"), []byte("\xff\xd8garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LabelmeSample(CohortCohen, filepath.Join(dir, "annotations", "x.json"), l, LoadOptions{Images: true})
	if err == nil || !strings.Contains(err.Error(), "x.jpeg") {
		t.Errorf("error %v, want one naming x.jpeg", err)
	}
}

func TestLabelmeSampleBadInput(t *testing.T) {
	lungs := []Shape{poly(LabelRightLung, rect(0, 0, 5, 10)...), poly(LabelLeftLung, rect(5, 0, 10, 10)...)}
	with := func(extra ...Shape) []Shape { return append(append([]Shape{}, lungs...), extra...) }
	tests := []struct {
		name      string
		l         *Labelme
		wantErr   string
		wantWarn  string
		opacityPx int
	}{
		{
			// 10x10 image, 10% = 1 px: x = 10.8 and y = -0.5 are slightly
			// outside; the square [8,10.8]x[-0.5,2] is clipped to centres
			// 8.5, 9.5 x 0.5, 1.5 = 4 px.
			name:      "slightly outside: clipped, warning",
			l:         &Labelme{ImageWidth: 10, ImageHeight: 10, Shapes: with(poly(LabelOpacityAny, rect(8, -0.5, 10.8, 2)...))},
			wantWarn:  `shape 2 ("opacity"): 3 of 4 points slightly outside the 10x10 image, clipped`,
			opacityPx: 4,
		},
		{
			name:    "far outside: error",
			l:       &Labelme{ImageWidth: 10, ImageHeight: 10, Shapes: with(poly(LabelOpacityAny, rect(8, 0, 11.5, 2)...))},
			wantErr: `bad.json: shape 2 ("opacity"): point 1 (11.5, 0) is far outside the 10x10 image`,
		},
		{
			name:    "far negative on a canvas: error",
			l:       &Labelme{Shapes: with(poly(LabelOpacityAny, rect(-3, 0, 2, 2)...))},
			wantErr: "far outside the 11x11 canvas",
		},
		{
			name:      "unknown label: opacity, warning",
			l:         &Labelme{ImageWidth: 10, ImageHeight: 10, Shapes: with(poly("nodule", rect(0, 0, 2, 1)...))},
			wantWarn:  `unknown label "nodule" counted as opacity`,
			opacityPx: 2,
		},
		{
			name:     "lung twice",
			l:        &Labelme{ImageWidth: 10, ImageHeight: 10, Shapes: with(poly(LabelRightLung, rect(0, 0, 1, 1)...))},
			wantWarn: "2 right_lung shapes (united)",
		},
		{
			name:     "lung missing",
			l:        &Labelme{ImageWidth: 10, ImageHeight: 10, Shapes: lungs[:1]},
			wantWarn: "no left_lung shape",
		},
		{
			name:    "canvas too large",
			l:       &Labelme{Shapes: with(poly(LabelOpacityAny, rect(0, 0, 1e9, 2)...))},
			wantErr: "too far for a canvas",
		},
		{
			name:    "image size too large",
			l:       &Labelme{ImageWidth: 1 << 20, ImageHeight: 1 << 20},
			wantErr: "too large",
		},
		{
			name:    "corrupt embedded image",
			l:       &Labelme{ImageData: embed([]byte("\x89PNG\r\n\x1a\nxx")), Shapes: lungs},
			wantErr: "bad.json: imageData: corrupt PNG",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LabelmeSample(CohortCovidAR, "dir/bad.json", tt.l, LoadOptions{Images: true})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "dir/bad.json") {
					t.Errorf("error %v, want %q naming dir/bad.json", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(s.Warnings, "\n"), tt.wantWarn) {
				t.Errorf("warnings %q, want %q", s.Warnings, tt.wantWarn)
			}
			if got := s.Opacity.Count(); got != tt.opacityPx {
				t.Errorf("opacity %d px, want %d", got, tt.opacityPx)
			}
		})
	}
}

func TestLabelmeSampleRectangleCircle(t *testing.T) {
	l := &Labelme{ImageWidth: 10, ImageHeight: 10, Shapes: []Shape{
		poly(LabelRightLung, rect(0, 0, 5, 10)...),
		poly(LabelLeftLung, rect(5, 0, 10, 10)...),
		// Rectangle given by two opposite corners, bottom-right first: 3x2 px.
		{Label: LabelConsolidated, Points: [][2]float64{{4, 3}, {1, 1}}, ShapeType: ShapeRectangle},
		// Circle, centre (7,7), through (8.5,7): radius 1.5, 4 px (see
		// TestRasterizeCircle).
		{Label: LabelOpacityAny, Points: [][2]float64{{7, 7}, {8.5, 7}}, ShapeType: ShapeCircle},
	}}
	s, err := LabelmeSample(CohortCohen, "x.json", l, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s.Classes[LabelConsolidated].Count(), s.Classes[LabelOpacityAny].Count(); a != 6 || b != 4 {
		t.Errorf("rectangle %d px, circle %d px; want 6 and 4", a, b)
	}
}

// FuzzParseLabelme feeds arbitrary bytes to ParseLabelme and, for what it
// accepts, builds the sample (small images and canvases only, to keep each
// run fast): no input may panic, and a sample's masks lie on its grid.
func FuzzParseLabelme(f *testing.F) {
	g := image.NewGray(image.Rect(0, 0, 4, 3))
	f.Add([]byte(`{"version":"4.5.6","flags":{},"shapes":[{"label":"right_lung","points":[[0,0],[4,0],[4,4]],"group_id":null,"shape_type":"polygon","flags":{}}],"imagePath":"a.jpg","imageData":null}`))
	f.Add([]byte(`{"shapes":[{"label":"opacity","points":[[0,0],[4,4]],"shape_type":"rectangle"},{"label":"x","points":[[1,1],[2,1]],"shape_type":"circle"}],"imageWidth":5,"imageHeight":5}`))
	f.Add(labelmeJSON(f, &Labelme{ImageData: embed(fixture.EncodePNG(f, g)), Shapes: []Shape{poly("left_lung", rect(-0.2, 0, 4.1, 3)...)}}))
	f.Add(labelmeJSON(f, &Labelme{ImageData: embed(fixture.EncodeJPEG(f, g)), Shapes: []Shape{poly("opacity", rect(1, 1, 2, 2)...)}}))
	f.Add([]byte(`{"shapes":[{"label":"o","points":[[1e308,0],[4,4],[-1e308,1]]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLabelme("f.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if b, err := l.EmbeddedImageBytes("f.json"); err == nil && b != nil {
			if w, h, err := xrayfile.DecodeSize("f", b); err == nil && w*h > 1<<16 {
				return
			}
		}
		if l.ImageWidth*l.ImageHeight > 1<<16 || l.ImageWidth > 1<<12 || l.ImageHeight > 1<<12 {
			return
		}
		for _, sh := range l.Shapes {
			for _, p := range sh.Points {
				if math.Abs(p[0]) > 256 || math.Abs(p[1]) > 256 {
					return
				}
			}
		}
		s, err := LabelmeSample(CohortCovidAR, "f.json", l, LoadOptions{Images: true})
		if err != nil {
			return
		}
		for _, m := range append([]*mask.Mask{s.Lung, s.Opacity}, mapValues(s.Classes)...) {
			if m.Width != s.Width || m.Height != s.Height || len(m.Pix) != s.Width*s.Height {
				t.Fatalf("mask %dx%d on grid %dx%d", m.Width, m.Height, s.Width, s.Height)
			}
		}
	})
}

func mapValues(m map[string]*mask.Mask) []*mask.Mask {
	var out []*mask.Mask
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
