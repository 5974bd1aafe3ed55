package phantom

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
)

// Options sets the size and seed of a synthetic cohort.
type Options struct {
	// Patients is the number of COVID-19-AR-like patients (> 0); each has
	// 1 to 4 X-rays.
	Patients int
	// Seed fixes everything: the same options give the same bytes.
	Seed int64
	// Size is the side of the COVID-19-AR-like images in pixels; 0 means
	// DefaultSize. The external (Cohen-like) images vary around it.
	Size int
	// CohenImages is the number of images of the external validation set;
	// 0 means DefaultCohenImages, a negative value none.
	CohenImages int
}

// Defaults of Options.
const (
	DefaultSize        = 256
	DefaultCohenImages = 20
)

// Version numbers the layout Write writes; it changes when a
// new version writes other files (2: cohen-model-scores.csv added), so that
// cached cohorts are regenerated.
const Version = 2

// Summary describes a written phantom cohort.
type Summary struct {
	Dir        string
	Seed       int64
	Size       int
	Patients   []Patient // COVID-19-AR-like patients, in file order
	Images     []Image   // their X-rays (covid-ar/annotations)
	Cohen      []Image   // the external set (cohen/annotations)
	Provenance string    // the text that marks every output as synthetic
}

// Patient is one synthetic patient with the outcomes drawn for it.
type Patient struct {
	ID                string
	Images            int
	MaxOpacityPercent float64 // max over the patient's X-rays of 100 |O ∩ L| / |L|
	ICU, Mortality    bool
}

// Image is one synthetic X-ray.
type Image struct {
	File           string // annotation file name
	Patient        string
	Width, Height  int
	OpacityShapes  int
	OpacityPercent float64 // 100 |O ∩ L| / |L| on the rasterised masks
}

// Clear reports whether the image has no opacity shape.
func (im Image) Clear() bool { return im.OpacityShapes == 0 }

// ClearImages returns the number of covid-ar images without opacity.
func (s *Summary) ClearImages() int {
	n := 0
	for _, im := range s.Images {
		if im.Clear() {
			n++
		}
	}
	return n
}

// Outcomes returns the number of patients admitted to the ICU and the
// number who died.
func (s *Summary) Outcomes() (icu, mortality int) {
	for _, p := range s.Patients {
		if p.ICU {
			icu++
		}
		if p.Mortality {
			mortality++
		}
	}
	return icu, mortality
}

// Random streams of a phantom: each patient, image and table draws from its
// own stream of the seed, so images can be painted in parallel and adding
// external images does not change the others.
const (
	streamPatients = 1
	streamOutcomes = 2
	streamCohen    = 3
	streamScores   = 4
	streamImage    = 1 << 32
	streamCohenImg = 2 << 32
)

func phantomRNG(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream^0x9e3779b97f4a7c15))
}

// patientPlan is what is drawn for a patient before painting.
type patientPlan struct {
	id       string
	severity float64 // latent severity, N(0, 1)
	diag     time.Time
	offsets  []int     // days from diagnosis to each X-ray
	targets  []float64 // opacity fraction to paint in each X-ray (0: clear)
	anatomy  patientAnatomy
	age      int
	sex      string
	race     string
	zip      string
	bmi      float64
	height   int
	comorb   []int
}

// Write writes a synthetic cohort into dir in the on-disk layout of the
// real data (datasets/layout.go), with images embedded in the
// COVID-19-AR-like annotations:
//
//	SYNTHETIC                              marker with the provenance line
//	covid-ar/annotations/COVID-19-AR-9NNNNNNN_MM-DD-YYYY-XR.json   labelme, PNG embedded
//	covid-ar/patient_info.csv              clinical table (CRLF, PROVENANCE column)
//	covid-ar/radiologist_notes.csv         one row per X-ray
//	cohen/annotations/*.json               labelme, label "opacity", image beside
//	cohen/images/*.jpg|*.jpeg              external-looking JPEGs of varied size
//	cohen/covid-severity-scores.csv        ## comments, filename,geographic_mean,opacity_mean
//	cohen/metadata.csv                     patientid, filename, ...
//	cohen-model-scores.csv                 a SYNTHETIC stand-in for Cohen et al.'s model scores
//	                                       of the covid-ar images (filename,opacity_score)
//
// Patient ids start with 9 (COVID-19-AR-9xxxxxxx) so they cannot be taken
// for real TCIA ids. Each patient has 1–4 X-rays; a latent severity drives
// how much of the lungs is opaque (about a third of the X-rays are clear),
// and ICU admission is drawn from a logistic of the patient's maximum
// opacity percentage plus noise, mortality only among ICU patients in the
// same way, so that ROC analysis is informative but not perfect.
//
// dir is created if needed. If it exists and is not empty it must hold a
// previous phantom (a SYNTHETIC marker): its covid-ar and cohen folders are
// then replaced. Every file is written atomically. The same options give
// the same bytes (with the same Go release: the PNG and JPEG encoders and
// math/rand/v2's distributions are the standard library's).
func Write(dir string, opt Options) (*Summary, error) {
	if opt.Patients <= 0 {
		return nil, fmt.Errorf("phantom: %d patients: want at least 1", opt.Patients)
	}
	if opt.Patients > 9_000_000 {
		return nil, fmt.Errorf("phantom: %d patients: too many for 8-digit ids", opt.Patients)
	}
	if opt.Size == 0 {
		opt.Size = DefaultSize
	}
	if opt.Size < 32 || opt.Size > 4096 {
		return nil, fmt.Errorf("phantom: size %d px: want 32 to 4096", opt.Size)
	}
	if opt.CohenImages == 0 {
		opt.CohenImages = DefaultCohenImages
	}
	if opt.CohenImages < 0 {
		opt.CohenImages = 0
	}
	if err := preparePhantomDir(dir); err != nil {
		return nil, err
	}
	prov := fmt.Sprintf("synthetic phantom seed=%d", opt.Seed)
	sum := &Summary{Dir: dir, Seed: opt.Seed, Size: opt.Size, Provenance: prov}

	plans := planPatients(opt)
	// Paint every X-ray, in parallel; each has its own random stream.
	type job struct{ p, k int }
	var jobs []job
	for p, pl := range plans {
		for k := range pl.targets {
			jobs = append(jobs, job{p, k})
		}
	}
	xrays := make([]*phantomXray, len(jobs))
	datasets.Parallel(len(jobs), func(i int) {
		j := jobs[i]
		rng := phantomRNG(opt.Seed, streamImage+uint64(j.p)<<8+uint64(j.k))
		xrays[i] = paintXray(rng, plans[j.p].anatomy, opt.Size, opt.Size, plans[j.p].targets[j.k], false)
	})

	// Outcomes from the realised opacity burden.
	orng := phantomRNG(opt.Seed, streamOutcomes)
	i := 0
	for _, pl := range plans {
		pp := Patient{ID: pl.id, Images: len(pl.targets)}
		for k := range pl.targets {
			x := xrays[i]
			i++
			pp.MaxOpacityPercent = math.Max(pp.MaxOpacityPercent, x.opacityPct)
			sum.Images = append(sum.Images, Image{
				File: xrayStem(pl, k) + ".json", Patient: pl.id, Width: opt.Size, Height: opt.Size,
				OpacityShapes: len(x.opacities), OpacityPercent: x.opacityPct,
			})
		}
		pp.ICU, pp.Mortality = drawOutcome(orng, pp.MaxOpacityPercent)
		sum.Patients = append(sum.Patients, pp)
	}

	// Write the covid-ar folder.
	ar := filepath.Join(dir, datasets.CohortCovidAR)
	if err := os.MkdirAll(filepath.Join(ar, datasets.AnnotationsDir), 0o755); err != nil {
		return nil, err
	}
	errs := make([]error, len(jobs))
	datasets.Parallel(len(jobs), func(i int) {
		j := jobs[i]
		stem := xrayStem(plans[j.p], j.k)
		data, err := phantomLabelme(xrays[i], stem+".png", true, false)
		if err == nil {
			err = atomicfile.WriteFile(filepath.Join(ar, datasets.AnnotationsDir, stem+".json"), data, 0o644)
		}
		errs[i] = err
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := writeCSVFile(filepath.Join(ar, datasets.PatientInfoFile), patientInfoRows(plans, sum.Patients, prov), true); err != nil {
		return nil, err
	}
	if err := writeCSVFile(filepath.Join(ar, datasets.RadiologistNotesFile), notesRows(plans, xrays, prov), true); err != nil {
		return nil, err
	}

	if err := writePhantomModelScores(filepath.Join(dir, datasets.CohenModelScoresFile), sum.Images, opt.Seed, prov); err != nil {
		return nil, err
	}

	// The external set.
	if opt.CohenImages > 0 {
		cohen, err := writePhantomCohen(dir, opt, prov)
		if err != nil {
			return nil, err
		}
		sum.Cohen = cohen
	}

	icu, mort := sum.Outcomes()
	marker := fmt.Sprintf("SYNTHETIC: %s (patients=%d images=%d clear=%d icu=%d mortality=%d size=%d cohen=%d), written by github.com/covidxray/opacity; not patient data.\n",
		prov, len(sum.Patients), len(sum.Images), sum.ClearImages(), icu, mort, opt.Size, len(sum.Cohen))
	if err := atomicfile.WriteFile(filepath.Join(dir, datasets.SyntheticMarker), []byte(marker), 0o644); err != nil {
		return nil, err
	}
	return sum, nil
}

// preparePhantomDir creates dir, or empties the phantom folders of a
// previous phantom there; it refuses a non-empty folder without the
// SYNTHETIC marker, so that real data are never overwritten.
func preparePhantomDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, datasets.SyntheticMarker)); err != nil {
		return fmt.Errorf("%s: not empty and not a phantom (no %s file): refusing to write into it", dir, datasets.SyntheticMarker)
	}
	for _, sub := range []string{datasets.CohortCovidAR, datasets.CohortCohen} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	return nil
}

// Clinical-table values drawn for synthetic patients, with weights close to
// those of the real table.
var (
	phantomRaces = []struct {
		name string
		w    float64
	}{
		{"BLACK OR AFRICAN AMERICAN", 0.55}, {"WHITE", 0.37}, {"OTHER", 0.06}, {"ASIAN", 0.02},
	}
	phantomZips = []string{"716", "717", "719", "720", "721", "722", "723", "724", "725", "726"}
)

// The clinical table's columns, as in covid-ar/patient_info.csv of the
// source, then PROVENANCE.
var patientInfoHeader = []string{
	"PATIENT_ID", "AGE", "SEX", "RACE", "ZIP", "LATEST_BMI", "LATEST WEIGHT", "LATEST_HEIGHT_inches",
	"TUBERCULOSIS", "SYSTEMIC LUPUS ERYTHMATOSUS", "RHEUMATOID ARTHRITIS", "EXTENSIVE BURNS", "ASPLENIA",
	"HYPOSPLENIA", "MEASLES", "CYTOMEGALOVIRUS", "CHICKEN POX", "HERPES ZOSTER", "MALNUTRITION",
	"CURRENT PREGNANT", "CHRONIC KIDNEY DISEASE", "DIABETES TYPE I", "DIABETES TYPE II", "TRANSPLANT",
	"HEMODIALYSIS Pre Diagnosis", "HEMODIALYSIS Post diagnosis", "CANCER", "COVID TEST POSITIVE",
	"TEST NAME", "ICU Admit", "# ICU admits", "MORTALITY", "PROVENANCE",
}

// comorbidityRates are the probabilities of the 0/1 columns from
// TUBERCULOSIS to CANCER.
var comorbidityRates = []float64{
	0.01, 0.01, 0.02, 0, 0, 0, 0, 0, 0, 0, 0.01,
	0.01, 0.08, 0.02, 0.25, 0.01, 0.01, 0.02, 0.06,
}

// planPatients draws ids, dates, demographics, anatomy and the opacity
// burden of every X-ray.
func planPatients(opt Options) []patientPlan {
	rng := phantomRNG(opt.Seed, streamPatients)
	plans := make([]patientPlan, opt.Patients)
	id := 90000000 + rng.IntN(50000)
	for p := range plans {
		id += 1 + rng.IntN(40)
		pl := &plans[p]
		pl.id = fmt.Sprintf("COVID-19-AR-%08d", id)
		pl.severity = rng.NormFloat64()
		pl.diag = time.Date(2012, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(90))
		n := 1 + pickWeighted(rng, []float64{0.35, 0.3, 0.2, 0.15})
		day := rng.IntN(5) - 1
		for k := 0; k < n; k++ {
			if k > 0 {
				day += 1 + rng.IntN(6)
			}
			pl.offsets = append(pl.offsets, day)
			// Burden rises over the first days of a severe course.
			z := pl.severity + 0.15*float64(k) + 0.45*rng.NormFloat64()
			if rng.Float64() < sigmoid(-1.6*z-0.9) {
				pl.targets = append(pl.targets, 0)
			} else {
				pl.targets = append(pl.targets, math.Min(0.85, 0.03+0.8*sigmoid(1.5*z-1.2)))
			}
		}
		pl.age = int(math.Max(18, math.Min(95, 55+15*rng.NormFloat64())))
		pl.sex = []string{"F", "M"}[rng.IntN(2)]
		races := make([]float64, len(phantomRaces))
		for i, r := range phantomRaces {
			races[i] = r.w
		}
		pl.race = phantomRaces[pickWeighted(rng, races)].name
		pl.zip = phantomZips[rng.IntN(len(phantomZips))]
		pl.bmi = math.Max(16, 33+7*rng.NormFloat64())
		pl.height = int(math.Round(66 + 4*rng.NormFloat64()))
		pl.comorb = make([]int, len(comorbidityRates))
		for i, r := range comorbidityRates {
			if rng.Float64() < r {
				pl.comorb[i] = 1
			}
		}
		pl.anatomy = newPatientAnatomy(phantomRNG(opt.Seed, streamImage+uint64(p)<<8+0xff))
	}
	return plans
}

func pickWeighted(rng *rand.Rand, w []float64) int {
	u := rng.Float64()
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// drawOutcome draws ICU admission from a logistic of the maximum opacity
// percentage plus noise, and death among ICU patients in the same way.
func drawOutcome(rng *rand.Rand, maxPct float64) (icu, died bool) {
	f := maxPct / 100
	icu = rng.Float64() < sigmoid(-3.0+6*f+0.8*rng.NormFloat64())
	if icu {
		died = rng.Float64() < sigmoid(-2.6+3.5*f+0.8*rng.NormFloat64())
	}
	return icu, died
}

func xrayStem(pl patientPlan, k int) string {
	return pl.id + "_" + pl.diag.AddDate(0, 0, pl.offsets[k]).Format("01-02-2006") + "-XR"
}

// phantomLabelme returns the labelme file of an X-ray: lungs then opacities,
// points rounded to 0.1 px; with embed the PNG of the image is in
// imageData. With cohen the opacity label is "opacity".
func phantomLabelme(x *phantomXray, imagePath string, embed, cohen bool) ([]byte, error) {
	b := x.img.Bounds()
	l := datasets.Labelme{
		Version:     "4.5.6",
		Flags:       map[string]any{"synthetic": true},
		ImagePath:   imagePath,
		ImageWidth:  b.Dx(),
		ImageHeight: b.Dy(),
	}
	shape := func(label string, pts [][2]float64) datasets.Shape {
		return datasets.Shape{Label: label, Points: pts, ShapeType: datasets.ShapePolygon, Flags: map[string]any{}}
	}
	l.Shapes = append(l.Shapes, shape("right_lung", x.lungs[0].pts), shape("left_lung", x.lungs[1].pts))
	for _, s := range x.opacities {
		label := opacityKinds[s.kind].label
		if cohen {
			label = "opacity"
		}
		l.Shapes = append(l.Shapes, shape(label, s.pts))
	}
	if embed {
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, x.img); err != nil {
			return nil, err
		}
		s := base64.StdEncoding.EncodeToString(buf.Bytes())
		l.ImageData = &s
	}
	return json.Marshal(&l)
}

// patientInfoRows returns the clinical table.
func patientInfoRows(plans []patientPlan, pats []Patient, prov string) [][]string {
	rows := [][]string{patientInfoHeader}
	b01 := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	for i, pl := range plans {
		p := pats[i]
		weight := pl.bmi * float64(pl.height*pl.height) / 703
		row := []string{
			pl.id, strconv.Itoa(pl.age), pl.sex, pl.race, pl.zip,
			strconv.FormatFloat(math.Round(pl.bmi*10)/10, 'f', -1, 64),
			strconv.Itoa(int(math.Round(weight))), strconv.Itoa(pl.height),
		}
		for _, c := range pl.comorb {
			row = append(row, strconv.Itoa(c))
		}
		admits := "0"
		if p.ICU {
			admits = "1"
			if pl.severity > 1.2 {
				admits = "2"
			}
		}
		row = append(row, "1", "SARS-CoV-2 (COVID-19)", b01(p.ICU), admits, b01(p.Mortality), prov)
		rows = append(rows, row)
	}
	return rows
}

// notesRows returns the radiologist notes: one row per X-ray.
func notesRows(plans []patientPlan, xrays []*phantomXray, prov string) [][]string {
	rows := [][]string{{"patient_id", "Diag to img study (days)", "Diagnosis to Imaging time (hrs)", "Image Study Description", "Radiologist KEY FINDINGS", "PROVENANCE"}}
	i := 0
	for _, pl := range plans {
		for k, off := range pl.offsets {
			x := xrays[i]
			i++
			rows = append(rows, []string{
				pl.id, strconv.Itoa(off), strconv.Itoa(off*24 + 6 + (k*7)%12),
				"XR CHEST AP PORTABLE", findings(x), prov,
			})
		}
	}
	return rows
}

// findings describes an X-ray's opacities in a radiologist's words.
func findings(x *phantomXray) string {
	if len(x.opacities) == 0 {
		return "No acute cardiopulmonary abnormality."
	}
	var sides [2]bool
	cons := false
	for _, s := range x.opacities {
		sides[s.lung] = true
		cons = cons || s.kind == kindConsolidation
	}
	where := "right lung"
	switch {
	case sides[0] && sides[1]:
		where = "both lungs"
	case sides[1]:
		where = "left lung"
	}
	what := "Patchy ground-glass opacities"
	if cons {
		what = "Patchy airspace opacities with areas of consolidation"
	}
	extent := "mild"
	switch {
	case x.opacityPct > 50:
		extent = "extensive"
	case x.opacityPct > 20:
		extent = "moderate"
	}
	return fmt.Sprintf("%s in %s, %s, compatible with viral pneumonia.", what, where, extent)
}

// writeCSVFile writes rows atomically, with CRLF line ends when crlf.
func writeCSVFile(path string, rows [][]string, crlf bool) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = crlf
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

// cohenMetadataHeader is the header of the Cohen collection's metadata.csv.
var cohenMetadataHeader = []string{
	"patientid", "offset", "sex", "age", "finding", "RT_PCR_positive", "survival", "intubated",
	"intubation_present", "went_icu", "in_icu", "needed_supplemental_O2", "extubated", "temperature",
	"pO2_saturation", "leukocyte_count", "neutrophil_count", "lymphocyte_count", "view", "modality",
	"date", "location", "folder", "filename", "doi", "url", "license", "clinical_notes", "other_notes",
}

// writePhantomCohen writes the external set: X-rays of other patients with
// another look (harder contrast, more noise, varied sizes, JPEG), labelme
// annotations with the image beside them, severity scores derived from the
// painted extent and density plus rater noise, and metadata.
func writePhantomCohen(dir string, opt Options, prov string) ([]Image, error) {
	root := filepath.Join(dir, datasets.CohortCohen)
	for _, sub := range []string{datasets.AnnotationsDir, datasets.ImagesDir} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o755); err != nil {
			return nil, err
		}
	}
	rng := phantomRNG(opt.Seed, streamCohen)
	n := opt.CohenImages
	type plan struct {
		stem, imageFile, imagePath string
		patient                    int
		offset                     int
		w, h                       int
		target                     float64
		anatomy                    patientAnatomy
		sex                        string
		age                        int
		survival                   string
	}
	plans := make([]plan, n)
	patient, sev := 0, 0.0
	var anat patientAnatomy
	var sex, survival string
	var age int
	for i := range plans {
		pl := &plans[i]
		// A new patient, or a follow-up X-ray of the last one.
		if i == 0 || rng.Float64() < 0.7 {
			patient++
			sev = rng.NormFloat64() + 0.5 // a hospital series: sicker on average
			anat = newPatientAnatomy(rng)
			pl.offset = rng.IntN(4)
			sex = []string{"F", "M"}[rng.IntN(2)]
			age = 30 + rng.IntN(55)
			survival = "Y"
			if sev > 1.3 && rng.Float64() < 0.5 {
				survival = "N"
			}
		} else {
			pl.offset = plans[i-1].offset + 1 + rng.IntN(5)
			sev += 0.3 * rng.NormFloat64()
		}
		pl.patient, pl.anatomy = 9000+patient, anat
		pl.sex, pl.age, pl.survival = sex, age, survival
		pl.w = int(float64(opt.Size) * (0.9 + 0.35*rng.Float64()))
		pl.h = int(float64(opt.Size) * (0.9 + 0.3*rng.Float64()))
		if rng.Float64() < sigmoid(-1.5*sev-1.2) {
			pl.target = 0
		} else {
			pl.target = math.Min(0.85, 0.05+0.8*sigmoid(1.5*sev-0.8))
		}
		pl.stem = fmt.Sprintf("phantom-cxr-%03d", i+1)
		// Like the source, an annotation's imagePath may say .jpg where the
		// file is .jpeg: readers match by stem.
		pl.imageFile, pl.imagePath = pl.stem+".jpg", pl.stem+".jpg"
		if i%2 == 1 {
			pl.imageFile = pl.stem + ".jpeg"
		}
	}
	xrays := make([]*phantomXray, n)
	datasets.Parallel(n, func(i int) {
		r := phantomRNG(opt.Seed, streamCohenImg+uint64(i))
		xrays[i] = paintXray(r, plans[i].anatomy, plans[i].w, plans[i].h, plans[i].target, true)
	})
	errs := make([]error, n)
	datasets.Parallel(n, func(i int) {
		pl, x := plans[i], xrays[i]
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, x.img, &jpeg.Options{Quality: 85}); err != nil {
			errs[i] = err
			return
		}
		if err := atomicfile.WriteFile(filepath.Join(root, datasets.ImagesDir, pl.imageFile), buf.Bytes(), 0o644); err != nil {
			errs[i] = err
			return
		}
		data, err := phantomLabelme(x, pl.imagePath, false, true)
		if err == nil {
			err = atomicfile.WriteFile(filepath.Join(root, datasets.AnnotationsDir, pl.stem+".json"), data, 0o644)
		}
		errs[i] = err
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// Severity scores: per lung, extent 0–4 (none, <25%, <50%, <75%, more)
	// and opacity 0–3 (none, ground glass or haze, consolidation, white
	// lung); summed over the lungs and averaged over 3 noisy raters.
	srng := phantomRNG(opt.Seed, streamCohen+0x100)
	scores := [][]string{}
	meta := [][]string{cohenMetadataHeader}
	out := make([]Image, n)
	for i, pl := range plans {
		x := xrays[i]
		geo, opa := 0.0, 0.0
		for lung := 0; lung < 2; lung++ {
			e, k := x.extent(lung)
			if e > 0 {
				geo += math.Min(4, 1+math.Floor(e*4))
				switch {
				case k == kindConsolidation && e > 0.75:
					opa += 3
				case k == kindConsolidation:
					opa += 2
				default:
					opa += 1
				}
			}
		}
		rater := func(v, hi float64) string {
			s := 0.0
			for r := 0; r < 3; r++ {
				s += math.Max(0, math.Min(hi, v+math.Round(0.6*srng.NormFloat64())))
			}
			return strconv.FormatFloat(math.Round(s/3*10)/10, 'f', 1, 64)
		}
		scores = append(scores, []string{pl.imageFile, rater(geo, 8), rater(opa, 6)})
		meta = append(meta, []string{
			strconv.Itoa(pl.patient), strconv.Itoa(pl.offset), pl.sex, strconv.Itoa(pl.age),
			"Pneumonia/Viral/COVID-19", "Y", pl.survival, "", "", "", "", "", "", "", "", "", "", "",
			"PA", "X-ray", "", prov, datasets.ImagesDir, pl.imageFile, "", "", "CC0 (synthetic)",
			"Synthetic phantom image, not patient data.", "",
		})
		out[i] = Image{
			File: pl.stem + ".json", Patient: strconv.Itoa(pl.patient), Width: pl.w, Height: pl.h,
			OpacityShapes: len(x.opacities), OpacityPercent: x.opacityPct,
		}
	}
	sort.Slice(scores, func(a, b int) bool { return scores[a][0] < scores[b][0] })
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "## SYNTHETIC COVID-19 pneumonia severity scores (%s): derived from the painted opacity extent and density plus rater noise; not patient data\n", prov)
	buf.WriteString("## Layout of Cohen et al.'s covid-severity-scores.csv (mean of 3 raters)\n")
	buf.WriteString("## geographic_extent_mean: The extent of lung involvement by ground glass opacity or consolidation for each lung. The total extent score ranged from 0 to 8.\n")
	buf.WriteString("## opacity_mean: The degree of opacity. The total opacity score ranged from 0 to 6.\n")
	w := csv.NewWriter(&buf)
	w.Write([]string{"filename", "geographic_mean", "opacity_mean"})
	w.WriteAll(scores)
	if err := w.Error(); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(root, datasets.SeverityScoresFile), buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if err := writeCSVFile(filepath.Join(root, datasets.MetadataFile), meta, false); err != nil {
		return nil, err
	}
	return out, nil
}

// writePhantomModelScores writes the synthetic stand-in for Cohen et al.'s
// model scores (datasets.CohenModelScoresFile): for each covid-ar image, an
// opacity score on Cohen's 0-6 scale that grows with the image's opacity
// percentage, 6 (pct/100)^0.7, plus Gaussian noise of SD 0.6 from its own
// random stream, clipped to [0, 6]. Like a real severity model it is
// related to the outcomes only through the opacity it sees.
func writePhantomModelScores(path string, images []Image, seed int64, prov string) error {
	rng := phantomRNG(seed, streamScores)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# SYNTHETIC: a stand-in for Cohen et al.'s severity-model opacity scores (0-6), not the output of their model (%s).\n", prov)
	fmt.Fprintf(&b, "# opacity_score = 6 (opacity%%/100)^0.7 + N(0, 0.6^2), clipped to [0, 6].\n")
	b.WriteString("filename,opacity_score\n")
	for _, im := range images {
		v := 6*math.Pow(im.OpacityPercent/100, 0.7) + 0.6*rng.NormFloat64()
		fmt.Fprintf(&b, "%s,%.3f\n", im.File, math.Min(6, math.Max(0, v)))
	}
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}
