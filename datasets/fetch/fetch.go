package fetch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/xrayfile"
)

// Options configures Run.
type Options struct {
	// To is the data folder to fill (created if needed).
	To string
	// BaseAPI and BaseRaw are the GitHub API and raw-file hosts; empty means
	// https://api.github.com and https://raw.githubusercontent.com. Tests
	// point them at a local server.
	BaseAPI, BaseRaw string
	// Client makes the requests; nil means a client with a 5-minute
	// timeout per request.
	Client *http.Client
	// Progress receives one line per file and per repository; nil means
	// none.
	Progress io.Writer
	// Workers is the number of files downloaded at once; 0 means 4.
	Workers int
	// Retries is the number of further attempts after a download fails with
	// a network error or a server error (5xx), waiting 1 s, 2 s, 4 s ...
	// in between; 0 means no retry.
	Retries int
}

// Report says what Run did and what is missing.
type Report struct {
	Dir        string
	Repos      []RepoReport
	Downloaded int   // files downloaded and checked in this run
	Skipped    int   // files already complete (git blob SHA-1 as listed, and checked)
	Bytes      int64 // bytes downloaded in this run
	// Failed lists the files (paths relative to Dir, or a repository for a
	// failed listing) that could not be downloaded or did not pass their
	// check; none of them was written.
	Failed []datasets.FileError
	// Missing lists what the layout needs but the sources do not hold (for
	// example a Cohen image that an annotation refers to).
	Missing []string
	// Warnings are problems that did not stop anything (a truncated
	// listing).
	Warnings []string
	// Derived says what Run computed rather than downloaded, one line
	// per file (covid-qu-ex/index.csv, near-duplicates.csv,
	// removed-overlap.csv).
	Derived []string
}

// RepoReport is the part of a Report for one source repository.
type RepoReport struct {
	Repo                                string // owner/name@ref: the branch, or the commit a source is pinned to
	Needed, Downloaded, Skipped, Failed int
}

// Complete reports whether every needed file is there.
func (r *Report) Complete() bool { return len(r.Failed) == 0 && len(r.Missing) == 0 }

// fileCheck validates a downloaded file before it counts.
type fileCheck int

const (
	checkLabelme fileCheck = iota // JSON that parses as labelme; an embedded image decodes
	checkImage                    // JPEG or PNG that decodes
	checkCSV                      // CSV with a header and rows of equal length ('#' lines are comments)
)

// fetchRule maps files of a repository into the data folder.
type fetchRule struct {
	from  string    // a file path, or a folder ending in "/" whose direct children are taken
	to    string    // a file path under the data folder, or a folder ending in "/"
	exts  []string  // folder rules: the extensions kept (lower case)
	check fileCheck // how each file is checked
	// cohenImages restricts a folder rule to the images the cohen cohort
	// needs (see Run).
	cohenImages bool
	// quex makes the rule the covid-qu-ex selection (quex.go): from is
	// the dataset's root folder, to the cohort's folder.
	quex bool
}

// fetchSource is one source repository.
type fetchSource struct {
	owner, repo string
	// ref is the branch, or the commit SHA that pins the source: the tree
	// listing and the raw URLs take either.
	ref   string
	rules []fetchRule
}

// Commits that pin the sources added with the covid-qu-ex and brixia
// folders.
const (
	brixiaCommit = "770036d297b3c52a6789f134bd9d8c8953d33ec1"
	quexCommit   = "57c6aed06423de95940ddb216e2e7ac4eab82dba"
)

// layoutFile and layoutDir are the destinations of the rules: a file or a
// folder (ending in '/') of the data layout, slash-separated.
func layoutFile(parts ...string) string { return path.Join(parts...) }
func layoutDir(parts ...string) string  { return path.Join(parts...) + "/" }

// cohenScoresFile is the rule's destination of the Cohen severity table,
// which selects the Cohen images to download.
var cohenScoresFile = layoutFile(datasets.CohortCohen, datasets.SeverityScoresFile)

// fetchSources is the map from the source repositories to the canonical
// layout (see Run). Rules run in order: the severity table comes before
// the Cohen images it selects.
var fetchSources = []fetchSource{
	{
		owner: "haimingt", repo: "opacity_segmentation_covid_chest_X_ray", ref: "master",
		rules: []fetchRule{
			{from: "covid_rural_annot/covid_rural_patient_info.csv", to: layoutFile(datasets.CohortCovidAR, datasets.PatientInfoFile), check: checkCSV},
			{from: "covid_rural_annot/covid_rural_radiologist_notes.csv", to: layoutFile(datasets.CohortCovidAR, datasets.RadiologistNotesFile), check: checkCSV},
			{from: "covid_rural_annot/jpgs/jsons/", to: layoutDir(datasets.CohortCovidAR, datasets.AnnotationsDir), exts: []string{".json"}, check: checkLabelme},
			{from: "covid-chestxray-dataset/selected_images/", to: layoutDir(datasets.CohortCohen, datasets.AnnotationsDir), exts: []string{".json"}, check: checkLabelme},
		},
	},
	{
		owner: "ieee8023", repo: "covid-chestxray-dataset", ref: "master",
		rules: []fetchRule{
			{from: "metadata.csv", to: layoutFile(datasets.CohortCohen, datasets.MetadataFile), check: checkCSV},
			{from: "annotations/covid-severity-scores.csv", to: cohenScoresFile, check: checkCSV},
			{from: "images/", to: layoutDir(datasets.CohortCohen, datasets.ImagesDir), exts: []string{".jpg", ".jpeg", ".png"}, check: checkImage, cohenImages: true},
		},
	},
	{
		owner: "GeneralBlockchain", repo: "covid-19-chest-xray-segmentations-dataset", ref: "master",
		rules: []fetchRule{
			{from: "structure.csv", to: layoutFile(datasets.CohortCXRSeg, datasets.StructureFile), check: checkCSV},
			{from: "metadata.csv", to: layoutFile(datasets.CohortCXRSeg, datasets.MetadataFile), check: checkCSV},
			{from: "images/", to: layoutDir(datasets.CohortCXRSeg, datasets.ImagesDir), exts: []string{".jpg", ".jpeg", ".png"}, check: checkImage},
			{from: "masks/", to: layoutDir(datasets.CohortCXRSeg, datasets.MasksDir), exts: []string{".png"}, check: checkImage},
		},
	},
	{
		owner: "BrixIA", repo: "Brixia-score-COVID-19", ref: brixiaCommit,
		rules: []fetchRule{
			{from: "data/public-annotations.csv", to: layoutFile(datasets.BrixiaDir, datasets.BrixiaFile), check: checkCSV},
		},
	},
	// After cxr-seg and cohen: their images on disk are what the
	// covid-qu-ex images are compared with.
	{
		owner: "jas127", repo: "PS_Covid19", ref: quexCommit,
		rules: []fetchRule{
			{from: quexRoot, to: layoutDir(datasets.CohortCovidQUEx), quex: true},
		},
	},
}

// Run downloads the real data into the canonical layout of opt.To:
//
//	haimingt/opacity_segmentation_covid_chest_X_ray (master)
//	  covid_rural_annot/covid_rural_patient_info.csv        -> covid-ar/patient_info.csv
//	  covid_rural_annot/covid_rural_radiologist_notes.csv   -> covid-ar/radiologist_notes.csv
//	  covid_rural_annot/jpgs/jsons/*.json (images embedded) -> covid-ar/annotations/
//	  covid-chestxray-dataset/selected_images/*.json        -> cohen/annotations/
//	ieee8023/covid-chestxray-dataset (master)
//	  metadata.csv                                          -> cohen/metadata.csv
//	  annotations/covid-severity-scores.csv                 -> cohen/covid-severity-scores.csv
//	  images/<file>                                         -> cohen/images/  (only those needed, below)
//	GeneralBlockchain/covid-19-chest-xray-segmentations-dataset (master)
//	  structure.csv, metadata.csv                           -> cxr-seg/
//	  images/*, masks/*.png                                 -> cxr-seg/images/, cxr-seg/masks/
//	BrixIA/Brixia-score-COVID-19 (commit 770036d297b3c52a6789f134bd9d8c8953d33ec1)
//	  data/public-annotations.csv                           -> brixia/public-annotations.csv
//	jas127/PS_Covid19 (commit 57c6aed06423de95940ddb216e2e7ac4eab82dba)
//	  Infection Segmentation Data/{Train,Val}/{COVID-19,Non-COVID,Normal}/  (a selection, below)
//	    images/NAME.png                                     -> covid-qu-ex/images/NAME.png
//	    lung masks/NAME.png                                 -> covid-qu-ex/masks/lung/NAME.png
//	    infection masks/NAME.png                            -> covid-qu-ex/masks/infection/NAME.png
//	  (computed)                                            -> covid-qu-ex/index.csv, near-duplicates.csv,
//	                                                           removed-overlap.csv
//
// Of the Cohen collection (about a thousand images) it takes only the
// images whose stem is that of a cohen annotation (the paper's validation
// set) or that have a severity score (the 94 images scored by Cohen et
// al.); an annotation or score whose image the collection lacks is reported
// in Missing. The JPEGs beside the COVID-19-AR annotations are not fetched:
// the annotations embed them.
//
// Of COVID-QU-Ex's infection segmentation data it takes every Train and Val
// COVID-19 image, every Val Non-COVID and Normal image, and every 4th Train
// Non-COVID and Normal image (the images of the folder sorted by name, byte
// order, indices 0, 4, 8, ...), each with its two masks; Test has no masks
// and is not taken. Images whose 32×32 NCC (Thumbnail32, NCC) with an image
// of cxr-seg/images/ or cohen/images/ (as they are in the data folder) is
// at least 0.95 re-use a Cohen-collection X-ray and are not kept (nor their
// masks), so that training on covid-qu-ex and validating on cxr-seg or
// cohen does not leak; they are listed in covid-qu-ex/removed-overlap.csv
// (source_file,same_xray_as,similarity_32px_ncc) and downloaded again, for
// the check, on every run. covid-qu-ex/index.csv (file,class,source_split,
// sorted by file) lists the images kept, and near-duplicates.csv
// (file_a,file_b,similarity_32px_ncc) their pairs with NCC above 0.99. The
// three files are written only when every selected file is in place and
// cxr-seg and cohen had no failure (else the overlap check would be
// incomplete); otherwise a warning says why and older ones stay. A name
// found in two selected folders (two classes or splits) is not taken at
// all, with a warning: the layout has one folder of names.
//
// For each repository Run makes one request for the recursive tree
// listing of the branch or pinned commit
// (GET {BaseAPI}/repos/{owner}/{repo}/git/trees/{ref}?recursive=1) and one
// per file it needs ({BaseRaw}/{owner}/{repo}/{ref}/{path}). Every file is
// verified against the git blob SHA-1 of the listing
// (sha1("blob <size>\x00" + content)). It is resumable: a file already
// present whose git blob SHA-1 is the listed one and that passes its check
// is skipped; one that differs is downloaded again. A download must have
// the listed size and SHA-1 (a mismatch fails, naming both hashes) and
// pass its check (labelme JSON parses and its embedded image decodes,
// images decode, CSV files parse) before it is written, atomically; a file
// that fails is reported and not written. Leftover temporary files of an
// interrupted run are removed.
//
// The error is for what stops everything: a data folder that cannot be
// created, a cancelled context. Everything else is in the report: a source
// that cannot be listed or fetched leaves the other folders as they are.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.To == "" {
		return nil, errors.New("fetch: no data folder")
	}
	if err := os.MkdirAll(opt.To, 0o755); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	f := &fetcher{opt: opt, rep: &Report{Dir: opt.To}, cohenStems: map[string]bool{}, scored: map[string]bool{}}
	if f.opt.BaseAPI == "" {
		f.opt.BaseAPI = "https://api.github.com"
	}
	if f.opt.BaseRaw == "" {
		f.opt.BaseRaw = "https://raw.githubusercontent.com"
	}
	f.opt.BaseAPI = strings.TrimRight(f.opt.BaseAPI, "/")
	f.opt.BaseRaw = strings.TrimRight(f.opt.BaseRaw, "/")
	if f.opt.Client == nil {
		f.opt.Client = &http.Client{Timeout: 5 * time.Minute}
	}
	if f.opt.Workers <= 0 {
		f.opt.Workers = 4
	}
	for _, src := range fetchSources {
		if err := f.source(ctx, src); err != nil {
			return f.rep, err
		}
	}
	sort.Slice(f.rep.Failed, func(i, j int) bool { return f.rep.Failed[i].File < f.rep.Failed[j].File })
	sort.Strings(f.rep.Missing)
	f.logf("fetch: %d downloaded (%s), %d already complete, %d failed, %d missing",
		f.rep.Downloaded, formatBytes(f.rep.Bytes), f.rep.Skipped, len(f.rep.Failed), len(f.rep.Missing))
	return f.rep, nil
}

// fetcher holds the state of one Run.
type fetcher struct {
	opt Options
	rep *Report
	mu  sync.Mutex // guards rep and progress output

	cohenStems map[string]bool // stems of the cohen annotations
	scored     map[string]bool // file names with a severity score
	haveScores bool
}

func (f *fetcher) logf(format string, args ...any) {
	if f.opt.Progress == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(f.opt.Progress, format+"\n", args...)
}

// fetchFile is one file to bring: where from, where to, its listed size
// and git blob SHA-1.
type fetchFile struct {
	repoPath string
	dest     string // relative to the data folder, slash-separated
	size     int64
	sha      string // git blob SHA-1, lower-case hex
	check    fileCheck
	// accept, when set, replaces the check: it checks the content and says
	// whether the file is kept. A file not kept is not written, and is
	// removed if it was there.
	accept func(data []byte) (keep bool, err error)
}

// source fetches what the layout needs from one repository.
func (f *fetcher) source(ctx context.Context, src fetchSource) error {
	name := src.owner + "/" + src.repo
	rr := RepoReport{Repo: name + "@" + src.ref}
	defer func() { f.rep.Repos = append(f.rep.Repos, rr) }()
	listing, err := f.listing(ctx, src)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.rep.Failed = append(f.rep.Failed, datasets.FileError{File: name + " (listing)", Error: err.Error()})
		f.logf("%s: listing failed: %v", name, err)
		rr.Failed++
		return nil
	}
	if listing.Truncated {
		f.rep.Warnings = append(f.rep.Warnings, name+": the tree listing is truncated; files beyond it are not fetched")
	}
	blobs := map[string]treeEntry{}
	for _, e := range listing.Tree {
		if e.Type == "blob" {
			blobs[e.Path] = e
		}
	}
	for _, rule := range src.rules {
		if rule.quex {
			if err := f.quex(ctx, src, rule, blobs, &rr); err != nil {
				return err
			}
			continue
		}
		files := f.selectFiles(name+"@"+src.ref, rule, listing, blobs)
		f.logf("%s: %s -> %s: %d files", name, rule.from, rule.to, len(files))
		if _, err := f.download(ctx, src, files, &rr); err != nil {
			return err
		}
		if rule.to == cohenScoresFile {
			f.readScores()
		}
	}
	return nil
}

// selectFiles lists the files of a rule from the listing, and records what is
// missing.
func (f *fetcher) selectFiles(repo string, rule fetchRule, listing *treeListing, blobs map[string]treeEntry) []fetchFile {
	if !strings.HasSuffix(rule.from, "/") {
		e, ok := blobs[rule.from]
		if !ok {
			f.rep.Missing = append(f.rep.Missing, fmt.Sprintf("%s (%s has no %s)", rule.to, repo, rule.from))
			return nil
		}
		return []fetchFile{{repoPath: rule.from, dest: rule.to, size: e.Size, sha: e.Sha, check: rule.check}}
	}
	var files []fetchFile
	found := map[string]bool{} // stems of the images found, for cohen
	for _, e := range listing.Tree {
		if e.Type != "blob" || !strings.HasPrefix(e.Path, rule.from) {
			continue
		}
		base := e.Path[len(rule.from):]
		if !safeBaseName(base) || !hasExt(base, rule.exts) {
			continue
		}
		if rule.cohenImages {
			stem := datasets.FileStem(base, 0)
			if !f.cohenStems[stem] && !f.scored[base] {
				continue
			}
			found[stem] = true
			found[base] = true
		}
		if rule.from == "covid-chestxray-dataset/selected_images/" {
			f.cohenStems[datasets.FileStem(base, 0)] = true
		}
		files = append(files, fetchFile{repoPath: e.Path, dest: rule.to + base, size: e.Size, sha: e.Sha, check: rule.check})
	}
	if rule.cohenImages {
		var miss []string
		for stem := range f.cohenStems {
			if !found[stem] {
				miss = append(miss, fmt.Sprintf("cohen/images/%s.* (image of cohen/annotations/%s.json; not in %s)", stem, stem, repo))
			}
		}
		for file := range f.scored {
			if !found[file] {
				miss = append(miss, fmt.Sprintf("cohen/images/%s (has a severity score; not in %s)", file, repo))
			}
		}
		sort.Strings(miss)
		f.rep.Missing = append(f.rep.Missing, miss...)
		if !f.haveScores {
			f.rep.Warnings = append(f.rep.Warnings, "cohen: no severity table, so only the annotated Cohen images were selected")
		}
	}
	return files
}

// readScores reads the file names of the severity table once it is in
// place (downloaded now or before).
func (f *fetcher) readScores() {
	data, err := os.ReadFile(filepath.Join(f.opt.To, datasets.CohortCohen, datasets.SeverityScoresFile))
	if err != nil {
		return
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		return
	}
	for _, row := range rows[1:] {
		if name := strings.TrimSpace(row[0]); name != "" && safeBaseName(name) {
			f.scored[name] = true
		}
	}
	f.haveScores = true
}

// safeBaseName reports whether name is a plain file name: no folder, not
// "." or "..", no backslash or control character.
func safeBaseName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func hasExt(name string, exts []string) bool {
	e := strings.ToLower(path.Ext(name))
	for _, x := range exts {
		if e == x {
			return true
		}
	}
	return false
}

// download brings the files, workers at a time, and counts them in rr: all
// as needed, and those downloaded, skipped and failed. It returns which
// files are in place (ok[i]: downloaded or skipped, without error).
func (f *fetcher) download(ctx context.Context, src fetchSource, files []fetchFile, rr *RepoReport) (ok []bool, err error) {
	rr.Needed += len(files)
	dirs := map[string]bool{}
	for _, ff := range files {
		dirs[path.Dir(ff.dest)] = true
	}
	for d := range dirs {
		full := filepath.Join(f.opt.To, filepath.FromSlash(d))
		if err := os.MkdirAll(full, 0o755); err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
		removeStaleTemps(full)
	}
	type result struct {
		skipped bool
		n       int64
		err     error
	}
	results := make([]result, len(files))
	var done int
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(f.opt.Workers, max(len(files), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ff := files[i]
				skip, n, err := f.one(ctx, src, ff)
				results[i] = result{skip, n, err}
				f.mu.Lock()
				done++
				if f.opt.Progress != nil {
					status := "ok"
					switch {
					case err != nil:
						status = "FAILED: " + err.Error()
					case skip:
						status = "already complete"
					}
					fmt.Fprintf(f.opt.Progress, "[%d/%d] %s %s %s\n", done, len(files), ff.dest, formatBytes(ff.size), status)
				}
				f.mu.Unlock()
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ok = make([]bool, len(files))
	for i, r := range results {
		ok[i] = r.err == nil
		switch {
		case r.err != nil:
			rr.Failed++
			f.rep.Failed = append(f.rep.Failed, datasets.FileError{File: files[i].dest, Error: r.err.Error()})
		case r.skipped:
			rr.Skipped++
			f.rep.Skipped++
		default:
			rr.Downloaded++
			f.rep.Downloaded++
			f.rep.Bytes += r.n
		}
	}
	return ok, nil
}

// removeStaleTemps removes the temporary files that an interrupted
// atomicfile.WriteFile may have left in dir.
func removeStaleTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// one brings one file: skipped if already complete (its git blob SHA-1 is
// the listed one and it passes its check), else downloaded, verified,
// checked and written.
func (f *fetcher) one(ctx context.Context, src fetchSource, ff fetchFile) (skipped bool, n int64, err error) {
	dest := filepath.Join(f.opt.To, filepath.FromSlash(ff.dest))
	accept := ff.accept
	if accept == nil {
		accept = func(data []byte) (bool, error) { return true, checkFile(ff.dest, data, ff.check) }
	}
	if st, err := os.Stat(dest); err == nil && st.Mode().IsRegular() && st.Size() == ff.size {
		if data, err := os.ReadFile(dest); err == nil && GitBlobSHA1(data) == ff.sha {
			if keep, err := accept(data); err == nil {
				if !keep {
					os.Remove(dest)
				}
				return true, 0, nil
			}
		}
	}
	u := f.opt.BaseRaw + "/" + src.owner + "/" + src.repo + "/" + src.ref + "/" + escapePath(ff.repoPath)
	var data []byte
	for attempt := 0; ; attempt++ {
		var retry bool
		data, retry, err = f.get(ctx, u, ff.size)
		if err == nil || !retry || attempt >= f.opt.Retries {
			break
		}
		select {
		case <-ctx.Done():
			return false, 0, ctx.Err()
		case <-time.After(time.Second << attempt):
		}
	}
	if err != nil {
		return false, 0, err
	}
	if int64(len(data)) != ff.size {
		return false, 0, fmt.Errorf("size %d bytes, listed %d (truncated or changed)", len(data), ff.size)
	}
	if got := GitBlobSHA1(data); got != ff.sha {
		return false, 0, fmt.Errorf("%s: git blob SHA-1 %s, listed %s (changed or corrupt)", ff.repoPath, got, ff.sha)
	}
	keep, err := accept(data)
	if err != nil {
		return false, 0, err
	}
	if !keep {
		os.Remove(dest)
		return false, int64(len(data)), nil
	}
	if err := atomicfile.WriteFile(dest, data, 0o644); err != nil {
		return false, 0, err
	}
	return false, int64(len(data)), nil
}

// GitBlobSHA1 returns the git blob SHA-1 of a file's content, as GitHub's
// tree listing gives it (field sha): the SHA-1 of "blob <size>\x00" and the
// content, in lower-case hex.
func GitBlobSHA1(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// escapePath escapes each segment of a repository path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// get downloads u, reading at most limit+1 bytes; retry says whether the
// failure may pass (network error, 5xx).
func (f *fetcher) get(ctx context.Context, u string, limit int64) (data []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("User-Agent", "opacity-fetch (github.com/covidxray/opacity)")
	resp, err := f.opt.Client.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, resp.StatusCode >= 500, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, ctx.Err() == nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return data, false, nil
}

// maxListing bounds the size of a tree listing (GitHub's own limit is
// 100,000 entries, about 7 MB).
const maxListing = 64 << 20

// listing fetches and parses the recursive tree listing of a repository.
func (f *fetcher) listing(ctx context.Context, src fetchSource) (*treeListing, error) {
	u := fmt.Sprintf("%s/repos/%s/%s/git/trees/%s?recursive=1", f.opt.BaseAPI, url.PathEscape(src.owner), url.PathEscape(src.repo), url.PathEscape(src.ref))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("User-Agent", "opacity-fetch (github.com/covidxray/opacity)")
	resp, err := f.opt.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxListing+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(data) > maxListing {
		return nil, fmt.Errorf("GET %s: listing larger than %d bytes", u, maxListing)
	}
	l, err := parseTreeListing(data)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	f.logf("%s/%s@%s: %d entries listed", src.owner, src.repo, src.ref, len(l.Tree))
	return l, nil
}

// treeListing is GitHub's recursive tree listing (the fields used here).
type treeListing struct {
	Tree      []treeEntry `json:"tree"`
	Truncated bool        `json:"truncated"`
}

// treeEntry is one entry of a tree listing: type "blob" (file), "tree"
// (folder) or "commit" (submodule); Sha is the object's git SHA-1 (for a
// blob, GitBlobSHA1 of its content).
type treeEntry struct {
	Path string `json:"path"`
	Type string `json:"type"`
	Size int64  `json:"size"`
	Sha  string `json:"sha"`
}

// parseTreeListing parses a GitHub recursive tree listing
// ({"tree": [{"path", "type", "size", "sha"}, ...], "truncated": bool}) and
// checks it: a "tree" array must be there, every blob needs a relative,
// clean path (no "..", no leading "/", no empty segment), a size >= 0 and a
// sha of 40 lower-case hex digits. Entries that are not blobs are kept as
// they are.
func parseTreeListing(data []byte) (*treeListing, error) {
	var raw struct {
		Tree      *[]treeEntry `json:"tree"`
		Truncated bool         `json:"truncated"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("tree listing: invalid JSON: %w", err)
	}
	if raw.Tree == nil {
		return nil, errors.New(`tree listing: no "tree" array`)
	}
	for i, e := range *raw.Tree {
		if e.Type != "blob" {
			continue
		}
		if e.Path == "" || strings.HasPrefix(e.Path, "/") || path.Clean(e.Path) != e.Path || e.Path == ".." || strings.HasPrefix(e.Path, "../") {
			return nil, fmt.Errorf("tree listing: entry %d: unsafe path %q", i, e.Path)
		}
		if e.Size < 0 {
			return nil, fmt.Errorf("tree listing: entry %d (%s): negative size %d", i, e.Path, e.Size)
		}
		if !isSHA1Hex(e.Sha) {
			return nil, fmt.Errorf("tree listing: entry %d (%s): sha %q is not 40 lower-case hex digits", i, e.Path, e.Sha)
		}
	}
	return &treeListing{Tree: *raw.Tree, Truncated: raw.Truncated}, nil
}

// isSHA1Hex reports whether s is a SHA-1 in lower-case hex.
func isSHA1Hex(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkFile validates a file before it counts as downloaded; name is used
// in errors.
func checkFile(name string, data []byte, check fileCheck) error {
	switch check {
	case checkLabelme:
		var l datasets.Labelme
		if err := json.Unmarshal(data, &l); err != nil {
			return fmt.Errorf("%s: invalid JSON: %w", name, err)
		}
		img, err := l.EmbeddedImageBytes(name)
		if err != nil {
			return err
		}
		if img != nil {
			if _, err := xrayfile.DecodeGray(name+": imageData", img); err != nil {
				return err
			}
		}
	case checkImage:
		if _, err := xrayfile.DecodeGray(name, data); err != nil {
			return err
		}
	case checkCSV:
		return checkCSVData(name, data)
	}
	return nil
}

// checkCSVData checks that data is a CSV table: lines starting with '#' are
// comments, the first record is the header, every record has as many
// fields as the header, and there is at least one record after it.
func checkCSVData(name string, data []byte) error {
	r := csv.NewReader(bufio.NewReader(bytes.NewReader(data)))
	r.Comment = '#'
	n := 0
	for {
		_, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: invalid CSV: %w", name, err)
		}
		n++
	}
	if n < 2 {
		return fmt.Errorf("%s: CSV has %d records, want a header and rows", name, n)
	}
	return nil
}

// formatBytes writes a byte count for people.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
