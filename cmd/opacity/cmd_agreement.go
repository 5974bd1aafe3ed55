package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/paper"
)

func init() {
	register(command{
		name:    "agreement",
		summary: "agreement of the paper's annotations (cohen/) with the radiologists' masks (cxr-seg/) on shared images",
		run:     runAgreement,
	})
}

// agreementFlags are the flags of agreement.
type agreementFlags struct {
	data, figures *string
	json          *bool
}

func addAgreementFlags(fs *flag.FlagSet) *agreementFlags {
	f := &agreementFlags{
		data:    addDataFlag(fs, "data folder with cohen/ and cxr-seg/ (required)"),
		json:    fs.Bool("json", false, "print one JSON object instead of a report"),
		figures: addFiguresFlag(fs, "folder to write the Bland-Altman plot (agreement-bland-altman) and the image grid (agreement-grid) into, PNG and SVG"),
	}
	addDeprecatedAlias(fs, "plots", "figures")
	return f
}

func runAgreement(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agreement", stderr)
	f := addAgreementFlags(fs)
	setUsage(fs, `usage: opacity agreement --data DIR [--json] [--figures DIR]

Compares two annotations of the images that cohen/annotations (a: the paper's authors)
and cxr-seg (b: radiologists) share, matched by file stem, both on the image's pixel
grid: lung IoU |La∩Lb|/|La∪Lb|, opacity IoU within the lungs IoU(Oa∩La, Ob∩Lb)
(1 when neither has opacity in its lungs), opacity % 100|O∩L|/|L| of each
(paper.CompareAnnotations: notebook 07 without the model). The older spelling --plots
still works, with a note.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data"); err != nil {
		return err
	}
	x, err := paper.CompareAnnotations(*f.data, *f.figures != "")
	if err != nil {
		return err
	}
	for _, p := range x.Problems {
		fmt.Fprintf(stderr, "%s (left out)\n", p)
	}
	ag := x.Agreement
	for _, e := range ag.Errors {
		fmt.Fprintf(stderr, "%s: %s (pair left out)\n", e.File, e.Error)
	}
	if ag.Pairs == 0 {
		return fmt.Errorf("%s: no image annotated in both %s/annotations and %s", *f.data, datasets.CohortCohen, datasets.CohortCXRSeg)
	}
	if err := saveFigures(x.SaveFigures, *f.figures, "agreement-", stderr); err != nil {
		return err
	}
	if *f.json {
		return writeJSON(stdout, ag)
	}
	return writeAgreementText(stdout, x)
}

func writeAgreementText(w io.Writer, x *paper.Annotations) error {
	kind := "real data"
	if x.Synthetic {
		kind = "SYNTHETIC data"
	}
	ag := x.Agreement
	var sb strings.Builder
	fmt.Fprintf(&sb, "Agreement of two annotations of the same images: a = the paper's authors (cohen/annotations), b = radiologists (cxr-seg)\n")
	fmt.Fprintf(&sb, "data: %s (%s); %d images in common, compared on each image's pixel grid\n\n", x.Data, kind, ag.Pairs)
	if err := writeTable(&sb, x.Table()); err != nil {
		return err
	}
	fmt.Fprintf(&sb, "\nOpacity IoU is IoU(Oa∩La, Ob∩Lb): each annotation's opacity within its own lungs.")
	if len(ag.BothClear) > 0 {
		fmt.Fprintf(&sb, " Neither has opacity in the lungs of %s: scored 1.", strings.Join(ag.BothClear, ", "))
	}
	fmt.Fprintln(&sb)
	if ag.Spearman.N > 0 {
		fmt.Fprintf(&sb, "Spearman rho of the opacity %%: %.3f (95%% CI %.3f to %.3f; Fisher z, variance 1.06/(n-3))\n", ag.Spearman.Rho, ag.Spearman.CI95[0], ag.Spearman.CI95[1])
	} else {
		fmt.Fprintf(&sb, "Spearman rho of the opacity %%: %.3f\n", ag.OpacityPctSpearman)
	}
	if ba := ag.BlandAltman; ba.N > 0 {
		fmt.Fprintf(&sb, "Bland-Altman, opacity %% a - b: bias %.1f points, 95%% limits of agreement %.1f to %.1f\n", ba.Bias, ba.Lower, ba.Upper)
	}
	fmt.Fprintf(&sb, "\nThese are the ceiling against which a model's IoU on these images should be read.\n")
	_, err := io.WriteString(w, sb.String())
	return err
}
