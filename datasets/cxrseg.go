package datasets

import (
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/xrayfile"
)

// CXRSegMask is one row of the cxr-seg cohort's structure.csv: one class
// mask of one image, stored as a crop to be placed at (Top, Left).
type CXRSegMask struct {
	Image  string // the image's file name in images/ (column Filename)
	Class  string // column "Template Name", e.g. "Left Lung"
	Mask   string // path of the mask PNG relative to the cohort folder; "" when the row has none
	Width  int    // image width from Resolution (WxH)
	Height int    // image height from Resolution
	Top    int    // row of the crop's top-left pixel in the image
	Left   int    // column of the crop's top-left pixel
	CropW  int    // crop width (column Width)
	CropH  int    // crop height (column Height)
	Line   int    // line of the row in structure.csv
}

// ReadCXRSegStructure reads the structure.csv of the cxr-seg cohort (a quoted
// CSV; columns Filename, Template Name, Mask, Resolution, Top, Left, Width,
// Height; others unused), in file order. Errors name the file and line: a
// wrong field count, a number that is not a non-negative integer, a
// Resolution that is not WxH, an empty Filename or class, a path that leaves
// the cohort folder.
func ReadCXRSegStructure(path string) ([]CXRSegMask, error) {
	return readFile(path, parseStructure)
}

func parseStructure(name string, r io.Reader) ([]CXRSegMask, error) {
	t, err := readCSV(name, r)
	if err != nil {
		return nil, err
	}
	cols, err := t.columns([]string{"Filename"}, []string{"Template Name"}, []string{"Mask"},
		[]string{"Resolution"}, []string{"Top"}, []string{"Left"}, []string{"Width"}, []string{"Height"})
	if err != nil {
		return nil, err
	}
	out := make([]CXRSegMask, 0, len(t.rows))
	for i, row := range t.rows {
		m := CXRSegMask{
			Image: strings.TrimSpace(row[cols[0]]),
			Class: strings.TrimSpace(row[cols[1]]),
			Mask:  strings.TrimSpace(row[cols[2]]),
			Line:  t.lines[i],
		}
		if m.Image == "" || m.Class == "" {
			return nil, t.errorf(i, "empty Filename or Template Name")
		}
		if !filepath.IsLocal(m.Image) || strings.ContainsAny(m.Image, `/\`) {
			return nil, t.errorf(i, "Filename %q is not a plain file name", m.Image)
		}
		if m.Mask != "" && !filepath.IsLocal(filepath.FromSlash(m.Mask)) {
			return nil, t.errorf(i, "Mask %q leaves the cohort folder", m.Mask)
		}
		res := strings.TrimSpace(row[cols[3]])
		ws, hs, ok := strings.Cut(res, "x")
		if m.Width, err = strconv.Atoi(ws); ok && err == nil {
			m.Height, err = strconv.Atoi(hs)
		}
		if !ok || err != nil || xrayfile.CheckSize(m.Width, m.Height) != nil {
			return nil, t.errorf(i, "Resolution %q is not WxH with sizes in 1..%d", res, xrayfile.MaxSide)
		}
		for k, dst := range []*int{&m.Top, &m.Left, &m.CropW, &m.CropH} {
			v := strings.TrimSpace(row[cols[4+k]])
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > xrayfile.MaxSide {
				return nil, t.errorf(i, "%s = %q is not a whole number in 0..%d", t.header[cols[4+k]], v, xrayfile.MaxSide)
			}
			*dst = n
		}
		out = append(out, m)
	}
	return out, nil
}

// groupCXRSeg groups the rows of structure.csv by image, images sorted by
// name, rows in file order.
func groupCXRSeg(rows []CXRSegMask) (names []string, byImage map[string][]CXRSegMask) {
	byImage = map[string][]CXRSegMask{}
	for _, r := range rows {
		if _, ok := byImage[r.Image]; !ok {
			names = append(names, r.Image)
		}
		byImage[r.Image] = append(byImage[r.Image], r)
	}
	sort.Strings(names)
	return names, byImage
}

// CXRSegSample builds the sample of one cxr-seg image from its rows of
// structure.csv (all with the same Image): dir is the cohort folder, which
// holds images/ and the mask paths. Each mask crop is placed at (Top, Left)
// of a Resolution-sized grid; its non-black pixels are the class (alpha
// premultiplied: a transparent pixel is black). Masks of one class are
// united. Lung = Left Lung ∪ Right Lung, Opacity = Ground Glass Opacities ∪
// Consolidation; every class is kept in Classes, by its Template Name.
//
// Errors (naming the files): an image or mask that is missing or does not
// decode, an image whose size is not the Resolution, a mask whose size is not
// its Width x Height, a crop that does not fit in the image, rows that
// disagree on the Resolution. Warnings: rows without a mask path (skipped), a
// lung side missing, a class with several masks. The patient is left to the
// caller (metadata.csv); Sample.Patient is the stem.
func CXRSegSample(dir string, rows []CXRSegMask, opt LoadOptions) (*Sample, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no structure rows", dir)
	}
	name := rows[0].Image
	w, h := rows[0].Width, rows[0].Height
	for _, r := range rows {
		if r.Image != name {
			return nil, fmt.Errorf("%s: rows of %s and %s mixed", dir, name, r.Image)
		}
		if r.Width != w || r.Height != h {
			return nil, fmt.Errorf("%s: structure.csv lines %d and %d give %s the resolutions %dx%d and %dx%d", name, rows[0].Line, r.Line, name, w, h, r.Width, r.Height)
		}
	}
	s := &Sample{Cohort: CohortCXRSeg, File: name, Stem: fileStem(name), Patient: fileStem(name), Width: w, Height: h}
	imgPath := filepath.Join(dir, ImagesDir, name)
	data, err := os.ReadFile(imgPath)
	if err != nil {
		return nil, err
	}
	var iw, ih int
	if opt.Images {
		if s.Image, err = xrayfile.DecodeGray(imgPath, data); err != nil {
			return nil, err
		}
		iw, ih = s.Image.Rect.Dx(), s.Image.Rect.Dy()
	} else if iw, ih, err = xrayfile.DecodeSize(imgPath, data); err != nil {
		return nil, err
	}
	if iw != w || ih != h {
		return nil, fmt.Errorf("%s: image is %dx%d, structure.csv line %d says %dx%d", imgPath, iw, ih, rows[0].Line, w, h)
	}

	s.Classes = map[string]*mask.Mask{}
	s.Lung, s.Opacity = mask.New(w, h), mask.New(w, h)
	count := map[string]int{}
	for _, r := range rows {
		if r.Mask == "" {
			s.Warnings = append(s.Warnings, fmt.Sprintf("structure.csv line %d: %q has no mask file, skipped", r.Line, r.Class))
			continue
		}
		m := s.Classes[r.Class]
		if m == nil {
			m = mask.New(w, h)
			s.Classes[r.Class] = m
		}
		var union *mask.Mask // Lung or Opacity, filled in the same pass
		switch ClassifyCXRSegClass(r.Class) {
		case LabelLung:
			union = s.Lung
		case LabelOpacity:
			union = s.Opacity
		}
		if err := placeCrop(m, union, filepath.Join(dir, filepath.FromSlash(r.Mask)), r); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		count[r.Class]++
	}
	for _, side := range []string{ClassLeftLung, ClassRightLung} {
		if count[side] == 0 {
			s.Warnings = append(s.Warnings, fmt.Sprintf("no %q mask", side))
		}
	}
	var classes []string
	for c := range count {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		if n := count[c]; n > 1 {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%d %q masks (united)", n, c))
		}
	}
	return s, nil
}

// placeCrop ORs the non-black pixels of the mask image at path into m, and
// into union unless it is nil, at (r.Top, r.Left).
func placeCrop(m, union *mask.Mask, path string, r CXRSegMask) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("structure.csv line %d: %w", r.Line, err)
	}
	img, err := xrayfile.DecodeImage(path, data)
	if err != nil {
		return err
	}
	b := img.Bounds()
	if b.Dx() != r.CropW || b.Dy() != r.CropH {
		return fmt.Errorf("%s is %dx%d, structure.csv line %d says %dx%d", path, b.Dx(), b.Dy(), r.Line, r.CropW, r.CropH)
	}
	if r.Left+r.CropW > m.Width || r.Top+r.CropH > m.Height {
		return fmt.Errorf("%s (%s, structure.csv line %d): crop %dx%d at top %d, left %d does not fit in the %dx%d image",
			path, r.Class, r.Line, r.CropW, r.CropH, r.Top, r.Left, m.Width, m.Height)
	}
	for y := 0; y < r.CropH; y++ {
		i := (r.Top+y)*m.Width + r.Left
		dst := m.Pix[i : i+r.CropW]
		nonBlackRow(dst, img, b.Min.X, b.Min.Y+y)
		if union != nil {
			u := union.Pix[i : i+r.CropW]
			for x, v := range dst {
				u[x] |= v
			}
		}
	}
	return nil
}

// nonBlackRow sets dst[x] = 1 where the pixel (x0+x, y) of img is not black.
func nonBlackRow(dst []uint8, img image.Image, x0, y int) {
	switch src := img.(type) {
	case *image.RGBA:
		p := src.Pix[src.PixOffset(x0, y):]
		for x := range dst {
			q := p[4*x : 4*x+3]
			if q[0]|q[1]|q[2] != 0 {
				dst[x] = 1
			}
		}
	case *image.NRGBA:
		p := src.Pix[src.PixOffset(x0, y):]
		for x := range dst {
			q := p[4*x : 4*x+4]
			if q[0]|q[1]|q[2] != 0 && q[3] != 0 {
				dst[x] = 1
			}
		}
	case *image.Gray:
		p := src.Pix[src.PixOffset(x0, y):]
		for x := range dst {
			if p[x] != 0 {
				dst[x] = 1
			}
		}
	default:
		for x := range dst {
			r, g, b, _ := img.At(x0+x, y).RGBA()
			if r|g|b != 0 {
				dst[x] = 1
			}
		}
	}
}
