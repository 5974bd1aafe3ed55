package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
	"github.com/covidxray/opacity/xla/unet"
)

func init() {
	register(command{name: "train", summary: "train the U-Net on a patient split, evaluate every epoch (the notebooks' run folder)", run: runTrain})
	register(command{name: "eval", summary: "the section 4.1 table of a run (every subset, target and convention)", run: runEval})
	register(command{name: "predict", summary: "masks, overlays and opacity % of labelme files with a run's model", run: runPredict})
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", stderr)
	sf := addSettingsFlags(fs)
	out := fs.String("out", "", "run folder to write (default: the settings' folder under --runs, the one a notebook with the same settings uses)")
	noAugment := fs.Bool("no-augment", false, "train without augmentation (the same as --augment none)")
	setUsage(fs, `usage: opacity train [--data DIR] [--out RUN] [--preset P] [--targets T] [--size S] [--epochs E] [--batch B] [--seed N] [flags]

Splits the cohort by patient, trains, evaluates both sides every epoch and writes the run folder:
run.json (the run record), metrics.csv, train.log, checkpoints/ and predictions.gob. A complete run
of the same settings is reused; an interrupted one resumes. The notebooks read the same folder.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if *noAugment {
		if a, ok := sf.value("augment"); ok && a != transform.AugmentNone {
			return fmt.Errorf("--no-augment and --augment %s contradict each other", a)
		}
		if err := fs.Set("augment", transform.AugmentNone); err != nil {
			return err
		}
	}
	s, err := sf.settings()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model: the %s U-Net, %d trainable parameters, targets %s (input %s %d×%d)\n",
		s.Encoder, s.ModelConfig().Parameters(), strings.Join(s.Targets, ", "), s.Framing(), s.InputSize, s.InputSize)
	st, err := experiment.LoadStudy(s)
	if err != nil {
		return err
	}
	for _, p := range st.Problems {
		fmt.Fprintln(stderr, "left out:", p)
	}
	if st.TrainCohort == "" {
		return fmt.Errorf("%s: no cohort with images to train on (%s)", s.DataDir(), st.TrainCohortNote())
	}
	fmt.Fprintf(stdout, "data %s%s: %s %s\n", s.DataDir(), syntheticNote(st.Synthetic), st.TrainCohort, st.Split.Sizes(st.SplitItems))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mon := experiment.Monitor{Out: stderr, Progress: stderr}
	r, err := st.Train(ctx, absPath(*out), mon)
	if err != nil {
		return err
	}
	if err := st.Predict(r, mon); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run %s: %d trainable parameters, %d epochs\n", r.Dir, r.Record.Parameters, s.Epochs)
	recs, err := research.ReadMetricsCSV(filepath.Join(r.Dir, unet.MetricsFile))
	if err != nil {
		return err
	}
	for _, m := range recs {
		if m.Epoch == s.Epochs {
			fmt.Fprintf(stdout, "epoch %d %-5s %-7s loss %.4f  IoU (soft, pooled) %.4f  IoU (per image) %.4f  F1 %.4f\n",
				m.Epoch, m.Split, m.Target, m.Loss, m.IoUSoftPooled, m.IoUPerImage, m.F1)
		}
	}
	val := st.Subset(experiment.SubsetValidation)
	for _, target := range s.Targets {
		var preds []research.Prediction
		for _, p := range st.Predictions(target) {
			if p.Subset == experiment.SubsetValidation {
				preds = append(preds, p)
			}
		}
		if len(preds) == 0 {
			continue
		}
		sc, err := research.Evaluate(preds, research.DefaultMetricOptions())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "validation (%s, %d images) %-7s IoU (soft, pooled) %.4f  IoU (per image) %.4f  F1 %.4f\n",
			datasets.CohortCohen, len(val), target, sc.SoftPooledIoU, sc.PerImageIoU, sc.SoftPooledF1)
	}
	return nil
}

func syntheticNote(synthetic bool) string {
	if synthetic {
		return " (SYNTHETIC phantom data)"
	}
	return ""
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	runDir := fs.String("run", "", "run folder written by opacity train or a notebook (required)")
	data := addDataFlag(fs, "data folder, when it moved since the run (default: the one the run record names)")
	asJSON := fs.Bool("json", false, "print the tables as JSON")
	backend := addBackendFlag(fs)
	setUsage(fs, `usage: opacity eval --run RUN [--data DIR] [--json] [--backend B]

Reads the run record, loads its data and split, predicts (or reads the cached predictions of)
the training, testing and validation images and prints the section 4.1 table of every target:
IoU and F1 under every convention for every subset, the paper's adjusted IoU beside honest ones,
and where the run's training time went.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "run"); err != nil {
		return err
	}
	r, err := experiment.OpenRun(*runDir)
	if err != nil {
		return err
	}
	st, err := r.Study(absPath(*data))
	if err != nil {
		return err
	}
	for _, p := range st.Problems {
		fmt.Fprintln(stderr, "note:", p)
	}
	if *backend != "" {
		st.Settings.Backend = *backend
	}
	if err := st.Predict(r, experiment.Monitor{Out: stderr}); err != nil {
		return err
	}
	tables := map[string]research.Table41{}
	for _, target := range r.Record.Key.Targets {
		preds := st.Predictions(target)
		if len(preds) == 0 {
			return fmt.Errorf("%s: no image of the run's split or of %s to evaluate", r.Record.Data, datasets.CohortCohen)
		}
		if tables[target], err = research.SegmentationTable(preds, research.DefaultMetricOptions()); err != nil {
			return err
		}
	}
	if *asJSON {
		out := struct {
			Run        string                      `json:"run"`
			Data       string                      `json:"data"`
			Synthetic  bool                        `json:"synthetic"`
			Epochs     int                         `json:"epochs"`
			Parameters int                         `json:"trainable_parameters"`
			Targets    map[string]research.Table41 `json:"targets"`
			Timing     experiment.Timing           `json:"timing"`
		}{r.Dir, st.Settings.DataDir(), st.Synthetic, r.Record.Key.Train.Epochs, r.Record.Parameters, tables, r.Record.Timing}
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "run %s (%d epochs, %d trainable parameters), data %s%s\n", r.Dir, r.Record.Key.Train.Epochs, r.Record.Parameters, st.Settings.DataDir(), syntheticNote(st.Synthetic))
	t := r.Record.Timing
	fmt.Fprintf(stdout, "time: preparation %.1fs; training %.1fs wall: %s\n", t.PrepareSeconds, t.Total.Wall, t.Total)
	for _, target := range r.Record.Key.Targets {
		fmt.Fprintf(stdout, "\ntarget %s\n", target)
		if err := tables[target].WriteText(stdout); err != nil {
			return err
		}
	}
	return nil
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", stderr)
	runDir := fs.String("run", "", "run folder written by opacity train or a notebook (required)")
	outDir := fs.String("out", "", "folder for the mask and overlay PNGs and predictions.csv (required)")
	backend := addBackendFlag(fs)
	setUsage(fs, `usage: opacity predict --run RUN --out DIR FILE.json...

For each labelme file (image embedded or beside it): frames it as the run's inputs were (the
manual lungs' crop for an opacity model, which needs lung polygons; the whole image for a lung
model), predicts every target and writes DIR/<stem>_<target>.png (the mask) and
DIR/<stem>_<target>_overlay.png (prediction red, manual lungs green, manual target yellow), and
prints the predicted opacity % (and the manual one when the file has opacity polygons).
For any X-ray without an annotation (JPEG, PNG, DICOM), see opacity analyze.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "run", "out"); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("at least one labelme file is required")
	}
	r, err := experiment.OpenRun(*runDir)
	if err != nil {
		return err
	}
	pr, err := r.Predictor(*backend)
	if err != nil {
		return err
	}
	for _, d := range pr.Loaded.Damaged {
		fmt.Fprintf(stderr, "warning: %v; the model comes from %s\n", d, pr.Loaded.Checkpoint)
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	targets := r.Record.Key.Targets
	var csv bytes.Buffer
	csv.WriteString("file,predicted_opacity_percent,manual_opacity_percent\n")
	fmt.Fprintf(stdout, "%-40s %10s %10s\n", "file", "predicted%", "manual%")
	failed := 0
	for _, path := range fs.Args() {
		s, err := datasets.ReadLabelmeSample(path)
		if err == nil {
			err = predictFile(pr, s, *outDir, targets, stdout, &csv)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			failed++
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(*outDir, "predictions.csv"), csv.Bytes(), 0o644); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be predicted", failed, fs.NArg())
	}
	return nil
}

// predictFile predicts one sample and writes its masks and overlays.
func predictFile(pr *experiment.Predictor, s *datasets.Sample, outDir string, targets []string, stdout io.Writer, csv *bytes.Buffer) error {
	p, err := pr.Predict(s)
	if err != nil {
		return err
	}
	scale := plots.OverlayScale(p.Input.Size)
	for _, t := range targets {
		if err := writePNG(filepath.Join(outDir, s.Stem+"_"+t+".png"), plots.MaskImage(p.Masks[t])); err != nil {
			return err
		}
		over := plots.OverlayImage(p.Input.Image, scale,
			plots.Overlay{Mask: p.Masks[t], Color: plots.OverlayPredicted, Fill: true},
			plots.Overlay{Mask: p.Input.Mask(datasets.TargetLungs), Color: plots.OverlayLungs},
			plots.Overlay{Mask: p.Input.Mask(t), Color: plots.OverlayManual})
		if err := writePNG(filepath.Join(outDir, s.Stem+"_"+t+"_overlay.png"), over); err != nil {
			return err
		}
	}
	predicted, manual := "-", "-"
	if pct, err := experiment.PredictedPct(p.Input, p.Prob); err == nil {
		predicted = fmt.Sprintf("%.2f", pct)
	}
	// The manual percentage, on the full-resolution masks (an annotation
	// without opacity polygons is 0%).
	if pct, err := research.OpacityPercent(s.Lung, s.Opacity); err == nil {
		manual = fmt.Sprintf("%.2f", pct)
	}
	fmt.Fprintf(stdout, "%-40s %10s %10s\n", s.File, predicted, manual)
	fmt.Fprintf(csv, "%s,%s,%s\n", s.File, strings.TrimPrefix(predicted, "-"), strings.TrimPrefix(manual, "-"))
	return nil
}

// writePNG encodes img to path atomically.
func writePNG(path string, img image.Image) error {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}
