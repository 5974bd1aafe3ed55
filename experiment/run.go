package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/xla/unet"
)

// Files of a run folder, beside unet's metrics.csv and checkpoints/.
const (
	RunFile   = "run.json"  // the run record (RunRecord)
	LogFile   = "train.log" // the text log of the training, one line per epoch
	RunFormat = 2           // RunRecord.Format of this version
)

// Run statuses (RunRecord.Status).
const (
	StatusTraining = "training" // started, not finished (an interrupted run resumes)
	StatusComplete = "complete"
)

// RunRecord is the content of run.json: everything needed to read a run
// back and to say how it was made. It is written when the training starts
// and rewritten when it ends.
type RunRecord struct {
	Format    int    `json:"format"`
	Status    string `json:"status"`
	Synthetic bool   `json:"synthetic"`
	// Data is the absolute data folder the run was trained on.
	Data string `json:"data"`
	// Settings are the settings that made the run (LoadStudy(Settings) reads
	// its study again).
	Settings Settings `json:"settings"`
	// Key identifies the run (RunKey.Same).
	Key RunKey `json:"key"`
	// Parameters is the model's number of trainable parameters.
	Parameters int         `json:"trainable_parameters"`
	Split      SplitRecord `json:"split"`
	// Start, for a run that started from another model's weights
	// (Settings.Start), says where they came from and what they had seen.
	Start   *StartRecord `json:"start,omitempty"`
	Metrics MetricsInfo  `json:"metrics"`
	Timing  Timing       `json:"timing"`
	// Backend is the backend the training ran on; Commit the repository's
	// commit (with "-dirty" when it had uncommitted changes), GoVersion the
	// toolchain.
	Backend       string    `json:"backend"`
	Commit        string    `json:"commit"`
	GoVersion     string    `json:"go_version"`
	StepsPerEpoch int       `json:"steps_per_epoch"`
	GlobalStep    int64     `json:"global_step"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
}

// SIMDNote is what a training on the Go backend says when the program was
// built without GOEXPERIMENT=simd (unet.SIMD false).
const SIMDNote = "note: this program was built without GOEXPERIMENT=simd: the Go backend's matrix multiplications run without SIMD, about 10 times slower (make build sets it)\n"

// StartRecord is where a fine-tuned run's starting weights came from.
type StartRecord struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"` // unet.StartDigest
	// TrainImages are the images the starting weights had been trained on
	// (their run's training images, and those of its own start), stems as
	// in SplitRecord: a validation must count them as seen. Known is false
	// when the start has no run record to say so (a bare checkpoint).
	TrainImages []string `json:"train_images"`
	Known       bool     `json:"known"`
}

// Seen returns the images the run's weights have seen in training: its
// split's training images and its start's (stems).
func (r RunRecord) Seen() map[string]bool {
	seen := map[string]bool{}
	for _, s := range r.Split.TrainImages {
		seen[s] = true
	}
	if r.Start != nil {
		for _, s := range r.Start.TrainImages {
			seen[s] = true
		}
	}
	return seen
}

// startRecord describes the starting weights at path (a training folder
// with run.json, or a checkpoint file in one's checkpoints/) and digest.
func startRecord(path, digest string) *StartRecord {
	rec := &StartRecord{Path: absPath(path), SHA256: digest}
	dir := path
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir = filepath.Dir(filepath.Dir(path)) // <run>/checkpoints/<file>
	}
	run, err := OpenRun(dir)
	if err != nil {
		return rec
	}
	seen := run.Record.Seen()
	for s := range seen {
		rec.TrainImages = append(rec.TrainImages, s)
	}
	sort.Strings(rec.TrainImages)
	rec.Known = run.Record.Start == nil || run.Record.Start.Known
	return rec
}

// SplitRecord is the patient split of a run.
type SplitRecord struct {
	Cohort           string   `json:"cohort"`
	Seed             int64    `json:"seed"`
	TestFraction     float64  `json:"test_fraction"`
	TrainPatients    []string `json:"train_patients"`
	TestPatients     []string `json:"test_patients"`
	TrainImages      []string `json:"train_images"`
	TestImages       []string `json:"test_images"`
	ValidationImages []string `json:"validation_images"`
	HeldOut          []string `json:"held_out,omitempty"`
}

// MetricsInfo is the schema of the run's metrics file.
type MetricsInfo struct {
	File    string   `json:"file"`
	Columns []string `json:"columns"`
	Splits  []string `json:"splits"`
	Targets []string `json:"targets"`
}

// Timing is where a run's time went: preparing the images (reading,
// decoding, framing, resizing), then the training phases (unet.PhaseTimes)
// in total and per epoch.
type Timing struct {
	PrepareSeconds float64           `json:"prepare_s"`
	Total          unet.PhaseTimes   `json:"total"`
	Epochs         []unet.PhaseTimes `json:"epochs"`
}

// Run is a run folder: its record, checkpoints, metrics and predictions.
type Run struct {
	Dir    string
	Record RunRecord
	// Trained says whether this process trained (or finished training) it,
	// rather than finding it complete.
	Trained bool
}

// Monitor receives what a training reports.
type Monitor struct {
	// Out receives the messages (the first line of a training, a found
	// run, a prediction); nil prints nothing.
	Out io.Writer
	// Progress receives unet.Train's progress: a bar redrawn in place on a
	// terminal, one line per epoch otherwise; nil prints nothing.
	Progress io.Writer
	// OnStep and OnEpoch, when set, are called after every training step
	// and epoch (a notebook's live display).
	OnStep  func(unet.StepInfo)
	OnEpoch func(unet.EpochInfo)
}

// Printf writes a message to Out.
func (m Monitor) Printf(format string, args ...any) {
	if m.Out != nil {
		fmt.Fprintf(m.Out, format, args...)
	}
}

// OpenRun reads the run folder dir. An old run folder (before run.json),
// a folder that is not a run, or a damaged record is an error that says
// what is missing.
func OpenRun(dir string) (*Run, error) {
	path := filepath.Join(dir, RunFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var old []string
		for _, f := range []string{"config.json", "split.json"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				old = append(old, f)
			}
		}
		if len(old) > 0 {
			return nil, fmt.Errorf("%s: a run folder of an older version of this program (it has %s but no %s, the run record that names its data, split and settings): train it again with opacity train or the notebooks",
				dir, strings.Join(old, " and "), RunFile)
		}
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("run folder: %w", err)
		}
		return nil, fmt.Errorf("%s: not a run folder: no %s (made by opacity train or a notebook)", dir, RunFile)
	}
	if err != nil {
		return nil, err
	}
	var rec RunRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: damaged run record: %w", path, err)
	}
	if rec.Format != RunFormat {
		return nil, fmt.Errorf("%s: run record format %d, this program reads format %d: train the run again", path, rec.Format, RunFormat)
	}
	if rec.Data == "" || rec.Key.Cohort == "" {
		return nil, fmt.Errorf("%s: the run record names no data folder or cohort", path)
	}
	return &Run{Dir: dir, Record: rec}, nil
}

// Complete reports whether the run finished training.
func (r *Run) Complete() bool { return r.Record.Status == StatusComplete }

// Study loads the study the run was made on: its recorded settings, with
// the data folder data instead of the recorded one when data is not empty
// (the data moved). It checks that the study gives the run's split.
func (r *Run) Study(data string) (*Study, error) {
	s := r.Record.Settings
	if data != "" {
		s.Data = data
	}
	st, err := LoadStudy(s)
	if err != nil {
		return nil, fmt.Errorf("%s: loading its data: %w", r.Dir, err)
	}
	if st.TrainCohort != r.Record.Split.Cohort {
		return nil, fmt.Errorf("%s: the run was trained on %s, the data folder %s gives %q", r.Dir, r.Record.Split.Cohort, s.DataDir(), st.TrainCohort)
	}
	if err := st.sameSplit(r); err != nil {
		st.Problems = append(st.Problems, err.Error()+": the data changed")
	}
	st.run = r
	return st, nil
}

// sameSplit returns an error naming run r and the data folder when the
// study's split (its training and testing images) is not the run's.
func (st *Study) sameSplit(r *Run) error {
	rec := st.splitRecord()
	if strings.Join(rec.TrainImages, ",") == strings.Join(r.Record.Split.TrainImages, ",") &&
		strings.Join(rec.TestImages, ",") == strings.Join(r.Record.Split.TestImages, ",") {
		return nil
	}
	return fmt.Errorf("%s: the data folder %s gives another split than the run's (%d/%d training/testing images, the run %d/%d)",
		r.Dir, st.Settings.DataDir(), len(rec.TrainImages), len(rec.TestImages), len(r.Record.Split.TrainImages), len(r.Record.Split.TestImages))
}

// splitRecord returns the study's split as a run records it.
func (st *Study) splitRecord() SplitRecord {
	rec := SplitRecord{Cohort: st.TrainCohort, Seed: st.Settings.Seed, TestFraction: st.Settings.TestFraction,
		TrainPatients: st.Split.TrainPatients, TestPatients: st.Split.TestPatients, HeldOut: st.HeldOut}
	for _, it := range st.Items {
		switch it.Subset {
		case SubsetTrain:
			rec.TrainImages = append(rec.TrainImages, it.Stem)
		case SubsetTest:
			rec.TestImages = append(rec.TestImages, it.Stem)
		case SubsetValidation:
			rec.ValidationImages = append(rec.ValidationImages, it.Stem)
		}
	}
	return rec
}

// Run returns the study's run, nil before Train (or Run.Study).
func (st *Study) Run() *Run { return st.run }

// RunDir returns the run folder of the study's settings: the same settings
// give the same folder (RunKey.Dir under Settings.Runs).
func (st *Study) RunDir() (string, error) {
	key, err := st.Settings.Key(st.TrainCohort)
	if err != nil {
		return "", err
	}
	return key.Dir(st.Settings.Runs), nil
}

// Train trains the U-Net (unet.Train) on the study's training images
// (TrainCohort, the train side of the split), evaluating it on the training
// and testing images after every epoch (every Settings.EvalEvery), into the
// run folder dir (empty: RunDir, so that every notebook and command with
// the same settings reuses it): run.json, metrics.csv (one row per epoch,
// split and target), train.log, checkpoints. A complete run with the same
// key (RunKey.Same) is not trained again; an interrupted one resumes from
// its last checkpoint; a folder holding a run of other settings is refused.
// The first message names the model's trainable parameter count. Without
// training images it says why and returns nil.
//
// The training is unet.Train's: each epoch shuffles the training images and
// draws their augmentation (Settings.Augment) from a generator seeded with
// (seed, epoch); batches are full (the last, smaller one is left out); the
// Dice + focal loss summed over the targets; Adam at the settings' learning
// rate and schedule.
func (st *Study) Train(ctx context.Context, dir string, mon Monitor) (*Run, error) {
	s := st.Settings
	if st.TrainCohort == "" {
		mon.Printf("No training: no cohort with images in %s (%s). The analyses of manual masks still run.\n", s.DataDir(), st.TrainCohortNote())
		return nil, nil
	}
	key, err := s.Key(st.TrainCohort)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		dir = key.Dir(s.Runs)
	}
	prev, err := OpenRun(dir)
	switch {
	case err == nil:
		if !prev.Record.Key.Same(key) {
			return nil, fmt.Errorf("%s: holds a run of other settings (%s on %s, %d epochs, seed %d); use another folder",
				dir, strings.Join(prev.Record.Key.Targets, "+"), prev.Record.Split.Cohort, prev.Record.Key.Train.Epochs, prev.Record.Key.Train.Seed)
		}
		// Its numbers and its pair's held-out images assume its split.
		if err := st.sameSplit(prev); err != nil {
			return nil, fmt.Errorf("%w: the data or the split's rule changed; delete the folder to retrain, or set another runs folder", err)
		}
		if prev.Complete() {
			mon.Printf("Found the complete run %s: not training again (delete the folder to retrain).\n", dir)
			st.run = prev
			return prev, nil
		}
	default:
		if entries, rerr := os.ReadDir(dir); rerr == nil && len(entries) > 0 {
			return nil, err // an old run folder, or something else: do not train into it
		}
	}
	train, test := st.Subset(SubsetTrain), st.Subset(SubsetTest)
	if len(train) == 0 {
		return nil, fmt.Errorf("%s: no training image in the split", s.DataDir())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg, err := s.TrainConfig()
	if err != nil {
		return nil, err
	}
	batch := min(s.Batch, len(train))
	rec := RunRecord{Format: RunFormat, Status: StatusTraining, Synthetic: st.Synthetic, Data: absPath(s.DataDir()), Settings: s, Key: key,
		Parameters: cfg.Model.Parameters(), Split: st.splitRecord(),
		Metrics: MetricsInfo{File: unet.MetricsFile, Columns: research.MetricsColumns, Splits: []string{unet.SplitTrain, unet.SplitTest}, Targets: cfg.Model.TargetList()},
		Backend: unet.BackendSpec(s.Backend), Commit: Commit(s.Repo), GoVersion: runtime.Version(), StepsPerEpoch: len(train) / batch,
		Started: time.Now().UTC()}
	rec.Timing.PrepareSeconds = st.PrepareSeconds
	if cfg.Start != "" {
		rec.Start = startRecord(cfg.Start, cfg.StartSHA256)
	}
	if prev != nil {
		rec.Started = prev.Record.Started
		rec.Timing.Epochs = prev.Record.Timing.Epochs
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, RunFile), rec, 0o644); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	first := fmt.Sprintf("Training the %s U-Net (%d trainable parameters; targets %s, input %s %d×%d) on %s: %d training images (%d steps of %d per epoch), %d testing images, %d epochs, Adam %g (%s schedule), augmentation %s, backend %s, run folder %s\n",
		s.Encoder, rec.Parameters, strings.Join(s.Targets, ", "), s.Framing(), s.InputSize, s.InputSize, st.TrainCohort, len(train), rec.StepsPerEpoch, batch,
		len(test), s.Epochs, s.LearningRate, scheduleName(s.LRSchedule), s.Augment, rec.Backend, dir)
	mon.Printf("%s", first)
	fmt.Fprintf(logf, "%s %s", time.Now().UTC().Format(time.RFC3339), first)
	if unet.IsGoSpec(s.Backend) && !unet.SIMD {
		mon.Printf("%s", SIMDNote)
		fmt.Fprint(logf, SIMDNote)
	}
	cfg.Dir, cfg.Keep, cfg.Progress = dir, 1, mon.Progress
	cfg.OnStep = mon.OnStep
	cfg.OnEpoch = func(e unet.EpochInfo) error {
		fmt.Fprint(logf, unet.EpochLine(e.Epoch, e.Epochs, e.TrainLoss, e.Records, e.Times))
		rec.Timing.Epochs = append(rec.Timing.Epochs, e.Times)
		if mon.OnEpoch != nil {
			mon.OnEpoch(e)
		}
		return nil
	}
	res, err := unet.Train(ctx, cfg, Inputs(train), Inputs(test))
	if err != nil {
		return nil, fmt.Errorf("training %s: %w", dir, err)
	}
	if res.ResumedFrom > 0 {
		mon.Printf("(resumed after epoch %d)\n", res.ResumedFrom)
	}
	rec.Status, rec.Finished = StatusComplete, time.Now().UTC()
	rec.Backend = res.Model.Backend().Name()
	rec.GlobalStep = res.Model.GlobalStep()
	rec.Timing.Total = res.Times
	if prev != nil {
		rec.Timing.Total = sumTimes(rec.Timing.Epochs)
	}
	if n := res.Model.NumTrainableParameters(); n != rec.Parameters {
		return nil, fmt.Errorf("%s: the built model has %d trainable parameters, its configuration %d", dir, n, rec.Parameters)
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, RunFile), rec, 0o644); err != nil {
		return nil, err
	}
	last := fmt.Sprintf("Trained in %.0f s (%s); run folder %s\n", res.Seconds, res.Times, dir)
	mon.Printf("%s", last)
	fmt.Fprintf(logf, "%s %s", time.Now().UTC().Format(time.RFC3339), last)
	st.run = &Run{Dir: dir, Record: rec, Trained: true}
	return st.run, nil
}

// sumTimes adds up the phase times of epochs.
func sumTimes(epochs []unet.PhaseTimes) unet.PhaseTimes {
	var t unet.PhaseTimes
	for _, e := range epochs {
		t = t.Add(e)
	}
	return t
}

// absPath is filepath.Abs, or p when that fails.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Commit returns the commit the program was built from (the Go build's
// VCS stamp), or else the commit of the repository repo (git), with
// "-dirty" when it had uncommitted changes; "unknown" when neither is
// known.
func Commit(repo string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	if repo != "" {
		if out, err := exec.Command("git", "-C", repo, "describe", "--always", "--dirty", "--abbrev=40").Output(); err == nil {
			return strings.TrimSpace(string(out))
		}
	}
	return "unknown"
}
