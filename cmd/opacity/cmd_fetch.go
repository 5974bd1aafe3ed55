package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/covidxray/opacity/datasets/fetch"
)

func init() {
	register(command{
		name:    "data fetch",
		summary: "download the real data (annotations, clinical table, Cohen, cxr-seg, Brixia scores, covid-qu-ex) into a data folder",
		run:     runDataFetch,
	})
}

// fetchFlags are the flags of data fetch.
type fetchFlags struct {
	data, api, raw   *string
	workers, retries *int
}

func addFetchFlags(fs *flag.FlagSet) *fetchFlags {
	f := &fetchFlags{
		data:    addDataFlag(fs, "data folder to fill (created; files already complete are kept) (required)"),
		workers: fs.Int("workers", 4, "files downloaded at once"),
		retries: fs.Int("retries", 2, "further attempts after a network or server error"),
		api:     fs.String("api", "https://api.github.com", "GitHub API base URL (for a mirror or a test server)"),
		raw:     fs.String("raw", "https://raw.githubusercontent.com", "raw file base URL (for a mirror or a test server)"),
	}
	addDeprecatedAlias(fs, "to", "data")
	return f
}

func runDataFetch(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data fetch", stderr)
	f := addFetchFlags(fs)
	setUsage(fs, `usage: opacity data fetch --data DIR

Downloads what the canonical layout needs from the source repositories (see
fetch.Run), every file checked against the git SHA-1 of the listing; brixia/
and covid-qu-ex/ come from pinned commits. Progress on stderr, a summary on stdout.
Run it again to resume; it exits with status 1 while anything is missing or failed
(the folders that did come are usable). The older spelling --to still works, with a note.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data"); err != nil {
		return err
	}
	if *f.workers < 1 || *f.retries < 0 {
		return fmt.Errorf("--workers %d, --retries %d: want at least 1 and 0", *f.workers, *f.retries)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := fetch.Run(ctx, fetch.Options{
		To: *f.data, BaseAPI: *f.api, BaseRaw: *f.raw, Progress: stderr, Workers: *f.workers, Retries: *f.retries,
	})
	if rep != nil {
		writeFetchReport(stdout, rep)
	}
	if err != nil {
		return err
	}
	if !rep.Complete() {
		return fmt.Errorf("incomplete: %d files failed, %d missing (run it again to retry the failed ones)", len(rep.Failed), len(rep.Missing))
	}
	return nil
}

// writeFetchReport prints what was fetched and what is missing.
func writeFetchReport(w io.Writer, rep *fetch.Report) {
	fmt.Fprintf(w, "data: %s\n", rep.Dir)
	for _, r := range rep.Repos {
		fmt.Fprintf(w, "  %-70s needed %4d  downloaded %4d  already complete %4d  failed %3d\n", r.Repo, r.Needed, r.Downloaded, r.Skipped, r.Failed)
	}
	fmt.Fprintf(w, "downloaded %d files (%d bytes), %d already complete\n", rep.Downloaded, rep.Bytes, rep.Skipped)
	for _, d := range rep.Derived {
		fmt.Fprintf(w, "computed %s\n", d)
	}
	if len(rep.Failed) > 0 {
		fmt.Fprintf(w, "failed (%d; not written):\n", len(rep.Failed))
		for _, f := range rep.Failed {
			fmt.Fprintf(w, "  %s: %s\n", f.File, f.Error)
		}
	}
	if len(rep.Missing) > 0 {
		fmt.Fprintf(w, "missing from the sources (%d):\n", len(rep.Missing))
		for _, m := range rep.Missing {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if rep.Complete() {
		fmt.Fprintln(w, "complete")
	}
}
