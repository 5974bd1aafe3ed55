package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla"
)

func init() {
	register(command{name: "train", summary: "train the U-Net on covid-ar (patient split), evaluate every epoch", run: runTrain})
	register(command{name: "eval", summary: "the section 4.1 table of a trained run (every subset and convention)", run: runEval})
	register(command{name: "predict", summary: "opacity masks, overlays and opacity % of labelme files with a trained run", run: runPredict})
}

// SplitFile is the run file listing the patients and images of each side.
const SplitFile = "split.json"

// splitRecord is the content of split.json.
type splitRecord struct {
	Data          string   `json:"data"`
	Synthetic     bool     `json:"synthetic"`
	Seed          int64    `json:"seed"`
	TestFraction  float64  `json:"test_fraction"`
	TrainPatients []string `json:"train_patients"`
	TestPatients  []string `json:"test_patients"`
	TrainImages   []string `json:"train_images"`
	TestImages    []string `json:"test_images"`
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("train", stderr)
	data := fs.String("data", "", "data folder (covid-ar/ is trained on; cohen/ is the validation set) (required)")
	out := fs.String("out", "", "run folder to write (resumed when it holds checkpoints of the same settings) (required)")
	def := xla.DefaultTrainConfig()
	size := fs.Int("size", def.Size, "input side in pixels (a multiple of 32)")
	epochs := fs.Int("epochs", def.Epochs, "epochs")
	batch := fs.Int("batch", def.Batch, "batch size")
	seed := fs.Int64("seed", def.Seed, "seed of the split, the weights, the shuffling and the augmentation")
	lr := fs.Float64("lr", def.LearningRate, "Adam learning rate")
	schedule := fs.String("lr-schedule", xla.ScheduleConstant, "learning-rate schedule: constant (the paper's) or cosine (decays to 0 over the epochs)")
	augment := fs.String("augment", "default", "augmentation: default (the paper's kinds, datasets.DefaultAugment), flip (horizontal flips only) or none")
	testFrac := fs.Float64("test-fraction", 0.3, "share of the images held out for testing, by patient")
	noAugment := fs.Bool("no-augment", false, "train without augmentation (the same as --augment none)")
	channels := fs.Int("channels", 1, "input channels: 1 (grayscale) or 3")
	headKernel := fs.Int("head-kernel", 1, "head kernel: 1 (the PyTorch reference) or 3 (segmentation_models)")
	modelName := fs.String("model", "paper", "paper (ResNet-18 U-Net) or tiny (8 channels wide, for quick experiments)")
	backend := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else go): go, xla:cpu, xla:cuda, ...")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: opacity train --data DIR --out RUN [--size S] [--epochs E] [--batch B] [--seed N] [flags]")
		fmt.Fprintln(stderr, "\nSplits covid-ar by patient, trains, evaluates on both sides every epoch and writes")
		fmt.Fprintln(stderr, "RUN/metrics.csv, RUN/config.json, RUN/split.json and RUN/checkpoints/.")
		fs.PrintDefaults()
	}
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data", "out"); err != nil {
		return err
	}
	cfg := def
	switch *modelName {
	case "paper":
	case "tiny":
		cfg.Model = xla.TinyModelConfig()
	default:
		return fmt.Errorf("--model %q: want paper or tiny", *modelName)
	}
	cfg.Model.InChannels, cfg.Model.HeadKernel = *channels, *headKernel
	cfg.Size, cfg.Epochs, cfg.Batch, cfg.Seed, cfg.LearningRate = *size, *epochs, *batch, *seed, *lr
	cfg.LRSchedule = *schedule
	cfg.Backend, cfg.Dir, cfg.Progress = *backend, *out, stderr
	if *noAugment {
		if *augment != "default" && *augment != "none" {
			return fmt.Errorf("--no-augment and --augment %s contradict each other", *augment)
		}
		*augment = "none"
	}
	aug, err := datasets.NamedAugment(*augment)
	if err != nil {
		return fmt.Errorf("--augment: %w", err)
	}
	cfg.Augment = aug
	if err := cfg.Validate(); err != nil {
		return err
	}
	if !(*testFrac > 0 && *testFrac < 1) {
		return fmt.Errorf("--test-fraction %v: want a value in (0, 1)", *testFrac)
	}

	if !xla.SIMD && (cfg.Backend == "go" || cfg.Backend == "" && (os.Getenv("GOMLX_BACKEND") == "" || strings.HasPrefix(os.Getenv("GOMLX_BACKEND"), "go"))) {
		fmt.Fprintln(stderr, "note: built without GOEXPERIMENT=simd: the Go backend's matrix multiplications are about 10x slower (make build sets it)")
	}
	set, err := preparedCohort(*data, datasets.CohortCovidAR, cfg.Size, stderr)
	if err != nil {
		return err
	}
	if len(set) == 0 {
		return fmt.Errorf("%s: no %s image with a lung mask to train on", *data, datasets.CohortCovidAR)
	}
	items := make([]research.SplitItem, len(set))
	for i, p := range set {
		items[i] = research.SplitItem{Name: p.Stem, Patient: p.Patient, Opaque: p.Opacity != nil && !p.Opacity.Empty()}
	}
	split, err := research.SplitByPatient(items, research.SplitOptions{TestFraction: *testFrac, Seed: uint64(*seed), Stratify: true})
	if err != nil {
		return fmt.Errorf("%s: %w", *data, err)
	}
	train, test := pick(set, split.Train), pick(set, split.Test)
	rec := splitRecord{Data: *data, Synthetic: datasets.IsSynthetic(*data), Seed: *seed, TestFraction: *testFrac,
		TrainPatients: split.TrainPatients, TestPatients: split.TestPatients, TrainImages: stems(train), TestImages: stems(test)}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writeSplit(filepath.Join(*out, SplitFile), rec); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "data %s%s: %s\n", *data, syntheticNote(*data), split.Sizes(items))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := xla.Train(ctx, cfg, train, test)
	if err != nil {
		return err
	}
	if res.ResumedFrom > 0 {
		fmt.Fprintf(stdout, "resumed from epoch %d\n", res.ResumedFrom)
	}
	fmt.Fprintf(stdout, "trained %d epochs in %.0f s; %s written\n", cfg.Epochs-res.ResumedFrom, res.Seconds, filepath.Join(*out, xla.MetricsFile))
	for _, r := range res.Metrics {
		if r.Epoch == cfg.Epochs {
			fmt.Fprintf(stdout, "epoch %d %-5s loss %.4f  IoU (soft, pooled) %.4f  IoU (per image) %.4f  F1 %.4f\n",
				r.Epoch, r.Split, r.Loss, r.IoUSoftPooled, r.IoUPerImage, r.F1)
		}
	}
	val, err := preparedCohort(*data, datasets.CohortCohen, cfg.Size, stderr)
	if err != nil {
		return err
	}
	if len(val) > 0 {
		preds, err := predictions(res.Model, val, research.SubsetValidation, cfg.Batch)
		if err != nil {
			return err
		}
		s, err := research.Evaluate(preds, research.DefaultMetricOptions())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "validation (%s, %d images): IoU (soft, pooled) %.4f  IoU (per image) %.4f  F1 %.4f\n",
			datasets.CohortCohen, len(val), s.SoftPooledIoU, s.PerImageIoU, s.SoftPooledF1)
	}
	return nil
}

// writeSplit writes split.json, refusing to overwrite a different split
// (the run's checkpoints belong to it).
func writeSplit(path string, rec splitRecord) error {
	if b, err := os.ReadFile(path); err == nil {
		var old splitRecord
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		old.Data, rec.Data = "", ""
		if !reflect.DeepEqual(old, rec) {
			return fmt.Errorf("%s: the run folder was trained on another split (different data, seed or test fraction); use another --out", path)
		}
		return nil
	}
	return datasets.WriteJSONAtomic(path, rec, 0o644)
}

// readSplit reads a run's split.json.
func readSplit(dir string) (splitRecord, error) {
	var rec splitRecord
	b, err := os.ReadFile(filepath.Join(dir, SplitFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", filepath.Join(dir, SplitFile), err)
	}
	return rec, nil
}

// preparedCohort loads a cohort's images and prepares them (lung crop,
// size x size). Files that cannot be read or prepared are reported on
// warn and left out; a missing cohort folder gives no images.
func preparedCohort(data, cohort string, size int, warn io.Writer) ([]*datasets.Prepared, error) {
	c, err := datasets.LoadCohort(data, cohort, datasets.LoadOptions{Images: true})
	if err != nil {
		return nil, err
	}
	for _, e := range c.Errors {
		fmt.Fprintf(warn, "warning: %s/%s: %s\n", cohort, e.File, e.Error)
	}
	var out []*datasets.Prepared
	skipped := 0
	for _, s := range c.Samples {
		if !s.HasImage() {
			skipped++
			continue
		}
		p, err := datasets.Prepare(s, size, datasets.DefaultMargin)
		if err != nil {
			fmt.Fprintf(warn, "warning: %s: %v (left out)\n", cohort, err)
			continue
		}
		out = append(out, p)
	}
	if skipped > 0 {
		fmt.Fprintf(warn, "note: %s: %d annotations without an image left out\n", cohort, skipped)
	}
	return out, nil
}

func pick(set []*datasets.Prepared, idx []int) []*datasets.Prepared {
	out := make([]*datasets.Prepared, len(idx))
	for i, k := range idx {
		out[i] = set[k]
	}
	return out
}

func stems(set []*datasets.Prepared) []string {
	out := make([]string, len(set))
	for i, p := range set {
		out[i] = p.Stem
	}
	return out
}

func syntheticNote(data string) string {
	if datasets.IsSynthetic(data) {
		return " (SYNTHETIC phantom data)"
	}
	return ""
}

// predictions runs the model on a set and labels the results with subset.
func predictions(m *xla.Model, set []*datasets.Prepared, subset string, batch int) ([]research.Prediction, error) {
	probs, err := m.Predict(set, batch)
	if err != nil {
		return nil, err
	}
	out := make([]research.Prediction, len(set))
	for i, p := range set {
		out[i] = research.Prediction{Name: p.Stem, Patient: p.Patient, Subset: subset, Truth: p.OpacityPix(), Prob: probs[i]}
	}
	return out, nil
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	runDir := fs.String("run", "", "run folder written by opacity train (required)")
	data := fs.String("data", "", "data folder the run was trained on (required)")
	asJSON := fs.Bool("json", false, "print the table as JSON")
	backend := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else go)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: opacity eval --run RUN --data DIR [--json] [--backend B]")
		fmt.Fprintln(stderr, "\nPredicts the run's train and test images (covid-ar, split.json) and the validation")
		fmt.Fprintln(stderr, "images (cohen/, when it has images) and prints the section 4.1 table: IoU and F1 under")
		fmt.Fprintln(stderr, "every convention for every subset, and the paper's adjusted IoU beside honest ones.")
		fs.PrintDefaults()
	}
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "run", "data"); err != nil {
		return err
	}
	rec, err := readSplit(*runDir)
	if err != nil {
		return fmt.Errorf("%s: %w", *runDir, err)
	}
	r, err := xla.LoadRun(*runDir, *backend)
	if err != nil {
		return err
	}
	size, batch := r.Config.Size, r.Config.Batch
	set, err := preparedCohort(*data, datasets.CohortCovidAR, size, stderr)
	if err != nil {
		return err
	}
	side := map[string]string{}
	for _, s := range rec.TrainImages {
		side[s] = research.SubsetTrain
	}
	for _, s := range rec.TestImages {
		side[s] = research.SubsetTest
	}
	var preds []research.Prediction
	bySubset := map[string][]*datasets.Prepared{}
	missing := 0
	for _, p := range set {
		sub, ok := side[p.Stem]
		if !ok {
			missing++
			continue
		}
		bySubset[sub] = append(bySubset[sub], p)
	}
	if missing > 0 {
		fmt.Fprintf(stderr, "note: %d %s images are not in the run's split (new data?) and are left out\n", missing, datasets.CohortCovidAR)
	}
	if n := len(rec.TrainImages) + len(rec.TestImages) - (len(set) - missing); n > 0 {
		fmt.Fprintf(stderr, "warning: %d images of the run's split are missing from %s\n", n, *data)
	}
	val, err := preparedCohort(*data, datasets.CohortCohen, size, stderr)
	if err != nil {
		return err
	}
	bySubset[research.SubsetValidation] = val
	for _, sub := range []string{research.SubsetTrain, research.SubsetTest, research.SubsetValidation} {
		if len(bySubset[sub]) == 0 {
			continue
		}
		ps, err := predictions(r.Model, bySubset[sub], sub, batch)
		if err != nil {
			return err
		}
		preds = append(preds, ps...)
	}
	if len(preds) == 0 {
		return fmt.Errorf("%s: no image of the run's split or of %s to evaluate", *data, datasets.CohortCohen)
	}
	table, err := research.SegmentationTable(preds, research.DefaultMetricOptions())
	if err != nil {
		return err
	}
	if *asJSON {
		out := struct {
			Run        string           `json:"run"`
			Data       string           `json:"data"`
			Synthetic  bool             `json:"synthetic"`
			Checkpoint string           `json:"checkpoint"`
			Epoch      int              `json:"epoch"`
			Table      research.Table41 `json:"table"`
		}{*runDir, *data, datasets.IsSynthetic(*data), r.Checkpoint, r.Epoch, table}
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "run %s (epoch %d, %s), data %s%s\n\n", *runDir, r.Epoch, filepath.Base(r.Checkpoint), *data, syntheticNote(*data))
	return table.WriteText(stdout)
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", stderr)
	runDir := fs.String("run", "", "run folder written by opacity train (required)")
	outDir := fs.String("out", "", "folder for the mask and overlay PNGs and opacity.csv (required)")
	backend := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else go)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: opacity predict --run RUN --out DIR FILE.json...")
		fmt.Fprintln(stderr, "\nFor each labelme file (image embedded or beside it, lung polygons required): crops to the")
		fmt.Fprintln(stderr, "lungs as in training, predicts the opacity, writes DIR/<stem>_mask.png and")
		fmt.Fprintln(stderr, "DIR/<stem>_overlay.png (prediction red, lungs green, manual opacity yellow) and prints")
		fmt.Fprintln(stderr, "the predicted opacity % (and the manual one when the file has opacity polygons).")
		fs.PrintDefaults()
	}
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
	r, err := xla.LoadRun(*runDir, *backend)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	var csv bytes.Buffer
	csv.WriteString("file,predicted_opacity_percent,manual_opacity_percent\n")
	fmt.Fprintf(stdout, "%-40s %10s %10s\n", "file", "predicted%", "manual%")
	failed := 0
	for _, path := range fs.Args() {
		p, s, err := xla.PrepareLabelme(path, r.Config.Size)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			failed++
			continue
		}
		pred, err := r.Model.PredictPrepared([]*datasets.Prepared{p}, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		// The manual percentage, on the full-resolution masks (an annotation
		// without opacity polygons is 0%).
		manual := "-"
		if pct, err := research.OpacityPercent(s.Lung, s.Opacity); err == nil {
			manual = fmt.Sprintf("%.2f", pct)
		}
		stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		if err := writePNG(filepath.Join(*outDir, stem+"_mask.png"), xla.MaskImage(pred[0].Mask)); err != nil {
			return err
		}
		if err := writePNG(filepath.Join(*outDir, stem+"_overlay.png"), xla.Overlay(p, pred[0].Mask, xla.OverlayScale(r.Config.Size))); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-40s %10.2f %10s\n", filepath.Base(path), pred[0].OpacityPercent, manual)
		fmt.Fprintf(&csv, "%s,%.4f,%s\n", filepath.Base(path), pred[0].OpacityPercent, strings.TrimPrefix(manual, "-"))
	}
	if err := datasets.WriteFileAtomic(filepath.Join(*outDir, "opacity.csv"), csv.Bytes(), 0o644); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be predicted", failed, fs.NArg())
	}
	return nil
}

// writePNG encodes img to path atomically.
func writePNG(path string, img image.Image) error {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return datasets.WriteFileAtomic(path, b.Bytes(), 0o644)
}
