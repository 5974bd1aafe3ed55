package analysis

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/xrayfile"
	"github.com/covidxray/opacity/num"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

// Files of an analysis output folder, beside each image's own.
const (
	ReportCSV  = "report.csv"
	ReportJSON = "report.json"
)

// Labelme labels of the files AnalyzeFiles writes: the paper's lung labels
// and the Cohen annotations' opacity label.
const (
	LabelRightLung = datasets.LabelRightLung
	LabelLeftLung  = datasets.LabelLeftLung
	LabelOpacity   = datasets.LabelOpacityAny
)

// FileOptions configures AnalyzeFiles.
type FileOptions struct {
	// Out is the output folder (created).
	Out string
	// Xray says how to read the files (a DICOM of another modality is
	// refused unless Xray.AnyModality).
	Xray xrayfile.Options
	// Tolerance is the simplification of the traced polygons in pixels
	// (mask.Polygons; 0: DefaultTolerance).
	Tolerance float64
	// Progress receives a progress bar redrawn in place (when it is a
	// terminal); Errors one line per file that could not be analysed. Nil
	// writers print nothing.
	Progress, Errors io.Writer
}

// DefaultTolerance is the polygon simplification of the labelme files, in
// pixels: one pixel, so that the polygons read back to nearly the masks
// they were traced from. Each file's round-trip IoU is in the batch report
// (FileReport.LabelmeLungsIoU, LabelmeOpacityIoU).
const DefaultTolerance = 1.0

// minPolygonArea drops traced components smaller than this many pixels.
const minPolygonArea = 16

// FileReport is the analysis of one file, a row of the batch report.
type FileReport struct {
	File   string `json:"file"`
	Status string `json:"status"` // "ok" or "error"
	Error  string `json:"error,omitempty"`
	Format string `json:"format,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	// OpacityPct, LungShare, Geographic, OpacityScore are null when
	// undefined (no lungs found, no severity maps).
	OpacityPct      *float64 `json:"opacity_pct"`
	LungPixels      int      `json:"lung_pixels"`
	LungShare       *float64 `json:"lung_share"`
	RightLungPixels int      `json:"right_lung_pixels"`
	LeftLungPixels  int      `json:"left_lung_pixels"`
	Geographic      *float64 `json:"geographic_extent"`
	OpacityScore    *float64 `json:"opacity_score"`
	// The ensemble's spread: the members' percentages, their SD, range,
	// and the calibrated interval of OpacityPct (null without
	// calibration), with the severity estimates at its bounds.
	MembersPct     []*float64 `json:"members_opacity_pct"`
	OpacityPctSD   *float64   `json:"opacity_pct_sd"`
	OpacityPctMin  *float64   `json:"opacity_pct_min"`
	OpacityPctMax  *float64   `json:"opacity_pct_max"`
	OpacityPctLo   *float64   `json:"opacity_pct_lo"`
	OpacityPctHi   *float64   `json:"opacity_pct_hi"`
	IntervalLevel  float64    `json:"interval_level,omitempty"`
	GeographicLo   *float64   `json:"geographic_extent_lo"`
	GeographicHi   *float64   `json:"geographic_extent_hi"`
	OpacityScoreLo *float64   `json:"opacity_score_lo"`
	OpacityScoreHi *float64   `json:"opacity_score_hi"`
	// Brixia zones A-F (right upper, middle, lower; left upper, middle,
	// lower): the opacity share of each (null for an empty zone), and the
	// scores (null without Brixia thresholds).
	ZoneShares   []*float64 `json:"zone_opacity_share"`
	ZoneScores   []int      `json:"brixia_zones,omitempty"`
	BrixiaGlobal *int       `json:"brixia_global"`
	Flags        []string   `json:"flags"`
	// Outputs are the files written for it, in the output folder.
	Outputs []string `json:"outputs"`
	// Notes say how the file was read (window, rescale, inversion...).
	Notes []string `json:"notes,omitempty"`
	// LabelmeLungsIoU and LabelmeOpacityIoU are the IoU of the masks read
	// back from the labelme file (its polygons rasterised by the project's
	// labelme loader) with the predicted masks; null when both are empty.
	LabelmeLungsIoU   *float64 `json:"labelme_lungs_iou"`
	LabelmeOpacityIoU *float64 `json:"labelme_opacity_iou"`
	// Seconds is the wall time of reading the file and running both
	// models; WriteSeconds that of writing its outputs.
	Seconds      float64 `json:"seconds"`
	WriteSeconds float64 `json:"write_seconds"`
}

// BatchReport is the report of AnalyzeFiles.
type BatchReport struct {
	Models   string       `json:"models"`
	Created  time.Time    `json:"created"`
	Files    []FileReport `json:"files"`
	Analysed int          `json:"analysed"`
	Failed   int          `json:"failed"`
}

// XrayFiles expands the arguments into X-ray files: a file as it is, a
// folder by its files (recursively) whose name ends in .jpg, .jpeg, .png,
// .dcm or .dicom, or has no extension (DICOM files often have none), in
// lexical order. A missing argument is an error naming it.
func XrayFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			switch strings.ToLower(filepath.Ext(d.Name())) {
			case ".jpg", ".jpeg", ".png", ".dcm", ".dicom", "":
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// AnalyzeFiles analyses the files (JPEG, PNG or DICOM) and writes, per
// image, into opt.Out:
//
//	STEM.png           the image as analysed (8-bit gray), which the labelme file refers to
//	STEM_lungs.png     the lung mask, the image's size (white = lungs)
//	STEM_opacity.png   the opacity mask, the image's size
//	STEM_overlay.png   the image with the lungs outlined and the opacity filled, and the numbers
//	STEM.json          labelme: right_lung, left_lung and opacity polygons traced from the masks
//
// and the batch report, report.csv and report.json, rewritten after every
// file, so that nothing already written is lost if the batch stops. A file
// that cannot be read or analysed gets a report row with the reason (and a
// line on opt.Errors) and the batch goes on. Two files with the same stem
// get distinct names (STEM-2, ...). Every file is written atomically.
func (m *Models) AnalyzeFiles(paths []string, opt FileOptions) (*BatchReport, error) {
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, err
	}
	if opt.Tolerance <= 0 {
		opt.Tolerance = DefaultTolerance
	}
	rep := &BatchReport{Models: m.Dir, Created: time.Now().UTC(), Files: []FileReport{}}
	used := map[string]bool{}
	bar := datasets.NewBar(opt.Progress, len(paths))
	// One file's outputs are written while the next is analysed: the
	// writer takes the files in order, so the report's rows and the
	// outputs come out as a serial loop would write them.
	type analysed struct {
		path, stem string
		fr         FileReport
		x          *xrayfile.Xray
		r          *Result
		err        error
	}
	queue := make(chan analysed, 1)
	var reportErr error
	stopped := make(chan struct{}) // closed when the report cannot be written: the batch stops
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		written := 0
		for a := range queue {
			if reportErr != nil {
				continue // drain what was analysed before the stop
			}
			err := a.err
			if err == nil {
				err = m.writeOutputs(a.path, a.stem, a.x, a.r, opt, &a.fr)
			}
			if err != nil {
				a.fr.Status, a.fr.Error = "error", err.Error()
				rep.Failed++
				if opt.Errors != nil {
					bar.Clear()
					fmt.Fprintf(opt.Errors, "%v\n", err)
				}
			} else {
				rep.Analysed++
			}
			rep.Files = append(rep.Files, a.fr)
			if reportErr = writeReport(opt.Out, rep); reportErr != nil {
				close(stopped)
				continue
			}
			written++
			bar.Draw(written, "", filepath.Base(a.path))
		}
	}()
analyse:
	for _, path := range paths {
		select {
		case <-stopped:
			break analyse
		default:
		}
		a := analysed{path: path, stem: uniqueStem(used, path), fr: FileReport{File: path, Status: "ok", Flags: []string{}, Outputs: []string{}}}
		a.x, a.r, a.err = m.analyzeFile(path, opt, &a.fr)
		queue <- a
	}
	close(queue)
	<-writerDone
	if reportErr != nil {
		return rep, reportErr
	}
	bar.Done()
	return rep, nil
}

// analyzeFile reads and analyses one file and puts its numbers in fr; its
// error names the file.
func (m *Models) analyzeFile(path string, opt FileOptions, fr *FileReport) (*xrayfile.Xray, *Result, error) {
	start := time.Now()
	x, err := xrayfile.Read(path, opt.Xray)
	if err != nil {
		return nil, nil, err
	}
	fr.Format, fr.Notes = x.Format, x.Notes
	b := x.Image.Bounds()
	fr.Width, fr.Height = b.Dx(), b.Dy()
	r, err := m.Analyze(x.Image)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	fr.Flags = append(fr.Flags, r.Flags...)
	fr.OpacityPct, fr.Geographic, fr.OpacityScore = num.Nullable(r.OpacityPct), num.Nullable(r.Geographic), num.Nullable(r.OpacityScore)
	fr.LungPixels, fr.LungShare = r.LungPixels, num.Nullable(r.LungShare)
	fr.RightLungPixels, fr.LeftLungPixels = r.Right.Count(), r.Left.Count()
	for _, v := range r.Spread.Members {
		fr.MembersPct = append(fr.MembersPct, num.Nullable(v))
	}
	fr.OpacityPctSD, fr.OpacityPctMin, fr.OpacityPctMax = num.Nullable(r.Spread.SD), num.Nullable(r.Spread.Min), num.Nullable(r.Spread.Max)
	fr.OpacityPctLo, fr.OpacityPctHi = num.Nullable(r.PctLo), num.Nullable(r.PctHi)
	if iv := m.Record.Interval; iv != nil {
		fr.IntervalLevel = iv.Level
	}
	fr.GeographicLo, fr.GeographicHi = num.Nullable(r.GeographicLo), num.Nullable(r.GeographicHi)
	fr.OpacityScoreLo, fr.OpacityScoreHi = num.Nullable(r.OpacityScoreLo), num.Nullable(r.OpacityScoreHi)
	for _, v := range r.ZoneShares {
		fr.ZoneShares = append(fr.ZoneShares, num.Nullable(v))
	}
	if r.BrixiaGlobal >= 0 {
		fr.ZoneScores = r.ZoneScores[:]
		g := r.BrixiaGlobal
		fr.BrixiaGlobal = &g
	}
	fr.Seconds = time.Since(start).Seconds()
	return x, r, nil
}

// writeOutputs writes the outputs of one analysed file (see AnalyzeFiles)
// and lists them in fr: the images are encoded and the overlay drawn in
// parallel, then written one by one, each atomically.
func (m *Models) writeOutputs(path, stem string, x *xrayfile.Xray, r *Result, opt FileOptions, fr *FileReport) error {
	start := time.Now()
	defer func() { fr.WriteSeconds = time.Since(start).Seconds() }()
	names := []string{stem + ".png", stem + "_lungs.png", stem + "_opacity.png", stem + "_overlay.png", stem + ".json"}
	data := make([][]byte, len(names))
	errs := make([]error, len(names))
	encode := func(img image.Image) ([]byte, error) {
		var buf bytes.Buffer
		err := fastPNG.Encode(&buf, img)
		return buf.Bytes(), err
	}
	datasets.Parallel(len(names), func(i int) {
		switch i {
		case 0:
			data[i], errs[i] = encode(x.Image)
		case 1:
			data[i], errs[i] = encode(plots.MaskImage(r.Lungs))
		case 2:
			data[i], errs[i] = encode(plots.MaskImage(r.Opacity))
		case 3:
			fig, err := OverlayFigure(filepath.Base(path), x.Image, r)
			if err != nil {
				errs[i] = fmt.Errorf("%s: overlay: %w", path, err)
				return
			}
			if data[i], err = fig.RenderPNG(OverlayDPI, png.BestSpeed); err != nil {
				errs[i] = fmt.Errorf("%s: overlay: %w", path, err)
			}
		case 4:
			lm := Labelme(names[0], r, opt.Tolerance)
			var err error
			if data[i], err = lm.Encode(); err != nil {
				errs[i] = fmt.Errorf("%s: labelme: %w", path, err)
				return
			}
			if fr.LabelmeLungsIoU, fr.LabelmeOpacityIoU, err = labelmeAgreement(names[i], data[i], r); err != nil {
				errs[i] = fmt.Errorf("%s: labelme: %w", path, err)
			}
		}
	})
	for i, name := range names {
		if errs[i] != nil {
			if i < 3 {
				return fmt.Errorf("%s: %w", name, errs[i])
			}
			return errs[i]
		}
		if err := atomicfile.WriteFile(filepath.Join(opt.Out, name), data[i], 0o644); err != nil {
			return err
		}
		fr.Outputs = append(fr.Outputs, name)
	}
	return nil
}

// labelmeAgreement reads an encoded labelme file back into masks through
// the project's labelme loader and returns their IoU with the result's
// lungs and opacity (nil where both are empty).
func labelmeAgreement(name string, data []byte, r *Result) (lungs, opacity *float64, err error) {
	l, err := datasets.ParseLabelme(name, data)
	if err != nil {
		return nil, nil, err
	}
	sm, err := datasets.LabelmeSample("", name, l, datasets.LoadOptions{})
	if err != nil {
		return nil, nil, err
	}
	iou := func(a, b *mask.Mask) *float64 {
		if v, ok := research.MaskIoU(a.Pix, nil, b.Pix, nil, math.NaN()); ok {
			return &v
		}
		return nil
	}
	return iou(sm.Lung, r.Lungs), iou(sm.Opacity, r.Opacity), nil
}

// OverlayDPI is the resolution of the overlay images: enough to read the
// outlines at a glance, a quarter of the pixels of the paper's figures.
const OverlayDPI = 150

// fastPNG encodes the outputs: zlib's fastest level (masks compress well at
// any level; the image copy and the overlay are written once per file).
var fastPNG = &png.Encoder{CompressionLevel: png.BestSpeed}

// Labelme returns the labelme annotation of a result: the right and left
// lungs (right_lung, left_lung) and the opacity (opacity) as polygons
// traced from the masks, simplified by tol pixels, components under 16
// pixels left out, for the image at imagePath (relative to the file).
func Labelme(imagePath string, r *Result, tol float64) *datasets.Labelme {
	l := datasets.NewLabelme(imagePath, r.Width, r.Height)
	l.AddPolygons(LabelRightLung, mask.Polygons(r.Right, tol, minPolygonArea))
	l.AddPolygons(LabelLeftLung, mask.Polygons(r.Left, tol, minPolygonArea))
	l.AddPolygons(LabelOpacity, mask.Polygons(r.Opacity, tol, minPolygonArea))
	return l
}

// OverlayFigure draws a result for a reader: the image with the predicted
// lungs outlined and the opacity filled, under the name, the opacity
// percentage, the severity estimates and the flags (one line each; a line
// too wide for the image is cut).
func OverlayFigure(name string, img *image.Gray, r *Result) (*plots.Figure, error) {
	numbers := "no opacity % (no lungs found)"
	if !math.IsNaN(r.OpacityPct) {
		numbers = fmt.Sprintf("opacity %.1f%% of the lungs", r.OpacityPct)
	}
	if !math.IsNaN(r.PctLo) {
		numbers += fmt.Sprintf(" (interval %.0f-%.0f%%, members %.0f-%.0f%%)", r.PctLo, r.PctHi, r.Spread.Min, r.Spread.Max)
	}
	if !math.IsNaN(r.Geographic) {
		numbers += fmt.Sprintf("; estimated extent %.1f/8, opacity %.1f/6", r.Geographic, r.OpacityScore)
	}
	title := name + "\n" + numbers
	if r.BrixiaGlobal >= 0 {
		z := r.ZoneScores
		title += fmt.Sprintf("\nBrixia %d/18: right lung %d %d %d, left lung %d %d %d (upper, middle, lower zones)", r.BrixiaGlobal, z[0], z[1], z[2], z[3], z[4], z[5])
	}
	if len(r.Flags) > 0 {
		title += "\nflags: " + strings.Join(r.Flags, "; ")
	}
	cell := plots.GridImage{Image: img, Title: title, Overlays: []plots.Overlay{
		{Mask: r.Lungs, Color: plots.LungColor, Label: "lungs (automatic)"},
		{Mask: r.Opacity, Color: plots.OverlayPredicted, Label: "opacity (automatic)", Fill: true},
	}}
	if lines := zoneLines(r); lines != nil {
		cell.Overlays = append(cell.Overlays, plots.Overlay{Mask: lines, Color: ZoneColor, Label: "Brixia zone limits (thirds of each lung's height)"})
	}
	return plots.ImageGrid("", []plots.GridImage{cell}, 1)
}

// zoneLines returns a mask of the limits between the Brixia zones: the
// first row of each middle and lower zone, within its lung (nil without
// zones).
func zoneLines(r *Result) *mask.Mask {
	if r.Zones[0] == nil {
		return nil
	}
	lines := mask.New(r.Width, r.Height)
	any := false
	for _, z := range []int{1, 2, 4, 5} {
		m := r.Zones[z]
		for y := 0; y < m.Height; y++ {
			row := m.Pix[y*m.Width : (y+1)*m.Width]
			found := false
			for x, v := range row {
				if v != 0 {
					lines.Pix[y*m.Width+x] = 1
					found, any = true, true
				}
			}
			if found {
				break // the zone's first row only
			}
		}
	}
	if !any {
		return nil
	}
	return lines
}

// ZoneColor draws the Brixia zone limits on the overlay.
var ZoneColor = color.RGBA{R: 255, G: 215, B: 0, A: 255}

// writeReport writes the batch report as JSON and CSV, atomically.
func writeReport(dir string, rep *BatchReport) error {
	if err := atomicfile.WriteJSON(filepath.Join(dir, ReportJSON), rep, 0o644); err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"file", "status", "error", "format", "width", "height", "opacity_pct", "lung_pixels", "lung_share",
		"right_lung_pixels", "left_lung_pixels", "geographic_extent", "opacity_score", "flags", "labelme_lungs_iou", "labelme_opacity_iou", "seconds",
		"opacity_pct_sd", "opacity_pct_min", "opacity_pct_max", "opacity_pct_lo", "opacity_pct_hi", "geographic_extent_lo", "geographic_extent_hi",
		"opacity_score_lo", "opacity_score_hi", "brixia_global", "brixia_a", "brixia_b", "brixia_c", "brixia_d", "brixia_e", "brixia_f"})
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return fmt.Sprintf("%.4g", *v)
	}
	for _, f := range rep.Files {
		row := []string{f.File, f.Status, f.Error, f.Format, fmt.Sprint(f.Width), fmt.Sprint(f.Height), num(f.OpacityPct),
			fmt.Sprint(f.LungPixels), num(f.LungShare), fmt.Sprint(f.RightLungPixels), fmt.Sprint(f.LeftLungPixels),
			num(f.Geographic), num(f.OpacityScore), strings.Join(f.Flags, "; "), num(f.LabelmeLungsIoU), num(f.LabelmeOpacityIoU), fmt.Sprintf("%.3f", f.Seconds),
			num(f.OpacityPctSD), num(f.OpacityPctMin), num(f.OpacityPctMax), num(f.OpacityPctLo), num(f.OpacityPctHi), num(f.GeographicLo), num(f.GeographicHi),
			num(f.OpacityScoreLo), num(f.OpacityScoreHi)}
		zones := []string{"", "", "", "", "", "", ""}
		if f.BrixiaGlobal != nil {
			zones[0] = fmt.Sprint(*f.BrixiaGlobal)
			for i, z := range f.ZoneScores {
				zones[i+1] = fmt.Sprint(z)
			}
		}
		w.Write(append(row, zones...))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ReportCSV), buf.Bytes(), 0o644)
}

// uniqueStem returns the stem of path, made unique among used.
func uniqueStem(used map[string]bool, path string) string {
	base := filepath.Base(path)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if stem == "" {
		stem = "image"
	}
	s := stem
	for n := 2; used[s]; n++ {
		s = fmt.Sprintf("%s-%d", stem, n)
	}
	used[s] = true
	return s
}
