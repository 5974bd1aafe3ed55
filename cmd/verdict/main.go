// Command verdict checks the numbers of the last `make reproduce` against
// the expected values committed in figures/ (package verdict), or, on
// purpose, rewrites those expected values from it.
//
//	verdict [-figures figures] [-expected FILE] [-strict] [-brief]
//	verdict -update [-figures figures] [-expected FILE] [-note TEXT]...
//
// Without -expected the file is chosen by the run's settings:
// figures/expected-synthetic-SIZE.csv or figures/expected-real-SIZE.csv
// (-dir sets the folder). The environment's OPACITY_* settings that change
// numbers (experiment.NumberOverrides) are part of the run's settings.
//
// Exit status: 0 PASS; 1 DIFF (a number outside its tolerance, missing or
// new); 2 an error; 3 no verdict: no expected values for this run's
// settings (it says why).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/verdict"
)

type notes []string

func (n *notes) String() string     { return strings.Join(*n, "; ") }
func (n *notes) Set(s string) error { *n = append(*n, s); return nil }

func main() {
	figures := flag.String("figures", "figures", "figures folder of the run (its numbers.json)")
	expected := flag.String("expected", "", "expected file (default: DIR/expected-synthetic|real-SIZE.csv for the run's settings)")
	dir := flag.String("dir", "figures", "folder of the expected files")
	update := flag.Bool("update", false, "write the expected file from this run instead of checking (on purpose: see REPRODUCE.md)")
	strict := flag.Bool("strict", false, "compare every number exactly, ignoring the tolerances (the same commit on the same machine)")
	brief := flag.Bool("brief", false, "print only the items that did not pass (and the outcome)")
	var note notes
	flag.Var(&note, "note", "with -update: a line saying how the values were made (repeatable)")
	flag.Parse()
	os.Exit(run(os.Stdout, os.Getenv, *figures, *expected, *dir, *update, *strict, *brief, note))
}

func run(w io.Writer, getenv func(string) string, figures, expected, dir string, update, strict, brief bool, note []string) int {
	r, err := verdict.ReadRun(filepath.Join(figures, "numbers.json"), experiment.NumberOverrides(getenv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "verdict:", err)
		return 2
	}
	if expected == "" {
		kind := "synthetic"
		if r.Config.Data != "synthetic" {
			kind = "real"
		}
		expected = filepath.Join(dir, fmt.Sprintf("expected-%s-%s.csv", kind, r.Config.Size))
	}
	if update {
		return write(w, r, expected, note)
	}
	f, err := verdict.ReadFile(expected)
	if os.IsNotExist(err) {
		fmt.Fprintf(w, "verdict: NO VERDICT: no expected values for this run (%s): %s does not exist\n", r.Config, expected)
		return 3
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "verdict:", err)
		return 2
	}
	if why := f.Config.Match(r.Config); why != "" {
		fmt.Fprintf(w, "verdict: NO VERDICT: %s holds the expected values of another run: this run has %s\n", expected, why)
		return 3
	}
	items := f.Items
	if strict {
		for i := range items {
			items[i].Tolerance = verdict.Exact
		}
	}
	v := verdict.Check(items, r.Values)
	fmt.Fprintf(w, "The numbers of %s against %s (%s%s):\n\n", filepath.Join(figures, "numbers.json"), expected, r.Config, map[bool]string{true: ", -strict: every number exact"}[strict])
	if brief {
		fmt.Fprint(w, v.FailureTable())
	} else {
		fmt.Fprint(w, v.Table())
	}
	if !v.OK() {
		fmt.Fprintf(w, "\nA DIFF is a number outside its tolerance, MISSING one the run did not make, NEW one the file does not know.\n"+
			"If the change is meant, rewrite the expected values on purpose (REPRODUCE.md, \"The reviewer's verdict\"): make expected%s\n", expectedArgs(r))
		return 1
	}
	return 0
}

// expectedArgs are the make variables that remake this run's expected file.
func expectedArgs(r *verdict.Run) string {
	s := ""
	if r.Config.Data != "synthetic" {
		s += " OPACITY_DATA=" + r.DataDir
	}
	if r.Config.Size != "smoke" {
		s += " OPACITY_SIZE=" + r.Config.Size
	}
	return s
}

func write(w io.Writer, r *verdict.Run, path string, note []string) int {
	var old *verdict.File
	if f, err := verdict.ReadFile(path); err == nil && f.Config.Match(r.Config) == "" {
		old = f
	}
	comments := append([]string{
		"Expected values of a reproduction (package verdict; `make reproduce` checks its numbers against them).",
		"item: RESULT.NUMBER of figures/numbers.json, or file:NAME for a file written (value 1);",
		"value: null for an undefined number; tolerance: the largest absolute difference that passes; reason: why.",
	}, note...)
	f, err := verdict.Update(old, r, verdict.DefaultRules, comments)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verdict:", err)
		return 2
	}
	tmp := path + ".tmp"
	fh, err := os.Create(tmp)
	if err == nil {
		err = f.Write(fh)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintln(os.Stderr, "verdict:", err)
		return 2
	}
	kept := ""
	if old != nil {
		kept = "; the earlier file's tolerances and reasons kept for its items"
	}
	fmt.Fprintf(w, "verdict: wrote %s: %d items (%s%s)\n", path, len(f.Items), r.Config, kept)
	return 0
}
