package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/covidxray/opacity/datasets"
)

func init() {
	register(command{
		name:    "data stats",
		summary: "count annotations, images, patients, labels and problems in a data folder",
		run:     runDataStats,
	})
}

func runDataStats(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data stats", stderr)
	dataDir := addDataFlag(fs, "data folder with covid-ar/, cohen/, cxr-seg/ (required)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	setUsage(fs, `usage: opacity data stats --data DIR [--json]

Reads every cohort of DIR (a missing cohort folder is an empty cohort) and
prints what it holds and every file it could not read.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data"); err != nil {
		return err
	}
	st, err := datasets.ComputeStats(*dataDir)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, st)
	}
	return writeStatsTable(stdout, *dataDir, st)
}

// writeStatsTable prints the statistics for a person.
func writeStatsTable(w io.Writer, dataDir string, st *datasets.Stats) error {
	kind := "real"
	if st.Synthetic {
		kind = "SYNTHETIC"
	}
	ar, co, cx, qu := st.Cohorts.CovidAR, st.Cohorts.Cohen, st.Cohorts.CXRSeg, st.Cohorts.QUEx
	fmt.Fprintf(w, "data: %s (%s)\n\n", dataDir, kind)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "cohort\tfiles\timages decoded\tpatients\twithout opacity\tother\terrors\twarnings\t")
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t\n", datasets.CohortCovidAR, ar.Annotations, ar.ImagesDecoded, ar.Patients, ar.WithoutOpacity,
		fmt.Sprintf("%d patients without clinical row", len(ar.PatientsWithoutClinicalRow)), len(ar.Errors), len(ar.Warnings))
	fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\t%d\t%d\t\n", datasets.CohortCohen, co.Annotations, co.ImagesDecoded, "-", co.WithoutOpacity,
		fmt.Sprintf("%d with severity score", co.WithSeverityScore), len(co.Errors), len(co.Warnings))
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t\n", datasets.CohortCXRSeg, cx.Images, cx.ImagesDecoded, cx.Patients, cx.WithoutOpacity,
		fmt.Sprintf("%d without both lungs", cx.WithoutBothLungs), len(cx.Errors), len(cx.Warnings))
	fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t\n", datasets.CohortCovidQUEx, qu.Images, qu.ImagesDecoded, qu.Groups, qu.WithoutOpacity,
		fmt.Sprintf("%d without both lungs, %d near-duplicates", qu.WithoutBothLungs, qu.NearDuplicates), len(qu.Errors), len(qu.Warnings))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s labels (shapes): %s\n", datasets.CohortCovidAR, countList(ar.Labels))
	fmt.Fprintf(w, "%s classes (masks): %s\n", datasets.CohortCXRSeg, countList(cx.Classes))
	if qu.Images > 0 {
		fmt.Fprintf(w, "%s classes (images): %s\n", datasets.CohortCovidQUEx, countList(qu.Classes))
	}
	if len(ar.PatientsWithoutClinicalRow) > 0 {
		fmt.Fprintf(w, "%s patients without clinical row: %s\n", datasets.CohortCovidAR, strings.Join(ar.PatientsWithoutClinicalRow, " "))
	}
	for _, c := range []struct {
		name             string
		errors, warnings []datasets.FileError
	}{
		{datasets.CohortCovidAR, ar.Errors, ar.Warnings},
		{datasets.CohortCohen, co.Errors, co.Warnings},
		{datasets.CohortCXRSeg, cx.Errors, cx.Warnings},
		{datasets.CohortCovidQUEx, qu.Errors, qu.Warnings},
	} {
		if len(c.errors) > 0 {
			fmt.Fprintf(w, "\n%s errors:\n", c.name)
			for _, e := range c.errors {
				fmt.Fprintf(w, "  %s: %s\n", e.File, e.Error)
			}
		}
		if len(c.warnings) > 0 {
			fmt.Fprintf(w, "\n%s warnings:\n", c.name)
			for _, e := range c.warnings {
				fmt.Fprintf(w, "  %s: %s\n", e.File, e.Error)
			}
		}
	}
	return nil
}

// countList formats counts as "a 3, b 1", sorted by name; "none" when empty.
func countList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
