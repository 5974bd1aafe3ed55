package datasets

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/xrayfile"
)

// Classes of the covid-qu-ex index (column class).
const (
	QUExCOVID    = "COVID-19"  // infection mask drawn (non-empty)
	QUExNonCOVID = "Non-COVID" // other pneumonia: its opacities are NOT labelled (empty mask)
	QUExNormal   = "Normal"    // no opacity (empty mask)
)

// ClassInfection is the Classes key of a covid-qu-ex sample's infection mask
// (also its Opacity).
const ClassInfection = "infection"

// QUExEntry is one row of the covid-qu-ex index.csv.
type QUExEntry struct {
	File        string // image file name in images/ (and in both mask folders)
	Class       string // QUExCOVID, QUExNonCOVID or QUExNormal
	SourceSplit string // the dataset's own split (Train, Val); not used for ours
	Line        int    // line in index.csv
}

// OpacityLabelled reports whether the class's infection mask says where the
// opacities are: true for COVID-19 (drawn) and Normal (none), false for
// Non-COVID, whose pneumonia opacities were not drawn.
func (e QUExEntry) OpacityLabelled() bool { return e.Class != QUExNonCOVID }

// ReadQUExIndex reads the covid-qu-ex index.csv (columns file, class,
// source_split), in file order. Errors name the file and line: an empty or
// non-plain file name, a file listed twice, an unknown class.
func ReadQUExIndex(path string) ([]QUExEntry, error) {
	return readFile(path, parseQUExIndex)
}

func parseQUExIndex(name string, r io.Reader) ([]QUExEntry, error) {
	t, err := readCSV(name, r)
	if err != nil {
		return nil, err
	}
	cols, err := t.columns([]string{"file"}, []string{"class"}, []string{"source_split"})
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	out := make([]QUExEntry, 0, len(t.rows))
	for i, row := range t.rows {
		e := QUExEntry{File: strings.TrimSpace(row[cols[0]]), Class: strings.TrimSpace(row[cols[1]]),
			SourceSplit: strings.TrimSpace(row[cols[2]]), Line: t.lines[i]}
		if !plainFileName(e.File) {
			return nil, t.errorf(i, "file %q is not a plain file name", e.File)
		}
		if l, ok := seen[e.File]; ok {
			return nil, t.errorf(i, "file %q listed twice (line %d too)", e.File, l)
		}
		seen[e.File] = e.Line
		switch e.Class {
		case QUExCOVID, QUExNonCOVID, QUExNormal:
		default:
			return nil, t.errorf(i, "class %q: want %s, %s or %s", e.Class, QUExCOVID, QUExNonCOVID, QUExNormal)
		}
		out = append(out, e)
	}
	return out, nil
}

// plainFileName reports whether name is a file name without a folder.
func plainFileName(name string) bool {
	return name != "" && name != "." && name != ".." && filepath.IsLocal(name) && !strings.ContainsAny(name, `/\`)
}

// ReadNearDuplicates reads a near-duplicates.csv (columns file_a, file_b;
// others unused) as pairs of file names, in file order. Errors name the
// file and line: an empty or non-plain name, a file paired with itself.
func ReadNearDuplicates(path string) ([][2]string, error) {
	return readFile(path, parseNearDuplicates)
}

func parseNearDuplicates(name string, r io.Reader) ([][2]string, error) {
	t, err := readCSV(name, r)
	if err != nil {
		return nil, err
	}
	cols, err := t.columns([]string{"file_a"}, []string{"file_b"})
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(t.rows))
	for i, row := range t.rows {
		a, b := strings.TrimSpace(row[cols[0]]), strings.TrimSpace(row[cols[1]])
		if !plainFileName(a) || !plainFileName(b) {
			return nil, t.errorf(i, "%q, %q: not plain file names", a, b)
		}
		if a == b {
			return nil, t.errorf(i, "%q paired with itself", a)
		}
		out = append(out, [2]string{a, b})
	}
	return out, nil
}

// DuplicateGroups returns the group of every file when the pairs say which
// files show the same X-ray (the transitive closure: a pairs with b and b
// with c puts a, b and c in one group). A group is named by the stem of its
// first file in name order; a file in no pair is its own group. Pairs that
// name files outside files are ignored.
func DuplicateGroups(files []string, pairs [][2]string) map[string]string {
	parent := make(map[string]string, len(files))
	for _, f := range files {
		parent[f] = f
	}
	var find func(string) string
	find = func(x string) string {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, p := range pairs {
		if _, ok := parent[p[0]]; !ok {
			continue
		}
		if _, ok := parent[p[1]]; !ok {
			continue
		}
		a, b := find(p[0]), find(p[1])
		if a == b {
			continue
		}
		if b < a {
			a, b = b, a
		}
		parent[b] = a // the root is the smallest name
	}
	out := make(map[string]string, len(files))
	for _, f := range files {
		out[f] = fileStem(find(f))
	}
	return out
}

// QUExSample reads one covid-qu-ex image with its two masks: dir is the
// cohort folder, group the image's group (Sample.Patient: DuplicateGroups).
// A mask pixel is set where its grey level is 128 or more. The lung mask is
// split into right and left by SplitLungs (Classes LabelRightLung,
// LabelLeftLung: a sample whose lungs touch has one side only, and
// BothLungs is false); the infection mask is Opacity (Classes
// ClassInfection). Sample.Class is the entry's class.
//
// Errors (naming the file): a missing or undecodable image or mask, a mask
// whose size is not the image's. Warnings: an infection mask with pixels
// outside the lung mask (kept), a non-empty infection mask on a Normal or
// Non-COVID image.
func QUExSample(dir string, e QUExEntry, group string, opt LoadOptions) (*Sample, error) {
	s := &Sample{Cohort: CohortCovidQUEx, File: e.File, Stem: fileStem(e.File), Patient: group, Class: e.Class}
	imgPath := filepath.Join(dir, QUExImagesDir, e.File)
	data, err := os.ReadFile(imgPath)
	if err != nil {
		return nil, err
	}
	if opt.Images {
		if s.Image, err = xrayfile.DecodeGray(imgPath, data); err != nil {
			return nil, err
		}
		s.Width, s.Height = s.Image.Rect.Dx(), s.Image.Rect.Dy()
	} else if s.Width, s.Height, err = xrayfile.DecodeSize(imgPath, data); err != nil {
		return nil, err
	}
	if opt.noMasks {
		return s, nil
	}
	if s.Lung, err = readBinaryMask(filepath.Join(dir, filepath.FromSlash(QUExLungMasksDir), e.File), s.Width, s.Height); err != nil {
		return nil, err
	}
	if s.Opacity, err = readBinaryMask(filepath.Join(dir, filepath.FromSlash(QUExInfectionMasksDir), e.File), s.Width, s.Height); err != nil {
		return nil, err
	}
	right, left := mask.SplitLungs(s.Lung)
	s.Classes = map[string]*mask.Mask{LabelRightLung: right, LabelLeftLung: left, ClassInfection: s.Opacity}
	if e.Class != QUExCOVID && !s.Opacity.Empty() {
		s.Warnings = append(s.Warnings, fmt.Sprintf("a %s image with a non-empty infection mask", e.Class))
	}
	outside := 0
	for i, v := range s.Opacity.Pix {
		if v != 0 && s.Lung.Pix[i] == 0 {
			outside++
		}
	}
	if outside > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d infection pixels outside the lung mask", outside))
	}
	return s, nil
}

// readBinaryMask reads a mask image of size w x h: a pixel is set where its
// grey level (DecodeGray) is 128 or more.
func readBinaryMask(path string, w, h int) (*mask.Mask, error) {
	g, err := xrayfile.ReadGray(path)
	if err != nil {
		return nil, err
	}
	if g.Rect.Dx() != w || g.Rect.Dy() != h {
		return nil, fmt.Errorf("%s: mask is %dx%d, the image %dx%d", path, g.Rect.Dx(), g.Rect.Dy(), w, h)
	}
	m := mask.New(w, h)
	for y := 0; y < h; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x, v := range row {
			if v >= 128 {
				m.Pix[y*w+x] = 1
			}
		}
	}
	return m, nil
}

// quexJobs lists the images of the covid-qu-ex index as scan jobs. A
// missing or unreadable index.csv is an error of the cohort (no jobs); a
// missing near-duplicates.csv a warning (every image its own group), an
// unreadable one an error (likewise).
func quexJobs(c *Cohort, opt LoadOptions) ([]cohortJob, error) {
	ok, err := cohortFolder(c)
	if !ok || err != nil {
		return nil, err
	}
	entries, err := ReadQUExIndex(filepath.Join(c.Dir, QUExIndexFile))
	if err != nil {
		c.Errors = append(c.Errors, FileError{File: QUExIndexFile, Error: err.Error()})
		return nil, nil
	}
	pairs, err := ReadNearDuplicates(filepath.Join(c.Dir, QUExNearDuplicatesFile))
	switch {
	case os.IsNotExist(err):
		c.Warnings = append(c.Warnings, FileError{File: QUExNearDuplicatesFile, Error: filepath.Join(c.Dir, QUExNearDuplicatesFile) + ": missing: every image is its own group"})
	case err != nil:
		c.Errors = append(c.Errors, FileError{File: QUExNearDuplicatesFile, Error: err.Error() + "; every image is its own group"})
	}
	files := make([]string, len(entries))
	for i, e := range entries {
		files[i] = e.File
	}
	groups := DuplicateGroups(files, pairs)
	sort.Slice(entries, func(i, j int) bool { return entries[i].File < entries[j].File })
	jobs := make([]cohortJob, len(entries))
	for i, e := range entries {
		jobs[i] = cohortJob{
			file: filepath.Join(QUExImagesDir, e.File),
			load: func() (*cohortItem, error) {
				s, err := QUExSample(c.Dir, e, groups[e.File], opt)
				if err != nil {
					return nil, err
				}
				return &cohortItem{sample: s, quex: &e}, nil
			},
		}
	}
	return jobs, nil
}
