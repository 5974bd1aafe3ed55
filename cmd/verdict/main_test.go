package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture copies the verdict package's fixture run into a figures folder
// and its expected file, changed by edit, into dir as the file the run's
// settings pick (expected-synthetic-tiny.csv).
func fixture(t *testing.T, edit func(string) string) (figures, dir string) {
	t.Helper()
	figures, dir = t.TempDir(), t.TempDir()
	b, err := os.ReadFile("../../verdict/testdata/numbers.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(figures, "numbers.json"), b, 0o644)
	e, err := os.ReadFile("../../verdict/testdata/expected.csv")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "expected-synthetic-tiny.csv"), []byte(edit(string(e))), 0o644)
	return figures, dir
}

func noEnv(string) string { return "" }

func TestVerdictCommand(t *testing.T) {
	same := func(s string) string { return s }
	figures, dir := fixture(t, same)
	var out strings.Builder
	if code := run(&out, noEnv, figures, "", dir, false, false, false, nil); code != 0 || !strings.Contains(out.String(), "verdict: PASS") {
		t.Fatalf("unchanged: exit %d\n%s", code, out.String())
	}

	// One expected value altered: the table shows the DIFF and the exit status is 1.
	figures, dir = fixture(t, func(s string) string {
		return strings.Replace(s, "cohorts.test_images,13,", "cohorts.test_images,14,", 1)
	})
	out.Reset()
	code := run(&out, noEnv, figures, "", dir, false, false, false, nil)
	if code != 1 || !strings.Contains(out.String(), "verdict: DIFF") {
		t.Fatalf("altered: exit %d\n%s", code, out.String())
	}
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "cohorts.test_images ") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) != 5 || f[1] != "14" || f[2] != "13" || f[4] != "DIFF" {
		t.Errorf("row of the altered item: %q, want item 14 13 exact DIFF", line)
	}

	// A run with other settings gets no verdict (exit 3), not a false DIFF.
	figures, dir = fixture(t, same)
	out.Reset()
	env := func(k string) string { return map[string]string{"OPACITY_EPOCHS": "5"}[k] }
	if code := run(&out, env, figures, "", dir, false, false, false, nil); code != 3 || !strings.Contains(out.String(), "NO VERDICT") {
		t.Errorf("other settings: exit %d\n%s", code, out.String())
	}

	// -update rewrites the file from the run; it then passes.
	figures, dir = fixture(t, func(s string) string {
		return strings.Replace(s, "cohorts.test_images,13,", "cohorts.test_images,14,", 1)
	})
	out.Reset()
	if code := run(&out, noEnv, figures, "", dir, true, false, false, []string{"made by a test"}); code != 0 {
		t.Fatalf("update: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run(&out, noEnv, figures, "", dir, false, false, false, nil); code != 0 {
		t.Errorf("after update: exit %d\n%s", code, out.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "expected-synthetic-tiny.csv"))
	if !strings.Contains(string(b), "# made by a test") || !strings.Contains(string(b), "from the trained model, a few hundredths") {
		t.Errorf("updated file lost the note or a kept reason:\n%s", b)
	}
}
