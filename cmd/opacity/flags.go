package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/covidxray/opacity/experiment"
)

// The flags that several commands share, declared here once so that a name
// has one meaning and one type everywhere:
//
//	--data     the data folder (the canonical layout: covid-ar/, cohen/, cxr-seg/, ...), read or written
//	--out      an output folder (a run, models, masks and reports), never a data folder
//	--figures  the folder figures and tables are written into (OPACITY_FIGURES in the notebooks)
//	--size     the model's input side (the settings' InputSize)
//	--seed     an int64 seed
//	--backend  the GoMLX backend
//	--cohen    the cohen/ cohort's analyses (opacity severity)
//
// Older spellings stay accepted as deprecated aliases (addDeprecatedAlias,
// registerDeprecatedCommand), each noting on stderr what replaces it.

// addDataFlag declares --data, the data folder, with the command's usage.
func addDataFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("data", "", usage)
}

// addFiguresFlag declares --figures, the folder the command writes its
// figures (and tables) into, with the command's usage.
func addFiguresFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("figures", "", usage)
}

// saveFigures writes a result's figures with save (its SaveFigures method)
// into dir, the --figures folder, file names starting with prefix, and
// names each file written on stderr; an empty dir writes nothing.
func saveFigures(save func(dir, prefix string) ([]string, error), dir, prefix string, stderr io.Writer) error {
	if dir == "" {
		return nil
	}
	paths, err := save(dir, prefix)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintln(stderr, "wrote", p)
	}
	return nil
}

// addSeedFlag declares --seed with its default and the command's usage.
func addSeedFlag(fs *flag.FlagSet, value int64, usage string) *int64 {
	return fs.Int64("seed", value, usage)
}

// addBackendFlag declares --backend, the GoMLX backend, for the commands
// without the settings flags, as the Backend setting declares it
// (experiment.SettingsList).
func addBackendFlag(fs *flag.FlagSet) *string {
	d, ok := experiment.SettingByField("Backend")
	if !ok {
		panic("addBackendFlag: no Backend setting")
	}
	return fs.String(d.Flag, "", d.Help+" (default: $"+d.Env+", else "+d.Default+")")
}

// addDeprecatedAlias declares --old as an older spelling of the flag --new
// (declared before it): setting it sets --new and prints a one-line note on
// the flag set's output (stderr: newFlagSet).
func addDeprecatedAlias(fs *flag.FlagSet, old, new string) {
	target := fs.Lookup(new)
	if target == nil {
		panic("addDeprecatedAlias: no flag --" + new)
	}
	fs.Var(&aliasValue{target: target.Value, note: func() {
		fmt.Fprintf(fs.Output(), "%s: --%s is deprecated, use --%s\n", fs.Name(), old, new)
	}}, old, "deprecated spelling of --"+new)
}

// aliasValue is the value of a deprecated flag: the value of the flag it
// stands for.
type aliasValue struct {
	target flag.Value
	note   func()
}

func (a *aliasValue) String() string {
	if a == nil || a.target == nil { // the zero value flag.PrintDefaults makes
		return ""
	}
	return a.target.String()
}

func (a *aliasValue) Set(v string) error {
	a.note()
	return a.target.Set(v)
}

// IsBoolFlag lets an alias of a boolean flag stand without a value.
func (a *aliasValue) IsBoolFlag() bool {
	b, ok := a.target.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// registerDeprecatedCommand registers old as an older name of the command
// new (registered before it): it runs new after a one-line note on stderr,
// and is left out of the list of commands.
func registerDeprecatedCommand(old, new string) {
	c, ok := commands[new]
	if !ok {
		panic("registerDeprecatedCommand: no command " + new)
	}
	register(command{name: old, summary: "deprecated: " + new, deprecated: true,
		run: func(args []string, stdout, stderr io.Writer) error {
			fmt.Fprintf(stderr, "opacity %s is deprecated, use opacity %s\n", old, new)
			return c.run(args, stdout, stderr)
		}})
}
