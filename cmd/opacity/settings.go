package main

import (
	"flag"

	"github.com/covidxray/opacity/experiment"
)

// settingsFlags are the flags of the commands that train or use a run
// (train, cv, models, analyze): one per experiment setting, derived from
// experiment.SettingsList, so the command line, the notebooks' environment
// variables and their settings table name the same settings. A flag left
// unset keeps the preset's value, so the same flags give the same settings
// (and run folder) as a notebook with the same preset and fields.
type settingsFlags struct {
	fs     *flag.FlagSet
	values map[string]string // flag name -> the text given, for the flags that were set
}

// addSettingsFlags registers the settings flags on fs.
func addSettingsFlags(fs *flag.FlagSet) *settingsFlags {
	f := &settingsFlags{fs: fs, values: map[string]string{}}
	for _, d := range experiment.SettingsList() {
		name := d.Flag
		fs.Func(name, d.Help+" (default: "+d.PresetValues()+")", func(v string) error {
			f.values[name] = v
			return nil
		})
	}
	return f
}

// value returns the text given to a settings flag and whether it was set.
func (f *settingsFlags) value(name string) (string, bool) {
	v, ok := f.values[name]
	return v, ok
}

// settings returns the default preset (experiment.DefaultPreset, the
// notebooks' too) with the flags that were set applied, --preset first, and
// the folders of the repository the current directory is in (or of the
// current directory). Relative paths are relative to the current
// directory.
func (f *settingsFlags) settings() (experiment.Settings, error) {
	s, err := experiment.Defaults()
	if err != nil {
		return s, err
	}
	lookup := func(d experiment.Setting) (string, bool) { return f.value(d.Flag) }
	return experiment.ApplySettings(s, lookup, absPath, func(d experiment.Setting) string { return "--" + d.Flag })
}
