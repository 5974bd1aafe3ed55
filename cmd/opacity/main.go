// Command opacity is the command-line tool of the opacity-segmentation
// reproduction: flag parsing, and the printing of results, over the
// packages below it: datasets (data stats) with datasets/fetch (data
// fetch) and datasets/phantom (data phantom), experiment (train, eval, predict, cv), analysis (models, analyze) and
// paper (severity, agreement, models validate). The flags that several
// commands share have one name and one meaning (flags.go). The layers are
// described in docs/design.md.
//
// Usage:
//
//	opacity <command> [flags]
//
// Run "opacity help" for the list of commands.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// command is one subcommand: its name (may hold a space, e.g. "data stats"),
// a one-line summary and the function that runs it with the remaining
// arguments, writing its results to stdout. A deprecated command (an older
// name) runs but is not listed.
type command struct {
	name       string
	summary    string
	run        func(args []string, stdout, stderr io.Writer) error
	deprecated bool
}

// commands is filled by the init functions of the cmd_*.go files, one file
// per group of subcommands.
var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// errUsage marks an error caused by bad flags: the usage was already printed.
var errUsage = errors.New("usage error")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	// Longest match first: "data stats" before "data".
	for n := 2; n >= 1; n-- {
		if len(args) < n {
			continue
		}
		name := strings.Join(args[:n], " ")
		if c, ok := commands[name]; ok {
			if err := c.run(args[n:], stdout, stderr); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return 0
				}
				if !errors.Is(err, errUsage) {
					fmt.Fprintf(stderr, "opacity %s: %v\n", name, err)
				}
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "opacity: unknown command %q\n\n", strings.Join(args, " "))
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: opacity <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.deprecated {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"opacity <command> -h\" for the flags of a command.")
}

// newFlagSet returns a flag set for a subcommand that reports errors instead
// of exiting, and prints its usage to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("opacity "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// setUsage makes text (its first line "usage: opacity …", then a blank
// line and what the command does) and the flags' defaults the usage of fs,
// printed to the flag set's output.
func setUsage(fs *flag.FlagSet, text string) {
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), text)
		fs.PrintDefaults()
	}
}

// parseFlags parses args and turns a flag error into errUsage (the flag
// package has already printed the problem and the usage).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// parseFlagsNoArgs is parseFlags for commands that take no positional
// arguments.
func parseFlagsNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// requireFlags prints the usage and returns an error naming the first of the
// named (string) flags that was left empty.
func requireFlags(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			fs.Usage()
			return fmt.Errorf("--%s is required", n)
		}
	}
	return nil
}

// writeJSON writes v to w as one indented JSON value.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// absPath returns p as an absolute path ("" stays "").
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
