package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/covidxray/opacity/paper"
	"github.com/covidxray/opacity/research"
)

func init() {
	register(command{
		name:    "severity",
		summary: "ROC of the opacity % (manual masks) for ICU admission and mortality, with CIs (Figure 3a)",
		run:     runSeverity,
	})
}

// severityFlags are the flags of severity.
type severityFlags struct {
	data, aggregate, scores, scoreColumn, figures *string
	json, cohen                                   *bool
	bootstrap                                     *int
	seed                                          *int64
}

func addSeverityFlags(fs *flag.FlagSet) *severityFlags {
	f := &severityFlags{
		data:        addDataFlag(fs, "data folder with covid-ar/ (and cohen/ for --cohen) (required)"),
		json:        fs.Bool("json", false, "print one JSON object instead of a report"),
		cohen:       fs.Bool("cohen", false, "add cohen/: the Spearman correlation of its opacity % with Cohen et al.'s radiologist severity scores"),
		aggregate:   fs.String("aggregate", string(paper.Aggregate), "per-patient score from the patient's images: max, first (earliest study) or mean"),
		bootstrap:   fs.Int("bootstrap", 2000, "bootstrap resamples (patients resampled, stratified by outcome)"),
		seed:        addSeedFlag(fs, 1, "seed of the bootstrap"),
		scores:      fs.String("scores", "", "CSV of another per-image score of the covid-ar images to compare with the opacity % (columns: file and --score-column)"),
		scoreColumn: fs.String("score-column", "score", "score column of --scores"),
		figures:     addFiguresFlag(fs, "folder to write the figures into (severity-roc: Figure 3a; with --cohen severity-cohen-scatter; with --scores severity-scores-roc, as Figure 4), PNG and SVG"),
	}
	addDeprecatedAlias(fs, "plots", "figures")
	return f
}

func runSeverity(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("severity", stderr)
	f := addSeverityFlags(fs)
	setUsage(fs, `usage: opacity severity --data DIR [--json] [--cohen] [--aggregate max|first|mean] [--bootstrap 2000] [--seed 1] [--scores FILE.csv [--score-column NAME]] [--figures DIR]

Opacity percentage 100*|O∩L|/|L| of every covid-ar annotation (manual masks), and its ROC
for ICU admission and mortality per image and per patient: AUC, DeLong 95% CI, patient
bootstrap 95% CI, Youden cut (paper.ReadSeverity: Figure 3a of notebook 04 without a model).
Images of patients without a clinical row are listed with null outcomes and left out of the
ROC. The older spelling --plots still works, with a note.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data"); err != nil {
		return err
	}
	agg, err := research.ParseAggregate(*f.aggregate)
	if err != nil {
		return fmt.Errorf("--aggregate: %w", err)
	}
	if *f.bootstrap < 1 {
		return fmt.Errorf("--bootstrap %d: want at least 1 resample", *f.bootstrap)
	}
	sv, err := paper.ReadSeverity(*f.data, paper.SeverityOptions{Aggregate: agg, Bootstrap: research.BootstrapOptions{Resamples: *f.bootstrap, Seed: uint64(*f.seed)},
		Cohen: *f.cohen, ScoresCSV: *f.scores, ScoreColumn: *f.scoreColumn})
	if err != nil {
		return err
	}
	for _, p := range sv.Problems {
		fmt.Fprintln(stderr, "left out:", p)
	}
	if err := saveFigures(sv.SaveFigures, *f.figures, "severity-", stderr); err != nil {
		return err
	}
	if *f.json {
		return writeJSON(stdout, sv)
	}
	return writeSeverityText(stdout, sv, *f.seed)
}

// writeSeverityText prints the analysis for a person.
func writeSeverityText(w io.Writer, sv *paper.Severity, seed int64) error {
	kind := "real data"
	if sv.Synthetic {
		kind = "SYNTHETIC data"
	}
	n := sv.Counts()
	var b strings.Builder
	fmt.Fprintf(&b, "Opacity percentage (manual masks) as a predictor of ICU admission and mortality\n")
	fmt.Fprintf(&b, "data: %s (%s)\n", sv.Data, kind)
	fmt.Fprintf(&b, "%d images of %d patients; %d with a clinical row", n.Images, n.Patients, n.WithOutcome)
	if len(n.NoRow) > 0 {
		fmt.Fprintf(&b, " (no row: %s)", strings.Join(n.NoRow, ", "))
	}
	fmt.Fprintf(&b, "\n%d files left out, %d warnings while reading\n\n", len(sv.Problems), sv.Warnings)
	fmt.Fprintf(&b, "AUC with 95%% CIs: DeLong (normal, clipped to [0, 1]) and bootstrap (%d resamples of patients, stratified by outcome, seed %d)\n", sv.Options.Bootstrap.Resamples, seed)
	fmt.Fprintf(&b, "Youden cut: opacity %% >= threshold called positive\n\n")
	if err := writeTable(&b, sv.ROCTable()); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nPer-image intervals: the bootstrap resamples patients (images of one patient are not independent); the DeLong interval treats images as independent.\n")
	if c := sv.Cohen; c != nil {
		fmt.Fprintf(&b, "\nCohen's validation images: opacity %% (manual masks) vs the radiologists' severity scores (mean of 3), n = %d\n", c.N)
		fmt.Fprintf(&b, "  Spearman rho, geographic extent (0-8): %.3f (95%% CI %.3f to %.3f)\n", c.SpearmanGeographic.Rho, c.SpearmanGeographic.CI95[0], c.SpearmanGeographic.CI95[1])
		fmt.Fprintf(&b, "  Spearman rho, opacity degree (0-6):    %.3f (95%% CI %.3f to %.3f)\n", c.SpearmanOpacity.Rho, c.SpearmanOpacity.CI95[0], c.SpearmanOpacity.CI95[1])
		fmt.Fprintf(&b, "  (CI: Fisher z with variance 1.06/(n-3), Fieller et al. 1957)\n")
		if len(c.Unscored) > 0 {
			fmt.Fprintf(&b, "  annotations without a score: %s\n", strings.Join(c.Unscored, ", "))
		}
	}
	if s := sv.Scores; s != nil {
		fmt.Fprintf(&b, "\nOpacity %% vs %s on the %d images with both (%d without the score)\n", s.Name, s.Images, len(s.Missing))
		if err := writeTable(&b, sv.ScoresTable()); err != nil {
			return err
		}
		fmt.Fprintf(&b, "(per image the paired test treats images of one patient as independent)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable prints a table of package paper with aligned columns.
func writeTable(w io.Writer, t paper.Table) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
