package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Cohort is one cohort folder of the data layout, read.
type Cohort struct {
	Name string // CohortCovidAR, CohortCohen, CohortCXRSeg or CohortCovidQUEx
	Dir  string // DATA/<Name>

	// Samples in file-name order (annotation files; cxr-seg: image names).
	Samples []*Sample

	// Errors lists the files that could not be read (they have no sample),
	// Warnings the recoverable problems of the files that were. File is the
	// path relative to Dir; Error says what is wrong and names the file.
	Errors   []FileError
	Warnings []FileError
}

// IsSynthetic reports whether dataDir holds the SYNTHETIC marker file that
// the phantom generator writes (SyntheticMarker).
func IsSynthetic(dataDir string) bool {
	fi, err := os.Stat(filepath.Join(dataDir, SyntheticMarker))
	return err == nil && !fi.IsDir()
}

// LoadCohort reads the cohort name (CohortCovidAR, CohortCohen,
// CohortCXRSeg or CohortCovidQUEx) from dataDir, every sample into memory (see ScanCohort to
// process them one at a time; at native resolution a covid-ar sample's masks
// take tens of MB).
//
// A missing cohort folder is an empty cohort. A file that cannot be read goes
// to Errors and the scan goes on; its recoverable problems go to Warnings.
// The error is only for a dataDir that is missing or unreadable, or an
// unknown cohort name.
//
// Layout (docs/design.md): covid-ar/annotations/*.json and
// cohen/annotations/*.json are labelme files, their images embedded or
// beside (FindImageBeside: cohen/images/); patient ids are PatientID of the
// file name for covid-ar, and for cohen and cxr-seg the patientid of the
// file's stem in the cohort's metadata.csv (the stem, with a warning, when it
// has no row). cxr-seg/structure.csv lists the class-mask crops of the
// images in cxr-seg/images/ (see CXRSegSample). covid-qu-ex/index.csv lists
// its images, each with a lung and an infection mask of the same name
// (QUExSample); its patient ids are near-duplicate groups
// (near-duplicates.csv, DuplicateGroups).
func LoadCohort(dataDir, name string, opt LoadOptions) (*Cohort, error) {
	var samples []*Sample
	c, err := ScanCohort(dataDir, name, opt, func(s *Sample) error {
		samples = append(samples, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Samples = samples
	return c, nil
}

// ScanCohort reads a cohort like LoadCohort but hands each sample to fn, in
// file-name order, instead of keeping it: Cohort.Samples stays empty. Files
// are read by a few goroutines at once; fn is called from one goroutine at a
// time. An error from fn stops the scan and is returned.
func ScanCohort(dataDir, name string, opt LoadOptions, fn func(*Sample) error) (*Cohort, error) {
	return scanCohort(dataDir, name, opt, func(it *cohortItem) error { return fn(it.sample) })
}

// ScanSamples reads, with their images, the samples of a data folder whose
// cohort/stem is in want (every cohort of the layout is scanned) and hands
// each to fn, in file order.
func ScanSamples(data string, want map[string]bool, fn func(*Sample) error) error {
	cohorts := map[string]bool{}
	for k := range want {
		c, _, _ := strings.Cut(k, "/")
		cohorts[c] = true
	}
	names := make([]string, 0, len(cohorts))
	for c := range cohorts {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		only := func(stem string) bool { return want[c+"/"+stem] }
		if _, err := ScanCohort(data, c, LoadOptions{Images: true, Only: only}, func(sm *Sample) error {
			if !sm.HasImage() {
				return nil
			}
			return fn(sm)
		}); err != nil {
			return err
		}
	}
	return nil
}

// cohortItem is one file of a cohort as read: its sample and what the
// statistics need besides.
type cohortItem struct {
	sample  *Sample
	labelme *Labelme     // labelme cohorts
	rows    []CXRSegMask // cxr-seg
	quex    *QUExEntry   // covid-qu-ex
}

// cohortJob reads one file of a cohort.
type cohortJob struct {
	file string // relative to the cohort folder, for Errors and Warnings
	load func() (*cohortItem, error)
}

func scanCohort(dataDir, name string, opt LoadOptions, fn func(*cohortItem) error) (*Cohort, error) {
	fi, err := os.Stat(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("data folder %s is not a folder", dataDir)
	}
	c := &Cohort{Name: name, Dir: filepath.Join(dataDir, name), Errors: []FileError{}, Warnings: []FileError{}}
	var jobs []cohortJob
	switch name {
	case CohortCovidAR, CohortCohen:
		jobs, err = labelmeJobs(c, opt)
	case CohortCXRSeg:
		jobs, err = cxrSegJobs(c, opt)
	case CohortCovidQUEx:
		jobs, err = quexJobs(c, opt)
	default:
		return nil, fmt.Errorf("unknown cohort %q (want %s, %s, %s or %s)", name, CohortCovidAR, CohortCohen, CohortCXRSeg, CohortCovidQUEx)
	}
	if err != nil {
		return nil, err
	}
	if opt.Only != nil {
		kept := jobs[:0]
		for _, j := range jobs {
			if opt.Only(fileStem(filepath.Base(j.file))) {
				kept = append(kept, j)
			}
		}
		jobs = kept
	}
	err = runOrdered(len(jobs), func(i int) (*cohortItem, error) { return jobs[i].load() },
		func(i int, it *cohortItem, err error) error {
			if err != nil {
				c.Errors = append(c.Errors, FileError{File: jobs[i].file, Error: err.Error()})
				return nil
			}
			for _, w := range it.sample.Warnings {
				c.Warnings = append(c.Warnings, FileError{File: jobs[i].file, Error: w})
			}
			return fn(it)
		})
	return c, err
}

// cohortFolder reports whether the cohort folder exists; a missing one is an
// empty cohort, anything else that stops reading it is an error.
func cohortFolder(c *Cohort) (bool, error) {
	fi, err := os.Stat(c.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.IsDir():
		return false, fmt.Errorf("%s is not a folder", c.Dir)
	}
	return true, nil
}

func labelmeJobs(c *Cohort, opt LoadOptions) ([]cohortJob, error) {
	ok, err := cohortFolder(c)
	if !ok || err != nil {
		return nil, err
	}
	annDir := filepath.Join(c.Dir, AnnotationsDir)
	entries, err := os.ReadDir(annDir)
	if errors.Is(err, fs.ErrNotExist) {
		c.Warnings = append(c.Warnings, FileError{File: AnnotationsDir, Error: annDir + ": no annotations folder"})
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids map[string]string
	if c.Name == CohortCohen {
		ids = cohortPatientIDs(c)
	}
	var jobs []cohortJob
	for _, e := range entries { // sorted by name
		if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".json") {
			continue
		}
		path := filepath.Join(annDir, e.Name())
		jobs = append(jobs, cohortJob{
			file: filepath.Join(AnnotationsDir, e.Name()),
			load: func() (*cohortItem, error) {
				l, err := ReadLabelme(path)
				if err != nil {
					return nil, err
				}
				s, err := LabelmeSample(c.Name, path, l, opt)
				if err != nil {
					return nil, err
				}
				if c.Name == CohortCohen {
					setPatient(s, ids)
					if _, found := FindImageBeside(path, l.ImagePath); l.ImageData == nil && !found {
						s.Warnings = append(s.Warnings, fmt.Sprintf("no image found for imagePath %q: masks on a canvas", l.ImagePath))
					}
				}
				return &cohortItem{sample: s, labelme: l}, nil
			},
		})
	}
	return jobs, nil
}

// cohortPatientIDs reads the cohort's metadata.csv; problems become
// warnings of the cohort (patient ids then fall back to file stems).
func cohortPatientIDs(c *Cohort) map[string]string {
	ids, err := ReadPatientIDs(filepath.Join(c.Dir, MetadataFile))
	if err != nil {
		c.Warnings = append(c.Warnings, FileError{File: MetadataFile, Error: err.Error() + "; patient ids are file stems"})
	}
	return ids
}

// setPatient sets the patient id of s from metadata ids by stem, or the stem
// with a warning.
func setPatient(s *Sample, ids map[string]string) {
	if id, ok := ids[s.Stem]; ok {
		s.Patient = id
		return
	}
	s.Patient = s.Stem
	if ids != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("no row for %s in metadata.csv: patient id = file stem", s.Stem))
	}
}

func cxrSegJobs(c *Cohort, opt LoadOptions) ([]cohortJob, error) {
	ok, err := cohortFolder(c)
	if !ok || err != nil {
		return nil, err
	}
	rows, err := ReadCXRSegStructure(filepath.Join(c.Dir, StructureFile))
	if err != nil {
		c.Errors = append(c.Errors, FileError{File: StructureFile, Error: err.Error()})
		return nil, nil
	}
	ids := cohortPatientIDs(c)
	names, byImage := groupCXRSeg(rows)
	jobs := make([]cohortJob, len(names))
	for i, name := range names {
		rows := byImage[name]
		jobs[i] = cohortJob{
			file: filepath.Join(ImagesDir, name),
			load: func() (*cohortItem, error) {
				s, err := CXRSegSample(c.Dir, rows, opt)
				if err != nil {
					return nil, err
				}
				setPatient(s, ids)
				return &cohortItem{sample: s, rows: rows}, nil
			},
		}
	}
	return jobs, nil
}

// runOrdered runs work(0..n-1) on GOMAXPROCS goroutines and hands the results
// to consume in index order, from the calling goroutine, keeping at most a
// few results waiting. An error from consume stops the run (work already
// started finishes and is dropped).
func runOrdered[T any](n int, work func(int) (T, error), consume func(int, T, error) error) error {
	if n == 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	type result struct {
		v   T
		err error
	}
	slots := make([]chan result, n)
	for i := range slots {
		slots[i] = make(chan result, 1)
	}
	window := make(chan struct{}, 2*workers) // results started but not consumed
	running := make(chan struct{}, workers)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for i := 0; i < n; i++ {
			select {
			case window <- struct{}{}:
			case <-done:
				return
			}
			go func() {
				running <- struct{}{}
				v, err := work(i)
				<-running
				slots[i] <- result{v, err}
			}()
		}
	}()
	for i := 0; i < n; i++ {
		r := <-slots[i]
		<-window
		if err := consume(i, r.v, r.err); err != nil {
			return err
		}
	}
	return nil
}
