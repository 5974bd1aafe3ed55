package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/covidxray/opacity/experiment"
)

// TestSettingsFlagsMatchTheEnvironment checks that the flags are derived
// from the settings' declarations: every setting has its flag, and giving
// every flag a value yields the same settings as giving the notebooks'
// variables the same values.
func TestSettingsFlagsMatchTheEnvironment(t *testing.T) {
	tiny, err := experiment.Preset(experiment.PresetTiny)
	if err != nil {
		t.Fatal(err)
	}
	explicit := map[string]string{"Data": "/data/real", "Cohort": "covid-qu-ex", "Backend": "go", "Cache": "/tmp/c",
		"Runs": "/tmp/r", "Figures": "/tmp/f", "CohenModelScores": "/tmp/s.csv"}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sf := addSettingsFlags(fs)
	var args []string
	for _, d := range experiment.SettingsList() {
		if fs.Lookup(d.Flag) == nil {
			t.Errorf("%s: no flag --%s", d.Field, d.Flag)
			continue
		}
		v, ok := explicit[d.Field]
		if !ok {
			v = d.Get(tiny)
		}
		args = append(args, "--"+d.Flag, v)
		t.Setenv(d.Env, v)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	got, err := sf.settings()
	if err != nil {
		t.Fatal(err)
	}
	want, err := experiment.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flags give\n%+v\nthe environment\n%+v", got, want)
	}
	if !got.Tiny || got.InputSize != 32 || got.Cohort != "covid-qu-ex" || got.Runs != "/tmp/r" {
		t.Errorf("settings %+v: want the tiny preset's values and the explicit ones", got)
	}
}

func TestSettingsFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--size", "100"}, "--size 100: the U-Net halves the input 5 times"},
		{[]string{"--epochs", "0"}, "--epochs 0: want at least 1"},
		{[]string{"--lr-schedule", "step"}, `--lr-schedule: learning-rate schedule "step"`},
		{[]string{"--model", "huge"}, `--model: "huge": want paper or tiny`},
		{[]string{"--preset", "huge"}, `--preset: preset "huge"`},
		{[]string{"--seed", "1.5"}, `--seed: "1.5": want an integer`},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		sf := addSettingsFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		_, err := sf.settings()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one starting %q", tc.args, err, tc.want)
		}
	}
}
