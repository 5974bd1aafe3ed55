package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/covidxray/opacity/analysis"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/paper"
)

func init() {
	register(command{name: "cv", summary: "patient-grouped k-fold cross-validation: every fold, or one (--fold), then the merged table", run: runCV})
	register(command{name: "cv merge", summary: "merge the finished folds of a cross-validation into one table", run: runCVMerge})
}

// cvFlags are the flags of cv and cv merge: the settings and the folds.
type cvFlags struct {
	settings *settingsFlags
	folds    *int
	pipeline *bool
}

func addCVFlags(fs *flag.FlagSet) *cvFlags {
	return &cvFlags{settings: addSettingsFlags(fs), folds: fs.Int("folds", 5, "number of folds (patients are split into this many groups)"),
		pipeline: fs.Bool("pipeline", false, "cross-validate the automatic pipeline of opacity analyze (a lung and an opacity model per fold, each held-out image analysed from its full-resolution pixels) instead of the settings' model")}
}

// cv returns the cross-validation of the flags.
func (f *cvFlags) cv() (*experiment.CV, error) {
	s, err := f.settings.settings()
	if err != nil {
		return nil, err
	}
	s.Folds = *f.folds
	if s.Folds < 2 {
		return nil, fmt.Errorf("--folds %d: want at least 2", s.Folds)
	}
	if *f.pipeline {
		return analysis.PipelineCV(s)
	}
	return experiment.NewCV(s)
}

func runCV(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cv", stderr)
	cf := addCVFlags(fs)
	fold := fs.Int("fold", -1, "run this fold only (0-based), as one job of a job array; -1: every fold")
	jobs := fs.Int("jobs", 1, "folds run at once, each in its own process")
	devices := fs.String("devices", "", "comma-separated accelerator ids: one fold at a time per device, in its own process with CUDA_VISIBLE_DEVICES set to it")
	setUsage(fs, `usage: opacity cv --folds K [--pipeline] [--fold I | --jobs N | --devices 0,1,...] [training flags of opacity train]

Splits the cohort into K folds by patient (seeded, stratified); fold i trains the settings' model
on the other folds (a run folder, reused and resumed like opacity train's) and predicts fold i.
Each fold writes its out-of-fold result into the CV folder (under --runs, named after the
settings); without --fold, every fold runs and the merged table is written and printed:
cv-metrics.md/.csv (every metric pooled out of fold, and its spread across folds), oof.csv,
cv.json. A failed fold is reported by name and the others are kept. On a cluster, run the
folds as a Slurm job array (scripts/cv-slurm.sbatch), then opacity cv merge. With --pipeline
and every fold complete, the tables and figures of notebook 08's cross-validation
(paper.Validation: lungs, opacity, automatic vs manual %, severity) are written into --figures
and printed too.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	cv, err := cf.cv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mon := experiment.Monitor{Out: stderr, Progress: stderr}
	switch {
	case *fold >= 0:
		res, err := cv.RunFold(ctx, *fold, mon)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "fold %d of %d: %d out-of-fold images, %s\n", *fold, cv.Settings.Folds, len(res.Images), cv.FoldFile(*fold))
		return nil
	case *jobs > 1 || *devices != "":
		if err := runFoldProcesses(ctx, cv, args, *jobs, *devices, stderr); err != nil {
			fmt.Fprintln(stderr, err)
		}
	default:
		if _, err := cv.Run(ctx, mon); err != nil {
			fmt.Fprintln(stderr, err)
		}
	}
	return printCVTables(cv, *cf.pipeline, stdout)
}

func runCVMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cv merge", stderr)
	cf := addCVFlags(fs)
	setUsage(fs, `usage: opacity cv merge --folds K [the training flags the folds ran with]

Merges the finished folds of the cross-validation of these settings (their results in the CV
folder) into cv-metrics.md/.csv, oof.csv and cv.json, and prints the table; missing and failed
folds are named. With --pipeline and every fold complete, also notebook 08's validation tables
(into --figures).`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	cv, err := cf.cv()
	if err != nil {
		return err
	}
	return printCVTables(cv, *cf.pipeline, stdout)
}

// printCVTables prints the CV's merged table (printCV) and, for the
// pipeline with every fold complete, writes and prints notebook 08's
// validation tables of its folds (paper.ValidationOfFolds).
func printCVTables(cv *experiment.CV, pipeline bool, stdout io.Writer) error {
	if err := printCV(cv, stdout); err != nil || !pipeline {
		return err
	}
	r, err := paper.ValidationOfFolds(cv.Settings)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, r.Markdown)
	return nil
}

// printCV merges the CV's folds and prints the table; the error names the
// folds that are missing or failed.
func printCV(cv *experiment.CV, stdout io.Writer) error {
	rep, err := cv.Merge()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n%s", cv.Dir, rep.Markdown())
	if len(rep.Missing) > 0 || len(rep.Failed) > 0 {
		return fmt.Errorf("%d of %d folds complete (missing %v; failed %v)", len(rep.Complete), rep.Folds, rep.Missing, rep.Failed)
	}
	return nil
}

// runFoldProcesses runs every fold in its own process (this program with
// the same arguments and --fold i), jobs at a time, or one at a time per
// device of the comma-separated list devices (CUDA_VISIBLE_DEVICES set to
// it). Each fold's output goes to fold-NN.log in the CV folder. It returns
// an error naming the folds that failed.
func runFoldProcesses(ctx context.Context, cv *experiment.CV, args []string, jobs int, devices string, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var slots []string // CUDA_VISIBLE_DEVICES of each slot ("" for none)
	if devices != "" {
		for _, d := range strings.Split(devices, ",") {
			if d = strings.TrimSpace(d); d != "" {
				slots = append(slots, d)
			}
		}
	} else {
		for range max(jobs, 1) {
			slots = append(slots, "")
		}
	}
	if err := os.MkdirAll(cv.Dir, 0o755); err != nil {
		return err
	}
	base := withoutFlags(args, "jobs", "devices", "fold")
	folds := make(chan int)
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for _, dev := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range folds {
				log := filepath.Join(cv.Dir, fmt.Sprintf("fold-%02d.log", i))
				err := runFoldProcess(ctx, exe, append(append([]string{"cv"}, base...), "--fold", strconv.Itoa(i)), dev, log)
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("%d (%v; see %s)", i, err, log))
				}
				fmt.Fprintf(stderr, "fold %d done%s: %s\n", i, map[bool]string{true: " on device " + dev, false: ""}[dev != ""], log)
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < cv.Settings.Folds; i++ {
		select {
		case folds <- i:
		case <-ctx.Done():
		}
	}
	close(folds)
	wg.Wait()
	if len(failed) > 0 {
		return fmt.Errorf("folds failed: %s", strings.Join(failed, "; "))
	}
	return ctx.Err()
}

// runFoldProcess runs exe with args, its output into log, with
// CUDA_VISIBLE_DEVICES=device when device is set.
func runFoldProcess(ctx context.Context, exe string, args []string, device, log string) error {
	f, err := os.Create(log)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = os.Environ()
	if device != "" {
		cmd.Env = append(cmd.Env, "CUDA_VISIBLE_DEVICES="+device)
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("exit status %d", ee.ExitCode())
		}
		return err
	}
	return nil
}

// withoutFlags returns args without the named flags (as --name value or
// --name=value, one or two dashes).
func withoutFlags(args []string, names ...string) []string {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if a == name { // not a flag
			out = append(out, a)
			continue
		}
		n, _, hasValue := strings.Cut(name, "=")
		if drop[n] {
			if !hasValue && i+1 < len(args) {
				i++ // its value
			}
			continue
		}
		out = append(out, a)
	}
	return out
}
