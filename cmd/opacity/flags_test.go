package main

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeprecatedFlagAliases checks every older spelling of a flag: it
// gives the flag the same value as the new spelling and prints one note
// on stderr (the new spelling prints none).
func TestDeprecatedFlagAliases(t *testing.T) {
	fetch := func(fs *flag.FlagSet) { addFetchFlags(fs) }
	phantom := func(fs *flag.FlagSet) { addPhantomFlags(fs) }
	severity := func(fs *flag.FlagSet) { addSeverityFlags(fs) }
	agreement := func(fs *flag.FlagSet) { addAgreementFlags(fs) }
	boolean := func(fs *flag.FlagSet) {
		fs.Bool("json", false, "")
		addDeprecatedAlias(fs, "j", "json")
	}
	for _, tc := range []struct {
		command  string
		declare  func(*flag.FlagSet)
		old, new string
		value    string
	}{
		{"data fetch", fetch, "to", "data", "/some/data"},
		{"data phantom", phantom, "out", "data", "/some/data"},
		{"data phantom", phantom, "size", "image-size", "96"},
		{"data phantom", phantom, "cohen", "cohen-images", "7"},
		{"severity", severity, "plots", "figures", "/some/figures"},
		{"agreement", agreement, "plots", "figures", "/some/figures"},
		{"a boolean flag", boolean, "j", "json", "true"},
	} {
		t.Run(tc.command+" --"+tc.old, func(t *testing.T) {
			parse := func(args ...string) (value, note string) {
				var stderr bytes.Buffer
				fs := newFlagSet(tc.command, &stderr)
				tc.declare(fs)
				if err := parseFlagsNoArgs(fs, args); err != nil {
					t.Fatalf("%v: %v\n%s", args, err, stderr.String())
				}
				return fs.Lookup(tc.new).Value.String(), stderr.String()
			}
			want := "opacity " + tc.command + ": --" + tc.old + " is deprecated, use --" + tc.new + "\n"
			for _, args := range [][2][]string{
				{{"--" + tc.new + "=" + tc.value}, {"--" + tc.old + "=" + tc.value}},
				{{"-" + tc.new + "=" + tc.value}, {"-" + tc.old + "=" + tc.value}},
			} {
				newValue, newNote := parse(args[0]...)
				oldValue, oldNote := parse(args[1]...)
				if newValue != tc.value || oldValue != newValue {
					t.Errorf("%v gives %q, %v gives %q; want %q", args[1], oldValue, args[0], newValue, tc.value)
				}
				if newNote != "" || oldNote != want {
					t.Errorf("stderr %q with %v, %q with %v; want %q and nothing", oldNote, args[1], newNote, args[0], want)
				}
			}
		})
	}
}

// TestDeprecatedPhantomCommand checks that "opacity phantom" with its old
// flags writes the same cohort as "opacity data phantom", with notes, and
// is not listed.
func TestDeprecatedPhantomCommand(t *testing.T) {
	tmp := t.TempDir()
	dirs := [2]string{filepath.Join(tmp, "new"), filepath.Join(tmp, "old")}
	var out, errs [2]bytes.Buffer
	for i, args := range [][]string{
		{"data", "phantom", "--data", dirs[0], "--patients", "3", "--image-size", "32", "--cohen-images", "2", "--seed", "5"},
		{"phantom", "--out", dirs[1], "--patients", "3", "--size", "32", "--cohen", "2", "--seed", "5"},
	} {
		if code := run(args, &out[i], &errs[i]); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs[i].String())
		}
	}
	if errs[0].Len() != 0 {
		t.Errorf("data phantom wrote to stderr: %s", errs[0].String())
	}
	for _, want := range []string{"opacity phantom is deprecated, use opacity data phantom\n", "--out is deprecated, use --data\n",
		"--size is deprecated, use --image-size\n", "--cohen is deprecated, use --cohen-images\n"} {
		if !strings.Contains(errs[1].String(), want) {
			t.Errorf("phantom's stderr lacks %q:\n%s", want, errs[1].String())
		}
	}
	if a, b := strings.ReplaceAll(out[0].String(), dirs[0], "DIR"), strings.ReplaceAll(out[1].String(), dirs[1], "DIR"); a != b {
		t.Errorf("summaries differ:\n%s\n%s", a, b)
	}
	n := 0
	err := filepath.WalkDir(dirs[0], func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dirs[0], path)
		a, _ := os.ReadFile(path)
		b, err := os.ReadFile(filepath.Join(dirs[1], rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs (%v)", rel, err)
		}
		n++
		return nil
	})
	if err != nil || n < 5 {
		t.Errorf("compared %d files: %v", n, err)
	}
	var help, none bytes.Buffer
	run([]string{"help"}, &none, &help)
	if !strings.Contains(help.String(), "\n  data phantom ") || strings.Contains(help.String(), "\n  phantom ") {
		t.Errorf("help lists the deprecated command, or not the new one:\n%s", help.String())
	}
}

// TestDeprecatedBoolAlias checks that the older spelling of a boolean flag
// stands without a value, as the flag does.
func TestDeprecatedBoolAlias(t *testing.T) {
	var stderr bytes.Buffer
	fs := newFlagSet("x", &stderr)
	v := fs.Bool("json", false, "")
	addDeprecatedAlias(fs, "j", "json")
	if err := parseFlagsNoArgs(fs, []string{"--j"}); err != nil || !*v || stderr.String() != "opacity x: --j is deprecated, use --json\n" {
		t.Errorf("--j: err %v, --json %v, stderr %q", err, *v, stderr.String())
	}
}
