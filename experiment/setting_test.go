package experiment

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// otherValue is, for each setting, a valid value other than the smoke
// preset's: the tests below set every setting through its declaration.
// A setting missing here fails TestEverySettingDeclared.
var otherValue = map[string]string{
	"Preset": "tiny", "Data": "/data/real", "Cohort": "cxr-seg", "Targets": "lungs,opacity", "TestFraction": "0.2",
	"Seed": "7", "Encoder": "resnet34", "Tiny": "tiny", "Channels": "3", "HeadKernel": "3", "Dropout": "0.1", "Loss": "image-dice-focal",
	"InputSize": "96", "Epochs": "3", "Batch": "2", "LearningRate": "0.0001", "LRSchedule": "constant",
	"Augment": "none", "EvalEvery": "5", "Backend": "xla:cuda", "Bootstrap": "100", "Cache": "/tmp/cache",
	"Runs": "/out/runs", "Figures": "/out/figures", "CohenModelScores": "/data/scores.csv",
	"Start":      "/weights/start.ckpt", // replaced by a file that exists where the key reads it
	"LungsModel": "tiny", "LungsEpochs": "4", "LungsEvalEvery": "2", "LungsSize": "64", "Ensemble": "true",
	"IntervalCV": "/runs/cv",
}

// notSettings are the Settings fields without a declaration, and why.
var notSettings = map[string]string{
	"Phantom": "sized by the preset (the synthetic cohort's options)",
	"Folds":   "set by opacity cv --folds and experiment.NewCV",
	"Fold":    "set per fold by the cross-validation",
	"Repo":    "found from the current directory (FindRepo)",
}

// TestEverySettingDeclared checks the one declaration of each setting:
// every field of Settings is declared (or listed in notSettings with a
// reason); each declaration names a variable, a flag and a help text, none
// shared with another setting; and the notebooks' settings table has a row
// for it with its variable and flag.
func TestEverySettingDeclared(t *testing.T) {
	list := SettingsList()
	declared := map[string]bool{}
	envs, flags := map[string]string{}, map[string]string{}
	base, err := Preset(PresetSmoke)
	if err != nil {
		t.Fatal(err)
	}
	table := base.WithRepo("/repo").SettingsTable()
	for _, d := range list {
		if declared[d.Field] {
			t.Errorf("%s declared twice", d.Field)
		}
		declared[d.Field] = true
		if d.Env == "" || d.Flag == "" || d.Help == "" {
			t.Errorf("%s: env %q, flag %q, help %q: want all three", d.Field, d.Env, d.Flag, d.Help)
		}
		if !strings.HasPrefix(d.Env, "OPACITY_") && d.Env != "GOMLX_BACKEND" {
			t.Errorf("%s: variable %s outside OPACITY_*", d.Field, d.Env)
		}
		if o, dup := envs[d.Env]; dup {
			t.Errorf("%s and %s share %s", o, d.Field, d.Env)
		}
		if o, dup := flags[d.Flag]; dup {
			t.Errorf("%s and %s share --%s", o, d.Field, d.Flag)
		}
		envs[d.Env], flags[d.Flag] = d.Field, d.Field
		if !strings.Contains(table, "| `s."+d.Field+"` |") || !strings.Contains(table, "`"+d.Env+"` · `--"+d.Flag+"`") {
			t.Errorf("%s: no row with %s and --%s in the settings table:\n%s", d.Field, d.Env, d.Flag, table)
		}
		if d.Placement && d.InRunKey {
			t.Errorf("%s: a placement setting cannot decide the run", d.Field)
		}
		if _, ok := otherValue[d.Field]; !ok {
			t.Errorf("%s: no test value in otherValue", d.Field)
		}
	}
	if list[0].Field != FieldPreset {
		t.Errorf("first setting %s, want the preset (applied first)", list[0].Field)
	}
	typ := reflect.TypeOf(Settings{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i).Name
		if _, skip := notSettings[f]; !declared[f] && !skip {
			t.Errorf("Settings.%s has no declaration in SettingsList (nor a reason in notSettings)", f)
		}
		if _, skip := notSettings[f]; declared[f] && skip {
			t.Errorf("Settings.%s both declared and listed as not a setting", f)
		}
	}
}

// TestSettingsThroughTheEnvironment sets each setting alone through its
// variable and checks that its Get reads back the value and that it
// enters the run key exactly when its declaration says so.
func TestSettingsThroughTheEnvironment(t *testing.T) {
	smoke, err := settingsFrom("/repo", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	key := func(s Settings) RunKey {
		cohort := s.Cohort
		if cohort == "" {
			cohort = "covid-ar" // what LoadStudy picks with covid-ar images present
		}
		k, err := s.Key(cohort)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key(smoke)
	start := filepath.Join(t.TempDir(), "start.ckpt") // the key hashes the starting weights
	if err := os.WriteFile(start, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range SettingsList() {
		v := otherValue[d.Field]
		if d.Field == "Start" {
			v = start
		}
		if d.Get(smoke) == v {
			t.Errorf("%s: test value %q is the default", d.Field, v)
			continue
		}
		s, err := settingsFrom("/repo", func(k string) string {
			if k == d.Env {
				return v
			}
			return ""
		})
		if err != nil {
			t.Errorf("%s=%s: %v", d.Env, v, err)
			continue
		}
		if got := d.Get(s); got != v {
			t.Errorf("%s=%s: Settings.%s = %q", d.Env, v, d.Field, got)
		}
		k := key(s)
		if changed := !k.Same(k0) || k.Dir(s.Runs) != k0.Dir(s.Runs); changed != d.InRunKey {
			t.Errorf("%s: changing it changes the run: %v; its declaration says InRunKey %v", d.Field, changed, d.InRunKey)
		}
	}
}

// TestSettingErrorsNameTheVariable checks that a value out of its domain
// is reported under the name the user set it by.
func TestSettingErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ env, value, want string }{
		{"OPACITY_BATCH", "0", "OPACITY_BATCH 0: want at least 1"},
		{"OPACITY_TEST_FRACTION", "1", "OPACITY_TEST_FRACTION 1: want a value in [0, 1)"},
		{"OPACITY_BOOTSTRAP", "0", "OPACITY_BOOTSTRAP 0: want at least 1 resample"},
		{"OPACITY_COHORT", "mine", `OPACITY_COHORT "mine": want covid-ar`},
		{"OPACITY_MODEL", "huge", `OPACITY_MODEL: "huge": want paper or tiny`},
		{"OPACITY_CHANNELS", "x", `OPACITY_CHANNELS: "x": want an integer`},
	} {
		_, err := settingsFrom("/repo", func(k string) string {
			if k == tc.env {
				return tc.value
			}
			return ""
		})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s=%s: err = %v, want one starting %q", tc.env, tc.value, err, tc.want)
		}
	}
}

func TestPresetValues(t *testing.T) {
	for field, want := range map[string]string{"Epochs": "tiny 2, smoke 40, full 50", "Encoder": "resnet18", "Preset": "smoke",
		"Runs": "<cache>/runs"} {
		d, ok := SettingByField(field)
		if !ok {
			t.Fatalf("no setting %s", field)
		}
		if got := d.PresetValues(); got != want {
			t.Errorf("%s: PresetValues = %q, want %q", field, got, want)
		}
	}
}

// TestNumberOverrides checks what a reproduction's verdict counts as a
// change of its numbers: a setting's variable whose value changes the
// preset's settings; not the folders, the backend, nor a value the preset
// already has.
func TestNumberOverrides(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OPACITY_SEED": "1", "OPACITY_EPOCHS": "20", "OPACITY_FIGURES": "x", "OPACITY_ENCODER": "resnet34"},
			"OPACITY_ENCODER=resnet34,OPACITY_EPOCHS=20"},
		{map[string]string{"OPACITY_EPOCHS": "40", "GOMLX_BACKEND": "xla:cuda", "OPACITY_CACHE": "/c", "OPACITY_RUNS": "/r"}, ""},
		{map[string]string{"OPACITY_SIZE": "tiny", "OPACITY_EPOCHS": "40", "OPACITY_DATA": "/d"}, "OPACITY_EPOCHS=40"},
		{map[string]string{"OPACITY_BOOTSTRAP": "100", "OPACITY_COHEN_SCORES": "/s.csv", "OPACITY_MODEL": "tiny"},
			"OPACITY_BOOTSTRAP=100,OPACITY_COHEN_SCORES=/s.csv,OPACITY_MODEL=tiny"},
		{map[string]string{"OPACITY_BATCH": "zero"}, "OPACITY_BATCH=zero"},
	} {
		got := strings.Join(NumberOverrides(func(k string) string { return tc.env[k] }), ",")
		if got != tc.want {
			t.Errorf("%v: NumberOverrides = %q, want %q", tc.env, got, tc.want)
		}
	}
}
