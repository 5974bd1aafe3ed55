package fetch

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/xrayfile"
)

// The covid-qu-ex part of Run: which files of COVID-QU-Ex's "Infection
// Segmentation Data" it takes, where they go, and the files it computes.
// The cohort's file names are those of datasets/layout.go (datasets.QUEx*).

// quexRoot is the dataset's folder in the source repository.
const quexRoot = "Infection Segmentation Data/"

// Source folder names: the splits taken (Test has no masks), the classes
// (also the index's class names), and the three folders of a class.
var (
	quexSplits  = []string{"Train", "Val"}
	quexClasses = []string{datasets.QUExCOVID, datasets.QUExNonCOVID, datasets.QUExNormal}
)

const (
	quexSrcImages    = "images"
	quexSrcLung      = "lung masks"
	quexSrcInfection = "infection masks"
)

// Similarity thresholds (NCC of Thumbnail32).
const (
	// QUExNearDuplicateNCC: two kept images with an NCC above it are near
	// duplicates (near-duplicates.csv).
	QUExNearDuplicateNCC = 0.99
	// QUExOverlapNCC: an image with an NCC at least this high with an image
	// of cxr-seg/images/ or cohen/images/ re-uses that X-ray and is not kept
	// (removed-overlap.csv).
	QUExOverlapNCC = 0.95
)

// quexCandidate is one image the selection rule takes, with its masks.
type quexCandidate struct {
	name, split, class  string
	image, lung, infect treeEntry

	// Set by the image's check.
	thumb   []float64
	overlap string  // the shared image it re-uses ("cxr-seg/NAME"), or ""
	sim     float64 // its NCC with that image
}

// sourceFile names the candidate's image as removed-overlap.csv does:
// split/class/NAME.
func (c *quexCandidate) sourceFile() string {
	return c.split + "/" + c.class + "/" + c.name
}

// selectQUEx applies the selection rule to the blobs of a listing under
// root: for each split of quexSplits and class of quexClasses, the .png
// files directly in {root}{split}/{class}/images/, sorted by name (byte
// order); all of them, except Train Non-COVID and Normal, where indices 0,
// 4, 8, ... are taken. A taken image whose lung or infection mask (same name
// in "lung masks/", "infection masks/") the listing lacks is not a
// candidate and is reported in missing. A name taken in two folders is not
// a candidate at all (the layout has one folder of names): warnings says
// so. Candidates come in the order split, class, name.
func selectQUEx(root, repo string, blobs map[string]treeEntry) (cands []quexCandidate, missing, warnings []string) {
	byFolder := map[string][]string{}
	for p := range blobs {
		if !strings.HasPrefix(p, root) {
			continue
		}
		dir, base := path.Split(strings.TrimPrefix(p, root))
		if safeBaseName(base) && hasExt(base, []string{".png"}) {
			byFolder[dir] = append(byFolder[dir], base)
		}
	}
	for _, split := range quexSplits {
		for _, class := range quexClasses {
			dir := split + "/" + class + "/"
			names := byFolder[dir+quexSrcImages+"/"]
			sort.Strings(names)
			for i, name := range names {
				if split == "Train" && class != datasets.QUExCOVID && i%4 != 0 {
					continue
				}
				c := quexCandidate{name: name, split: split, class: class, image: blobs[root+dir+quexSrcImages+"/"+name]}
				var ok1, ok2 bool
				c.lung, ok1 = blobs[root+dir+quexSrcLung+"/"+name]
				c.infect, ok2 = blobs[root+dir+quexSrcInfection+"/"+name]
				if !ok1 {
					missing = append(missing, fmt.Sprintf("%s/%s/%s (%s has no %s%s%s/%s)", datasets.CohortCovidQUEx, datasets.QUExLungMasksDir, name, repo, root, dir, quexSrcLung, name))
				}
				if !ok2 {
					missing = append(missing, fmt.Sprintf("%s/%s/%s (%s has no %s%s%s/%s)", datasets.CohortCovidQUEx, datasets.QUExInfectionMasksDir, name, repo, root, dir, quexSrcInfection, name))
				}
				if ok1 && ok2 {
					cands = append(cands, c)
				}
			}
		}
	}
	where := map[string][]string{}
	for _, c := range cands {
		where[c.name] = append(where[c.name], c.split+"/"+c.class)
	}
	kept := cands[:0]
	for _, c := range cands {
		if w := where[c.name]; len(w) > 1 {
			if w[0] == c.split+"/"+c.class {
				warnings = append(warnings, fmt.Sprintf("%s: %s is in %s: not taken (one folder of names, the class would be ambiguous)", datasets.CohortCovidQUEx, c.name, strings.Join(w, " and ")))
			}
			continue
		}
		kept = append(kept, c)
	}
	return kept, missing, warnings
}

// overlapRef is an image of cxr-seg/ or cohen/ that covid-qu-ex images are
// compared with.
type overlapRef struct {
	name  string // "cxr-seg/NAME", "cohen/NAME"
	thumb []float64
}

// loadOverlapRefs reads the thumbnails of the images in cxr-seg/images/ and
// cohen/images/ of the data folder; an image that does not decode is left
// out with a warning.
func (f *fetcher) loadOverlapRefs() []overlapRef {
	var refs []overlapRef
	for _, cohort := range []string{datasets.CohortCXRSeg, datasets.CohortCohen} {
		dir := filepath.Join(f.opt.To, cohort, datasets.ImagesDir)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			n := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(n, ".") || !hasExt(n, []string{".jpg", ".jpeg", ".png"}) {
				continue
			}
			img, err := xrayfile.ReadGray(filepath.Join(dir, n))
			if err != nil {
				f.rep.Warnings = append(f.rep.Warnings, fmt.Sprintf("%s: overlap check: %s/images/%s left out: %v", datasets.CohortCovidQUEx, cohort, n, err))
				continue
			}
			refs = append(refs, overlapRef{cohort + "/" + n, Thumbnail32(img)})
		}
	}
	return refs
}

// overlapRefsIncomplete says why the images of cxr-seg and cohen may not all
// be there ("" when they are): a failed image or listing of theirs in this
// run, or a failed severity table (it selects the cohen images).
func (f *fetcher) overlapRefsIncomplete() string {
	for _, e := range f.rep.Failed {
		if strings.HasPrefix(e.File, layoutDir(datasets.CohortCXRSeg, datasets.ImagesDir)) || strings.HasPrefix(e.File, layoutDir(datasets.CohortCohen, datasets.ImagesDir)) ||
			e.File == cohenScoresFile ||
			strings.HasPrefix(e.File, "ieee8023/covid-chestxray-dataset ") || strings.HasPrefix(e.File, "GeneralBlockchain/covid-19-chest-xray-segmentations-dataset ") {
			return e.File + " failed"
		}
	}
	return ""
}

// quex fetches the covid-qu-ex selection (see Run and selectQUEx): the
// images first, each checked against cxr-seg and cohen, then the masks of
// those kept, then the computed files.
func (f *fetcher) quex(ctx context.Context, src fetchSource, rule fetchRule, blobs map[string]treeEntry, rr *RepoReport) error {
	repo := src.owner + "/" + src.repo + "@" + src.ref
	to := strings.TrimSuffix(rule.to, "/")
	cands, missing, warnings := selectQUEx(rule.from, repo, blobs)
	f.rep.Missing = append(f.rep.Missing, missing...)
	f.rep.Warnings = append(f.rep.Warnings, warnings...)
	if len(cands) == 0 {
		if len(missing) == 0 {
			f.rep.Missing = append(f.rep.Missing, fmt.Sprintf("%s/ (%s has no images in %s{Train,Val}/*/%s/)", to, repo, rule.from, quexSrcImages))
		}
		return nil
	}
	refs := f.loadOverlapRefs()
	f.logf("%s: %s -> %s/: %d images selected, compared with %d images of %s/ and %s/", src.owner+"/"+src.repo, rule.from, to, len(cands), len(refs), datasets.CohortCXRSeg, datasets.CohortCohen)

	// Images: decoded, thumbnailed, compared; not kept when they overlap.
	refT := refThumbs(refs)
	files := make([]fetchFile, len(cands))
	for i := range cands {
		c := &cands[i]
		dest := to + "/" + datasets.QUExImagesDir + "/" + c.name
		files[i] = fetchFile{repoPath: rule.from + c.split + "/" + c.class + "/" + quexSrcImages + "/" + c.name, dest: dest, size: c.image.Size, sha: c.image.Sha,
			accept: func(data []byte) (bool, error) {
				img, err := xrayfile.DecodeGray(dest, data)
				if err != nil {
					return false, err
				}
				c.thumb = Thumbnail32(img)
				c.overlap, c.sim = "", 0
				if k, s := MostSimilar(c.thumb, refT); k >= 0 && s >= QUExOverlapNCC {
					c.overlap, c.sim = refs[k].name, s
				}
				return c.overlap == "", nil
			}}
	}
	okImg, err := f.download(ctx, src, files, rr)
	if err != nil {
		return err
	}

	// Masks of the images kept; those of the images not kept go.
	var masks []fetchFile
	var owner []int
	for i := range cands {
		c := &cands[i]
		lung := to + "/" + datasets.QUExLungMasksDir + "/" + c.name
		infect := to + "/" + datasets.QUExInfectionMasksDir + "/" + c.name
		if c.overlap != "" {
			os.Remove(filepath.Join(f.opt.To, filepath.FromSlash(lung)))
			os.Remove(filepath.Join(f.opt.To, filepath.FromSlash(infect)))
			continue
		}
		if !okImg[i] {
			continue
		}
		dir := rule.from + c.split + "/" + c.class + "/"
		masks = append(masks,
			fetchFile{repoPath: dir + quexSrcLung + "/" + c.name, dest: lung, size: c.lung.Size, sha: c.lung.Sha, check: checkImage},
			fetchFile{repoPath: dir + quexSrcInfection + "/" + c.name, dest: infect, size: c.infect.Size, sha: c.infect.Sha, check: checkImage})
		owner = append(owner, i, i)
	}
	okMask, err := f.download(ctx, src, masks, rr)
	if err != nil {
		return err
	}
	complete := make([]bool, len(cands))
	for i := range cands {
		complete[i] = okImg[i] && cands[i].overlap == ""
	}
	for k, i := range owner {
		complete[i] = complete[i] && okMask[k]
	}

	// The computed files, when everything is there.
	failed := 0
	for i := range cands {
		if !okImg[i] {
			failed++
		}
	}
	for _, ok := range okMask {
		if !ok {
			failed++
		}
	}
	why := ""
	switch {
	case failed > 0:
		why = fmt.Sprintf("%d of its files failed", failed)
	case f.overlapRefsIncomplete() != "":
		why = "the overlap check is incomplete (" + f.overlapRefsIncomplete() + ")"
	}
	if why != "" {
		f.rep.Warnings = append(f.rep.Warnings, fmt.Sprintf("%s: %s, %s and %s not written: %s; run again", to, datasets.QUExIndexFile, datasets.QUExNearDuplicatesFile, datasets.QUExRemovedFile, why))
		return nil
	}
	var kept []*quexCandidate
	var removed []*quexCandidate
	for i := range cands {
		if complete[i] {
			kept = append(kept, &cands[i])
		} else if cands[i].overlap != "" {
			removed = append(removed, &cands[i])
		}
	}
	return f.writeQUExTables(to, kept, removed)
}

// refThumbs returns the thumbnails of refs.
func refThumbs(refs []overlapRef) [][]float64 {
	out := make([][]float64, len(refs))
	for i, r := range refs {
		out[i] = r.thumb
	}
	return out
}

// writeQUExTables writes index.csv, near-duplicates.csv and
// removed-overlap.csv of the covid-qu-ex folder to (relative to the data
// folder), atomically.
func (f *fetcher) writeQUExTables(to string, kept, removed []*quexCandidate) error {
	sort.Slice(kept, func(i, j int) bool { return kept[i].name < kept[j].name })
	sort.Slice(removed, func(i, j int) bool {
		if removed[i].sim != removed[j].sim {
			return removed[i].sim > removed[j].sim
		}
		return removed[i].sourceFile() < removed[j].sourceFile()
	})
	index := [][]string{{"file", "class", "source_split"}}
	count := map[string]int{}
	names := make([]string, len(kept))
	thumbs := make([][]float64, len(kept))
	for i, c := range kept {
		index = append(index, []string{c.name, c.class, c.split})
		count[c.class]++
		names[i], thumbs[i] = c.name, c.thumb
	}
	pairs := NearDuplicatePairs(names, thumbs, QUExNearDuplicateNCC)
	dups := [][]string{{"file_a", "file_b", "similarity_32px_ncc"}}
	for _, p := range pairs {
		dups = append(dups, []string{p.A, p.B, formatSimilarity(p.Similarity)})
	}
	rem := [][]string{{"source_file", "same_xray_as", "similarity_32px_ncc"}}
	for _, c := range removed {
		rem = append(rem, []string{c.sourceFile(), c.overlap, formatSimilarity(c.sim)})
	}
	for _, t := range []struct {
		file string
		rows [][]string
		line string
	}{
		{datasets.QUExIndexFile, index, fmt.Sprintf("%d images (%s %d, %s %d, %s %d)", len(kept), datasets.QUExCOVID, count[datasets.QUExCOVID], datasets.QUExNonCOVID, count[datasets.QUExNonCOVID], datasets.QUExNormal, count[datasets.QUExNormal])},
		{datasets.QUExNearDuplicatesFile, dups, fmt.Sprintf("%d pairs with 32×32 NCC > %g", len(pairs), QUExNearDuplicateNCC)},
		{datasets.QUExRemovedFile, rem, fmt.Sprintf("%d images not kept (32×32 NCC ≥ %g with an image of %s/ or %s/)", len(removed), QUExOverlapNCC, datasets.CohortCXRSeg, datasets.CohortCohen)},
	} {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.WriteAll(t.rows)
		if err := w.Error(); err != nil {
			return fmt.Errorf("fetch: %s: %w", t.file, err)
		}
		rel := to + "/" + t.file
		if err := atomicfile.WriteFile(filepath.Join(f.opt.To, filepath.FromSlash(rel)), buf.Bytes(), 0o644); err != nil {
			f.rep.Failed = append(f.rep.Failed, datasets.FileError{File: rel, Error: err.Error()})
			continue
		}
		f.rep.Derived = append(f.rep.Derived, rel+": "+t.line)
		f.logf("%s: %s", rel, t.line)
	}
	return nil
}

// formatSimilarity writes an NCC rounded to 4 decimals, as Python prints a
// rounded float (1.0, 0.9959).
func formatSimilarity(s float64) string {
	v := strconv.FormatFloat(math.Round(s*1e4)/1e4, 'f', -1, 64)
	if !strings.Contains(v, ".") {
		v += ".0"
	}
	return v
}
