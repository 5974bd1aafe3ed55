package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

func init() {
	register(command{
		name:    "severity",
		summary: "ROC of the opacity % (manual masks) for ICU admission and mortality, with CIs",
		run:     runSeverity,
	})
}

// severityReport is the JSON output of "opacity severity" (keys as in the
// command's documented schema).
type severityReport struct {
	Synthetic bool                      `json:"synthetic"`
	Source    string                    `json:"source"`
	Images    []research.SeverityImage  `json:"images"`
	ROC       research.SeverityROC      `json:"roc"`
	Cohen     *research.CohenComparison `json:"cohen,omitempty"`
	Scores    *research.ScoreComparison `json:"scores,omitempty"`
	problems  []string                  // files left out, for the text report and stderr
	warnings  int                       // recoverable problems of the files read
	cohenLeft []string                  // cohen annotations without a severity score
	scoreName string
}

func runSeverity(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("severity", stderr)
	dataDir := fs.String("data", "", "data folder with covid-ar/ (and cohen/ for --cohen) (required)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a report")
	cohen := fs.Bool("cohen", false, "add the Spearman correlation of the opacity % of cohen/ with Cohen's severity scores")
	aggName := fs.String("aggregate", "max", "per-patient score from the patient's images: max, first (earliest study) or mean")
	resamples := fs.Int("bootstrap", 2000, "bootstrap resamples (patients resampled, stratified by outcome)")
	seed := fs.Uint64("seed", 1, "seed of the bootstrap")
	scoresCSV := fs.String("scores", "", "CSV of another per-image score of the covid-ar images to compare with the opacity % (columns: file and --score-column)")
	scoreCol := fs.String("score-column", "score", "score column of --scores")
	plotDir := fs.String("plots", "", "folder to write the figures into (ROC panels; with --cohen the scatter; with --scores the comparison), PNG and SVG")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: opacity severity --data DIR [--json] [--cohen] [--aggregate max|first|mean] [--bootstrap 2000] [--seed 1] [--scores FILE.csv [--score-column NAME]] [--plots DIR]")
		fmt.Fprintln(stderr, "\nOpacity percentage 100*|O∩L|/|L| of every covid-ar annotation (manual masks), and its ROC")
		fmt.Fprintln(stderr, "for ICU admission and mortality per image and per patient: AUC, DeLong 95% CI, patient")
		fmt.Fprintln(stderr, "bootstrap 95% CI, Youden cut. Images of patients without a clinical row are listed with")
		fmt.Fprintln(stderr, "null outcomes and left out of the ROC.")
		fs.PrintDefaults()
	}
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data"); err != nil {
		return err
	}
	agg, err := research.ParseAggregate(*aggName)
	if err != nil {
		return fmt.Errorf("--aggregate: %w", err)
	}
	if *resamples < 1 {
		return fmt.Errorf("--bootstrap %d: want at least 1 resample", *resamples)
	}
	rep, err := severity(*dataDir, agg, research.BootstrapOptions{Resamples: *resamples, Seed: *seed}, *cohen, *scoresCSV, *scoreCol)
	if err != nil {
		return err
	}
	for _, p := range rep.problems {
		fmt.Fprintln(stderr, "left out:", p)
	}
	if *plotDir != "" {
		paths, err := severityPlots(*plotDir, rep)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintln(stderr, "wrote", p)
		}
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	return writeSeverityText(stdout, *dataDir, rep, *resamples, *seed)
}

// severity computes the whole report.
func severity(dataDir string, agg research.Aggregate, opt research.BootstrapOptions, withCohen bool, scoresCSV, scoreCol string) (*severityReport, error) {
	rep := &severityReport{Synthetic: datasets.IsSynthetic(dataDir), Source: "manual", Images: []research.SeverityImage{}}
	clinicalPath := filepath.Join(dataDir, datasets.CohortCovidAR, datasets.PatientInfoFile)
	clinical, err := datasets.ReadClinical(clinicalPath)
	if err != nil {
		return nil, fmt.Errorf("clinical table: %w", err)
	}
	c, err := datasets.ScanCohort(dataDir, datasets.CohortCovidAR, datasets.LoadOptions{}, func(s *datasets.Sample) error {
		pct, err := research.OpacityPercent(s.Lung, s.Opacity)
		if err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("%s/%s: %v", datasets.CohortCovidAR, s.File, err))
			return nil
		}
		rep.Images = append(rep.Images, research.NewSeverityImage(s.File, s.Patient, pct, clinical))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range c.Errors {
		rep.problems = append(rep.problems, fmt.Sprintf("%s/%s: %s", datasets.CohortCovidAR, e.File, e.Error))
	}
	rep.warnings = len(c.Warnings)
	if len(rep.Images) == 0 {
		return nil, fmt.Errorf("%s: no annotation with lungs in %s", dataDir, c.Dir)
	}
	if rep.ROC, err = research.AnalyzeSeverity(rep.Images, research.SeverityOptions{Aggregate: agg, Bootstrap: opt}); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Dir, err)
	}
	if withCohen {
		if err := addCohen(dataDir, rep); err != nil {
			return nil, err
		}
	}
	if scoresCSV != "" {
		other, err := research.ReadScoreCSV(scoresCSV, scoreCol)
		if err != nil {
			return nil, fmt.Errorf("--scores: %w", err)
		}
		name := scoreCol + " (" + filepath.Base(scoresCSV) + ")"
		sc, err := research.CompareScores(rep.Images, name, other, agg, opt)
		if err != nil {
			return nil, fmt.Errorf("--scores %s: %w", scoresCSV, err)
		}
		rep.Scores = &sc
		rep.scoreName = scoreCol
	}
	return rep, nil
}

// addCohen correlates the opacity % of the cohen/ annotations with Cohen's
// radiologist scores.
func addCohen(dataDir string, rep *severityReport) error {
	scoresPath := filepath.Join(dataDir, datasets.CohortCohen, datasets.SeverityScoresFile)
	scores, err := datasets.ReadSeverityScores(scoresPath)
	if err != nil {
		return fmt.Errorf("--cohen: %w", err)
	}
	pct := map[string]float64{}
	c, err := datasets.ScanCohort(dataDir, datasets.CohortCohen, datasets.LoadOptions{}, func(s *datasets.Sample) error {
		p, err := research.OpacityPercent(s.Lung, s.Opacity)
		if err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("%s/%s: %v", datasets.CohortCohen, s.File, err))
			return nil
		}
		pct[s.Stem] = p
		return nil
	})
	if err != nil {
		return fmt.Errorf("--cohen: %w", err)
	}
	for _, e := range c.Errors {
		rep.problems = append(rep.problems, fmt.Sprintf("%s/%s: %s", datasets.CohortCohen, e.File, e.Error))
	}
	cc, err := research.CompareCohenScores(pct, scores)
	if err != nil {
		return fmt.Errorf("--cohen (%s, %s): %w", c.Dir, scoresPath, err)
	}
	rep.Cohen = &cc
	rep.cohenLeft = cc.Unscored
	return nil
}

func fmtCI(ci [2]float64) string { return fmt.Sprintf("%.3f–%.3f", ci[0], ci[1]) }

// writeSeverityText prints the report for a person.
func writeSeverityText(w io.Writer, dataDir string, rep *severityReport, resamples int, seed uint64) error {
	kind := "real data"
	if rep.Synthetic {
		kind = "SYNTHETIC data"
	}
	withOutcome := 0
	patients := map[string]bool{}
	noRow := map[string]bool{}
	for _, im := range rep.Images {
		patients[im.Patient] = true
		if im.ICU != nil {
			withOutcome++
		} else {
			noRow[im.Patient] = true
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Opacity percentage (manual masks) as a predictor of ICU admission and mortality\n")
	fmt.Fprintf(&b, "data: %s (%s)\n", dataDir, kind)
	fmt.Fprintf(&b, "%d images of %d patients; %d with a clinical row", len(rep.Images), len(patients), withOutcome)
	if len(noRow) > 0 {
		var ids []string
		for id := range noRow {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(&b, " (no row: %s)", strings.Join(ids, ", "))
	}
	fmt.Fprintf(&b, "\n%d files left out, %d warnings while reading\n\n", len(rep.problems), rep.warnings)
	fmt.Fprintf(&b, "AUC with 95%% CIs: DeLong (normal, clipped to [0, 1]) and bootstrap (%d resamples of patients, stratified by outcome, seed %d)\n", resamples, seed)
	fmt.Fprintf(&b, "Youden cut: opacity %% >= threshold called positive\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "level\toutcome\tn_pos\tn_neg\tAUC\tDeLong CI\tbootstrap CI\tYouden cut\tsens\tspec")
	rows := []struct {
		level, outcome string
		r              research.ROCSummary
	}{
		{"image", "ICU", rep.ROC.Image.ICU},
		{"image", "mortality", rep.ROC.Image.Mortality},
		{"patient (" + string(rep.ROC.Patient.Aggregate) + ")", "ICU", rep.ROC.Patient.ICU},
		{"patient (" + string(rep.ROC.Patient.Aggregate) + ")", "mortality", rep.ROC.Patient.Mortality},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%s\t%s\t%.2f%%\t%.2f\t%.2f\n", r.level, r.outcome, r.r.NPos, r.r.NNeg, r.r.AUC,
			fmtCI(r.r.CI95DeLong), fmtCI(r.r.CI95Bootstrap), r.r.Youden.Threshold, r.r.Youden.Sensitivity, r.r.Youden.Specificity)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nPer-image intervals: the bootstrap resamples patients (images of one patient are not independent); the DeLong interval treats images as independent.\n")
	if c := rep.Cohen; c != nil {
		fmt.Fprintf(&b, "\nCohen's validation images: opacity %% (manual masks) vs the radiologists' severity scores (mean of 3), n = %d\n", c.N)
		fmt.Fprintf(&b, "  Spearman rho, geographic extent (0-8): %.3f (95%% CI %.3f to %.3f)\n", c.SpearmanGeographic.Rho, c.SpearmanGeographic.CI95[0], c.SpearmanGeographic.CI95[1])
		fmt.Fprintf(&b, "  Spearman rho, opacity degree (0-6):    %.3f (95%% CI %.3f to %.3f)\n", c.SpearmanOpacity.Rho, c.SpearmanOpacity.CI95[0], c.SpearmanOpacity.CI95[1])
		fmt.Fprintf(&b, "  (CI: Fisher z with variance 1.06/(n-3), Fieller et al. 1957)\n")
		if len(rep.cohenLeft) > 0 {
			fmt.Fprintf(&b, "  annotations without a score: %s\n", strings.Join(rep.cohenLeft, ", "))
		}
	}
	if s := rep.Scores; s != nil {
		fmt.Fprintf(&b, "\nOpacity %% vs %s on the %d images with both (%d without the score)\n", s.Name, s.Images, len(s.Missing))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "level\toutcome\tAUC opacity %\tAUC score\tdifference (95% CI)\tpaired DeLong p")
		for _, r := range []struct {
			level, outcome string
			c              research.PairedComparison
		}{
			{"image", "ICU", s.ImageICU}, {"image", "mortality", s.ImageMortality},
			{"patient (" + string(s.Aggregate) + ")", "ICU", s.PatientICU}, {"patient (" + string(s.Aggregate) + ")", "mortality", s.PatientMortality},
		} {
			fmt.Fprintf(tw, "%s\t%s\t%.3f (%s)\t%.3f (%s)\t%+.3f (%.3f to %.3f)\t%.3g\n", r.level, r.outcome,
				r.c.Opacity.AUC, fmtCI(r.c.Opacity.CI95DeLong), r.c.Other.AUC, fmtCI(r.c.Other.CI95DeLong),
				r.c.Paired.Diff, r.c.Paired.CI95[0], r.c.Paired.CI95[1], r.c.Paired.P)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(&b, "(per image the paired test treats images of one patient as independent)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// severityPlots writes the figures of the report into dir and returns
// their paths.
func severityPlots(dir string, rep *severityReport) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tag := ""
	if rep.Synthetic {
		tag = " (SYNTHETIC data)"
	}
	agg := string(rep.ROC.Patient.Aggregate)
	panel := func(title string, img, pat research.ROCSummary) plots.ROCPanel {
		p := plots.ROCPanel{Title: title, Curves: []plots.ROCCurve{
			plots.CurveFromSummary(fmt.Sprintf("per image (%d+, %d−)", img.NPos, img.NNeg), img),
			plots.CurveFromSummary(fmt.Sprintf("per patient, %s (%d+, %d−)", agg, pat.NPos, pat.NNeg), pat),
		}}
		p.Curves[1].Dashed = true
		return p
	}
	f, err := plots.ROCFigure("Opacity % from manual masks"+tag, []plots.ROCPanel{
		panel("ICU admission", rep.ROC.Image.ICU, rep.ROC.Patient.ICU),
		panel("Mortality", rep.ROC.Image.Mortality, rep.ROC.Patient.Mortality),
	})
	if err != nil {
		return nil, err
	}
	paths, err := f.SaveAll(filepath.Join(dir, "severity-roc"))
	if err != nil {
		return nil, err
	}
	if c := rep.Cohen; c != nil {
		var x, geo, op []float64
		for _, p := range c.Pairs {
			x = append(x, p.OpacityPct)
			geo = append(geo, p.GeographicMean)
			op = append(op, p.OpacityMean)
		}
		f, err := plots.ScatterFigure("Opacity % vs Cohen et al.'s radiologist scores"+tag, []plots.ScatterPanel{
			{Title: "Geographic extent", XLabel: "opacity % (manual masks)", YLabel: "geographic_mean (0–8)", X: x, Y: geo, Corr: c.SpearmanGeographic},
			{Title: "Opacity degree", XLabel: "opacity % (manual masks)", YLabel: "opacity_mean (0–6)", X: x, Y: op, Corr: c.SpearmanOpacity},
		})
		if err != nil {
			return nil, err
		}
		more, err := f.SaveAll(filepath.Join(dir, "severity-cohen-scatter"))
		if err != nil {
			return nil, err
		}
		paths = append(paths, more...)
	}
	if s := rep.Scores; s != nil {
		panel := func(title string, c research.PairedComparison) plots.ROCPanel {
			p := plots.ROCPanel{Title: title, Note: fmt.Sprintf("per patient (%s), paired DeLong p = %.2g", s.Aggregate, c.Paired.P), Curves: []plots.ROCCurve{
				plots.CurveFromSummary("opacity %", c.Opacity),
				plots.CurveFromSummary(rep.scoreName, c.Other),
			}}
			return p
		}
		f, err := plots.ROCFigure("Opacity % vs "+rep.scoreName+tag, []plots.ROCPanel{
			panel("ICU admission", s.PatientICU), panel("Mortality", s.PatientMortality),
		})
		if err != nil {
			return nil, err
		}
		more, err := f.SaveAll(filepath.Join(dir, "severity-scores-roc"))
		if err != nil {
			return nil, err
		}
		paths = append(paths, more...)
	}
	return paths, nil
}
