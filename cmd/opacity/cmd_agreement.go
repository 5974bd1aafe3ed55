package main

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

func init() {
	register(command{
		name:    "agreement",
		summary: "agreement of the paper's annotations (cohen/) with the radiologists' masks (cxr-seg/) on shared images",
		run:     runAgreement,
	})
}

func runAgreement(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agreement", stderr)
	dataDir := fs.String("data", "", "data folder with cohen/ and cxr-seg/ (required)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of a report")
	plotDir := fs.String("plots", "", "folder to write the Bland-Altman plot and the image grid into, PNG and SVG")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: opacity agreement --data DIR [--json] [--plots DIR]")
		fmt.Fprintln(stderr, "\nCompares two annotations of the images that cohen/annotations (a: the paper's authors)")
		fmt.Fprintln(stderr, "and cxr-seg (b: radiologists) share, matched by file stem, both on the image's pixel")
		fmt.Fprintln(stderr, "grid: lung IoU |La∩Lb|/|La∪Lb|, opacity IoU within the lungs IoU(Oa∩La, Ob∩Lb)")
		fmt.Fprintln(stderr, "(1 when neither has opacity in its lungs), opacity % 100|O∩L|/|L| of each.")
		fs.PrintDefaults()
	}
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data"); err != nil {
		return err
	}
	opt := datasets.LoadOptions{Images: *plotDir != ""}
	a, err := datasets.LoadCohort(*dataDir, datasets.CohortCohen, opt)
	if err != nil {
		return err
	}
	stems := map[string]bool{}
	for _, s := range a.Samples {
		stems[s.Stem] = true
	}
	var b []*datasets.Sample
	cb, err := datasets.ScanCohort(*dataDir, datasets.CohortCXRSeg, opt, func(s *datasets.Sample) error {
		if stems[s.Stem] {
			b = append(b, s)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range []*datasets.Cohort{a, cb} {
		for _, e := range c.Errors {
			fmt.Fprintf(stderr, "%s/%s: %s (left out)\n", c.Name, e.File, e.Error)
		}
	}
	ag := research.CompareAnnotations(a.Samples, b)
	for _, e := range ag.Errors {
		fmt.Fprintf(stderr, "%s: %s (pair left out)\n", e.File, e.Error)
	}
	if ag.Pairs == 0 {
		return fmt.Errorf("%s: no image annotated in both %s/annotations and %s", *dataDir, datasets.CohortCohen, datasets.CohortCXRSeg)
	}
	if *plotDir != "" {
		paths, err := agreementPlots(*plotDir, datasets.IsSynthetic(*dataDir), ag, a.Samples, b)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintln(stderr, "wrote", p)
		}
	}
	if *asJSON {
		return writeJSON(stdout, ag)
	}
	return writeAgreementText(stdout, *dataDir, datasets.IsSynthetic(*dataDir), ag)
}

func writeAgreementText(w io.Writer, dataDir string, synthetic bool, ag research.Agreement) error {
	kind := "real data"
	if synthetic {
		kind = "SYNTHETIC data"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Agreement of two annotations of the same images: a = the paper's authors (cohen/annotations), b = radiologists (cxr-seg)\n")
	fmt.Fprintf(&sb, "data: %s (%s); %d images in common, compared on each image's pixel grid\n\n", dataDir, kind, ag.Pairs)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "image\tlung IoU\topacity IoU\topacity % a\topacity % b")
	for _, im := range ag.Images {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.1f\t%.1f\n", im.Image, im.LungIoU, im.OpacityIoU, im.OpacityPctA, im.OpacityPctB)
	}
	fmt.Fprintf(tw, "mean\t%.3f\t%.3f\t\t\n", ag.LungIoUMean, ag.OpacityIoUMean)
	if err := tw.Flush(); err != nil {
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

// agreementPlots writes the Bland-Altman plot and, when the images were
// read, the grid of both annotations on every compared image.
func agreementPlots(dir string, synthetic bool, ag research.Agreement, a, b []*datasets.Sample) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tag := ""
	if synthetic {
		tag = " (SYNTHETIC data)"
	}
	var paths []string
	if ag.BlandAltman.N > 0 {
		f, err := plots.BlandAltmanFigure("Two annotations of the same images"+tag, "opacity %", "paper", "cxr-seg", ag.BlandAltman)
		if err != nil {
			return nil, err
		}
		p, err := f.SaveAll(filepath.Join(dir, "agreement-bland-altman"))
		if err != nil {
			return nil, err
		}
		paths = append(paths, p...)
	}
	byStem := map[string][2]*datasets.Sample{}
	for _, s := range a {
		byStem[s.Stem] = [2]*datasets.Sample{s, nil}
	}
	for _, s := range b {
		if p, ok := byStem[s.Stem]; ok {
			byStem[s.Stem] = [2]*datasets.Sample{p[0], s}
		}
	}
	var cells []plots.GridImage
	for _, im := range ag.Images {
		p := byStem[im.Image]
		img := p[1].Image
		if img == nil {
			img = p[0].Image
		}
		if img == nil || img.Bounds().Dx() != p[0].Lung.Width || img.Bounds().Dy() != p[0].Lung.Height {
			continue
		}
		cells = append(cells, plots.GridImage{
			Title: fmt.Sprintf("%s\nIoU: lung %.2f, opac. %.2f", im.Image, im.LungIoU, im.OpacityIoU),
			Image: img,
			Overlays: []plots.Overlay{
				{Mask: p[0].Lung, Color: color.RGBA{255, 230, 150, 255}, Label: "lungs, paper (a)"},
				{Mask: p[1].Lung, Color: color.RGBA{150, 230, 255, 255}, Label: "lungs, cxr-seg (b)"},
				{Mask: p[0].Opacity, Color: plots.ManualColor, Label: "opacity, paper (a)", Fill: true},
				{Mask: p[1].Opacity, Color: plots.PredictedColor, Label: "opacity, cxr-seg (b)"},
			},
		})
	}
	if len(cells) > 0 {
		f, err := plots.ImageGrid("Paper's annotations (a) and cxr-seg radiologists' masks (b)"+tag, cells, 4)
		if err != nil {
			return nil, err
		}
		p, err := f.SaveAll(filepath.Join(dir, "agreement-grid"))
		if err != nil {
			return nil, err
		}
		paths = append(paths, p...)
	}
	return paths, nil
}
