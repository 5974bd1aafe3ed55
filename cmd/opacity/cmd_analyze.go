package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/covidxray/opacity/analysis"
	"github.com/covidxray/opacity/datasets/xrayfile"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/paper"
)

func init() {
	register(command{name: "models", summary: "train the lung and opacity models (and severity maps) that analyze uses, into one folder", run: runModels})
	register(command{name: "models validate", summary: "validate a models folder on the real data's images it never saw (tables and figures of notebook 08)", run: runModelsValidate})
	register(command{name: "analyze", summary: "measure the opacity of any chest X-ray (JPEG, PNG, DICOM): masks, overlay, labelme, report", run: runAnalyze})
}

// defaultModelsDir is the models folder of models and analyze when --out
// or --models is not given.
const defaultModelsDir = "models"

func runModels(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("models", stderr)
	sf := addSettingsFlags(fs)
	out := fs.String("out", defaultModelsDir, "models folder to write (models.json, lungs/, opacity/)")
	setUsage(fs, `usage: opacity models [--data DIR] [--out DIR] [--lungs-model M] [--lungs-epochs E] [--lungs-eval-every N] [--lungs-size PX] [training flags of opacity train]

Trains (or finds, or resumes) a lung model (target lungs, whole X-rays) and an opacity model
(target opacity, lung crops) with the same settings, each in its run folder as opacity train
would; copies their weights into --out; fits the maps from the opacity % to Cohen et al.'s
radiologist scores on the scored images the models did not train on; and writes models.json,
the record of how they were made, with an interval of the opacity % calibrated on the images
they did not train on and Brixia zone thresholds; writes manifest.json (SHA-256 of every file),
which analyze checks. By default the models train on every image of every cohort with images
and masks (--cohort all --test-fraction 0): a model to use, validated by the validation
notebook (08) rather than by a held-out share; --cohort covid-qu-ex --test-fraction 0.1 trains
models that never see cxr-seg/ or cohen/, for the validation of notebook 08 (OPACITY_MODELS).`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	s, err := sf.settings()
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["cohort"] {
		s.Cohort = experiment.CohortAll
	}
	if !set["test-fraction"] {
		s.TestFraction = 0
	}
	if _, err := s.EnsureData(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := analysis.TrainModels(ctx, s, absPath(*out), experiment.Monitor{Out: stderr, Progress: stderr})
	if err != nil {
		return err
	}
	rec := m.Record
	fmt.Fprintf(stdout, "models folder %s\n", m.Dir)
	fmt.Fprintf(stdout, "lungs:   %d trainable parameters, %d training images of %s (run %s)\n", rec.Lungs.Parameters, rec.Lungs.Images, rec.Lungs.Cohort, rec.Lungs.Run)
	fmt.Fprintf(stdout, "opacity: %d trainable parameters, %d training images of %s (run %s)\n", rec.Opacity.Parameters, rec.Opacity.Images, rec.Opacity.Cohort, rec.Opacity.Run)
	if sv := rec.Severity; sv != nil {
		fmt.Fprintf(stdout, "severity maps on %d scored images: geographic extent %s (MAE %.2f out of fold), opacity %s (MAE %.2f out of fold)\n",
			len(sv.FittedOn), sv.Geographic.Method, sv.GeographicOOF.MAE, sv.Opacity.Method, sv.OpacityOOF.MAE)
	} else {
		fmt.Fprintln(stdout, rec.Note)
	}
	return nil
}

func runModelsValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("models validate", stderr)
	models := fs.String("models", defaultModelsDir, "models folder made by opacity models")
	data := addDataFlag(fs, "real data folder (make data)")
	figures := addFiguresFlag(fs, "folder of the tables and figures (default: figures/ of the repository, as the notebooks)")
	backend := addBackendFlag(fs)
	setUsage(fs, `usage: opacity models validate --models DIR --data DIR [--figures DIR]

Measures a models folder on the images of the data folder it never saw, as notebook 08 does
with OPACITY_MODELS (paper.ModelsValidation): the held-out covid-qu-ex images, cxr-seg/ and
cohen/ as external tests, Cohen et al.'s and the Brixia scores out of fold, the interval's
coverage. Writes table-models-* and figure-models-* and prints the tables.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data"); err != nil {
		return err
	}
	s, err := experiment.Preset(experiment.PresetSmoke)
	if err != nil {
		return err
	}
	if root, err := experiment.FindRepo(); err == nil {
		s = s.WithRepo(root)
	}
	s.Data, s.Backend = absPath(*data), *backend
	if *figures != "" {
		s.Figures = absPath(*figures)
	}
	r, err := paper.ModelsValidation(absPath(*models), s)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, r.Markdown)
	return nil
}

func runAnalyze(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("analyze", stderr)
	models := fs.String("models", defaultModelsDir, "models folder made by opacity models")
	out := fs.String("out", "analysis", "output folder: per image STEM.png, STEM_lungs.png, STEM_opacity.png, STEM_overlay.png, STEM.json (labelme); report.csv, report.json")
	anyModality := fs.Bool("any-modality", false, "analyse DICOM files that do not say they are chest radiographs (other modality or body part)")
	tol := fs.Float64("tolerance", analysis.DefaultTolerance, "simplification of the labelme polygons, in pixels")
	backend := addBackendFlag(fs)
	setUsage(fs, `usage: opacity analyze [--models DIR] [--out DIR] [--any-modality] FILE|FOLDER...

Measures the opacity of chest X-rays without a hand-drawn lung contour: the lung model finds
the lungs on the whole image, the image is cropped to them as the paper crops to the manual
lungs, the opacity model segments the crop, and opacity % = |opacity ∩ lungs| / |lungs| on the
image's own grid, with severity estimates on Cohen et al.'s scales when the models have maps.
Reads JPEG, PNG (8/16 bit) and DICOM (native or baseline JPEG); folders are searched for
.jpg .jpeg .png .dcm .dicom and extensionless files. A file that cannot be read or analysed
is reported (report and stderr) and the batch goes on; the exit status is 1 if any failed.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("no file or folder to analyse")
	}
	files, err := analysis.XrayFiles(fs.Args())
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no X-ray file (.jpg .jpeg .png .dcm .dicom or no extension) in %v", fs.Args())
	}
	m, err := analysis.OpenModels(*models, *backend)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := m.AnalyzeFiles(files, analysis.FileOptions{Out: *out, Xray: xrayfile.Options{AnyModality: *anyModality},
		Tolerance: *tol, Progress: stderr, Errors: stderr})
	if err != nil {
		return err
	}
	wall := time.Since(start)
	for _, f := range rep.Files {
		if f.Status != "ok" {
			continue
		}
		fmt.Fprintf(stdout, "%s: opacity %s of the lungs", f.File, pct(f.OpacityPct))
		if f.OpacityPctLo != nil {
			fmt.Fprintf(stdout, " (%.0f%% interval %.1f-%.1f, members %.1f-%.1f)", 100*f.IntervalLevel, *f.OpacityPctLo, *f.OpacityPctHi, *f.OpacityPctMin, *f.OpacityPctMax)
		}
		if f.BrixiaGlobal != nil {
			fmt.Fprintf(stdout, ", Brixia %d/18", *f.BrixiaGlobal)
		}
		if f.Geographic != nil {
			fmt.Fprintf(stdout, ", extent %.1f/8, opacity %.1f/6", *f.Geographic, *f.OpacityScore)
		}
		for _, fl := range f.Flags {
			fmt.Fprintf(stdout, " [%s]", fl)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "%d analysed, %d failed, in %s (%.2f s per file); report: %s\n", rep.Analysed, rep.Failed, wall.Round(time.Millisecond),
		wall.Seconds()/float64(len(files)), absPath(*out))
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d files could not be analysed (see %s)", rep.Failed, len(files), analysis.ReportCSV)
	}
	return nil
}

// pct formats a nullable percentage.
func pct(v *float64) string {
	if v == nil || math.IsNaN(*v) {
		return "— (no lungs found)"
	}
	return fmt.Sprintf("%.1f%%", *v)
}
