package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/covidxray/opacity/experiment"
)

// asMain makes the test binary act as the opacity command when it is run
// with this variable set: the CV's fold processes and Slurm jobs run it.
const asMain = "OPACITY_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// cvArgs are the flags of a 2-fold CV of the tiny model on data, with the
// runs (and the CV folder) under runs.
func cvArgs(data, runs string) []string {
	return []string{"--data", data, "--runs", runs, "--preset", "tiny", "--size", "32", "--epochs", "1", "--batch", "4", "--seed", "2", "--backend", "go", "--folds", "2"}
}

// cvTable returns the merged table of the CV of args.
func cvTable(t *testing.T, data, runs string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cvDir(t, data, runs), experiment.CVMetricsFile+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cvDir is the CV folder of cvArgs.
func cvDir(t *testing.T, data, runs string) string {
	t.Helper()
	fs := newFlagSet("cv", &bytes.Buffer{})
	cf := addCVFlags(fs)
	if err := fs.Parse(cvArgs(data, runs)); err != nil {
		t.Fatal(err)
	}
	cv, err := cf.cv()
	if err != nil {
		t.Fatal(err)
	}
	return cv.Dir
}

// TestCVInProcessAndByFold runs a 2-fold CV of the tiny model on a phantom
// in this process, then again fold by fold (as the jobs of an array would)
// into other runs folders and in 2 parallel processes, and checks that the
// merged tables are the same; then that a missing and a failed fold are
// named, the other kept, and that an interrupted fold resumes.
func TestCVInProcessAndByFold(t *testing.T) {
	t.Setenv(asMain, "") // this process is the test; its children are opacity
	data := tinyPhantom(t, "6", "2")
	runsA, runsB, runsC := t.TempDir(), t.TempDir(), t.TempDir()
	out, _ := runOK(t, append([]string{"cv"}, cvArgs(data, runsA)...)...)
	if !strings.Contains(out, "2 complete") || !strings.Contains(out, "IoU (a) soft pooled, the paper's") {
		t.Errorf("cv output lacks the merged table:\n%s", out)
	}
	want := cvTable(t, data, runsA)
	oof, err := os.ReadFile(filepath.Join(cvDir(t, data, runsA), experiment.CVOOFFile))
	if err != nil || strings.Count(string(oof), "\n") < 3 {
		t.Errorf("oof.csv: %v\n%s", err, oof)
	}

	// Fold by fold, then merge.
	for _, f := range []string{"0", "1"} {
		runOK(t, append([]string{"cv", "--fold", f}, cvArgs(data, runsB)...)...)
	}
	runOK(t, append([]string{"cv", "merge"}, cvArgs(data, runsB)...)...)
	if got := cvTable(t, data, runsB); got != want {
		t.Errorf("fold by fold, the merged table differs from the in-process one:\n%s\nwant\n%s", got, want)
	}

	// Two fold processes at once (this test binary as the command).
	t.Setenv(asMain, "1")
	var o, e bytes.Buffer
	code := run(append([]string{"cv", "--jobs", "2"}, cvArgs(data, runsC)...), &o, &e)
	t.Setenv(asMain, "")
	if code != 0 {
		t.Fatalf("cv --jobs 2: exit %d: %s", code, e.String())
	}
	if got := cvTable(t, data, runsC); got != want {
		t.Errorf("in 2 processes, the merged table differs from the in-process one:\n%s\nwant\n%s", got, want)
	}

	// A missing fold is named; a failed one too, the other kept.
	dir := cvDir(t, data, runsB)
	if err := os.Remove(filepath.Join(dir, "fold-01.json")); err != nil {
		t.Fatal(err)
	}
	o.Reset()
	e.Reset()
	if code := run(append([]string{"cv", "merge"}, cvArgs(data, runsB)...), &o, &e); code == 0 || !strings.Contains(e.String(), "missing [1]") {
		t.Errorf("merge with fold 1 missing: exit %d, stderr %q", code, e.String())
	}
	if !strings.Contains(o.String(), "1 complete") {
		t.Errorf("merge with fold 1 missing does not keep fold 0:\n%s", o.String())
	}
	// Fold 1 fails: its run folder is taken by a file.
	entries, _ := os.ReadDir(runsB)
	for _, en := range entries {
		if strings.Contains(en.Name(), "-cv2f1-") {
			os.RemoveAll(filepath.Join(runsB, en.Name()))
			os.WriteFile(filepath.Join(runsB, en.Name()), []byte("in the way"), 0o644)
		}
	}
	e.Reset()
	if code := run(append([]string{"cv", "--fold", "1"}, cvArgs(data, runsB)...), &o, &e); code == 0 {
		t.Error("a fold whose run folder is a file: exit 0")
	}
	o.Reset()
	e.Reset()
	run(append([]string{"cv", "merge"}, cvArgs(data, runsB)...), &o, &e)
	if !strings.Contains(o.String(), "failed: 1:") || !strings.Contains(o.String(), "1 complete") {
		t.Errorf("merge with fold 1 failed: %s / %s", o.String(), e.String())
	}
}

// TestCVSlurm runs the 2-fold CV as a Slurm job array on a single-node
// cluster started for the test (scripts/slurm-local.sh), merges it with a
// dependent job, and checks that the table is the in-process run's. It
// skips, saying why, where Slurm cannot start (not root, or the Debian
// packages slurmctld, slurmd, slurm-client and munge missing).
func TestCVSlurm(t *testing.T) {
	script, err := filepath.Abs("../../scripts/slurm-local.sh")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(script, "check").CombinedOutput(); err != nil {
		t.Skipf("Slurm cannot start here: %s", strings.TrimSpace(string(out)))
	}
	t.Setenv(asMain, "")
	data := tinyPhantom(t, "6", "2")
	runsA, runsB := t.TempDir(), t.TempDir()
	runOK(t, append([]string{"cv"}, cvArgs(data, runsA)...)...)
	want := cvTable(t, data, runsA)

	cluster, err := os.MkdirTemp("", "slurm-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(cluster)
	start := exec.Command(script, "start", cluster)
	var startOut, startErr bytes.Buffer
	start.Stdout, start.Stderr = &startOut, &startErr
	if err := start.Run(); err != nil {
		t.Fatalf("starting Slurm: %v\n%s", err, startErr.String())
	}
	defer exec.Command(script, "stop", cluster).Run()
	conf := filepath.Join(cluster, "slurm.conf")
	t.Setenv("SLURM_CONF", conf)

	// The array's tasks run this test binary as the command.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sbatch, err := filepath.Abs("../../scripts/cv-slurm.sbatch")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	args := cvArgs(data, runsB)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sb := exec.CommandContext(ctx, "sbatch", append([]string{"--parsable", "--chdir", work, "--export", "ALL," + asMain + "=1", "--array=0-1", sbatch, exe}, args...)...)
	id, err := sb.Output()
	if err != nil {
		t.Fatalf("sbatch the array: %v", err)
	}
	jobID := strings.TrimSpace(strings.Split(string(id), ";")[0])
	merge := exec.CommandContext(ctx, "sbatch", "--wait", "--chdir", work, "--export", "ALL,"+asMain+"=1", "--dependency=afterok:"+jobID,
		"--output", filepath.Join(work, "merge.out"), "--wrap", shellQuote(append([]string{exe, "cv", "merge"}, args...)))
	if out, err := merge.CombinedOutput(); err != nil {
		logs, _ := filepath.Glob(filepath.Join(work, "*.out"))
		var all strings.Builder
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			all.WriteString(l + ":\n" + string(b) + "\n")
		}
		t.Fatalf("the merge job: %v %s\n%s", err, out, all.String())
	}
	if got := cvTable(t, data, runsB); got != want {
		t.Errorf("the Slurm array's merged table differs from the in-process one:\n%s\nwant\n%s", got, want)
	}
	b, _ := os.ReadFile(filepath.Join(work, "merge.out"))
	if !strings.Contains(string(b), "2 complete") {
		t.Errorf("the merge job's output:\n%s", b)
	}
}

// shellQuote joins args as one shell command line.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// TestCVPipelineTables cross-validates the automatic pipeline with a lung
// model trained longer than the opacity model: the lung runs carry the
// lung epochs, the opacity runs the others, and with every fold complete
// the validation tables of notebook 08 are written and printed.
func TestCVPipelineTables(t *testing.T) {
	t.Setenv(asMain, "")
	data := tinyPhantom(t, "6", "2")
	runs, figures := t.TempDir(), t.TempDir()
	out, _ := runOK(t, append([]string{"cv", "--pipeline", "--figures", figures, "--lungs-epochs", "2"}, cvArgs(data, runs)...)...)
	for _, w := range []string{"2 complete", "Spearman"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, f := range []string{"table-validation-lungs.md", "table-validation-pct.md"} {
		if _, err := os.Stat(filepath.Join(figures, f)); err != nil {
			t.Errorf("validation table: %v", err)
		}
	}
	for pattern, want := range map[string]int{"*-lungs-*-e2-*-cv2f*": 2, "*-opacity-*-e1-*-cv2f*": 2, "*-lungs-*-e1-*-cv2f*": 0} {
		got, _ := filepath.Glob(filepath.Join(runs, pattern))
		if len(got) != want {
			t.Errorf("%d run folders %s, want %d: %v", len(got), pattern, want, got)
		}
	}
}
